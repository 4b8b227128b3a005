//! Cross-check of the kube-rs path against a third-party emulator: kmock (PyPI), started by
//! `tests/kmock_launch.py` on a free loopback port. kmock has no resourceVersions (so the
//! deployments, HPAs and pods are polled instead of watched), no strategic merge, no dry run and
//! no Scale objects (`/scale` patches the deployment): reads, `/scale`, merge patches,
//! annotation removal and HPA creation are what it supports and what is checked here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::time::Duration;

use ai4k8s::cluster::kube::{KubeCluster, KubeOptions};
use ai4k8s::cluster::{Change, Cluster, ClusterError, HpaSpec, SourceState};
use ai4k8s::model::{ClusterSnapshot, DeploymentKey, DeploymentState};
use common::kmock::{kmock_installed, kubeconfig, start_kmock};
use serde_json::{Value, json};

fn deployment(name: &str, replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                {"name": "app", "image": "x", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas}})
}

fn pod(name: &str, app: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "x",
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

fn metrics(name: &str, app: &str, cpu: &str, mem: &str) -> Value {
    json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
        "timestamp": "2026-03-02T10:00:00Z", "window": "15s",
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": mem}}]})
}

fn objects() -> Value {
    json!([
        deployment("web", 2),
        deployment("api", 1),
        pod("web-a", "web", true),
        pod("web-b", "web", true),
        pod("api-1", "api", false),
        metrics("web-a", "web", "100m", "128Mi"),
        metrics("web-b", "web", "150000000n", "64Mi"),
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
         "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                  "minReplicas": 2, "maxReplicas": 8,
                  "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]},
         "status": {"currentReplicas": 2, "desiredReplicas": 2,
                    "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 50}}}]}}
    ])
}

fn find<'a>(s: &'a ClusterSnapshot, name: &str) -> &'a DeploymentState {
    s.deployments
        .iter()
        .find(|d| d.key.name == name)
        .unwrap_or_else(|| panic!("{name} in {:?}", s.deployments))
}

async fn until(c: &KubeCluster, what: &str, f: impl Fn(&ClusterSnapshot) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = c.snapshot().await
            && f(&s)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: {what}; status {:?}",
            c.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_path_reads_and_writes_through_kmock() {
    if !kmock_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "kmock missing: .ci/run installs it"
        );
        eprintln!("skipped: pip install kmock to run this cross-check");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_kmock(dir.path(), &objects(), &[]);
    let opts = KubeOptions {
        kubeconfig: Some(kubeconfig(dir.path(), server.port)),
        metrics_every: Duration::from_millis(200),
        ..KubeOptions::default()
    };
    let c = KubeCluster::connect(opts).await.expect("connect");
    assert_eq!(c.context(), "kmock");

    // Reads: the same numbers as the fake-API unit test computes by hand.
    until(&c, "metrics in", |s| find(s, "web").cpu_pct.is_some()).await;
    let s = c.snapshot().await.expect("snapshot");
    let web = find(&s, "web");
    assert_eq!(
        (web.desired_replicas, web.ready_replicas, web.total_pods),
        (2, 2, 2)
    );
    // (100m + 150m) / (250m + 250m) = 50 %; (128 + 64) Mi / 512 Mi = 37.5 %.
    assert!(
        (web.cpu_pct.unwrap_or(0.0) - 50.0).abs() < 1e-9,
        "{:?}",
        web.cpu_pct
    );
    assert!(
        (web.mem_pct.unwrap_or(0.0) - 37.5).abs() < 1e-9,
        "{:?}",
        web.mem_pct
    );
    let hpa = web.hpa.as_ref().expect("web's HPA");
    assert_eq!(
        (hpa.min_replicas, hpa.max_replicas, hpa.target_cpu_pct),
        (2, 8, Some(60))
    );
    assert_eq!(hpa.metrics[0].to_string(), "cpu 50%/60%");
    let api = find(&s, "api");
    assert_eq!(
        (api.ready_replicas, api.total_pods, api.cpu_pct),
        (0, 1, None)
    );
    assert_eq!((api.min_replicas, api.max_replicas), (1, 4));

    // Writes, each seen back through the reads.
    let api_key = DeploymentKey::new("shop", "api");
    let web_key = DeploymentKey::new("shop", "web");
    c.write(&api_key, &Change::Scale { from: 1, to: 3 })
        .await
        .expect("scale through /scale");
    until(&c, "scaled", |s| find(s, "api").desired_replicas == 3).await;
    let predictive = |from: bool, to: bool| Change::Predictive { from, to };
    c.write(&api_key, &predictive(false, true))
        .await
        .expect("annotate");
    until(&c, "annotated", |s| find(s, "api").predictive_enabled).await;
    c.write(&api_key, &predictive(true, false))
        .await
        .expect("remove annotation");
    until(&c, "annotation removed", |s| {
        !find(s, "api").predictive_enabled
    })
    .await;
    let web_hpa = find(&c.snapshot().await.expect("snapshot"), "web")
        .hpa
        .clone()
        .expect("web's HPA");
    // No change moves maxReplicas alone: the bounds, with minReplicas kept as it is.
    let bounds = Change::HpaBounds {
        hpa: web_hpa.name.clone(),
        from: (web_hpa.min_replicas, web_hpa.max_replicas),
        to: (web_hpa.min_replicas, 10),
    };
    c.write(&web_key, &bounds).await.expect("patch hpa");
    until(&c, "hpa max 10", |s| find(s, "web").max_replicas == 10).await;
    let spec = HpaSpec {
        min_replicas: 1,
        max_replicas: 5,
        target_cpu_pct: Some(70),
        target_mem_pct: None,
    };
    c.write(&api_key, &Change::CreateHpa { spec })
        .await
        .expect("create hpa");
    until(&c, "api has an HPA", |s| {
        find(s, "api")
            .hpa
            .as_ref()
            .is_some_and(|h| h.max_replicas == 5)
    })
    .await;
    let e = c
        .write(
            &DeploymentKey::new("shop", "nope"),
            &Change::Scale { from: 1, to: 1 },
        )
        .await
        .expect_err("no such deployment");
    assert!(matches!(e, ClusterError::NotFound(_)), "{e:?}");

    let status = c.status();
    let deployments = status
        .sources
        .iter()
        .find(|s| s.source == "deployments")
        .expect("deployments");
    assert_eq!(deployments.state, SourceState::Ok, "{status:?}");
    // No resourceVersions: the watch gave way to polling, and says so.
    assert_eq!(
        deployments.detail.as_deref(),
        Some("polled: the server does not support watch")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmock_without_a_metrics_api_says_metrics_are_missing() {
    if !kmock_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "kmock missing: .ci/run installs it"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = json!([deployment("web", 2), pod("web-a", "web", true)]);
    let server = start_kmock(
        dir.path(),
        &objects,
        &["autoscaling/v2/horizontalpodautoscalers"],
    );
    let opts = KubeOptions {
        kubeconfig: Some(kubeconfig(dir.path(), server.port)),
        metrics_every: Duration::from_millis(200),
        ..KubeOptions::default()
    };
    let c = KubeCluster::connect(opts).await.expect("connect");
    let s = c.snapshot().await.expect("snapshot");
    assert_eq!(find(&s, "web").ready_replicas, 1);
    assert_eq!(find(&s, "web").cpu_pct, None);
    let status = c.status();
    let m = status
        .sources
        .iter()
        .find(|s| s.source == "pod metrics")
        .expect("metrics");
    assert_eq!(m.state, SourceState::Missing, "{status:?}");
    assert!(
        m.detail
            .as_deref()
            .is_some_and(|d| d.contains("metrics-server")),
        "{m:?}"
    );
}
