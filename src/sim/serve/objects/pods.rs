//! Pods, placed on the world's nodes, and metrics.k8s.io PodMetrics.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStatus, HostIP, Pod, PodCondition, PodIP,
    PodStatus, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::{Deserialize, Serialize};

use super::deployments::pod_spec;
use super::meta::{Ctx, fnv, image, pod_labels, pod_name, replica_set_name, replica_set_uid, uid};
use crate::k8s::quantity;
use crate::model::UnixSeconds;
use crate::sim::world::{DeploymentView, PodView, STEP_SECONDS};

/// The node a pod runs on (the world's placement) and its IPs (the pod's spread by a hash of
/// its name within the node's pod CIDR).
fn placement(name: &str, node: usize) -> (String, String, String) {
    let h = fnv(&[name]);
    (
        crate::sim::nodes::node_name(node),
        super::nodes::internal_ip(node),
        format!("10.244.{}.{}", node, 2 + (h >> 8) % 250),
    )
}

pub fn pod(view: &DeploymentView<'_>, p: &PodView, ctx: &Ctx) -> Pod {
    let seed = ctx.seed;
    let key = view.key;
    let name = pod_name(key, p.id);
    let (node, host_ip, pod_ip) = placement(&name, p.node);
    let ready = if p.ready { "True" } else { "False" };
    let ready_since = if p.ready { p.ready_at } else { p.created };
    let unready = |t: &str| PodCondition {
        type_: t.into(),
        status: ready.into(),
        last_transition_time: Some(ctx.time(ready_since)),
        reason: (!p.ready).then(|| "ContainersNotReady".into()),
        message: (!p.ready).then(|| format!("containers with unready status: [{}]", key.name)),
        ..Default::default()
    };
    let plain = |t: &str, at: UnixSeconds| PodCondition {
        type_: t.into(),
        status: "True".into(),
        last_transition_time: Some(ctx.time(at)),
        ..Default::default()
    };
    let started = p.created + 1;
    let mut spec = pod_spec(view);
    spec.node_name = Some(node);
    spec.service_account_name = Some("default".into());
    spec.enable_service_links = Some(true);
    spec.preemption_policy = Some("PreemptLowerPriority".into());
    spec.priority = Some(0);
    spec.tolerations = Some(
        [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ]
        .into_iter()
        .map(|k| Toleration {
            key: Some(k.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(300),
            ..Default::default()
        })
        .collect(),
    );
    let container_hash = format!("{:016x}{:016x}", fnv(&[&name, "c1"]), fnv(&[&name, "c2"]));
    Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            generate_name: Some(format!("{}-", replica_set_name(key))),
            namespace: Some(key.namespace.clone()),
            uid: Some(uid(&[&seed.to_string(), "pod", &key.namespace, &name])),
            creation_timestamp: Some(ctx.time(p.created)),
            labels: Some(pod_labels(key)),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: replica_set_name(key),
                uid: replica_set_uid(seed, key),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(spec),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![
                plain("PodReadyToStartContainers", started),
                plain("Initialized", p.created),
                unready("Ready"),
                unready("ContainersReady"),
                plain("PodScheduled", p.created),
            ]),
            host_ip: Some(host_ip.clone()),
            host_ips: Some(vec![HostIP { ip: host_ip }]),
            pod_ip: Some(pod_ip.clone()),
            pod_ips: Some(vec![PodIP { ip: pod_ip }]),
            start_time: Some(ctx.time(p.created)),
            container_statuses: Some(vec![ContainerStatus {
                name: key.name.clone(),
                image: image(key),
                image_id: format!(
                    "{}@sha256:{:016x}{:016x}{:016x}{:016x}",
                    image(key).split(':').next().unwrap_or_default(),
                    fnv(&[&key.name, "1"]),
                    fnv(&[&key.name, "2"]),
                    fnv(&[&key.name, "3"]),
                    fnv(&[&key.name, "4"])
                ),
                container_id: Some(format!("containerd://{container_hash}{container_hash}")),
                ready: p.ready,
                started: Some(true),
                restart_count: 0,
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(ctx.time(started)),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            qos_class: Some("Burstable".into()),
            ..Default::default()
        }),
    }
}

/// metrics.k8s.io/v1beta1 PodMetrics (no k8s-openapi type: metrics-server's own API).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMetrics {
    pub kind: String,
    pub api_version: String,
    pub metadata: ObjectMeta,
    pub timestamp: Time,
    pub window: String,
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    pub usage: BTreeMap<String, Quantity>,
}

/// What metrics-server reports for the pod: None before its first scrape.
pub fn pod_metrics(view: &DeploymentView<'_>, p: &PodView, ctx: &Ctx) -> Option<PodMetrics> {
    let now = ctx.now;
    let cpu = p.cpu_usage_millis?;
    let mem = p.mem_usage_mib?;
    let key = view.key;
    let scraped = now - now.rem_euclid(STEP_SECONDS);
    Some(PodMetrics {
        kind: "PodMetrics".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        metadata: ObjectMeta {
            name: Some(pod_name(key, p.id)),
            namespace: Some(key.namespace.clone()),
            creation_timestamp: Some(ctx.time(now)),
            labels: Some(pod_labels(key)),
            ..Default::default()
        },
        timestamp: ctx.time(scraped),
        window: format!("{STEP_SECONDS}s"),
        containers: vec![ContainerMetrics {
            name: key.name.clone(),
            usage: BTreeMap::from([
                (
                    "cpu".to_string(),
                    Quantity(quantity::format_cpu_nanos((cpu * 1e6).round() as i64)),
                ),
                (
                    "memory".to_string(),
                    Quantity(quantity::format_bytes_binary(
                        (mem * 1024.0).round() as i64 * 1024,
                    )),
                ),
            ]),
        }],
    })
}
