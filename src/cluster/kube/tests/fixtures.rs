//! The fake cluster the kube tests read: three deployments with their pods, metrics and HPA,
//! and a `KubeCluster` on it. Also included by `tests/common/kube.rs` (for the engine and TUI
//! tests over the kube path), so it names only what both includers put in scope.

use std::time::Duration;

use serde_json::{Value, json};

use super::{FakeApi, KubeCluster, KubeOptions, annotations};

pub fn deployment(
    ns: &str,
    name: &str,
    replicas: u32,
    selector: Value,
    cpu: &str,
    mem: &str,
) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{…}"}},
        "spec": {"replicas": replicas, "selector": selector,
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "x",
                                  "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas}
    })
}

pub fn pod(ns: &str, name: &str, labels: Value, ready: bool, cpu: &str, mem: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "x",
                 "resources": {"requests": {"cpu": cpu, "memory": mem}}}]},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    })
}

pub fn usage(ns: &str, name: &str, labels: Value, cpu: &str, mem: &str) -> Value {
    json!({
        "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "timestamp": "2026-03-02T10:00:00Z", "window": "15s",
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": mem}}]
    })
}

pub fn web_hpa() -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web-hpa", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"currentReplicas": 3, "desiredReplicas": 3, "observedGeneration": 1,
                   "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                       "current": {"averageUtilization": 55}}}],
                   "conditions": [{"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"}]}
    })
}

/// shop/web (HPA, 3 replicas, one starting, one terminating), shop/api (selector by
/// expressions, annotation bounds), jobs/batch (scaled to zero).
pub fn cluster_fake() -> FakeApi {
    let fake = FakeApi::default();
    let web = json!({"app": "web"});
    let mut api = deployment(
        "shop",
        "api",
        2,
        json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]},
                                    {"key": "tier", "operator": "NotIn", "values": ["canary"]}]}),
        "500m",
        "1Gi",
    );
    api["metadata"]["annotations"] = json!({
        annotations::MIN_REPLICAS: "2", annotations::MAX_REPLICAS: "6", annotations::PREDICTIVE: "true"});
    fake.set(
        "deployments",
        vec![
            deployment(
                "shop",
                "web",
                3,
                json!({"matchLabels": {"app": "web"}}),
                "200m",
                "256Mi",
            ),
            api,
            deployment(
                "jobs",
                "batch",
                0,
                json!({"matchLabels": {"app": "batch"}}),
                "1",
                "512Mi",
            ),
        ],
    );
    let mut old = pod("shop", "web-old", web.clone(), true, "200m", "256Mi");
    old["metadata"]["deletionTimestamp"] = json!("2026-03-02T10:00:00Z");
    fake.set(
        "pods",
        vec![
            pod("shop", "web-1", web.clone(), true, "200m", "256Mi"),
            pod("shop", "web-2", web.clone(), true, "200m", "256Mi"),
            pod("shop", "web-3", web.clone(), false, "200m", "256Mi"),
            old,
            pod("shop", "api-1", json!({"app": "api"}), true, "500m", "1Gi"),
            pod(
                "shop",
                "api-canary",
                json!({"app": "api", "tier": "canary"}),
                true,
                "500m",
                "1Gi",
            ),
            pod("other", "web-1", web.clone(), true, "200m", "256Mi"),
        ],
    );
    fake.set("horizontalpodautoscalers", vec![web_hpa()]);
    fake.set(
        "podmetrics",
        vec![
            usage("shop", "web-1", web.clone(), "100m", "128Mi"),
            usage("shop", "web-2", web.clone(), "150000000n", "64Mi"),
            usage("shop", "web-old", web.clone(), "900m", "256Mi"),
            usage("shop", "api-1", json!({"app": "api"}), "250m", "512Mi"),
            usage(
                "shop",
                "api-canary",
                json!({"app": "api", "tier": "canary"}),
                "500m",
                "1Gi",
            ),
            usage("other", "web-1", web, "200m", "256Mi"),
        ],
    );
    fake
}

pub fn opts() -> KubeOptions {
    KubeOptions {
        metrics_every: Duration::from_millis(100),
        first_sync_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        ..KubeOptions::default()
    }
}

pub fn start(fake: &FakeApi) -> KubeCluster {
    KubeCluster::from_client(fake.client(), "test", opts())
}

pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
