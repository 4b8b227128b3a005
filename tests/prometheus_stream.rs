//! The engine's Prometheus backfill arrives deployment by deployment: against a real HTTP
//! server on 127.0.0.1 that holds some answers back, a deployment whose queries answered has
//! its history and its forecast while another's are still held, and a `Command::Focus` during
//! the backfill puts that deployment's queries before the rest not yet sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, Command, EngineOptions, Update};
use ai4k8s::metrics::HistoryBackend;
use ai4k8s::metrics::prometheus::{PrometheusOptions, PrometheusSource};
use ai4k8s::model::DeploymentKey;
use ai4k8s::sim::{SimCluster, SimWorld};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A Prometheus on 127.0.0.1 answering range queries with three days of one pod (a daily
/// wave of usage at half its requests) before `first`, that records which deployment each
/// query was for, in arrival order, and holds the answers of `held` (a name, or "*" for all)
/// until the gate opens.
struct Server {
    url: String,
    arrivals: Arc<Mutex<Vec<String>>>,
    /// Answers sent for the held deployment.
    held_sent: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
}

impl Server {
    async fn start(first: i64, held: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let held_sent = Arc::new(AtomicUsize::new(0));
        let (open, gate) = watch::channel(false);
        let (a, h, held) = (arrivals.clone(), held_sent.clone(), held.to_string());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (a, h, held, gate) = (a.clone(), h.clone(), held.clone(), gate.clone());
                tokio::spawn(serve(conn, first, a, h, held, gate));
            }
        });
        Self {
            url,
            arrivals,
            held_sent,
            open,
        }
    }

    fn arrivals(&self) -> Vec<String> {
        self.arrivals.lock().unwrap().clone()
    }
}

/// The deployment a backfill query is for: the name in `pod=~"NAME-[a-z0-9]+-[a-z0-9]+"`.
fn deployment_of(query: &str) -> String {
    let after = query.split("pod=~\"").nth(1).unwrap_or_default();
    after
        .split("-[a-z0-9]+")
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn serve(
    mut conn: tokio::net::TcpStream,
    first: i64,
    arrivals: Arc<Mutex<Vec<String>>>,
    held_sent: Arc<AtomicUsize>,
    held: String,
    mut gate: watch::Receiver<bool>,
) {
    let mut buf = Vec::new();
    loop {
        // One request head (GETs have no body); keep-alive for the next.
        let head = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                buf.drain(..end + 4);
                break head;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let target = head.split(' ').nth(1).unwrap_or("/").to_string();
        let url = url::Url::parse(&format!("http://x{target}")).expect("target");
        let query = url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let name = deployment_of(&query);
        arrivals.lock().unwrap().push(name.clone());
        let holds = held == "*" || held == name;
        if holds {
            let _ = gate.wait_for(|open| *open).await;
        }
        let body = answer(
            first,
            query.contains("kube_pod_container_resource_requests"),
        );
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if conn.write_all(reply.as_bytes()).await.is_err()
            || conn.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
        if holds {
            held_sent.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Three days of minutes before `first`: requests of 2 cores, or usage around 1 core.
fn answer(first: i64, requests: bool) -> String {
    let values: Vec<serde_json::Value> = (1..=3 * 1440)
        .map(|i| {
            let t = first - (3 * 1440 + 1 - i) * 60;
            let v = if requests {
                2.0
            } else {
                1.0 + 0.5 * (t as f64 / 86_400.0 * std::f64::consts::TAU).sin()
            };
            serde_json::json!([t as f64, v.to_string()])
        })
        .collect();
    serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": [{
            "metric": {"pod": "any-5d8f7c9b4-x2x7z"},
            "values": values
        }]}
    })
    .to_string()
}

fn engine_on(
    sim: &SimCluster,
    server: &Server,
    concurrency: usize,
) -> (
    tokio::sync::mpsc::UnboundedSender<Command>,
    tokio::sync::mpsc::UnboundedReceiver<Update>,
) {
    let prometheus = PrometheusSource::new(
        &server.url,
        PrometheusOptions {
            concurrency,
            ..PrometheusOptions::default()
        },
    )
    .expect("url");
    let opts = EngineOptions {
        // One poll (the first tick is at once); the next an hour away.
        poll_every: Duration::from_secs(3600),
        recommend_every: i64::MAX / 4,
        history: HistoryBackend {
            prometheus: Some(Arc::new(prometheus)),
            ..HistoryBackend::default()
        },
        ..EngineOptions::default()
    };
    engine::spawn(
        Arc::new(sim.clone()),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        opts,
    )
}

fn sorted_keys(sim: &SimCluster) -> Vec<DeploymentKey> {
    let mut keys: Vec<DeploymentKey> = sim.world().history().into_iter().map(|(k, _)| k).collect();
    keys.sort();
    keys
}

/// A short-history model's name: what a forecast from under two days is made with.
fn short_history(model: &str) -> bool {
    model == "ets-damped" || model == "recent-mean"
}

#[tokio::test]
async fn a_deployment_has_history_and_forecast_while_another_is_still_held() {
    // A day of the cluster's own history: too short for the seasonal model.
    let sim = SimCluster::new(SimWorld::demo(5, 24));
    let first = sim.world().history()[0].1[0].timestamp;
    let keys = sorted_keys(&sim);
    // The first in the table's order is fetched first, and held; the second is not.
    let (slow, fast) = (keys[0].clone(), keys[1].clone());
    let server = Server::start(first, &slow.name).await;
    let (cmd, mut rx) = engine_on(&sim, &server, 4);
    cmd.send(Command::History(fast.clone())).unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let mut history = false;
    let mut progress = None;
    loop {
        let update = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no backfilled forecast of {fast} while {slow} was held (history: {history}); queries: {:?}",
                    server.arrivals()
                )
            })
            .expect("engine alive");
        match update {
            Update::History(k, samples)
                if k == fast && samples.iter().any(|s| s.timestamp < first) =>
            {
                assert_eq!(server.held_sent.load(Ordering::SeqCst), 0);
                history = true;
            }
            Update::Notice("prometheus", Some(n)) if n.contains(" · ") => progress = Some(n),
            Update::Forecasts(k, f) if k == fast && history => {
                let model = f.cpu.as_ref().map_or("none".into(), |c| c.model.clone());
                if !short_history(&model) {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        server.held_sent.load(Ordering::SeqCst),
        0,
        "{slow}'s answers were held throughout"
    );
    // While one is held the status bar counts the others.
    let progress = progress.expect("a progress notice while held");
    assert!(
        progress.starts_with(&format!(
            "history: {}",
            server.url.trim_start_matches("http://")
        )) || progress.starts_with("history: "),
        "{progress}"
    );
    assert!(
        progress.ends_with(&format!("/{}", keys.len())),
        "{progress}"
    );

    // Released: the held one lands too, and the status bar drops the count.
    server.open.send(true).unwrap();
    cmd.send(Command::History(slow.clone())).unwrap();
    let mut slow_history = false;
    let mut last = None;
    while !(slow_history && last.as_deref().is_some_and(|n: &str| !n.contains(" · "))) {
        let update = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("the backfill did not finish: {last:?}"))
            .expect("engine alive");
        match update {
            Update::History(k, samples) if k == slow => {
                slow_history |= samples.iter().any(|s| s.timestamp < first);
            }
            Update::Notice("prometheus", n) => last = n,
            _ => {}
        }
    }
    assert!(last.unwrap().ends_with(", 14 d"));
    assert_eq!(
        server.held_sent.load(Ordering::SeqCst),
        8,
        "4 kinds × 2 ranges"
    );
}

#[tokio::test]
async fn a_focus_during_the_backfill_puts_that_deployment_before_the_rest() {
    let sim = SimCluster::new(SimWorld::demo(5, 24));
    let first = sim.world().history()[0].1[0].timestamp;
    let keys = sorted_keys(&sim);
    // Every answer held until the focus is in: one query in flight (one slot).
    let server = Server::start(first, "*").await;
    let (cmd, mut rx) = engine_on(&sim, &server, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while server.arrivals().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no query arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let focused = keys.last().unwrap().clone();
    let visible = keys[keys.len() - 2].clone();
    cmd.send(Command::Focus(vec![focused.clone(), visible.clone()]))
        .unwrap();
    // Commands are taken in order: once History is answered, the focus is in.
    cmd.send(Command::History(focused.clone())).unwrap();
    loop {
        let update = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("History answered")
            .expect("engine alive");
        if matches!(update, Update::History(k, _) if k == focused) {
            break;
        }
    }
    server.open.send(true).unwrap();
    loop {
        let update = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the backfill finished")
            .expect("engine alive");
        if matches!(&update, Update::Notice("prometheus", Some(n)) if !n.contains(" · ")) {
            break;
        }
    }
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), keys.len() * 8, "{arrivals:?}");
    let mut order: Vec<String> = Vec::new();
    for name in arrivals {
        if order.last() != Some(&name) {
            assert!(
                !order.contains(&name),
                "one deployment at a time: {order:?}"
            );
            order.push(name);
        }
    }
    // The one in flight when the focus came, then the focus in its order, then the rest in
    // the table's order.
    let mut expected: Vec<String> = vec![keys[0].name.clone(), focused.name, visible.name];
    expected.extend(keys[1..keys.len() - 2].iter().map(|k| k.name.clone()));
    assert_eq!(order, expected);
}
