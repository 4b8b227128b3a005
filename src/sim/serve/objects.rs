//! The simulated cluster as Kubernetes objects (k8s-openapi types, so they serialize as the API
//! server writes them): Deployments, their ReplicaSet and Pods, HPAs (autoscaling/v2, and the
//! v1 view), scaling Events, Namespaces, the `/scale` subresource and metrics.k8s.io PodMetrics.
//!
//! Rendering is a pure function of the world plus a little server-side memory (HPA metadata
//! the world does not model, condition transition times); resourceVersion and generation are
//! added by the store.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec as K8sDeploymentSpec, DeploymentStatus,
    DeploymentStrategy, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v1 as hpa_v1;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus,
    ResourceMetricSource, ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ContainerState, ContainerStateRunning, ContainerStatus, Event,
    EventSource, HostIP, Namespace, NamespaceSpec, NamespaceStatus, ObjectReference, Pod,
    PodCondition, PodIP, PodSpec, PodStatus, PodTemplateSpec, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use crate::k8s::quantity;
use crate::model::{DeploymentKey, UnixSeconds};
use crate::sim::hpa::{
    Behavior, DEFAULT_CPU_UTILIZATION, HpaConfig, PolicyKind, ScalingRules, SelectPolicy,
};
use crate::sim::world::{
    CPU_LIMIT_FACTOR, DeploymentView, EPOCH, HpaView, PodView, STEP_SECONDS, ScaleRecord,
};

/// Deployments (and their HPAs) were created this long before the simulation's epoch.
const CREATED_BEFORE_EPOCH: i64 = 30 * 86_400;
/// The annotation the deployment controller keeps on a Deployment and its ReplicaSet.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// How v1 HPAs carry their v2 conditions.
const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

pub fn time(t: UnixSeconds) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(t).unwrap_or_default())
}

/// What rendering needs besides the world: the seed (names, uids), the world's now, and the
/// offset from world time to the timestamps shown (wall-clock alignment, or 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub seed: u64,
    pub now: UnixSeconds,
    pub offset: i64,
}

impl Ctx {
    /// A world time as an API timestamp.
    pub fn time(&self, t: UnixSeconds) -> Time {
        time(t + self.offset)
    }

    /// Now, on the timestamps' clock (what ages are measured against).
    pub fn shown_now(&self) -> UnixSeconds {
        self.now + self.offset
    }
}

/// Seconds since the epoch of a Time (for ages).
pub fn unix(t: &Time) -> UnixSeconds {
    t.0.as_second()
}

/// FNV-1a: stable across Rust versions, so names and uids are a function of the seed only.
pub fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A UUID-shaped uid derived from `parts`.
pub fn uid(parts: &[&str]) -> String {
    let a = fnv(parts);
    let b = fnv(&[&a.to_string(), "uid"]);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// The alphabet Kubernetes uses for generated names (no vowels, no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn encode(mut n: u64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(char::from(ALPHANUMS[(n % ALPHANUMS.len() as u64) as usize]));
        n /= ALPHANUMS.len() as u64;
    }
    s
}

/// Five generated-name characters derived from `parts` (generateName).
pub fn suffix(parts: &[&str]) -> String {
    encode(fnv(parts), 5)
}

/// The pod-template-hash of the deployment's (only) template.
pub fn template_hash(key: &DeploymentKey) -> String {
    encode(fnv(&[&key.namespace, &key.name, "template"]), 10)
}

pub fn replica_set_name(key: &DeploymentKey) -> String {
    format!("{}-{}", key.name, template_hash(key))
}

pub fn pod_name(key: &DeploymentKey, id: u64) -> String {
    let suffix = encode(fnv(&[&key.namespace, &key.name, &id.to_string()]), 5);
    format!("{}-{suffix}", replica_set_name(key))
}

fn image(key: &DeploymentKey) -> String {
    format!("registry.ai4k8s.local/{}/{}:1.0.0", key.namespace, key.name)
}

fn deployment_created() -> UnixSeconds {
    EPOCH - CREATED_BEFORE_EPOCH
}

pub fn deployment_uid(seed: u64, key: &DeploymentKey) -> String {
    uid(&[&seed.to_string(), "deployment", &key.namespace, &key.name])
}

fn replica_set_uid(seed: u64, key: &DeploymentKey) -> String {
    uid(&[&seed.to_string(), "replicaset", &key.namespace, &key.name])
}

fn selector_labels(key: &DeploymentKey) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), key.name.clone())])
}

/// `app=frontend`: the label selector string of the deployment (Scale's status.selector).
pub fn selector_string(key: &DeploymentKey) -> String {
    format!("app={}", key.name)
}

fn pod_labels(key: &DeploymentKey) -> BTreeMap<String, String> {
    let mut l = selector_labels(key);
    l.insert("pod-template-hash".into(), template_hash(key));
    l
}

/// When each condition last changed status: the server's memory of transitions.
#[derive(Debug, Default)]
pub struct Clocks {
    seen: HashMap<String, (String, UnixSeconds)>,
    touched: HashSet<String>,
}

impl Clocks {
    /// The time `status` was first seen for `key` (now, when it just changed).
    fn since(&mut self, key: String, status: &str, now: UnixSeconds) -> UnixSeconds {
        self.touched.insert(key.clone());
        let entry = self
            .seen
            .entry(key)
            .or_insert_with(|| (status.to_string(), now));
        if entry.0 != status {
            *entry = (status.to_string(), now);
        }
        entry.1
    }

    /// Remember `key` at the next sweep without re-rendering its object.
    pub fn keep(&mut self, key: String) {
        self.touched.insert(key);
    }

    /// Forget conditions of objects not rendered since the last sweep.
    pub fn sweep(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        self.seen.retain(|k, _| touched.contains(k));
    }
}

/// What the server remembers about an HPA beyond the world's controller.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaMeta {
    pub name: String,
    pub uid: String,
    pub created: UnixSeconds,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl HpaMeta {
    /// The metadata of an HPA the world started with (named after its deployment).
    pub fn initial(seed: u64, key: &DeploymentKey) -> Self {
        let created = deployment_created() + 60;
        Self::new(seed, key, &key.name, created)
    }

    pub fn new(seed: u64, key: &DeploymentKey, name: &str, created: UnixSeconds) -> Self {
        Self {
            name: name.to_string(),
            uid: uid(&[
                &seed.to_string(),
                "hpa",
                &key.namespace,
                name,
                &created.to_string(),
            ]),
            created,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }
}

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

fn pod_spec(view: &DeploymentView<'_>) -> PodSpec {
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

fn i32_of(n: u32) -> i32 {
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

/// `spec.metrics` of the world's HPA config, defaulted like the API server (CPU 80 %).
fn metric_specs(config: &HpaConfig) -> Vec<MetricSpec> {
    let cpu = match (config.target_cpu_pct, config.target_mem_pct) {
        (None, None) => Some(DEFAULT_CPU_UTILIZATION),
        (c, _) => c,
    };
    [("cpu", cpu), ("memory", config.target_mem_pct)]
        .into_iter()
        .filter_map(|(name, target)| {
            target.map(|t| MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: name.into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(i32_of(t)),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            })
        })
        .collect()
}

fn rules(r: &ScalingRules) -> HPAScalingRules {
    HPAScalingRules {
        stabilization_window_seconds: Some(i32_of(r.stabilization_window_seconds)),
        select_policy: Some(
            match r.select {
                SelectPolicy::Max => "Max",
                SelectPolicy::Min => "Min",
                SelectPolicy::Disabled => "Disabled",
            }
            .into(),
        ),
        policies: Some(
            r.policies
                .iter()
                .map(|p| HPAScalingPolicy {
                    type_: match p.kind {
                        PolicyKind::Pods => "Pods",
                        PolicyKind::Percent => "Percent",
                    }
                    .into(),
                    value: i32_of(p.value),
                    period_seconds: i32_of(p.period_seconds),
                })
                .collect(),
        ),
        ..Default::default()
    }
}

pub fn behavior(b: &Behavior) -> HorizontalPodAutoscalerBehavior {
    HorizontalPodAutoscalerBehavior {
        scale_up: Some(rules(&b.scale_up)),
        scale_down: Some(rules(&b.scale_down)),
    }
}

/// The spec of the world's HPA on `key`.
pub fn hpa_spec(
    key: &DeploymentKey,
    config: &HpaConfig,
    with_behavior: bool,
) -> HorizontalPodAutoscalerSpec {
    HorizontalPodAutoscalerSpec {
        scale_target_ref: CrossVersionObjectReference {
            api_version: Some("apps/v1".into()),
            kind: "Deployment".into(),
            name: key.name.clone(),
        },
        min_replicas: Some(i32_of(config.min_replicas)),
        max_replicas: i32_of(config.max_replicas),
        metrics: Some(metric_specs(config)),
        behavior: with_behavior.then(|| behavior(&config.behavior)),
    }
}

fn condition(
    clocks: &mut Clocks,
    uid: &str,
    ctx: &Ctx,
    (type_, status, reason, message): (&str, &str, &str, String),
) -> HorizontalPodAutoscalerCondition {
    let since = clocks.since(
        format!("{uid}/{type_}"),
        &format!("{status}/{reason}"),
        ctx.now,
    );
    HorizontalPodAutoscalerCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(ctx.time(since)),
    }
}

fn hpa_conditions(
    h: &HpaView,
    meta: &HpaMeta,
    ctx: &Ctx,
    clocks: &mut Clocks,
) -> Vec<HorizontalPodAutoscalerCondition> {
    let now = ctx.now;
    let Some(last) = &h.last else {
        return vec![condition(
            clocks,
            &meta.uid,
            ctx,
            (
                "AbleToScale",
                "True",
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale".into(),
            ),
        )];
    };
    // The world syncs its HPAs at every step: a scale at the last step time is this sync's.
    let last_sync = now - now.rem_euclid(STEP_SECONDS);
    let able = match last.reason {
        "ScaleUpStabilized" => (
            "AbleToScale",
            "True",
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation".to_string(),
        ),
        "ScaleDownStabilized" => (
            "AbleToScale",
            "True",
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation".to_string(),
        ),
        _ if h.last_scale_time == Some(last_sync) => (
            "AbleToScale",
            "True",
            "SucceededRescale",
            format!(
                "the HPA controller was able to update the target scale to {}",
                h.desired_replicas
            ),
        ),
        _ => (
            "AbleToScale",
            "True",
            "ReadyForNewScale",
            "recommended size matches current size".to_string(),
        ),
    };
    let metric = if h.config.target_cpu_pct.is_none() && h.config.target_mem_pct.is_some() {
        "memory"
    } else {
        "cpu"
    };
    let active = match (last.reason, &last.metrics_error) {
        ("ScalingDisabled", _) => (
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".to_string(),
        ),
        ("FailedGetResourceMetric", e) => (
            "ScalingActive",
            "False",
            "FailedGetResourceMetric",
            format!(
                "the HPA was unable to compute the replica count: {}",
                e.as_deref()
                    .unwrap_or("no metrics returned from resource metrics API")
            ),
        ),
        _ => (
            "ScalingActive",
            "True",
            "ValidMetricFound",
            format!(
                "the HPA was able to successfully calculate a replica count from {metric} resource utilization (percentage of request)"
            ),
        ),
    };
    let limited = match last.reason {
        "TooManyReplicas" => (
            "True",
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        ),
        "TooFewReplicas" => (
            "True",
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        ),
        "ScaleUpLimit" => (
            "True",
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        ),
        "ScaleDownLimit" => (
            "True",
            "ScaleDownLimit",
            "the desired replica count is decreasing faster than the maximum scale rate",
        ),
        _ => (
            "False",
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        ),
    };
    vec![
        condition(clocks, &meta.uid, ctx, able),
        condition(clocks, &meta.uid, ctx, active),
        condition(
            clocks,
            &meta.uid,
            ctx,
            (
                "ScalingLimited",
                limited.0,
                limited.1,
                limited.2.to_string(),
            ),
        ),
    ]
}

fn current_metrics(view: &DeploymentView<'_>, h: &HpaView) -> Option<Vec<MetricStatus>> {
    let last = h.last.as_ref()?;
    let specs = metric_specs(&h.config);
    let statuses = specs
        .iter()
        .map(|s| {
            let name = s
                .resource
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or("cpu");
            let (util, value) = if name == "memory" {
                let u = last.mem_utilization;
                let bytes = u.map(|u| {
                    (f64::from(u) / 100.0 * f64::from(view.spec.mem_request_mib) * 1_048_576.0)
                        .round() as i64
                });
                (u, bytes.map(quantity::format_bytes_decimal))
            } else {
                let u = last.cpu_utilization;
                let millis = u.map(|u| {
                    (f64::from(u) / 100.0 * f64::from(view.spec.cpu_request_millis)).round() as i64
                });
                (u, millis.map(quantity::format_cpu_millis))
            };
            match util {
                Some(u) => MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus {
                        name: name.into(),
                        current: MetricValueStatus {
                            average_utilization: Some(i32_of(u)),
                            average_value: value.map(Quantity),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                },
                // The controller leaves a metric it could not read empty.
                None => MetricStatus::default(),
            }
        })
        .collect();
    Some(statuses)
}

pub fn hpa(
    view: &DeploymentView<'_>,
    meta: &HpaMeta,
    ctx: &Ctx,
    clocks: &mut Clocks,
) -> Option<HorizontalPodAutoscaler> {
    let h = view.hpa.as_ref()?;
    let key = view.key;
    Some(HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(meta.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid: Some(meta.uid.clone()),
            creation_timestamp: Some(ctx.time(meta.created)),
            labels: (!meta.labels.is_empty()).then(|| meta.labels.clone()),
            annotations: (!meta.annotations.is_empty()).then(|| meta.annotations.clone()),
            ..Default::default()
        },
        spec: Some(hpa_spec(key, &h.config, h.with_behavior)),
        status: Some(HorizontalPodAutoscalerStatus {
            current_replicas: Some(i32_of(view.replicas)),
            desired_replicas: i32_of(h.desired_replicas),
            last_scale_time: h.last_scale_time.map(|t| ctx.time(t)),
            current_metrics: current_metrics(view, h),
            conditions: Some(hpa_conditions(h, meta, ctx, clocks)),
            ..Default::default()
        }),
    })
}

/// autoscaling/v1 view of a v2 HPA, converted as the API server converts it: CPU utilization
/// in the v1 fields, everything else in `autoscaling.alpha.kubernetes.io/*` annotations.
pub fn hpa_to_v1(v2: &HorizontalPodAutoscaler) -> hpa_v1::HorizontalPodAutoscaler {
    let spec = v2.spec.clone().unwrap_or_default();
    let status = v2.status.clone().unwrap_or_default();
    let is_cpu_util = |m: &MetricSpec| {
        m.resource.as_ref().is_some_and(|r| {
            r.name == "cpu"
                && r.target.type_ == "Utilization"
                && r.target.average_utilization.is_some()
        })
    };
    let metrics = spec.metrics.clone().unwrap_or_default();
    let target_cpu = metrics
        .iter()
        .find(|m| is_cpu_util(m))
        .and_then(|m| m.resource.as_ref()?.target.average_utilization);
    let other: Vec<serde_json::Value> = metrics
        .iter()
        .filter(|m| !is_cpu_util(m))
        .filter_map(|m| {
            let r = m.resource.as_ref()?;
            let mut v = serde_json::json!({"type": "Resource", "resource": {"name": r.name}});
            if let Some(u) = r.target.average_utilization {
                v["resource"]["targetAverageUtilization"] = u.into();
            }
            if let Some(q) = &r.target.average_value {
                v["resource"]["targetAverageValue"] = q.0.clone().into();
            }
            Some(v)
        })
        .collect();
    let current_cpu = status
        .current_metrics
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.current.average_utilization);
    let mut annotations = v2.metadata.annotations.clone().unwrap_or_default();
    if let Some(c) = &status.conditions
        && let Ok(s) = serde_json::to_string(c)
    {
        annotations.insert(CONDITIONS_ANNOTATION.into(), s);
    }
    if !other.is_empty()
        && let Ok(s) = serde_json::to_string(&other)
    {
        annotations.insert(METRICS_ANNOTATION.into(), s);
    }
    if let Some(b) = &spec.behavior
        && let Ok(s) = serde_json::to_string(b)
    {
        annotations.insert(BEHAVIOR_ANNOTATION.into(), s);
    }
    let mut metadata = v2.metadata.clone();
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    hpa_v1::HorizontalPodAutoscaler {
        metadata,
        spec: Some(hpa_v1::HorizontalPodAutoscalerSpec {
            scale_target_ref: hpa_v1::CrossVersionObjectReference {
                api_version: spec.scale_target_ref.api_version.clone(),
                kind: spec.scale_target_ref.kind.clone(),
                name: spec.scale_target_ref.name.clone(),
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            target_cpu_utilization_percentage: target_cpu,
        }),
        status: Some(hpa_v1::HorizontalPodAutoscalerStatus {
            observed_generation: status.observed_generation,
            last_scale_time: status.last_scale_time,
            current_replicas: status.current_replicas.unwrap_or_default(),
            desired_replicas: status.desired_replicas,
            current_cpu_utilization_percentage: current_cpu,
        }),
    }
}

/// True for the annotations the v1 view adds (not stored on the object).
pub fn is_v1_conversion_annotation(k: &str) -> bool {
    k == CONDITIONS_ANNOTATION || k == METRICS_ANNOTATION || k == BEHAVIOR_ANNOTATION
}

pub fn namespace(name: &str, ctx: &Ctx) -> Namespace {
    let seed = ctx.seed;
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            uid: Some(uid(&[&seed.to_string(), "namespace", name])),
            creation_timestamp: Some(ctx.time(deployment_created() - 3600)),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                name.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NamespaceSpec {
            finalizers: Some(vec!["kubernetes".into()]),
        }),
        status: Some(NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        }),
    }
}

/// The Events the controllers record for one replica change: the HPA's SuccessfulRescale
/// (when the HPA made it) and the deployment controller's ScalingReplicaSet.
pub fn events(r: &ScaleRecord, ctx: &Ctx, hpa: Option<&HpaMeta>) -> Vec<Event> {
    let seed = ctx.seed;
    let key = &r.key;
    let mut out = Vec::with_capacity(2);
    let event = |name: &str,
                 n: u64,
                 involved: ObjectReference,
                 reason: &str,
                 message: String,
                 component: &str| {
        // Like client-go's recorder: "<object>.<unix nanos in hex>".
        let nanos =
            u64::try_from(r.time + ctx.offset).unwrap_or_default() * 1_000_000_000 + r.seq * 2 + n;
        let event_name = format!("{name}.{nanos:x}");
        Event {
            metadata: ObjectMeta {
                name: Some(event_name.clone()),
                namespace: Some(key.namespace.clone()),
                uid: Some(uid(&[
                    &seed.to_string(),
                    "event",
                    &key.namespace,
                    &event_name,
                ])),
                creation_timestamp: Some(ctx.time(r.time)),
                ..Default::default()
            },
            involved_object: involved,
            reason: Some(reason.into()),
            message: Some(message),
            source: Some(EventSource {
                component: Some(component.into()),
                host: None,
            }),
            first_timestamp: Some(ctx.time(r.time)),
            last_timestamp: Some(ctx.time(r.time)),
            count: Some(1),
            type_: Some("Normal".into()),
            reporting_component: Some(component.into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        }
    };
    if let (Some(reason), Some(meta)) = (&r.hpa_reason, hpa) {
        out.push(event(
            &meta.name,
            0,
            ObjectReference {
                kind: Some("HorizontalPodAutoscaler".into()),
                namespace: Some(key.namespace.clone()),
                name: Some(meta.name.clone()),
                uid: Some(meta.uid.clone()),
                api_version: Some("autoscaling/v2".into()),
                ..Default::default()
            },
            "SuccessfulRescale",
            format!("New size: {}; reason: {reason}", r.to),
            "horizontal-pod-autoscaler",
        ));
    }
    let direction = if r.to > r.from { "up" } else { "down" };
    out.push(event(
        &key.name,
        1,
        ObjectReference {
            kind: Some("Deployment".into()),
            namespace: Some(key.namespace.clone()),
            name: Some(key.name.clone()),
            uid: Some(deployment_uid(seed, key)),
            api_version: Some("apps/v1".into()),
            ..Default::default()
        },
        "ScalingReplicaSet",
        format!(
            "Scaled {direction} replica set {} from {} to {}",
            replica_set_name(key),
            r.from,
            r.to
        ),
        "deployment-controller",
    ));
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimWorld;

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
        let v = serde_json::to_value(deployment(&zero, &ctx(&w), &mut Clocks::default()))
            .expect("json");
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
            hpa_reason: Some(
                "cpu resource utilization (percentage of request) above target".into(),
            ),
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
            Some(
                "New size: 6; reason: cpu resource utilization (percentage of request) above target"
            )
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
}
