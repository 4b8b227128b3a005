//! The app on a kube context (`ai4k8s sim serve`) in a real terminal: it finds the cluster's
//! Prometheus by itself, backfills 14 days through the API server's service proxy, and shows
//! full charts and a forecast without having watched anything for two days; the status bar
//! says where history came from.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::time::{Duration, Instant};

use common::sim_serve::sim_serve;
use common::tmux::Tmux;

#[test]
fn the_kube_path_backfills_through_the_proxy_and_forecasts_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let server = sim_serve(dir.path(), None, "1");
    let config = dir.path().join("app.toml");
    std::fs::write(&config, "").unwrap();
    let cmd = format!(
        "env -u GROQ_API_KEY -u AI4K8S_CONFIG {} --kubeconfig {} --config {} --data-dir {}; sleep 60",
        common::BIN,
        server.kubeconfig.display(),
        config.display(),
        dir.path().join("app-data").display()
    );
    let started = Instant::now();
    let t = Tmux::start("prom-proxy", &cmd, 240, 50);
    let first = t.wait_for("the first frame", Duration::from_secs(60), |s| {
        s.contains("Deployments [all] 14/14")
    });
    assert!(first.contains("ai4k8s-sim"), "{first}");
    let first_frame = started.elapsed();
    // Two weeks of history through the proxy, then the forecast from it, drawn for the
    // selected deployment. What the bound allows: in a debug build the sim's Prometheus
    // evaluates 14 deployments x 4 series kinds x 2 ranges of 10,080 minutes (about 1.6 M
    // points) and the app reads them and fits 28 two-week forecasts; about 15 s on a quiet
    // machine, and CI runs 40 test binaries on two cores at once. Before issue 17's work it took
    // 45 s quiet and 110 s loaded (the forecast waited for the next poll).
    let bound = Duration::from_secs(150);
    let s = t.wait_for(
        "history from Prometheus and a forecast",
        bound + Duration::from_secs(5),
        |s| {
            s.contains("history: prometheus-k8s via API proxy, 14 d")
                && s.contains("+ 6h forecast")
                && !s.contains("no history yet")
        },
    );
    let forecast = started.elapsed();
    println!("first frame after {first_frame:?}; history and forecast after {forecast:?}");
    assert!(
        forecast <= bound,
        "forecast on screen {forecast:?} after launch: {s}"
    );
    assert!(!s.contains("forecast pending"), "{s}");
    // Made from two weeks: the seasonal model, not the short-history one (under 2 days).
    assert!(
        !s.contains("ets-damped") && !s.contains("recent-mean"),
        "a short-history model: {s}"
    );
    // The 24 h sparkline spans a range, not one point: the chart is full.
    assert!(s.contains("· 24h "), "{s}");
    t.keys(&["q"]);
}
