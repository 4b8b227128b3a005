//! `ai4k8s sim serve`: the simulated cluster behind a Kubernetes API front, over plain HTTP on
//! loopback, in the real REST wire format (discovery, list/get/watch with resourceVersions,
//! the `/scale` subresource, merge/JSON/strategic patches, HPAs v2 and v1, pods, events and
//! metrics.k8s.io), so kubectl and kube-rs can be tested against it.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use ai4k8s::sim::{SimCluster, SimWorld};
//! let sim = SimCluster::new(SimWorld::demo(42, 1));
//! let (addr, server) = ai4k8s::sim::serve::serve(sim.clone(), "127.0.0.1:0".parse().unwrap()).await?;
//! ai4k8s::sim::serve::write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"), addr)?;
//! // ... kubectl --kubeconfig /tmp/kubeconfig get deploy -A ...
//! server.abort();
//! # Ok(()) }
//! ```

mod discovery;
mod faults;
#[cfg(test)]
mod fuzz;
mod host;
mod http;
mod kubeconfig;
mod objects;
mod openapi;
mod patch;
mod proto;
mod reads;
mod router;
mod selector;
mod status;
mod store;
mod table;
mod validate;
mod watch;
mod writes;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub use faults::{DROP_WATCHES_AFTER, Fault, FaultResource, FaultStatus, Faults};
pub use kubeconfig::{CONTEXT, kubeconfig_yaml, write_kubeconfig};

use crate::sim::{SimCluster, SimWorld, scenario};
use store::Store;

/// How often the server looks for world changes made behind its back (the clock, in-process
/// writes) and versions them.
const SYNC_EVERY: Duration = Duration::from_millis(100);

/// How long a client may take to send a request's headers (and how long an idle keep-alive
/// connection stays open) before its connection is closed, so slowloris clients cannot hold
/// connections forever. The apiserver's ReadHeaderTimeout is 32 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of the API front.
#[derive(Clone, Debug)]
pub struct Options {
    /// Refuse every write with 403 Forbidden, as RBAC would for a read-only user.
    pub read_only: bool,
    /// Shift every timestamp so the world's "now" at start reads as the wall clock's (as on a
    /// live cluster: clients that compare timestamps with their own clock see fresh data).
    /// At speed 1 the two clocks then stay together; faster, the cluster runs ahead. Off,
    /// timestamps are the world's own (deterministic for a seed).
    pub wall_clock: bool,
    /// Errors and dropped watches to inject (`--fault RESOURCE=STATUS`).
    pub faults: Faults,
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            read_only: false,
            wall_clock: true,
            faults: Faults::default(),
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// State shared by every connection.
pub(crate) struct Server {
    sim: SimCluster,
    store: Mutex<Store>,
    options: Options,
}

impl Server {
    /// A server on `sim` without a listener, for driving the router in-process.
    #[cfg(test)]
    fn in_process(sim: SimCluster, options: Options) -> Arc<Self> {
        let seed = sim.world().seed();
        let server = Arc::new(Self {
            sim,
            store: Mutex::new(Store::new(seed, 0)),
            options,
        });
        drop(server.fresh());
        server
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store, synced with the world if the world moved (lock order: world, then store).
    fn fresh(&self) -> MutexGuard<'_, Store> {
        self.fresh_at().0
    }

    /// `fresh`, with the world's time (never lock the world while holding the store).
    fn fresh_at(&self) -> (MutexGuard<'_, Store>, crate::model::UnixSeconds) {
        let world = self.sim.world();
        let mut store = self.store();
        if store.synced_generation() != Some(world.generation()) {
            store.sync_all(&world);
        }
        (store, world.now())
    }

    /// World and store together, for writes.
    fn both(&self) -> (MutexGuard<'_, SimWorld>, MutexGuard<'_, Store>) {
        let world = self.sim.world();
        let store = self.store();
        (world, store)
    }
}

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

/// `ai4k8s sim serve` arguments.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    pub seed: u64,
    pub port: u16,
    pub speed: f64,
    /// None: the demo cluster; Some(n): n synthetic deployments.
    pub deployments: Option<usize>,
    pub history_hours: u32,
    pub kubeconfig: Option<PathBuf>,
    pub read_only: bool,
    pub faults: Vec<Fault>,
}

/// Run the server until Ctrl-C, printing where it listens.
pub async fn run(args: ServeArgs) -> io::Result<()> {
    let world = match args.deployments {
        None => SimWorld::demo(args.seed, args.history_hours),
        // A short warm-up: thousands of deployments take long to simulate for a day.
        Some(n) => SimWorld::warmed_up(args.seed, scenario::synthetic(n), 1),
    };
    let sim = SimCluster::new(world);
    let clock = sim.spawn_clock(args.speed);
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let (addr, server) = serve_with(
        sim,
        addr,
        Options {
            read_only: args.read_only,
            faults: Faults::new(args.faults.iter().copied()),
            ..Options::default()
        },
    )
    .await?;
    println!("ai4k8s sim serve: listening on http://{addr}");
    if let Some(path) = &args.kubeconfig {
        write_kubeconfig(path, addr)?;
        println!(
            "ai4k8s sim serve: wrote kubeconfig {} (context {CONTEXT})",
            path.display()
        );
    }
    for f in &args.faults {
        println!("ai4k8s sim serve: injecting fault {f}");
    }
    use std::io::Write;
    let _ = io::stdout().flush();
    let stopped = tokio::signal::ctrl_c().await;
    server.abort();
    clock.abort();
    stopped
}
