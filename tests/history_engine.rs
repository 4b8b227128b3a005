//! The engine with a history backend: it starts from the store merged with the cluster's own
//! history, persists every closed minute, and merges a Prometheus backfill after its first
//! snapshot (or says why there is none).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::Duration;

use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, EngineOptions, Update};
use ai4k8s::metrics::HISTORY_MINUTES;
use ai4k8s::metrics::prometheus::{PrometheusOptions, PrometheusSource};
use ai4k8s::metrics::store::{FILE_NAME, Store};
use ai4k8s::metrics::{HistoryBackend, HistoryStore};
use ai4k8s::model::{DeploymentKey, Sample};
use ai4k8s::sim::{SimCluster, SimWorld};
use tokio::sync::mpsc::UnboundedReceiver;

fn sample(t: i64, cpu: f64) -> Sample {
    Sample {
        timestamp: t,
        cpu_pct: cpu,
        mem_pct: 12.5,
        replicas: 4,
        ready: 4,
    }
}

fn options(history: HistoryBackend) -> EngineOptions {
    EngineOptions {
        poll_every: Duration::from_millis(20),
        // Forecasts and recommendations are not what these tests are about.
        forecast_every: i64::MAX / 4,
        recommend_every: i64::MAX / 4,
        backfill_minutes: HISTORY_MINUTES,
        history,
        ..EngineOptions::default()
    }
}

fn advisor() -> Advisor {
    Advisor::rules_only(AdvisorConfig::default(), "no key")
}

async fn next(rx: &mut UnboundedReceiver<Update>) -> Update {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("updates keep coming")
        .expect("engine alive")
}

#[tokio::test]
async fn the_engine_starts_from_the_store_and_the_cluster_and_persists_closed_minutes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let sim = SimCluster::new(SimWorld::demo(7, 24));
    let sim_history = sim.world().history();
    let (key, sim_samples) = sim_history[0].clone();
    let first = sim_samples[0].timestamp;

    // A previous session stored two hours before the simulator's warm-up, and one minute that
    // the warm-up also has (the stored one wins: it was observed first).
    let mut stored: Vec<Sample> = (1..=120)
        .map(|i| sample(first - 121 * 60 + i * 60, 33.0))
        .collect();
    stored.push(sample(first, 99.0));
    {
        let mut st = Store::open(&path).expect("open");
        let batch: Vec<(DeploymentKey, Sample)> =
            stored.iter().map(|s| (key.clone(), *s)).collect();
        st.write("test-context", &batch).expect("seed the store");
        // Another context's data must not appear.
        st.write("other", &[(key.clone(), sample(first - 600_000, 1.0))])
            .expect("other context");
    }

    let store = HistoryStore::open(&path, "test-context").expect("open store");
    let backend = HistoryBackend {
        store: Some(store.clone()),
        prometheus: None,
        ..HistoryBackend::default()
    };
    let (cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor(), options(backend));
    let mut backfill = None;
    let mut closed: Vec<Sample> = Vec::new();
    while closed.len() < 3 {
        match next(&mut rx).await {
            Update::Backfill(b) => backfill = Some(b),
            Update::Snapshot(_) => sim.advance(15),
            Update::Samples(s) => {
                closed.extend(s.into_iter().filter(|(k, _)| k == &key).map(|(_, s)| s))
            }
            _ => {}
        }
    }
    let backfill = backfill.expect("a backfill before the first poll");
    let series = &backfill
        .iter()
        .find(|(k, _)| k == &key)
        .expect("the deployment")
        .1;
    assert_eq!(
        series.len(),
        120 + sim_samples.len(),
        "store + warm-up, overlap once"
    );
    assert!(
        series.windows(2).all(|w| w[0].timestamp < w[1].timestamp),
        "one sorted series"
    );
    assert_eq!(
        series[0].timestamp,
        first - 120 * 60,
        "oldest stored minute first"
    );
    assert_eq!(series[120].timestamp, first);
    assert_eq!(
        series[120].cpu_pct, 99.0,
        "the store wins the shared minute"
    );
    assert_eq!(
        series.last().map(|s| s.timestamp),
        sim_samples.last().map(|s| s.timestamp)
    );

    // Every closed minute reaches the store.
    drop(cmd);
    store.flush().await.expect("flushed");
    let st = Store::open(&path).expect("reader");
    let on_disk = st.minutes("test-context", &key).expect("minutes");
    for s in &closed {
        let got = on_disk
            .iter()
            .find(|d| d.timestamp == s.timestamp)
            .unwrap_or_else(|| panic!("minute {} persisted", s.timestamp));
        assert!(
            (got.cpu_pct - s.cpu_pct).abs() <= 0.005
                || (got.cpu_pct.is_nan() && s.cpu_pct.is_nan())
        );
    }
    // Warm-up history is the cluster's, not observed: it is not written back. Minutes over a
    // day old are thinned into 5-minute points (each counting its minutes).
    let points = st.thinned("test-context", &key).expect("points");
    let thinned: u32 = points.iter().map(|p| p.minutes).sum();
    assert_eq!(
        on_disk.len() + thinned as usize,
        stored.len() + closed.len()
    );
    let other = st.minutes("other", &key).expect("other").len()
        + st.thinned("other", &key).expect("other points").len();
    assert_eq!(other, 1, "another context's minute (thinned: it is old)");
}

#[tokio::test]
async fn a_restarted_engine_sees_what_the_previous_one_persisted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let world = || SimWorld::demo(3, 24);
    let key = world().history()[0].0.clone();
    let mut closed = Vec::new();
    {
        let sim = SimCluster::new(world());
        let store = HistoryStore::open(&path, "ctx").expect("open");
        let backend = HistoryBackend {
            store: Some(store.clone()),
            prometheus: None,
            ..HistoryBackend::default()
        };
        let (_cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor(), options(backend));
        while closed.len() < 2 {
            match next(&mut rx).await {
                Update::Snapshot(_) => sim.advance(15),
                Update::Samples(s) => {
                    closed.extend(s.into_iter().filter(|(k, _)| k == &key).map(|(_, s)| s))
                }
                _ => {}
            }
        }
        store.flush().await.expect("flushed");
    }
    // A new process: a new store handle, a cluster that only knows its warm-up.
    let store = HistoryStore::open(&path, "ctx").expect("reopen");
    let backend = HistoryBackend {
        store: Some(store),
        prometheus: None,
        ..HistoryBackend::default()
    };
    let sim = SimCluster::new(world());
    let (_cmd, mut rx) = engine::spawn(Arc::new(sim), advisor(), options(backend));
    let backfill = loop {
        if let Update::Backfill(b) = next(&mut rx).await {
            break b;
        }
    };
    let series = &backfill.iter().find(|(k, _)| k == &key).expect("key").1;
    for s in &closed {
        assert!(
            series.iter().any(|b| b.timestamp == s.timestamp),
            "minute {} survived the restart",
            s.timestamp
        );
    }
    assert!(series.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
}

#[tokio::test]
async fn an_unreachable_prometheus_is_reported_and_the_engine_goes_on() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let prometheus = PrometheusSource::new(
        &format!("http://127.0.0.1:{port}"),
        PrometheusOptions {
            timeout: Duration::from_secs(2),
            ..PrometheusOptions::default()
        },
    )
    .expect("valid url");
    let backend = HistoryBackend {
        store: None,
        prometheus: Some(Arc::new(prometheus)),
        ..HistoryBackend::default()
    };
    let sim = SimCluster::new(SimWorld::demo(1, 24));
    let (_cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor(), options(backend));
    let mut snapshots = 0;
    let message = loop {
        match next(&mut rx).await {
            Update::Notice("history", Some(e)) if e.contains("Prometheus") => break e,
            Update::Snapshot(_) => {
                snapshots += 1;
                sim.advance(15);
            }
            _ => {}
        }
    };
    assert!(
        message.contains(&format!(
            "cannot reach Prometheus at http://127.0.0.1:{port}"
        )),
        "{message}"
    );
    // Polling goes on after the failure.
    let before = snapshots;
    while snapshots < before + 2 {
        if let Update::Snapshot(_) = next(&mut rx).await {
            snapshots += 1;
        }
    }
}

#[tokio::test]
async fn a_prometheus_backfill_after_the_first_snapshot_fills_the_past() {
    use wiremock::matchers::{method, path, query_param_contains};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let sim = SimCluster::new(SimWorld::demo(5, 24));
    let history = sim.world().history();
    let first = history[0].1[0].timestamp;
    // Ten minutes before the warm-up, one pod at half its requests, for every deployment.
    let times: Vec<i64> = (1..=10).map(|i| first - 11 * 60 + i * 60).collect();
    let matrix = |value: &str| {
        serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [{
                "metric": {"pod": "any-5d8f7c9b4-x2x7z"},
                "values": times.iter().map(|t| serde_json::json!([*t as f64, value])).collect::<Vec<_>>()
            }]}
        })
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/query_range"))
        .and(query_param_contains(
            "query",
            "kube_pod_container_resource_requests",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(matrix("2")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/query_range"))
        .respond_with(ResponseTemplate::new(200).set_body_json(matrix("1")))
        .with_priority(2)
        .mount(&server)
        .await;
    let prometheus =
        PrometheusSource::new(&server.uri(), PrometheusOptions::default()).expect("url");
    let backend = HistoryBackend {
        store: None,
        prometheus: Some(Arc::new(prometheus)),
        ..HistoryBackend::default()
    };
    let (_cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor(), options(backend));
    let mut backfills = 0;
    let merged = loop {
        match next(&mut rx).await {
            Update::Backfill(b) => {
                backfills += 1;
                if backfills == 2 {
                    break b;
                }
            }
            Update::Snapshot(_) => sim.advance(15),
            _ => {}
        }
    };
    assert_eq!(merged.len(), history.len(), "every deployment backfilled");
    for (key, series) in &merged {
        assert!(
            series.windows(2).all(|w| w[0].timestamp < w[1].timestamp),
            "{key}"
        );
        assert_eq!(
            series[0].timestamp, times[0],
            "{key}: Prometheus' minutes come first"
        );
        // Over a day old, history is kept in 5- and 30-minute buckets: the minutes of a
        // bucket wholly before the warm-up are Prometheus' own.
        for s in series[..10]
            .iter()
            .filter(|s| s.timestamp / 1800 < first / 1800)
        {
            assert_eq!((s.cpu_pct, s.mem_pct, s.replicas), (50.0, 50.0, 1), "{key}");
        }
        assert_eq!(series[10].timestamp, first, "{key}: then the warm-up");
    }
}

#[tokio::test]
async fn the_engine_replays_a_deployments_history_for_the_backtest_key() {
    let sim = SimCluster::new(SimWorld::demo(3, 24));
    let (cmd, mut rx) = engine::spawn(
        Arc::new(sim.clone()),
        advisor(),
        options(HistoryBackend::default()),
    );
    let key = loop {
        if let Update::Snapshot(s) = next(&mut rx).await {
            break s.deployments[0].key.clone();
        }
    };
    cmd.send(engine::Command::Backtest(key.clone()))
        .expect("engine alive");
    let missing = DeploymentKey::new("nowhere", "nothing");
    cmd.send(engine::Command::Backtest(missing.clone()))
        .expect("engine alive");
    let (mut report, mut refused) = (None, None);
    while report.is_none() || refused.is_none() {
        if let Update::Backtest(k, r) = next(&mut rx).await {
            if k == key {
                report = Some(r.expect("24 h of demo history replays"));
            } else {
                assert_eq!(k, missing);
                refused = Some(r.expect_err("an unknown deployment has no history"));
            }
        }
    }
    let report = report.expect("set above");
    assert_eq!(report.trace, key.to_string());
    let names: Vec<_> = report.policies.iter().map(|p| p.policy.as_str()).collect();
    for want in ["hpa", "ai4k8s", "oracle-100", "static"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // The engine's whole history is replayed: 24 h of warm-up world, half of it scored.
    assert!(
        report.model.scored_minutes >= 11.0 * 60.0,
        "{}",
        report.model.scored_minutes
    );
    assert!(refused.is_some_and(|e| e.contains("no history")));
}

/// The status bar as drawn from the app after `updates`.
fn status_line(app: &ai4k8s::tui::app::App) -> String {
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(400, 30)).expect("terminal");
    let mut app = app.clone();
    ai4k8s::tui::ui::prepare(&mut app, ratatui::layout::Rect::new(0, 0, 400, 30));
    term.draw(|f| ai4k8s::tui::ui::render(f, &app))
        .expect("draws");
    let buf = term.backend().buffer();
    (0..buf.area.width)
        .map(|x| buf[(x, buf.area.height - 1)].symbol().to_string())
        .collect()
}

#[tokio::test]
async fn a_garbage_history_file_is_shown_with_its_path_and_the_engine_runs_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let garbage = b"this is not a database, just some text".repeat(200);
    std::fs::write(&path, &garbage).expect("write");
    let backend = HistoryBackend::open_store(&path, "ctx");
    assert!(backend.store.is_none());
    let sim = SimCluster::new(SimWorld::demo(5, 24));
    let (_cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor(), options(backend));
    let mut app = ai4k8s::tui::app::App::new(ai4k8s::tui::app::SessionInfo::default());
    let mut notice = None;
    let mut samples = 0;
    while notice.is_none() || samples == 0 {
        let u = next(&mut rx).await;
        match &u {
            Update::Notice("store", Some(n)) => notice = Some(n.clone()),
            Update::Snapshot(_) => sim.advance(15),
            Update::Samples(_) => samples += 1,
            _ => {}
        }
        app.on_update(u);
    }
    let notice = notice.expect("a store notice");
    assert!(notice.contains(&path.display().to_string()), "{notice}");
    assert!(notice.contains("not a database"), "{notice}");
    assert!(notice.contains("kept in memory only"), "{notice}");
    // On screen, and the engine goes on polling and closing minutes in memory.
    assert!(
        status_line(&app).contains("history not saved"),
        "{}",
        status_line(&app)
    );
    assert!(!app.deployments.is_empty());
    // The file is left as it was, for the user to look at or move away.
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
}

#[tokio::test]
async fn a_store_whose_pages_are_corrupt_is_shown_when_it_fails_to_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let key = DeploymentKey::new("shop", "web");
    {
        let mut st = Store::open(&path).expect("open");
        let batch: Vec<(DeploymentKey, Sample)> = (1..=500)
            .map(|i| (key.clone(), sample(i * 60, 10.0)))
            .collect();
        st.write("ctx", &batch).expect("write");
        st.checkpoint().expect("checkpoint");
    }
    // Keep the header page (it opens), scribble over the tables' pages.
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&path, &bytes).expect("corrupt");
    let backend = HistoryBackend::open_store(&path, "ctx");
    let sim = SimCluster::new(SimWorld::demo(5, 24));
    let (_cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor(), options(backend));
    let notice = loop {
        match next(&mut rx).await {
            Update::Notice("store", Some(n)) => break n,
            Update::Snapshot(_) => sim.advance(15),
            _ => {}
        }
    };
    assert!(notice.contains(&path.display().to_string()), "{notice}");
    assert!(notice.starts_with("history not saved: "), "{notice}");
    // The engine still polls.
    loop {
        if let Update::Snapshot(s) = next(&mut rx).await {
            assert!(!s.deployments.is_empty());
            break;
        }
    }
}
