//! Deployments, their (only) ReplicaSet and the `/scale` subresource.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec as K8sDeploymentSpec, DeploymentStatus,
    DeploymentStrategy, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v1 as hpa_v1;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{
    Clocks, Ctx, REVISION_ANNOTATION, deployment_created, deployment_uid, image, pod_labels,
    replica_set_name, replica_set_uid, selector_labels, selector_string,
};
use crate::k8s::quantity;
use crate::model::DeploymentKey;
use crate::sim::world::{CPU_LIMIT_FACTOR, DeploymentView};

fn container(key: &DeploymentKey, view: &DeploymentView<'_>) -> Container {
    let cpu = view.spec.cpu_request_millis;
    let limit = (f64::from(cpu) * CPU_LIMIT_FACTOR).round() as i64;
    Container {
        name: key.name.clone(),
        image: Some(image(key)),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: Some(vec![ContainerPort {
            container_port: 8080,
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                (
                    "cpu".to_string(),
                    Quantity(quantity::format_cpu_millis(i64::from(cpu))),
                ),
                (
                    "memory".to_string(),
                    Quantity(quantity::format_mib(view.spec.mem_request_mib)),
                ),
            ])),
            limits: Some(BTreeMap::from([(
                "cpu".to_string(),
                Quantity(quantity::format_cpu_millis(limit)),
            )])),
            ..Default::default()
        }),
        termination_message_path: Some("/dev/termination-log".into()),
        termination_message_policy: Some("File".into()),
        ..Default::default()
    }
}

pub(super) fn pod_spec(view: &DeploymentView<'_>) -> PodSpec {
    PodSpec {
        containers: vec![container(view.key, view)],
        dns_policy: Some("ClusterFirst".into()),
        restart_policy: Some("Always".into()),
        scheduler_name: Some("default-scheduler".into()),
        security_context: Some(Default::default()),
        termination_grace_period_seconds: Some(30),
        ..Default::default()
    }
}

fn template(view: &DeploymentView<'_>, labels: BTreeMap<String, String>) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            ..Default::default()
        }),
        spec: Some(pod_spec(view)),
    }
}

fn nonzero(n: usize) -> Option<i32> {
    (n > 0).then(|| i32::try_from(n).unwrap_or(i32::MAX))
}

pub(super) fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The key of a deployment's Available-condition clock.
pub fn deployment_clock(uid: &str) -> String {
    format!("{uid}/Available")
}

pub fn deployment(view: &DeploymentView<'_>, ctx: &Ctx, clocks: &mut Clocks) -> Deployment {
    let (seed, now) = (ctx.seed, ctx.now);
    let key = view.key;
    let pods = view.pods.len();
    let ready = view.pods.iter().filter(|p| p.ready).count();
    let replicas = view.replicas as usize;
    // maxUnavailable 25 % (rounded down) may be missing before the deployment is unavailable.
    let available_ok = ready + replicas / 4 >= replicas;
    let uid = deployment_uid(seed, key);
    let (avail_status, avail_reason, avail_msg) = if available_ok {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let avail_since = clocks.since(deployment_clock(&uid), avail_status, now);
    let mut annotations = view.annotations.clone();
    annotations.insert(REVISION_ANNOTATION.into(), "1".into());
    Deployment {
        metadata: ObjectMeta {
            name: Some(key.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid: Some(uid),
            creation_timestamp: Some(ctx.time(deployment_created())),
            labels: Some(view.labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(K8sDeploymentSpec {
            replicas: Some(i32_of(view.replicas)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(key)),
                ..Default::default()
            },
            template: template(view, selector_labels(key)),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".into())),
                    max_unavailable: Some(IntOrString::String("25%".into())),
                }),
            }),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        status: Some(DeploymentStatus {
            replicas: nonzero(pods),
            updated_replicas: nonzero(pods),
            ready_replicas: nonzero(ready),
            available_replicas: nonzero(ready),
            unavailable_replicas: nonzero(replicas.saturating_sub(ready)),
            conditions: Some(vec![
                DeploymentCondition {
                    type_: "Available".into(),
                    status: avail_status.into(),
                    reason: Some(avail_reason.into()),
                    message: Some(avail_msg.into()),
                    last_transition_time: Some(ctx.time(avail_since)),
                    last_update_time: Some(ctx.time(avail_since)),
                },
                DeploymentCondition {
                    type_: "Progressing".into(),
                    status: "True".into(),
                    reason: Some("NewReplicaSetAvailable".into()),
                    message: Some(format!(
                        "ReplicaSet \"{}\" has successfully progressed.",
                        replica_set_name(key)
                    )),
                    last_transition_time: Some(ctx.time(deployment_created())),
                    last_update_time: Some(ctx.time(deployment_created())),
                },
            ]),
            ..Default::default()
        }),
    }
}

pub fn replica_set(view: &DeploymentView<'_>, ctx: &Ctx) -> ReplicaSet {
    let seed = ctx.seed;
    let key = view.key;
    let pods = view.pods.len();
    let ready = view.pods.iter().filter(|p| p.ready).count();
    let max_surge = view.replicas.div_ceil(4);
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(replica_set_name(key)),
            namespace: Some(key.namespace.clone()),
            uid: Some(replica_set_uid(seed, key)),
            creation_timestamp: Some(ctx.time(deployment_created())),
            labels: Some(pod_labels(key)),
            annotations: Some(BTreeMap::from([
                (
                    "deployment.kubernetes.io/desired-replicas".to_string(),
                    view.replicas.to_string(),
                ),
                (
                    "deployment.kubernetes.io/max-replicas".to_string(),
                    (view.replicas + max_surge).to_string(),
                ),
                (REVISION_ANNOTATION.to_string(), "1".to_string()),
            ])),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: key.name.clone(),
                uid: deployment_uid(seed, key),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(i32_of(view.replicas)),
            selector: LabelSelector {
                match_labels: Some(pod_labels(key)),
                ..Default::default()
            },
            template: Some(template(view, pod_labels(key))),
            ..Default::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: i32::try_from(pods).unwrap_or(i32::MAX),
            fully_labeled_replicas: nonzero(pods),
            ready_replicas: nonzero(ready),
            available_replicas: nonzero(ready),
            ..Default::default()
        }),
    }
}

/// The autoscaling/v1 Scale of a deployment (shares its uid and resourceVersion).
pub fn scale(d: &Deployment) -> hpa_v1::Scale {
    let key = DeploymentKey::new(
        d.metadata.namespace.clone().unwrap_or_default(),
        d.metadata.name.clone().unwrap_or_default(),
    );
    hpa_v1::Scale {
        metadata: ObjectMeta {
            name: d.metadata.name.clone(),
            namespace: d.metadata.namespace.clone(),
            uid: d.metadata.uid.clone(),
            resource_version: d.metadata.resource_version.clone(),
            creation_timestamp: d.metadata.creation_timestamp.clone(),
            ..Default::default()
        },
        spec: Some(hpa_v1::ScaleSpec {
            replicas: d.spec.as_ref().and_then(|s| s.replicas),
        }),
        status: Some(hpa_v1::ScaleStatus {
            replicas: d
                .status
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or_default(),
            selector: Some(selector_string(&key)),
        }),
    }
}
