//! The listener: accepts connections on loopback, serves each over HTTP/1.1 through the router,
//! and keeps the store in step with a world that moves behind its back.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::router;
use super::state::{Options, Server};
use super::store::Store;
use crate::sim::SimCluster;

/// How often the server looks for world changes made behind its back (the clock, in-process
/// writes) and versions them.
const SYNC_EVERY: Duration = Duration::from_millis(100);

/// Serve `sim` on `addr` (a loopback address; port 0 picks a free port). Returns the bound
/// address and the server task: aborting it closes the listener and every connection. The
/// caller runs the simulation clock (`sim.spawn_clock`) if time should pass.
pub async fn serve(sim: SimCluster, addr: SocketAddr) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    serve_with(sim, addr, Options::default()).await
}

pub async fn serve_with(
    sim: SimCluster,
    addr: SocketAddr,
    options: Options,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("sim serve listens on loopback only, not {addr}"),
        ));
    }
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (seed, world_now) = {
        let w = sim.world();
        (w.seed(), w.now())
    };
    let offset = if options.wall_clock {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        wall - world_now
    } else {
        0
    };
    let server = Arc::new(Server {
        sim,
        store: Mutex::new(Store::new(seed, offset)),
        options,
    });
    drop(server.fresh());
    let handle = tokio::spawn(accept_loop(server, listener));
    Ok((local, handle))
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    // Owned here so aborting this task drops (and aborts) every connection and the syncer.
    let mut tasks = JoinSet::new();
    let syncer = server.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            drop(syncer.fresh());
        }
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tasks.spawn(connection(server.clone(), stream));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("sim serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next() => {}
        }
    }
}

async fn connection(server: Arc<Server>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let header_read_timeout = server.options.header_read_timeout;
    let svc = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, Infallible>(router::handle(server, req).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), svc)
        .await
    {
        tracing::debug!("sim serve: connection: {e}");
    }
}
