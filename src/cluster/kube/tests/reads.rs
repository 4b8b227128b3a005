//! Snapshots from lists and watches: selectors, metrics, forbidden or failing sources, 410 Gone,
//! one namespace.

use super::*;

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
async fn once_pods_are_listed_pod_metrics_keep_no_labels() {
    let fake = cluster_fake();
    let c = start(&fake);
    c.snapshot().await.expect("snapshot");
    // A poll after the pods listed: the usage map holds every pod's usage, no labels.
    eventually("a poll without labels", || {
        let m = super::super::sources::lock(&c.metrics);
        !m.usage.is_empty() && m.usage.values().all(|u| u.labels.is_empty())
    })
    .await;
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
