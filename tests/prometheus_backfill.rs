//! The Prometheus backfill against a real Prometheus (Debian's `prometheus` package): two days
//! of cAdvisor and kube-state-metrics series are generated as OpenMetrics, turned into TSDB
//! blocks with `promtool tsdb create-blocks-from openmetrics`, served by a Prometheus started on
//! 127.0.0.1, and the backfill's % of requests is checked against the generated numbers.
//! Error answers (4xx, 5xx, bad JSON) come from a loopback mock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use ai4k8s::metrics::prometheus::{Backfill, PrometheusOptions, PrometheusSource};
use ai4k8s::model::{ClusterSnapshot, DeploymentKey, DeploymentState, Sample};
use common::prometheus::{start_prometheus, tool};

/// 2024-01-01T00:00:00Z: the data is two days from here.
const START: i64 = 1_704_067_200;
const HOURS: i64 = 48;
const END: i64 = START + HOURS * 3600;
const SCRAPE: i64 = 30;
const MIB: f64 = 1024.0 * 1024.0;

struct Container {
    name: &'static str,
    cpu_cores: f64,
    mem_bytes: f64,
    request_cpu: f64,
    request_mem: f64,
}

struct Pod {
    namespace: &'static str,
    deployment: &'static str,
    name: &'static str,
    /// Alive over [from, to) hours.
    from: i64,
    to: i64,
    containers: Vec<Container>,
    /// kube-state-metrics reports its requests.
    ksm: bool,
}

fn c(name: &'static str, cpu: f64, mem_mib: f64, req_cpu: f64, req_mib: f64) -> Container {
    Container {
        name,
        cpu_cores: cpu,
        mem_bytes: mem_mib * MIB,
        request_cpu: req_cpu,
        request_mem: req_mib * MIB,
    }
}

fn pods() -> Vec<Pod> {
    let pod = |namespace, deployment, name, from, to, containers, ksm| Pod {
        namespace,
        deployment,
        name,
        from,
        to,
        containers,
        ksm,
    };
    vec![
        // web: two containers per pod, scaled out for a day, then rolled to a new ReplicaSet.
        pod(
            "shop",
            "web",
            "web-7d4b9c8f6-abcde",
            0,
            HOURS,
            vec![
                c("app", 0.12, 180.0, 0.2, 256.0),
                c("envoy", 0.02, 40.0, 0.05, 64.0),
            ],
            true,
        ),
        pod(
            "shop",
            "web",
            "web-7d4b9c8f6-fghij",
            12,
            36,
            vec![
                c("app", 0.15, 200.0, 0.2, 256.0),
                c("envoy", 0.03, 42.0, 0.05, 64.0),
            ],
            true,
        ),
        pod(
            "shop",
            "web",
            "web-5f6d7c8b9-klmno",
            30,
            HOURS,
            vec![
                c("app", 0.10, 170.0, 0.2, 256.0),
                c("envoy", 0.02, 38.0, 0.05, 64.0),
            ],
            true,
        ),
        // web-admin's pods must not count for web.
        pod(
            "shop",
            "web-admin",
            "web-admin-6b7c8d9f5-pqrst",
            0,
            HOURS,
            vec![c("app", 0.9, 900.0, 0.1, 128.0)],
            true,
        ),
        // The same name in another namespace must not count either.
        pod(
            "shop",
            "api",
            "api-8c9d7f6b5-uvwxy",
            0,
            HOURS,
            vec![c("app", 0.4, 300.0, 0.5, 512.0)],
            true,
        ),
        pod(
            "other",
            "api",
            "api-8c9d7f6b5-zzzzz",
            0,
            HOURS,
            vec![c("app", 0.05, 50.0, 1.0, 1024.0)],
            true,
        ),
        // No kube-state-metrics: the snapshot's per-pod requests stand in.
        pod(
            "shop",
            "cache",
            "cache-6c7d8f9b5-qqqqq",
            0,
            HOURS,
            vec![c("redis", 0.3, 400.0, 0.5, 512.0)],
            false,
        ),
        pod(
            "shop",
            "cache",
            "cache-6c7d8f9b5-rrrrr",
            6,
            40,
            vec![c("redis", 0.2, 350.0, 0.5, 512.0)],
            false,
        ),
    ]
}

/// CPU cores used by container `ci` of pod `pi` during hour `h`: a step each hour.
fn cpu_rate(p: &Pod, pi: usize, ci: usize, h: i64) -> f64 {
    p.containers[ci].cpu_cores
        * (1.0 + 0.5 * ((h * 7 + pi as i64 * 3 + ci as i64) % 5) as f64 / 4.0)
}

fn mem_bytes(p: &Pod, pi: usize, ci: usize, h: i64) -> f64 {
    (p.containers[ci].mem_bytes * (1.0 + 0.1 * ((h + pi as i64 + ci as i64) % 3) as f64)).round()
}

fn hour(t: i64) -> i64 {
    (t - START).div_euclid(3600)
}

/// The scrape times of a pod.
fn scrapes(p: &Pod) -> impl Iterator<Item = i64> + use<> {
    let (from, to) = (START + p.from * 3600, START + p.to * 3600);
    (from..to).step_by(SCRAPE as usize)
}

fn openmetrics(pods: &[Pod]) -> String {
    let mut out = String::new();
    let labels = |p: &Pod, c: &str| {
        format!(
            r#"namespace="{}",pod="{}",container="{}""#,
            p.namespace, p.name, c
        )
    };
    out.push_str("# TYPE container_cpu_usage_seconds counter\n");
    for (pi, p) in pods.iter().enumerate() {
        for (ci, c) in p.containers.iter().enumerate() {
            let mut v = 1000.0 + pi as f64 * 10.0;
            for t in scrapes(p) {
                let _ = writeln!(
                    out,
                    "container_cpu_usage_seconds_total{{{}}} {v} {t}",
                    labels(p, c.name)
                );
                v += cpu_rate(p, pi, ci, hour(t)) * SCRAPE as f64;
            }
        }
        // Decoys the queries must filter out: the pause container and the pod's own cgroup.
        for decoy in ["POD", ""] {
            let mut v = 5000.0;
            for t in scrapes(p) {
                let _ = writeln!(
                    out,
                    "container_cpu_usage_seconds_total{{{}}} {v} {t}",
                    labels(p, decoy)
                );
                v += 10.0 * SCRAPE as f64;
            }
        }
    }
    out.push_str("# TYPE container_memory_working_set_bytes gauge\n");
    for (pi, p) in pods.iter().enumerate() {
        for (ci, c) in p.containers.iter().enumerate() {
            for t in scrapes(p) {
                let _ = writeln!(
                    out,
                    "container_memory_working_set_bytes{{{}}} {} {t}",
                    labels(p, c.name),
                    mem_bytes(p, pi, ci, hour(t))
                );
            }
        }
        for t in scrapes(p) {
            let _ = writeln!(
                out,
                "container_memory_working_set_bytes{{{}}} 1e12 {t}",
                labels(p, "")
            );
        }
    }
    out.push_str("# TYPE kube_pod_container_resource_requests gauge\n");
    for p in pods.iter().filter(|p| p.ksm) {
        for c in &p.containers {
            for (resource, unit, value) in [
                ("cpu", "core", c.request_cpu),
                ("memory", "byte", c.request_mem),
            ] {
                for t in scrapes(p) {
                    let _ = writeln!(
                        out,
                        r#"kube_pod_container_resource_requests{{{},resource="{resource}",unit="{unit}"}} {value} {t}"#,
                        labels(p, c.name)
                    );
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// What Prometheus must answer at minute `t` for one deployment, when every pod is either
/// wholly inside or wholly outside its 5-minute windows there; None at transitions (a pod
/// starting or stopping, an hour's step inside the rate window).
fn expected(
    pods: &[Pod],
    key: &DeploymentKey,
    t: i64,
    fallback: (f64, f64),
) -> Option<Option<(f64, f64, u32)>> {
    if hour(t - 300) != hour(t - SCRAPE) {
        return None;
    }
    let (mut cpu, mut cpu_req, mut mem, mut mem_req, mut n) = (0.0, 0.0, 0.0, 0.0, 0u32);
    for (pi, p) in pods.iter().enumerate() {
        if p.namespace != key.namespace || p.deployment != key.name {
            continue;
        }
        let (s, e) = (START + p.from * 3600, START + p.to * 3600);
        let wholly_in = s <= t - 300 && t <= e - SCRAPE;
        let wholly_out = t < s || t > e - SCRAPE + 300;
        if !(wholly_in || wholly_out) {
            return None;
        }
        if wholly_in {
            n += 1;
            for (ci, c) in p.containers.iter().enumerate() {
                cpu += cpu_rate(p, pi, ci, hour(t - SCRAPE));
                mem += mem_bytes(p, pi, ci, hour(t));
                if p.ksm {
                    cpu_req += c.request_cpu;
                    mem_req += c.request_mem;
                }
            }
            if !p.ksm {
                cpu_req += fallback.0;
                mem_req += fallback.1;
            }
        }
    }
    Some((n > 0).then(|| (cpu / cpu_req * 100.0, mem / mem_req * 100.0, n)))
}

fn state(namespace: &str, name: &str, cpu_millis: u32, mem_mib: u32) -> DeploymentState {
    DeploymentState::fixture(namespace, name)
        .with_bounds(1, 4)
        .with_requests(cpu_millis, mem_mib)
}

fn deployments() -> Vec<DeploymentState> {
    vec![
        // KSM's requests win over these (deliberately wrong) template requests.
        state("shop", "web", 1000, 1000),
        state("shop", "web-admin", 100, 128),
        state("shop", "api", 500, 512),
        state("other", "api", 1000, 1024),
        state("shop", "cache", 500, 512),
        // Nothing in Prometheus.
        state("shop", "ghost", 100, 128),
    ]
}

fn by_key(b: &Backfill) -> HashMap<DeploymentKey, Vec<Sample>> {
    b.series.iter().cloned().collect()
}

#[tokio::test]
async fn backfill_from_a_real_prometheus_matches_the_generated_usage() {
    let promtool = tool("promtool");
    let work = tempfile::tempdir().expect("tempdir");
    let pods = pods();
    let om = work.path().join("data.om");
    std::fs::write(&om, openmetrics(&pods)).expect("write openmetrics");
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
    let server = start_prometheus(&data, work.path()).await;

    // Small chunks so the two days take several queries per series.
    let chunked = PrometheusSource::new(
        &server.url,
        PrometheusOptions {
            max_points: 1000,
            concurrency: 3,
            ..PrometheusOptions::default()
        },
    )
    .expect("url");
    let deployments = deployments();
    let backfill = chunked
        .backfill_range(&deployments, START, END - 60)
        .await
        .expect("backfill");
    let got = by_key(&backfill);
    assert_eq!(
        backfill.skipped,
        [(
            DeploymentKey::new("shop", "ghost"),
            "no container series for pods ghost-*-* in shop".to_string()
        )],
        "{}",
        backfill.summary()
    );

    for d in deployments.iter().filter(|d| d.key.name != "ghost") {
        let series = got
            .get(&d.key)
            .unwrap_or_else(|| panic!("{} backfilled", d.key));
        assert!(
            series
                .windows(2)
                .all(|w| w[1].timestamp - w[0].timestamp == 60),
            "{}: regular minutes",
            d.key
        );
        let at: HashMap<i64, &Sample> = series.iter().map(|s| (s.timestamp, s)).collect();
        let fallback = (
            f64::from(d.cpu_request_millis) / 1000.0,
            f64::from(d.mem_request_mib) * MIB,
        );
        let (mut checked, mut minutes) = (0, 0);
        for t in (START..END).step_by(60) {
            minutes += 1;
            match expected(&pods, &d.key, t, fallback) {
                None => {}
                Some(None) => assert!(!at.contains_key(&t), "{} has no pods at {t}", d.key),
                Some(Some((cpu, mem, n))) => {
                    let s = at.get(&t).unwrap_or_else(|| panic!("{} at {t}", d.key));
                    assert!(
                        (s.cpu_pct - cpu).abs() < 1e-3,
                        "{} cpu at {t}: {} vs {cpu}",
                        d.key,
                        s.cpu_pct
                    );
                    assert!(
                        (s.mem_pct - mem).abs() < 1e-3,
                        "{} mem at {t}: {} vs {mem}",
                        d.key,
                        s.mem_pct
                    );
                    assert_eq!(s.replicas, n, "{} pods at {t}", d.key);
                    checked += 1;
                }
            }
        }
        // Most minutes are steady and checked exactly; only transitions are skipped.
        assert!(
            checked * 10 >= minutes * 8,
            "{}: checked {checked} of {minutes}",
            d.key
        );
    }

    // The snapshot path: a 14-day lookback (beyond the data) in chunks of 10,000 points,
    // which Prometheus' 11,000-point limit accepts, gives the same series.
    let source = PrometheusSource::new(&server.url, PrometheusOptions::default()).expect("url");
    let snapshot = ClusterSnapshot {
        context: "test".into(),
        time: END,
        deployments: deployments.clone(),
        capacity: None,
    };
    let whole = source.backfill(&snapshot).await.expect("backfill");
    let whole = by_key(&whole);
    assert_eq!(whole.len(), got.len());
    for (key, series) in &got {
        let other = &whole[key];
        assert_eq!(
            other.len(),
            series.len(),
            "{key}: same minutes however the range is cut"
        );
        for (a, b) in series.iter().zip(other) {
            let same = |x: f64, y: f64| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-9;
            assert!(
                a.timestamp == b.timestamp
                    && same(a.cpu_pct, b.cpu_pct)
                    && same(a.mem_pct, b.mem_pct),
                "{key}: {a:?} vs {b:?}"
            );
        }
    }

    // The limit is real: more than 11,000 steps per series is refused …
    let refused = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/query_range?query=up&start={START}&end={}&step=1",
            server.url,
            START + 11_001
        ))
        .send()
        .await
        .expect("prometheus answers");
    assert_eq!(refused.status().as_u16(), 400);
    // … and a 4-hour backfill at 1-second steps (14,401 points) is cut to fit it.
    let fine = PrometheusSource::new(
        &server.url,
        PrometheusOptions {
            step_seconds: 1,
            max_points: 1_000_000,
            lookback_seconds: 4 * 3600,
            ..PrometheusOptions::default()
        },
    )
    .expect("url");
    let fine = fine
        .backfill(&snapshot)
        .await
        .expect("chunks within the limit");
    assert!(fine.series.iter().any(|(_, s)| s.len() > 11_000));
}

mod errors {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn answer(template: ResponseTemplate) -> String {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/query_range"))
            .respond_with(template)
            .mount(&server)
            .await;
        let source =
            PrometheusSource::new(&server.uri(), PrometheusOptions::default()).expect("url");
        source
            .backfill_range(&deployments(), START, START + 3600)
            .await
            .expect_err("no backfill")
            .to_string()
    }

    #[tokio::test]
    async fn a_400_carries_prometheus_reason() {
        let e = answer(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "status": "error", "errorType": "bad_data",
            "error": "exceeded maximum resolution of 11,000 points per timeseries"
        })))
        .await;
        assert!(
            e.contains("HTTP 400") && e.contains("bad_data") && e.contains("11,000"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_503_with_a_text_body_is_quoted() {
        let e = answer(ResponseTemplate::new(503).set_body_string("upstream connect error")).await;
        assert!(
            e.contains("HTTP 503") && e.contains("upstream connect error"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn bad_json_and_wrong_result_types_are_refused() {
        let e = answer(ResponseTemplate::new(200).set_body_string("<html>login</html>")).await;
        assert!(e.contains("not a query result"), "{e}");
        let e = answer(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success", "data": {"resultType": "vector", "result": []}
        })))
        .await;
        assert!(e.contains("vector"), "{e}");
        let e = answer(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [["x"]]}]}
        })))
        .await;
        assert!(e.contains("not a query result"), "{e}");
    }

    #[tokio::test]
    async fn a_slow_prometheus_times_out() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let source = PrometheusSource::new(
            &server.uri(),
            PrometheusOptions {
                timeout: Duration::from_millis(300),
                ..PrometheusOptions::default()
            },
        )
        .expect("url");
        let started = Instant::now();
        let e = source
            .backfill_range(&deployments(), START, START + 3600)
            .await
            .expect_err("timeout");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "bounded by the timeout"
        );
        assert!(e.to_string().contains("cannot reach Prometheus"), "{e}");
    }
}
