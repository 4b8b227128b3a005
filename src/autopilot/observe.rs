//! `--metrics-addr`: the autopilot observable like a controller. `/healthz` answers while the
//! process serves; `/readyz` once the first cluster sync and the leader state are known (503
//! with the reason before); `/metrics` in the Prometheus text format.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::metrics::Metrics;

const TEXT: &str = "text/plain; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn respond(code: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

/// The answer to one request.
pub fn answer<B>(metrics: &Metrics, req: &Request<B>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/healthz" | "/livez" => respond(StatusCode::OK, TEXT, "ok\n".into()),
        "/readyz" => match metrics.ready() {
            Ok(()) => respond(StatusCode::OK, TEXT, "ok\n".into()),
            Err(why) => respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{why}\n")),
        },
        "/metrics" => respond(StatusCode::OK, PROMETHEUS_TEXT, metrics.render()),
        _ => respond(StatusCode::NOT_FOUND, TEXT, "not found\n".into()),
    }
}

/// Bind `addr` (bad input if it cannot be bound) and serve until the task is aborted.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let r = answer(&metrics, &req);
                        async move { Ok::<_, Infallible>(r) }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}
