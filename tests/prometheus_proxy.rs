//! Prometheus through the API server's service proxy, on the real wire: discovery against
//! `ai4k8s sim serve` (which serves Services, decoys included, and a Prometheus behind
//! `monitoring/prometheus-k8s`), discovery that finds nothing that answers (a loopback API
//! server, wiremock, with decoys only), and the kube path's backfill through the proxy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::time::Duration;

use ai4k8s::cluster::Cluster;
use ai4k8s::cluster::kube::prometheus_discovery::discover;
use ai4k8s::cluster::kube::{KubeCluster, KubeOptions, kubeconfig};
use ai4k8s::metrics::prom_transport::PromTransport;
use ai4k8s::metrics::prometheus::{PromError, PrometheusOptions, PrometheusSource};
use common::sim_serve::sim_serve;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_passes_the_decoys_and_the_proxy_answers_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let server = sim_serve(dir.path(), None, "1");
    let conn = kubeconfig::connect(Some(&server.kubeconfig), None)
        .await
        .expect("connect");
    // The sim's prometheus-operated ranks first (the operator's own) but has no endpoints.
    let t = discover(&conn.proxy_client, TIMEOUT)
        .await
        .expect("found one");
    assert_eq!(t.describe(), "prometheus-k8s via API proxy");

    // The Prometheus API's own shapes through the proxy.
    let get = |p: &'static str| {
        let t = &t;
        async move {
            let r = t.get(p).await.expect("answers");
            (
                r.status,
                serde_json::from_slice::<Value>(&r.body).expect("json"),
            )
        }
    };
    let (status, up) = get("api/v1/query?query=up").await;
    assert_eq!(status, 200);
    assert_eq!(up["status"], "success");
    assert_eq!(up["data"]["resultType"], "vector");
    assert!(
        up["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    let (status, bad) = get("api/v1/query?query=sum%20by%20(pod)%20(").await;
    assert_eq!(status, 400);
    assert_eq!(bad["status"], "error");
    assert_eq!(bad["errorType"], "bad_data");
    assert!(
        bad["error"].as_str().unwrap().contains("parse error"),
        "{bad}"
    );
    let (_, labels) = get("api/v1/labels").await;
    let names: Vec<&str> = labels["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for n in ["__name__", "namespace", "pod", "container", "resource"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let (_, series) = get(
        "api/v1/series?match[]=kube_pod_container_resource_requests%7Bnamespace%3D%22shop%22%2Cresource%3D%22cpu%22%7D",
    )
    .await;
    let series = series["data"].as_array().unwrap();
    assert!(!series.is_empty());
    for s in series {
        assert_eq!(s["namespace"], "shop", "{s}");
        assert_eq!(s["unit"], "core", "{s}");
        assert!(s["pod"].as_str().unwrap().split('-').count() >= 3, "{s}");
    }

    // kubectl's spellings of the proxy path reach the same Prometheus.
    let client = reqwest::Client::new();
    let yaml = std::fs::read_to_string(&server.kubeconfig).unwrap();
    let base = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server url")
        .trim()
        .to_string();
    for svc in [
        "prometheus-k8s",
        "prometheus-k8s:9090",
        "http:prometheus-k8s:web",
    ] {
        let url = format!(
            "{base}/api/v1/namespaces/monitoring/services/{svc}/proxy/api/v1/status/buildinfo"
        );
        let r = client.get(&url).send().await.expect("get");
        assert_eq!(r.status(), 200, "{url}");
    }
    let url = format!(
        "{base}/api/v1/namespaces/observability/services/prometheus-operated:web/proxy/api/v1/query?query=up"
    );
    let r = client.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 503);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "ServiceUnavailable");
    let url = format!("{base}/api/v1/namespaces/monitoring/services/nothing:80/proxy/");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 404);
}

fn service(ns: &str, name: &str, labels: Value, port: (&str, i32)) -> Value {
    json!({
        "metadata": {"namespace": ns, "name": name, "labels": labels},
        "spec": {"ports": [{"name": port.0, "port": port.1, "protocol": "TCP"}]}
    })
}

/// A loopback API server whose Services are all decoys, and a client without kube's retries.
async fn api_with(items: Vec<Value>) -> (MockServer, kube::Client) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/services"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "ServiceList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
            "items": items,
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/namespaces/observability/services/prometheus-operated:web/proxy/api/v1/query"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "ServiceUnavailable",
            "message": "no endpoints available for service \"prometheus-operated\"", "code": 503,
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/api/v1/namespaces/monitoring/services/prometheus-server:http/proxy/api/v1/query",
        ))
        .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found\n"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/namespaces/vm/services/vmselect-main:http/proxy/select/0/prometheus/api/v1/query"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login</html>"))
        .mount(&server)
        .await;
    let mut config = kube::Config::new(server.uri().parse().unwrap());
    config.default_retry = false;
    let client = kube::Client::try_from(config).unwrap();
    (server, client)
}

#[tokio::test]
async fn discovery_says_why_when_no_candidate_answers() {
    let (_server, client) = api_with(vec![
        service(
            "kube-system",
            "kube-dns",
            json!({"k8s-app": "kube-dns"}),
            ("dns-tcp", 53),
        ),
        service(
            "monitoring",
            "prometheus-server",
            json!({"app": "prometheus", "component": "server"}),
            ("http", 80),
        ),
        service(
            "observability",
            "prometheus-operated",
            json!({"operated-prometheus": "true"}),
            ("web", 9090),
        ),
        service(
            "vm",
            "vmselect-main",
            json!({"app.kubernetes.io/name": "vmselect"}),
            ("http", 8481),
        ),
    ])
    .await;
    let e = discover(&client, TIMEOUT)
        .await
        .err()
        .expect("none answers");
    let PromError::NotFound(why) = &e else {
        panic!("{e}")
    };
    // Every candidate, best first, each with its own reason; the DNS service is no candidate.
    let operated = why
        .find("observability/prometheus-operated:web")
        .expect(why);
    let server = why.find("monitoring/prometheus-server:http").expect(why);
    let vm = why.find("vm/vmselect-main:http").expect(why);
    assert!(operated < server && server < vm, "{why}");
    assert!(why.contains("HTTP 503: no endpoints available"), "{why}");
    assert!(why.contains("HTTP 404: 404 page not found"), "{why}");
    assert!(why.contains("<html>login</html>"), "{why}");
    assert!(!why.contains("kube-dns"), "{why}");

    let (_server, client) = api_with(vec![service(
        "kube-system",
        "kube-dns",
        json!({}),
        ("dns-tcp", 53),
    )])
    .await;
    let e = discover(&client, TIMEOUT)
        .await
        .err()
        .expect("nothing like it");
    assert!(e.to_string().contains("looks like Prometheus"), "{e}");
    assert!(e.to_string().contains("--prometheus-url"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kube_path_backfills_fourteen_days_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let server = sim_serve(dir.path(), None, "1");
    let cluster = KubeCluster::connect(KubeOptions {
        kubeconfig: Some(server.kubeconfig.clone()),
        ..KubeOptions::default()
    })
    .await
    .expect("connect");
    let snap = cluster.snapshot().await.expect("snapshot");
    assert_eq!(snap.deployments.len(), 14);
    let transport = cluster
        .prometheus_transport(TIMEOUT)
        .expect("a live cluster has one");
    let source = PrometheusSource::with_transport(transport, PrometheusOptions::default());
    let started = std::time::Instant::now();
    let b = source.backfill(&snap).await.expect("backfill");
    println!(
        "backfill through the proxy: {:?}, {}",
        started.elapsed(),
        b.summary()
    );
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);
    assert_eq!(b.series.len(), 14);
    assert_eq!(b.headline(), "history: prometheus-k8s via API proxy, 14 d");
    for (key, samples) in &b.series {
        // Minute samples over (nearly) all 14 days, ending at the last closed minute.
        assert!(samples.len() > 14 * 1440 - 10, "{key}: {}", samples.len());
        let last = samples.last().unwrap().timestamp;
        assert!(
            snap.time - last <= 120,
            "{key}: last {last} vs now {}",
            snap.time
        );
        assert!(samples.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        for s in samples {
            assert!(
                s.cpu_pct.is_finite() && (0.0..400.0).contains(&s.cpu_pct),
                "{key}: {s:?}"
            );
            assert!(s.mem_pct.is_finite() && s.mem_pct > 0.0, "{key}: {s:?}");
            assert!(s.replicas >= 1, "{key}: {s:?}");
        }
        // Load is not flat: the traces' shape comes through.
        let (lo, hi) = samples.iter().fold((f64::MAX, f64::MIN), |(lo, hi), s| {
            (lo.min(s.cpu_pct), hi.max(s.cpu_pct))
        });
        assert!(hi - lo > 1.0, "{key}: {lo}..{hi}");
    }
}

/// `ai4k8s recommend` on the kube path with `extra` arguments and `config`; its log file.
fn recommend_log(
    server: &common::sim_serve::SimServe,
    dir: &std::path::Path,
    name: &str,
    config: &str,
    extra: &[&str],
) -> String {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, config).unwrap();
    let data = dir.join(name);
    let out = std::process::Command::new(common::BIN)
        .args(["recommend", "shop/frontend", "-o", "json", "--kubeconfig"])
        .arg(&server.kubeconfig)
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .args(extra)
        .env_remove("GROQ_API_KEY")
        .env_remove("AI4K8S_CONFIG")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run ai4k8s");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["name"], "frontend");
    std::fs::read_to_string(data.join("logs").join("ai4k8s.log")).unwrap_or_default()
}

#[test]
fn prometheus_can_be_turned_off_and_the_flag_overrides_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let server = sim_serve(dir.path(), None, "1");
    // Off: no discovery, no backfill, not a word about Prometheus.
    let log = recommend_log(
        &server,
        dir.path(),
        "off",
        "[prometheus]\nenabled = false\n",
        &[],
    );
    assert!(!log.to_lowercase().contains("prometheus"), "{log}");
    // The flag wins over discovery (and over [prometheus] url): its URL is the one asked.
    let log = recommend_log(
        &server,
        dir.path(),
        "flag",
        "[prometheus]\nurl = \"http://127.0.0.1:2/never\"\n",
        &["--prometheus-url", "http://127.0.0.1:1/"],
    );
    assert!(
        log.contains("cannot reach Prometheus at http://127.0.0.1:1/"),
        "{log}"
    );
    assert!(
        !log.contains("API proxy") && !log.contains("/never"),
        "{log}"
    );
}
