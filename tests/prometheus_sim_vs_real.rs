//! The sim's Prometheus answers like the real one on the same data: the simulated cluster's
//! series over a few hours are dumped as OpenMetrics (with timestamps), loaded into a TSDB with
//! `promtool tsdb create-blocks-from openmetrics`, served by Debian's Prometheus, and the same
//! queries (the backfill's four shapes, and more of the subset) go to both: the same series
//! (labels), the same timestamps (step alignment, aligned or not), values within float
//! rounding.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use ai4k8s::sim::serve::prometheus::{HistorySource, openmetrics, query};
use ai4k8s::sim::serve::{Options, serve_with};
use ai4k8s::sim::{SimCluster, SimWorld};
use common::prometheus::{start_prometheus, tool};
use serde_json::Value;

const SEED: u64 = 42;
const HOURS: u32 = 24;

type Matrix = BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>>;

/// A query's result as labels → points, whatever its type (a vector is one point per series).
async fn ask(
    client: &reqwest::Client,
    base: &str,
    endpoint: &str,
    params: &[(&str, String)],
) -> Matrix {
    let url = url::Url::parse_with_params(&format!("{base}api/v1/{endpoint}"), params).unwrap();
    let r = client.get(url).send().await.expect("answers");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "{base} {params:?}: {body}");
    assert_eq!(body["status"], "success");
    let data = &body["data"];
    let mut out = Matrix::new();
    for s in data["result"].as_array().expect("result") {
        let labels = serde_json::from_value(s["metric"].clone()).expect("labels");
        let points: Vec<Value> = match data["resultType"].as_str() {
            Some("matrix") => s["values"].as_array().expect("values").clone(),
            _ => vec![s["value"].clone()],
        };
        let points = points
            .iter()
            .map(|p| {
                (
                    p[0].as_f64().expect("time"),
                    p[1].as_str()
                        .expect("value")
                        .parse::<f64>()
                        .expect("number"),
                )
            })
            .collect();
        out.insert(labels, points);
    }
    out
}

/// Points compared.
fn same(query: &str, sim: &Matrix, real: &Matrix) -> usize {
    assert!(!real.is_empty(), "{query}: the real Prometheus has nothing");
    assert_eq!(
        sim.keys().collect::<Vec<_>>(),
        real.keys().collect::<Vec<_>>(),
        "{query}: different series"
    );
    for (labels, r) in real {
        let s = &sim[labels];
        assert_eq!(
            s.iter().map(|p| p.0).collect::<Vec<_>>(),
            r.iter().map(|p| p.0).collect::<Vec<_>>(),
            "{query} {labels:?}: different timestamps"
        );
        for (a, b) in s.iter().zip(r) {
            let tolerance = 1e-9 * b.1.abs().max(1.0);
            assert!(
                (a.1 - b.1).abs() <= tolerance,
                "{query} {labels:?} at {}: sim {} vs real {}",
                a.0,
                a.1,
                b.1
            );
        }
    }
    real.values().map(Vec::len).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sims_prometheus_answers_like_the_real_one_on_the_same_data() {
    let world = SimWorld::demo(SEED, HOURS);
    let now = world.now();
    let (from, to) = ((now - 3 * 3600) * 1000, now * 1000);
    // The served clock is the world's own (no wall-clock offset), so both see the same times.
    let source = HistorySource::from_world(&world, 0);
    let query::Expr::Vector(all) = query::parse(r#"{namespace=~"shop|payments"}"#).unwrap() else {
        panic!("a selector")
    };
    let series = source.series(&[&all], from, to);
    assert!(series.len() > 50, "{}", series.len());

    let promtool = tool("promtool");
    let work = tempfile::tempdir().unwrap();
    let om = work.path().join("sim.om");
    std::fs::write(&om, openmetrics(&series)).unwrap();
    let data = work.path().join("data");
    let out = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let real = start_prometheus(&data, work.path()).await;
    let real_base = format!("{}/", real.url);

    let sim = SimCluster::new(world);
    let options = Options {
        wall_clock: false,
        ..Options::default()
    };
    let (addr, server) = serve_with(sim, "127.0.0.1:0".parse().unwrap(), options)
        .await
        .expect("serve");
    let sim_base =
        format!("http://{addr}/api/v1/namespaces/monitoring/services/prometheus-k8s:web/proxy/");

    let client = reqwest::Client::new();
    let pods = r#"pod=~"checkout-[a-z0-9]+-[a-z0-9]+""#;
    let containers = r#"container!="",container!="POD""#;
    let queries = [
        // The backfill's four shapes.
        format!(r#"sum by (pod) (rate(container_cpu_usage_seconds_total{{namespace="shop",{pods},{containers}}}[5m]))"#),
        format!(r#"sum by (pod) (container_memory_working_set_bytes{{namespace="shop",{pods},{containers}}})"#),
        format!(r#"sum by (pod) (kube_pod_container_resource_requests{{namespace="shop",{pods},resource="cpu"}})"#),
        format!(r#"sum by (pod) (kube_pod_container_resource_requests{{namespace="shop",{pods},resource="memory"}})"#),
        // More of the subset.
        r#"sum by (namespace) (rate(container_cpu_usage_seconds_total{namespace=~"shop|payments",container!="POD"}[5m]))"#.to_string(),
        r#"increase(container_cpu_usage_seconds_total{namespace="payments",container="ledger"}[10m])"#.to_string(),
        r#"count without (pod, node, instance) (kube_pod_container_resource_requests{namespace="payments",resource="cpu"})"#.to_string(),
        r#"max by (container) (container_memory_working_set_bytes{namespace="shop"})"#.to_string(),
        r#"avg(container_memory_working_set_bytes{namespace="payments",container!~"POD|"})"#.to_string(),
        r#"kube_pod_container_resource_requests{namespace="shop",container="search",resource="memory"}"#.to_string(),
    ];
    let secs = |ms: i64| (ms as f64 / 1000.0).to_string();
    let mut compared = 0;
    for q in &queries {
        // Aligned to the minute, and not (a step of 90 s from an odd second).
        for (start, step) in [(from + 600_000, "60"), (from + 617_000, "90")] {
            let params = [
                ("query", q.clone()),
                ("start", secs(start)),
                ("end", secs(to)),
                ("step", step.to_string()),
            ];
            let s = ask(&client, &sim_base, "query_range", &params).await;
            let r = ask(&client, &real_base, "query_range", &params).await;
            compared += same(q, &s, &r);
        }
        let params = [("query", q.clone()), ("time", secs(to - 1_234_000))];
        let s = ask(&client, &sim_base, "query", &params).await;
        let r = ask(&client, &real_base, "query", &params).await;
        compared += same(q, &s, &r);
    }
    println!("{compared} points agree");
    assert!(compared > 5_000, "{compared}");
    server.abort();
}
