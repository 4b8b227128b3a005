//! The kube path against a fake API server (`mock.rs`): reads, every failure mode, writes.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use super::mock::{FakeApi, status};
use super::{KubeCluster, KubeOptions};
use crate::cluster::{Cluster, ClusterError, HpaExpect, HpaSpec, SourceState, Write, annotations};
use crate::model::{ClusterSnapshot, DeploymentKey, DeploymentState};

fn deployment(ns: &str, name: &str, replicas: u32, selector: Value, cpu: &str, mem: &str) -> Value {
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

fn pod(ns: &str, name: &str, labels: Value, ready: bool, cpu: &str, mem: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "x",
                 "resources": {"requests": {"cpu": cpu, "memory": mem}}}]},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    })
}

fn usage(ns: &str, name: &str, labels: Value, cpu: &str, mem: &str) -> Value {
    json!({
        "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "timestamp": "2026-03-02T10:00:00Z", "window": "15s",
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": mem}}]
    })
}

fn web_hpa() -> Value {
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
fn cluster_fake() -> FakeApi {
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

fn opts() -> KubeOptions {
    KubeOptions {
        metrics_every: Duration::from_millis(100),
        first_sync_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        ..KubeOptions::default()
    }
}

fn start(fake: &FakeApi) -> KubeCluster {
    KubeCluster::from_client(fake.client(), "test", opts())
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn find<'a>(s: &'a ClusterSnapshot, key: &str) -> &'a DeploymentState {
    s.deployments
        .iter()
        .find(|d| d.key.to_string() == key)
        .unwrap_or_else(|| panic!("{key} in {:?}", s.deployments))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn snapshot_matches_pods_by_selector_and_aggregates_metrics_like_the_hpa() {
    let fake = cluster_fake();
    let c = start(&fake);
    let s = c.snapshot().await.expect("snapshot");
    assert_eq!(s.context, "test");
    let keys: Vec<String> = s.deployments.iter().map(|d| d.key.to_string()).collect();
    assert_eq!(keys, ["jobs/batch", "shop/api", "shop/web"]);

    let web = find(&s, "shop/web");
    // web-1..3 match (web-old is terminating, other/web-1 is another namespace).
    assert_eq!(
        (web.desired_replicas, web.ready_replicas, web.total_pods),
        (3, 2, 3)
    );
    assert_eq!((web.cpu_request_millis, web.mem_request_mib), (200, 256));
    // (100m + 150m) / (200m + 200m) = 62.5 %; (128 + 64) Mi / 512 Mi = 37.5 %; web-3 has no
    // metrics yet and is left out of both sums.
    assert!(close(web.cpu_pct, 62.5), "{:?}", web.cpu_pct);
    assert!(close(web.mem_pct, 37.5), "{:?}", web.mem_pct);
    let hpa = web.hpa.as_ref().expect("web has an HPA");
    assert_eq!(
        (hpa.name.as_str(), hpa.min_replicas, hpa.max_replicas),
        ("web-hpa", 2, 10)
    );
    assert_eq!((web.min_replicas, web.max_replicas), (2, 10));
    assert_eq!(hpa.metrics[0].to_string(), "cpu 55%/70%");

    let api = find(&s, "shop/api");
    assert_eq!(
        (api.ready_replicas, api.total_pods),
        (1, 1),
        "the canary is excluded"
    );
    assert!(close(api.cpu_pct, 50.0) && close(api.mem_pct, 50.0));
    assert_eq!(
        (api.min_replicas, api.max_replicas),
        (2, 6),
        "annotation bounds"
    );
    assert!(api.predictive_enabled && api.hpa.is_none());

    let batch = find(&s, "jobs/batch");
    assert_eq!((batch.min_replicas, batch.max_replicas), (1, 4));
    assert_eq!((batch.cpu_pct, batch.total_pods), (None, 0));

    let st = c.status();
    let metrics = st
        .sources
        .iter()
        .find(|s| s.source == "pod metrics")
        .expect("metrics");
    assert_eq!(metrics.state, SourceState::Ok);
    assert!(
        metrics
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("jobs/batch: no pod has metrics yet")),
        "{metrics:?}"
    );
}

#[tokio::test]
async fn no_metrics_server_still_lists_deployments_and_says_metrics_are_missing() {
    let fake = cluster_fake();
    fake.lock().refuse.insert("podmetrics", (404, "NotFound"));
    let c = start(&fake);
    let s = c.snapshot().await.expect("snapshot without metrics");
    assert_eq!(s.deployments.len(), 3);
    assert!(
        s.deployments
            .iter()
            .all(|d| d.cpu_pct.is_none() && d.mem_pct.is_none())
    );
    assert_eq!(find(&s, "shop/web").ready_replicas, 2);
    let st = c.status();
    let m = st
        .sources
        .iter()
        .find(|s| s.source == "pod metrics")
        .expect("metrics");
    assert_eq!(m.state, SourceState::Missing);
    let why = m.detail.clone().unwrap_or_default();
    assert!(why.contains("is metrics-server installed?"), "{why}");
    assert!(
        st.summary()
            .unwrap_or_default()
            .contains("pod metrics missing")
    );
}

#[tokio::test]
async fn forbidden_pods_fall_back_to_status_counts_and_metric_labels_and_say_which() {
    let fake = cluster_fake();
    fake.lock().refuse.insert("pods", (403, "Forbidden"));
    let c = start(&fake);
    eventually("pods settled", || {
        c.status()
            .sources
            .iter()
            .any(|s| s.source == "pods" && s.state == SourceState::Missing)
    })
    .await;
    let s = c.snapshot().await.expect("snapshot without pods");
    let web = find(&s, "shop/web");
    assert_eq!(
        (web.ready_replicas, web.total_pods),
        (3, 3),
        "from the deployment's status"
    );
    // Matched through PodMetrics labels, template requests: web-1, web-2 and the terminating
    // web-old (pods unknown) = (100 + 150 + 900) / 600.
    assert!(
        close(web.cpu_pct, 1150.0 / 600.0 * 100.0),
        "{:?}",
        web.cpu_pct
    );
    let st = c.status();
    let pods = st
        .sources
        .iter()
        .find(|s| s.source == "pods")
        .expect("pods");
    let why = pods.detail.clone().unwrap_or_default();
    assert!(
        why.starts_with("forbidden: watch pods: pods is forbidden: User \"dev\""),
        "{why}"
    );
    assert!(why.contains("ready counts from deployment status"), "{why}");
}

#[tokio::test]
async fn forbidden_deployments_fail_the_snapshot_with_the_servers_reason() {
    let fake = cluster_fake();
    fake.lock().refuse.insert("deployments", (403, "Forbidden"));
    let c = start(&fake);
    let e = c.snapshot().await.expect_err("cannot list deployments");
    let ClusterError::Forbidden(msg) = e else {
        panic!("not forbidden: {e:?}")
    };
    assert!(
        msg.contains("deployments is forbidden: User \"dev\" cannot list"),
        "{msg}"
    );
    assert!(
        msg.ends_with("(to watch a single namespace, pass --namespace NS)"),
        "{msg}"
    );
}

/// Call `snapshot()` until it succeeds.
async fn snapshot_eventually(c: &KubeCluster) -> ClusterSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match c.snapshot().await {
            Ok(s) => return s,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "still failing: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn server_error_500_is_unavailable_and_clears_when_the_server_recovers() {
    let fake = cluster_fake();
    fake.lock()
        .refuse
        .insert("deployments", (500, "InternalError"));
    let c = start(&fake);
    let e = c.snapshot().await.expect_err("500 on the first list");
    assert!(
        matches!(&e, ClusterError::Unavailable(m) if m.contains("server error 500")),
        "{e:?}"
    );
    fake.lock().refuse.clear();
    let s = snapshot_eventually(&c).await;
    assert_eq!(s.deployments.len(), 3, "listed again after backoff");
}

#[tokio::test]
async fn watch_410_gone_relists_and_picks_up_what_changed_meanwhile() {
    let fake = cluster_fake();
    let c = start(&fake);
    assert_eq!(
        find(&c.snapshot().await.expect("first"), "shop/web").desired_replicas,
        3
    );
    eventually("deployments watch open", || {
        fake.open_watches("deployments") == 1
    })
    .await;
    let lists = |fake: &FakeApi| {
        fake.requests()
            .iter()
            .filter(|r| r.path.ends_with("/deployments") && !r.query.contains("watch=true"))
            .count()
    };
    let lists_before = lists(&fake);
    // Changed while the watch was expiring: only a new list can see it.
    let mut objs = fake.lock().objects["deployments"].clone();
    objs[0]["spec"]["replicas"] = json!(7);
    fake.set("deployments", objs);
    fake.push_event(
        "deployments",
        &json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version: 1 (9)")}),
    );
    eventually("re-listed after 410", || {
        find(&c.cached_snapshot(), "shop/web").desired_replicas == 7
    })
    .await;
    let lists_after = lists(&fake);
    assert!(lists_after > lists_before, "a new list was made");
    let s = c.snapshot().await.expect("410 is routine, not an outage");
    assert_eq!(find(&s, "shop/web").desired_replicas, 7);
    let st = c.status();
    let d = st
        .sources
        .iter()
        .find(|s| s.source == "deployments")
        .expect("deployments");
    assert_eq!(d.state, SourceState::Ok, "{d:?}");
}

#[tokio::test]
async fn watch_events_update_the_snapshot_without_polling() {
    let fake = cluster_fake();
    let c = start(&fake);
    c.snapshot().await.expect("first");
    eventually("deployments watch open", || {
        fake.open_watches("deployments") == 1
    })
    .await;
    let mut web = fake.lock().objects["deployments"][0].clone();
    web["spec"]["replicas"] = json!(5);
    web["metadata"]["resourceVersion"] = json!("100");
    fake.push_event("deployments", &json!({"type": "MODIFIED", "object": web}));
    eventually("modified", || {
        find(&c.cached_snapshot(), "shop/web").desired_replicas == 5
    })
    .await;
    let api = fake.lock().objects["deployments"][1].clone();
    let mut deleted = api.clone();
    deleted["metadata"]["resourceVersion"] = json!("101");
    fake.push_event(
        "deployments",
        &json!({"type": "DELETED", "object": deleted}),
    );
    eventually("deleted", || c.cached_snapshot().deployments.len() == 2).await;
}

#[tokio::test]
async fn a_connection_drop_mid_watch_keeps_the_last_good_data_and_recovers() {
    use crate::advisor::Advisor;
    use crate::config::AdvisorConfig;
    use crate::engine::{self, EngineOptions, Update};
    use crate::tui::app::{App, SessionInfo};

    let fake = cluster_fake();
    let cluster = Arc::new(start(&fake));
    let (_cmd, mut updates) = engine::spawn(
        cluster.clone(),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        EngineOptions {
            poll_every: Duration::from_millis(100),
            ..EngineOptions::default()
        },
    );
    let mut app = App::new(SessionInfo {
        context: "test".into(),
        read_only: true,
        ..SessionInfo::default()
    });
    // The first good snapshot.
    loop {
        let u = next(&mut updates).await;
        let done = matches!(&u, Update::Snapshot(s) if s.deployments.len() == 3);
        app.on_update(u);
        if done {
            break;
        }
    }
    eventually("watches open", || fake.open_watches("pods") == 1).await;

    // The API server goes away mid-watch: streams break, new connections are refused.
    fake.lock().down = true;
    for r in ["deployments", "pods", "horizontalpodautoscalers"] {
        fake.drop_watches(r);
    }
    let error = loop {
        let u = next(&mut updates).await;
        if let Update::ClusterError(e) = &u {
            let e = e.clone();
            app.on_update(u);
            break e;
        }
        app.on_update(u);
    };
    assert!(
        error.starts_with("unavailable: API server of test unreachable since"),
        "{error}"
    );
    assert!(error.contains("data shown is from"), "{error}");
    // The app still shows every deployment from the last good snapshot.
    assert_eq!(app.deployments.len(), 3);
    assert_eq!(app.cluster_error.as_deref(), Some(error.as_str()));
    assert!(matches!(
        cluster.snapshot().await,
        Err(ClusterError::Unavailable(_))
    ));
    assert_eq!(
        cluster.cached_snapshot().deployments.len(),
        3,
        "stores kept"
    );

    // It comes back: watches reconnect (with backoff) and snapshots flow again.
    fake.lock().down = false;
    loop {
        let u = next(&mut updates).await;
        let ok = matches!(&u, Update::Snapshot(_));
        app.on_update(u);
        if ok {
            break;
        }
    }
    assert!(app.cluster_error.is_none());
    eventually("watch re-established", || {
        fake.open_watches("deployments") >= 1
    })
    .await;
}

async fn next(
    updates: &mut tokio::sync::mpsc::UnboundedReceiver<crate::engine::Update>,
) -> crate::engine::Update {
    tokio::time::timeout(Duration::from_secs(10), updates.recv())
        .await
        .ok()
        .flatten()
        .expect("engine keeps sending")
}

fn key(s: &str) -> DeploymentKey {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

async fn synced(fake: &FakeApi) -> KubeCluster {
    let c = start(fake);
    c.snapshot().await.expect("synced");
    c
}

fn writes(fake: &FakeApi, method: Method) -> Vec<super::mock::Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == method)
        .collect()
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    c.scale(&key("shop/api"), 4).await.expect("scale");
    let w = writes(&fake, Method::PATCH);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/api/scale"
    );
    assert_eq!(w[0].body, Some(json!({"spec": {"replicas": 4}})));
    assert!(w[0].query.contains("fieldManager=ai4k8s"), "{}", w[0].query);
    eventually("the watch delivered it", || {
        find(&c.cached_snapshot(), "shop/api").desired_replicas == 4
    })
    .await;
}

#[tokio::test]
async fn annotate_sets_and_removes_with_a_merge_patch() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    c.annotate(
        &key("shop/api"),
        &[
            (annotations::PREDICTIVE.into(), Some("false".into())),
            (annotations::MAX_REPLICAS.into(), None),
        ],
    )
    .await
    .expect("annotate");
    let w = writes(&fake, Method::PATCH);
    assert_eq!(w[0].path, "/apis/apps/v1/namespaces/shop/deployments/api");
    assert_eq!(
        w[0].body,
        Some(json!({"metadata": {"annotations": {
            annotations::PREDICTIVE: "false", annotations::MAX_REPLICAS: null}}}))
    );
    eventually("applied", || {
        let s = c.cached_snapshot();
        let api = find(&s, "shop/api");
        !api.predictive_enabled && api.max_replicas == 8
    })
    .await;
}

#[tokio::test]
async fn create_hpa_posts_autoscaling_v2_with_utilization_targets() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let spec = HpaSpec {
        min_replicas: 2,
        max_replicas: 6,
        target_cpu_pct: Some(70),
        target_mem_pct: Some(80),
    };
    c.create_hpa(&key("shop/api"), &spec).await.expect("create");
    let w = writes(&fake, Method::POST);
    assert_eq!(
        w[0].path,
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers"
    );
    let body = w[0].body.clone().unwrap_or_default();
    assert_eq!(
        body["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"})
    );
    assert_eq!(
        body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(body["spec"]["metrics"][1]["resource"]["name"], "memory");
    eventually("the HPA appears", || {
        find(&c.cached_snapshot(), "shop/api").hpa.is_some()
    })
    .await;
    // A second one is refused before asking the server.
    let e = c
        .create_hpa(&key("shop/web"), &spec)
        .await
        .expect_err("web has one");
    assert!(
        matches!(e, ClusterError::Conflict(ref m) if m.contains("web-hpa")),
        "{e:?}"
    );
}

#[tokio::test]
async fn patch_hpa_sends_the_version_decided_on_and_retries_once_after_a_conflict() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let rv0 =
        fake.lock().objects["horizontalpodautoscalers"][0]["metadata"]["resourceVersion"].clone();
    // Someone else changes the HPA before our patch lands (the store has not seen it).
    set_hpa_spec(&fake, "maxReplicas", 12);
    c.patch_hpa(&key("shop/web"), &min_was(2), Some(4), None)
        .await
        .expect("patched after re-read: minReplicas still 2");
    let w = writes(&fake, Method::PATCH);
    assert_eq!(w.len(), 2, "one conflict, one retry");
    assert_eq!(
        w[0].body
            .as_ref()
            .map(|b| b["metadata"]["resourceVersion"].clone()),
        Some(rv0.clone())
    );
    let rv1 = w[1]
        .body
        .as_ref()
        .map(|b| b["metadata"]["resourceVersion"].clone());
    assert!(
        rv1.is_some() && rv1 != Some(rv0),
        "the retry carries the re-read version"
    );
    assert_eq!(
        w[1].body.as_ref().map(|b| b["spec"].clone()),
        Some(json!({"minReplicas": 4}))
    );
    assert!(
        fake.count(&Method::GET, "/horizontalpodautoscalers/web-hpa", "") >= 1,
        "re-read"
    );
    let hpa = fake.lock().objects["horizontalpodautoscalers"][0].clone();
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone()
        ),
        (json!(4), json!(12)),
        "the other change is kept"
    );
}

/// Someone else changes web-hpa's spec on the server (the store has not seen it yet).
fn set_hpa_spec(fake: &FakeApi, field: &str, value: u32) {
    let mut changed = fake.lock().objects["horizontalpodautoscalers"].clone();
    changed[0]["spec"][field] = json!(value);
    fake.set("horizontalpodautoscalers", changed);
}

/// What a patch of shop/web's HPA expects: web-hpa with minReplicas `min`.
fn min_was(min: u32) -> HpaExpect {
    HpaExpect {
        name: "web-hpa".into(),
        min_replicas: Some(min),
        ..HpaExpect::default()
    }
}

#[tokio::test]
async fn a_conflict_that_moved_the_planned_field_stops_with_what_changed() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    // Someone raises minReplicas to 3 after the plan was made from 2.
    set_hpa_spec(&fake, "minReplicas", 3);
    let e = c
        .patch_hpa(&key("shop/web"), &min_was(2), Some(6), None)
        .await
        .expect_err("the planned value moved");
    assert_eq!(
        e,
        ClusterError::Conflict("changed: hpa/web-hpa spec.minReplicas 2 → 3".into())
    );
    assert_eq!(writes(&fake, Method::PATCH).len(), 1, "not retried");
    let hpa = fake.lock().objects["horizontalpodautoscalers"][0].clone();
    assert_eq!(hpa["spec"]["minReplicas"], json!(3), "their change stays");
    // The CPU target path re-reads first and stops the same way.
    let e = c
        .patch_hpa_target(
            &key("shop/web"),
            &HpaExpect {
                name: "web-hpa".into(),
                cpu_target_pct: Some(60),
                ..HpaExpect::default()
            },
            80,
        )
        .await
        .expect_err("the target is 70, not 60");
    assert!(
        matches!(&e, ClusterError::Conflict(m) if m.contains("cpu averageUtilization 60 % → 70 %")),
        "{e:?}"
    );
    assert_eq!(writes(&fake, Method::PATCH).len(), 1, "nothing sent");
}

#[tokio::test]
async fn two_hpas_on_one_deployment_are_refused_and_marked() {
    let fake = cluster_fake();
    let mut second = web_hpa();
    second["metadata"]["name"] = json!("web-hpa-2");
    fake.set("horizontalpodautoscalers", vec![web_hpa(), second]);
    let c = synced(&fake).await;
    let snap = c.snapshot().await.expect("snapshot");
    assert_eq!(
        find(&snap, "shop/web").write_block,
        Some(crate::model::WriteBlock::AmbiguousHpa(vec![
            "web-hpa".into(),
            "web-hpa-2".into()
        ]))
    );
    assert_eq!(find(&snap, "shop/api").write_block, None);
    let e = c
        .patch_hpa(&key("shop/web"), &min_was(2), Some(4), None)
        .await
        .expect_err("ambiguous");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("AmbiguousSelector")),
        "{e:?}"
    );
    let e = c.scale(&key("shop/web"), 4).await.expect_err("HPA-scaled");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("a /scale would fight it")),
        "{e:?}"
    );
    assert!(writes(&fake, Method::PATCH).is_empty(), "nothing sent");
}

#[tokio::test]
async fn hpas_that_cannot_be_listed_block_every_write() {
    let fake = cluster_fake();
    fake.lock()
        .refuse
        .insert("horizontalpodautoscalers", (403, "Forbidden"));
    let c = synced(&fake).await;
    let snap = c.snapshot().await.expect("deployments still show");
    for d in &snap.deployments {
        assert!(
            matches!(&d.write_block, Some(crate::model::WriteBlock::HpaUnknown(m)) if m.contains("forbidden")),
            "{}: {:?}",
            d.key,
            d.write_block
        );
    }
    // Even asked directly, the writer will not /scale what an unseen HPA may scale.
    let e = c.scale(&key("shop/web"), 4).await.expect_err("unknown HPA");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("cannot tell whether an HPA scales")),
        "{e:?}"
    );
    assert!(writes(&fake, Method::PATCH).is_empty(), "nothing sent");
}

#[tokio::test]
async fn patch_hpa_rechecks_bounds_against_the_reread_hpa() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    set_hpa_spec(&fake, "maxReplicas", 3);
    // min 5 was fine against max 10, not against the max 3 someone set meanwhile.
    let e = c
        .patch_hpa(&key("shop/web"), &min_was(2), Some(5), None)
        .await
        .expect_err("invalid now");
    assert!(
        matches!(e, ClusterError::Invalid(ref m) if m.contains("at most maxReplicas 3")),
        "{e:?}"
    );
    assert_eq!(writes(&fake, Method::PATCH).len(), 1, "not sent again");
}

#[tokio::test]
async fn a_second_conflict_is_reported_not_forced() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let conflict = || (409, status(409, "Conflict", "the object has been modified"));
    fake.lock().next_writes.extend([conflict(), conflict()]);
    let e = c
        .patch_hpa(
            &key("shop/web"),
            &HpaExpect {
                max_replicas: Some(10),
                ..min_was(2)
            },
            None,
            Some(8),
        )
        .await
        .expect_err("conflict");
    assert!(matches!(e, ClusterError::Conflict(_)), "{e:?}");
    assert_eq!(writes(&fake, Method::PATCH).len(), 2);
}

#[tokio::test]
async fn write_errors_map_to_the_ui_categories() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let k = key("shop/api");
    let invalid = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422, "reason": "Invalid",
        "message": "Scale.autoscaling \"api\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "details": {"name": "api", "kind": "Scale", "causes": [{"reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0", "field": "spec.replicas"}]}});
    fake.lock().next_writes.extend([
        (403, status(403, "Forbidden", "deployments.apps \"api\" is forbidden: User \"dev\" cannot patch resource \"deployments/scale\"")),
        (404, status(404, "NotFound", "deployments.apps \"api\" not found")),
        (422, invalid),
        (500, status(500, "InternalError", "etcdserver: leader changed")),
    ]);
    let e = c.scale(&k, 3).await.expect_err("403");
    assert!(
        matches!(&e, ClusterError::Forbidden(m) if m.contains("cannot patch resource \"deployments/scale\"")),
        "{e:?}"
    );
    assert!(matches!(
        c.scale(&k, 3).await,
        Err(ClusterError::NotFound(_))
    ));
    let e = c.scale(&k, 3).await.expect_err("422");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("spec.replicas")),
        "{e:?}"
    );
    assert!(matches!(c.scale(&k, 3).await, Err(ClusterError::Unavailable(m)) if m.contains("500")));
    let e = c
        .patch_hpa(&key("shop/api"), &min_was(2), Some(2), None)
        .await
        .expect_err("api has no HPA");
    assert!(
        matches!(e, ClusterError::NotFound(ref m) if m.contains("no HorizontalPodAutoscaler")),
        "{e:?}"
    );
}

#[tokio::test]
async fn dry_run_asks_the_server_and_changes_nothing() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let w = Write::Scale {
        key: key("shop/api"),
        replicas: 9,
    };
    c.dry_run(&w).await.expect("dry run");
    let create = Write::CreateHpa {
        key: key("shop/api"),
        spec: HpaSpec {
            min_replicas: 1,
            max_replicas: 3,
            target_cpu_pct: Some(60),
            target_mem_pct: None,
        },
    };
    c.dry_run(&create).await.expect("dry run create");
    let sent = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != Method::GET)
        .collect::<Vec<_>>();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().all(|r| r.query.contains("dryRun=All")),
        "{sent:?}"
    );
    assert_eq!(
        fake.lock().objects["deployments"][1]["spec"]["replicas"],
        2,
        "unchanged"
    );
    assert_eq!(
        fake.lock().objects["horizontalpodautoscalers"].len(),
        1,
        "none created"
    );
    // The server's refusal comes back as it would for the real write.
    fake.lock()
        .next_writes
        .push_back((403, status(403, "Forbidden", "cannot patch")));
    assert!(matches!(
        c.dry_run(&w).await,
        Err(ClusterError::Forbidden(_))
    ));
}

#[tokio::test]
async fn read_only_refuses_every_write_without_asking_the_server() {
    let fake = cluster_fake();
    let c = KubeCluster::from_client(
        fake.client(),
        "prod",
        KubeOptions {
            read_only: true,
            ..opts()
        },
    );
    c.snapshot().await.expect("reads work");
    let k = key("shop/web");
    assert!(matches!(
        c.scale(&k, 2).await,
        Err(ClusterError::ReadOnly(_))
    ));
    assert!(matches!(
        c.patch_hpa(&k, &min_was(2), Some(2), None).await,
        Err(ClusterError::ReadOnly(_))
    ));
    assert!(matches!(
        c.annotate(&k, &[]).await,
        Err(ClusterError::ReadOnly(_))
    ));
    let spec = HpaSpec {
        min_replicas: 1,
        max_replicas: 2,
        target_cpu_pct: Some(50),
        target_mem_pct: None,
    };
    assert!(matches!(
        c.create_hpa(&k, &spec).await,
        Err(ClusterError::ReadOnly(_))
    ));
    assert!(fake.requests().iter().all(|r| r.method == Method::GET));
}

#[tokio::test]
async fn one_namespace_is_watched_through_namespaced_paths() {
    let fake = cluster_fake();
    let c = KubeCluster::from_client(
        fake.client(),
        "test",
        KubeOptions {
            namespace: Some("shop".into()),
            ..opts()
        },
    );
    let s = c.snapshot().await.expect("snapshot");
    assert_eq!(s.deployments.len(), 2);
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.path.contains("/namespaces/shop/")),
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn stale_clears_when_the_server_is_back_even_if_nothing_changed() {
    use crate::advisor::Advisor;
    use crate::config::AdvisorConfig;
    use crate::engine::{self, EngineOptions, Update};

    let fake = cluster_fake();
    let cluster = Arc::new(start(&fake));
    cluster.snapshot().await.expect("first");
    eventually("watches open", || {
        fake.open_watches("deployments") == 1 && fake.open_watches("pods") == 1
    })
    .await;
    let (_cmd, mut updates) = engine::spawn(
        cluster.clone(),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        EngineOptions {
            poll_every: Duration::from_millis(100),
            ..EngineOptions::default()
        },
    );
    // The server dies (sim serve killed): watches break, reconnects are refused.
    fake.lock().down = true;
    for r in ["deployments", "pods", "horizontalpodautoscalers"] {
        fake.drop_watches(r);
    }
    let state = |c: &KubeCluster, source: &str| {
        c.status()
            .sources
            .iter()
            .find(|s| s.source == source)
            .map(|s| s.state)
    };
    eventually("deployments stale", || {
        state(&cluster, "deployments") == Some(SourceState::Stale)
    })
    .await;
    // It comes back with the same objects: no watch event will ever arrive.
    fake.lock().down = false;
    eventually("deployments ok again without any event", || {
        state(&cluster, "deployments") == Some(SourceState::Ok)
    })
    .await;
    eventually("every source ok", || cluster.status().summary().is_none()).await;
    // And the status bar has no cluster notice left (the engine sends one after a snapshot
    // whenever it changes, so two snapshots from now it is settled).
    let mut app = crate::tui::app::App::new(crate::tui::app::SessionInfo::default());
    // What was queued while it recovered (a stale notice among it) comes first.
    while let Ok(u) = updates.try_recv() {
        app.on_update(u);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut snapshots = 0;
    while snapshots < 2 {
        let u = tokio::time::timeout_at(deadline, updates.recv())
            .await
            .expect("snapshots flow again")
            .expect("engine alive");
        snapshots += usize::from(matches!(u, Update::Snapshot(_)));
        app.on_update(u);
    }
    assert!(!app.notices.contains_key("cluster"), "{:?}", app.notices);
    assert!(app.cluster_error.is_none());
}

fn node(name: &str, cpu: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "images": [{"names": ["x"], "sizeBytes": 1}]}
    })
}

fn bound(mut p: Value, node: &str) -> Value {
    p["spec"]["nodeName"] = json!(node);
    p
}

#[tokio::test]
async fn capacity_is_the_nodes_allocatable_minus_the_requests_of_pods_bound_to_them() {
    let fake = FakeApi::default();
    let web = json!({"app": "web"});
    fake.set(
        "deployments",
        vec![deployment(
            "shop",
            "web",
            2,
            json!({"matchLabels": web}),
            "500m",
            "1Gi",
        )],
    );
    fake.set(
        "pods",
        vec![
            bound(pod("shop", "web-1", web.clone(), true, "500m", "1Gi"), "n1"),
            bound(pod("shop", "web-2", web.clone(), true, "500m", "1Gi"), "n2"),
            // Not bound yet (Pending, unscheduled): on no node's books.
            pod("shop", "web-3", web.clone(), false, "500m", "1Gi"),
        ],
    );
    let it = json!({"node.kubernetes.io/instance-type": "m5.large"});
    fake.set(
        "nodes",
        vec![node("n1", "1930m", it.clone()), node("n2", "1930m", it)],
    );
    let c = start(&fake);
    let mut cap = None;
    eventually("capacity", || {
        cap = c.cached_snapshot().capacity;
        cap.is_some()
    })
    .await;
    let cap = cap.unwrap_or_default();
    assert_eq!(cap.nodes, 2);
    assert_eq!(cap.allocatable.cpu_millis, 3860);
    assert_eq!(cap.spare().cpu_millis, 2860);
    assert_eq!(cap.spare().mem_mib, 16_384 - 2048);
    assert_eq!(cap.spare().pods, 218);
    assert_eq!(cap.node_type.as_deref(), Some("m5.large"));
    assert!(!cap.autoscaler);
    let nodes = c.status().sources.into_iter().find(|s| s.source == "nodes");
    assert_eq!(nodes.map(|s| s.state), Some(SourceState::Ok));
}

#[tokio::test]
async fn nodes_forbidden_leave_capacity_unknown_and_say_nothing_is_capped() {
    let fake = cluster_fake();
    fake.lock().refuse.insert(
        "nodes",
        (
            403,
            "nodes is forbidden: User \"dev\" cannot list resource \"nodes\"",
        ),
    );
    let c = start(&fake);
    let s = snapshot_eventually(&c).await;
    assert!(!s.deployments.is_empty(), "the rest is still shown");
    let mut detail = None;
    eventually("nodes missing", || {
        detail = c
            .status()
            .sources
            .into_iter()
            .find(|s| s.source == "nodes" && s.state == SourceState::Missing)
            .and_then(|s| s.detail);
        detail.is_some()
    })
    .await;
    let d = detail.unwrap_or_default();
    assert!(
        d.contains("forbidden") && d.contains("capacity unknown: scale-ups are not capped"),
        "{d}"
    );
    assert_eq!(c.cached_snapshot().capacity, None);
}

#[tokio::test]
async fn one_namespace_watched_means_capacity_unknown() {
    let fake = cluster_fake();
    let c = KubeCluster::from_client(
        fake.client(),
        "test",
        KubeOptions {
            namespace: Some("shop".into()),
            ..opts()
        },
    );
    let s = snapshot_eventually(&c).await;
    assert_eq!(s.capacity, None);
    let nodes = c.status().sources.into_iter().find(|s| s.source == "nodes");
    assert!(nodes.is_some_and(|n| n.state == SourceState::Missing
        && n.detail.is_some_and(|d| d.contains("one namespace"))),);
    assert_eq!(
        fake.count(&Method::GET, "/api/v1/nodes", ""),
        0,
        "nodes not watched"
    );
}
