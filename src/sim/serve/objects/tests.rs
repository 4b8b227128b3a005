use super::hpa_v1::{CONDITIONS_ANNOTATION, METRICS_ANNOTATION};
use super::meta::{ALPHANUMS, template_hash, uid};
use super::*;
use crate::model::DeploymentKey;
use crate::sim::SimWorld;
use crate::sim::world::{EPOCH, ScaleRecord};

fn ctx(w: &SimWorld) -> Ctx {
    Ctx {
        seed: 7,
        now: w.now(),
        offset: 0,
    }
}

fn demo() -> SimWorld {
    let mut w = SimWorld::new(7, crate::sim::scenario::demo());
    w.advance(120);
    w
}

#[test]
fn a_deployment_renders_like_the_apiserver_writes_it() {
    let w = demo();
    let key = DeploymentKey::new("shop", "frontend");
    let view = w.deployment_view(&key).expect("frontend");
    let d = deployment(&view, &ctx(&w), &mut Clocks::default());
    let v = serde_json::to_value(&d).expect("json");
    assert_eq!(v["apiVersion"], "apps/v1");
    assert_eq!(v["kind"], "Deployment");
    assert_eq!(v["metadata"]["name"], "frontend");
    assert_eq!(v["metadata"]["namespace"], "shop");
    assert_eq!(v["spec"]["replicas"], view.replicas);
    assert_eq!(v["spec"]["selector"]["matchLabels"]["app"], "frontend");
    let c = &v["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["resources"]["requests"]["cpu"], "250m");
    assert_eq!(c["resources"]["requests"]["memory"], "256Mi");
    assert_eq!(c["resources"]["limits"]["cpu"], "750m");
    assert_eq!(
        v["status"]["readyReplicas"],
        view.pods.iter().filter(|p| p.ready).count()
    );
    assert_eq!(v["metadata"]["annotations"][REVISION_ANNOTATION], "1");
    assert!(
        v["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    // Go's omitempty: a zero count is absent, not 0.
    let mut zero = view.clone();
    zero.pods.clear();
    let v =
        serde_json::to_value(deployment(&zero, &ctx(&w), &mut Clocks::default())).expect("json");
    assert!(v["status"].get("readyReplicas").is_none());
}

#[test]
fn pods_are_named_and_owned_like_replicaset_pods() {
    let w = demo();
    let key = DeploymentKey::new("payments", "ledger");
    let view = w.deployment_view(&key).expect("ledger");
    let rs = replica_set(&view, &ctx(&w));
    let p = pod(&view, &view.pods[0], &ctx(&w));
    let name = p.metadata.name.clone().expect("name");
    let rs_name = rs.metadata.name.clone().expect("rs");
    assert!(
        name.starts_with(&format!("{rs_name}-")),
        "{name} of {rs_name}"
    );
    assert_eq!(name.len(), rs_name.len() + 6);
    let owner = &p.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ReplicaSet", rs_name.as_str())
    );
    assert_eq!(Some(owner.uid.clone()), rs.metadata.uid);
    let labels = p.metadata.labels.expect("labels");
    assert_eq!(labels["app"], "ledger");
    assert_eq!(labels["pod-template-hash"], template_hash(&key));
    let v = serde_json::to_value(pod(&view, &view.pods[1], &ctx(&w))).expect("json");
    assert_ne!(v["metadata"]["name"], serde_json::Value::from(name));
    assert_eq!(v["status"]["phase"], "Running");
    assert_eq!(v["status"]["containerStatuses"][0]["ready"], true);
}

#[test]
fn hpa_renders_v2_and_converts_to_v1() {
    let w = demo();
    let key = DeploymentKey::new("payments", "api");
    let view = w.deployment_view(&key).expect("api");
    let meta = HpaMeta::initial(7, &key);
    let h = hpa(&view, &meta, &ctx(&w), &mut Clocks::default()).expect("has an HPA");
    let v = serde_json::to_value(&h).expect("json");
    assert_eq!(v["apiVersion"], "autoscaling/v2");
    assert_eq!(v["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(v["spec"]["minReplicas"], 3);
    assert_eq!(v["spec"]["maxReplicas"], 15);
    assert_eq!(v["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert_eq!(
        v["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(v["spec"]["metrics"][1]["resource"]["name"], "memory");
    assert_eq!(
        v["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        300
    );
    let cm = &v["status"]["currentMetrics"][0]["resource"];
    assert_eq!(cm["name"], "cpu");
    assert!(
        cm["current"]["averageUtilization"].as_i64().is_some(),
        "{v}"
    );
    assert!(
        cm["current"]["averageValue"]
            .as_str()
            .is_some_and(|q| q.ends_with('m')),
        "{v}"
    );
    let types: Vec<_> = v["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| c["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(types, ["AbleToScale", "ScalingActive", "ScalingLimited"]);

    let v1 = serde_json::to_value(hpa_to_v1(&h)).expect("json");
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
    assert_eq!(
        v1["status"]["currentCPUUtilizationPercentage"],
        cm["current"]["averageUtilization"]
    );
    let extra = v1["metadata"]["annotations"][METRICS_ANNOTATION]
        .as_str()
        .expect("memory target kept in an annotation");
    assert!(extra.contains("\"memory\""), "{extra}");
    assert!(v1["metadata"]["annotations"][CONDITIONS_ANNOTATION].is_string());
}

#[test]
fn scale_events_are_worded_like_the_controllers() {
    let key = DeploymentKey::new("shop", "frontend");
    let r = ScaleRecord {
        seq: 3,
        time: EPOCH + 60,
        key: key.clone(),
        from: 4,
        to: 6,
        hpa_reason: Some("cpu resource utilization (percentage of request) above target".into()),
    };
    let meta = HpaMeta::initial(1, &key);
    let ev = events(
        &r,
        &Ctx {
            seed: 1,
            now: EPOCH,
            offset: 0,
        },
        Some(&meta),
    );
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].reason.as_deref(), Some("SuccessfulRescale"));
    assert_eq!(
        ev[0].message.as_deref(),
        Some("New size: 6; reason: cpu resource utilization (percentage of request) above target")
    );
    assert_eq!(
        ev[0].involved_object.kind.as_deref(),
        Some("HorizontalPodAutoscaler")
    );
    assert!(
        ev[0]
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("frontend."))
    );
    assert_eq!(ev[1].reason.as_deref(), Some("ScalingReplicaSet"));
    assert_eq!(
        ev[1].message.as_deref(),
        Some(
            format!(
                "Scaled up replica set {} from 4 to 6",
                replica_set_name(&key)
            )
            .as_str()
        )
    );
    assert_ne!(ev[0].metadata.name, ev[1].metadata.name);
}

#[test]
fn pod_metrics_use_metrics_server_units() {
    let w = demo();
    let key = DeploymentKey::new("shop", "frontend");
    let view = w.deployment_view(&key).expect("frontend");
    let m = pod_metrics(&view, &view.pods[0], &ctx(&w)).expect("scraped");
    let v = serde_json::to_value(&m).expect("json");
    assert_eq!(v["kind"], "PodMetrics");
    assert_eq!(v["apiVersion"], "metrics.k8s.io/v1beta1");
    assert_eq!(v["window"], "15s");
    let cpu = v["containers"][0]["usage"]["cpu"].as_str().expect("cpu");
    let mem = v["containers"][0]["usage"]["memory"].as_str().expect("mem");
    assert!(
        cpu.ends_with('n') || cpu.ends_with('m') || cpu.ends_with('u'),
        "{cpu}"
    );
    assert!(mem.ends_with("Ki") || mem.ends_with("Mi"), "{mem}");
}

#[test]
fn uids_and_hashes_are_stable_and_shaped() {
    let u = uid(&["a", "b"]);
    assert_eq!(u, uid(&["a", "b"]));
    assert_ne!(u, uid(&["a", "c"]));
    assert_eq!(u.len(), 36);
    assert_eq!(
        u.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    let h = template_hash(&DeploymentKey::new("shop", "frontend"));
    assert_eq!(h.len(), 10);
    assert!(h.bytes().all(|b| ALPHANUMS.contains(&b)));
}
