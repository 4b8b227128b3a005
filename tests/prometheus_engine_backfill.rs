//! The engine forecasts from Prometheus' history as soon as the backfill lands, not at the next
//! poll: with one poll an hour, every deployment gets a second forecast, made from the
//! backfilled days (a seasonal model; the cluster's own day alone gives a short-history one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, EngineOptions, Update};
use ai4k8s::metrics::HISTORY_MINUTES;
use ai4k8s::metrics::HistoryBackend;
use ai4k8s::metrics::prometheus::{PrometheusOptions, PrometheusSource};
use ai4k8s::model::DeploymentKey;
use ai4k8s::sim::{SimCluster, SimWorld};

/// A short-history model's name: what a forecast from under two days is made with.
fn short_history(model: &str) -> bool {
    model == "ets-damped" || model == "recent-mean"
}

#[tokio::test]
async fn forecasts_follow_the_backfill_without_waiting_for_a_poll() {
    use wiremock::matchers::{method, path, query_param_contains};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // A day of the cluster's own history: too short for the seasonal model.
    let sim = SimCluster::new(SimWorld::demo(5, 24));
    let history = sim.world().history();
    let first = history[0].1[0].timestamp;
    // Three days before it from Prometheus: one pod with a daily wave, at its requests' share.
    let times: Vec<i64> = (1..=3 * 1440)
        .map(|i| first - (3 * 1440 + 1 - i) * 60)
        .collect();
    let usage = |t: i64| 1.0 + 0.5 * (t as f64 / 86_400.0 * std::f64::consts::TAU).sin();
    let matrix = |value: &dyn Fn(i64) -> f64| {
        serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [{
                "metric": {"pod": "any-5d8f7c9b4-x2x7z"},
                "values": times.iter().map(|t| serde_json::json!([*t as f64, value(*t).to_string()])).collect::<Vec<_>>()
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
        .respond_with(ResponseTemplate::new(200).set_body_json(matrix(&|_| 2.0)))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/query_range"))
        .respond_with(ResponseTemplate::new(200).set_body_json(matrix(&usage)))
        .with_priority(2)
        .mount(&server)
        .await;
    let prometheus =
        PrometheusSource::new(&server.uri(), PrometheusOptions::default()).expect("url");
    let backend = HistoryBackend {
        prometheus: Some(Arc::new(prometheus)),
        ..HistoryBackend::default()
    };
    let opts = EngineOptions {
        // One poll (the first tick is at once); the next an hour away.
        poll_every: Duration::from_secs(3600),
        recommend_every: i64::MAX / 4,
        backfill_minutes: HISTORY_MINUTES,
        history: backend,
        ..EngineOptions::default()
    };
    let (_cmd, mut rx) = engine::spawn(
        Arc::new(sim.clone()),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        opts,
    );
    let deployments = history.len();
    let mut snapshots = 0;
    let mut backfilled = false;
    // Per deployment, the models of the forecasts that arrived after the backfill.
    let mut after: HashMap<DeploymentKey, Vec<String>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while after.len() < deployments || after.values().any(|m| m.iter().all(|m| short_history(m))) {
        let update = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no forecast from the backfill for some of {after:?}"))
            .expect("engine alive");
        match update {
            Update::Snapshot(_) => snapshots += 1,
            Update::Backfill(b) if snapshots > 0 && !b.is_empty() => backfilled = true,
            Update::Forecasts(key, f) if backfilled => {
                let model = f.cpu.as_ref().map_or("none".into(), |c| c.model.clone());
                after.entry(key).or_default().push(model);
            }
            _ => {}
        }
    }
    assert_eq!(snapshots, 1, "the forecasts came before a second poll");
    for (key, models) in &after {
        let last = models.last().expect("a forecast");
        assert!(!short_history(last), "{key}: {models:?}");
    }
}
