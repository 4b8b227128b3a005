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
fn the_kube_path_backfills_through_the_proxy_and_forecasts_at_the_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let server = sim_serve(dir.path(), None, "1");
    let config = dir.path().join("app.toml");
    // What the bound allows: in a debug build the sim's Prometheus evaluates 14 deployments x 4
    // series kinds x 2 ranges of 10,080 minutes (about 1.6 M points) and the app reads the
    // selected one's first and fits its two-week forecasts; a few seconds quiet, about a
    // minute when CI runs 40 test binaries on two cores at once. The release build's default
    // (3 s) covers a quiet machine (docs/benchmarks.md); here the wait must not run out.
    std::fs::write(&config, "[ui]\nfirst_view_wait_ms = 240000\n").unwrap();
    let cmd = format!(
        "env -u GROQ_API_KEY -u AI4K8S_CONFIG {} --kubeconfig {} --config {} --data-dir {}; sleep 60",
        common::BIN,
        server.kubeconfig.display(),
        config.display(),
        dir.path().join("app-data").display()
    );
    let started = Instant::now();
    let t = Tmux::start("prom-proxy", &cmd, 240, 50);
    // Until the selected deployment's history, forecast and card are in, the screen says what
    // it is waiting for instead of drawing a table of "forecast pending".
    let waiting = t.wait_for("the first frame", Duration::from_secs(60), |s| {
        s.contains("Deployments [all] 14/14") || s.contains("reading 14 d of history via")
    });
    let waited = started.elapsed();
    assert!(
        !waiting.contains("forecast pending") && !waiting.contains("no history yet"),
        "{waiting}"
    );
    // The first frame with the table: two weeks of history through the proxy, and the forecast
    // and card made from them, for the selected deployment. The screen is read every 200 ms,
    // so this is the first table frame unless the wait ended between two reads.
    let first = t.wait_for("the table", Duration::from_secs(245), |s| {
        s.contains("Deployments [all] 14/14")
    });
    let table = started.elapsed();
    println!("waiting drawn after {waited:?}; the table after {table:?}");
    assert!(first.contains("ai4k8s-sim"), "{first}");
    assert!(first.contains("+ 6h forecast"), "{first}");
    assert!(!first.contains("forecast pending"), "{first}");
    assert!(!first.contains("no history yet"), "{first}");
    // The card was made from the forecast, not from the load alone.
    assert!(!first.contains("No forecast yet"), "{first}");
    // Made from two weeks: the seasonal model, not the short-history one (under 2 days).
    assert!(
        !first.contains("ets-damped") && !first.contains("recent-mean"),
        "a short-history model: {first}"
    );
    // The 24 h sparkline spans a range, not one point: the chart is full.
    assert!(first.contains("· 24h "), "{first}");
    let s = t.wait_for("where history came from", Duration::from_secs(150), |s| {
        s.contains("history: prometheus-k8s via API proxy, 14 d")
    });
    assert!(s.contains("+ 6h forecast"), "{s}");
    t.keys(&["q"]);
}
