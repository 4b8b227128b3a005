//! The cluster's spare capacity from its nodes and the pods bound to them.

use super::*;

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
