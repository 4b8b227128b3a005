//! What readers see of the world: the snapshot the advisor reads, the deployments, pods and HPAs
//! `sim serve` shows, the nodes and the scale log.

use std::collections::BTreeMap;

use super::{ScaleRecord, SimDeployment, SimWorld};
use crate::cluster::{annotations, deployment_bounds};
use crate::model::{
    ClusterCapacity, ClusterSnapshot, DeploymentDetail, DeploymentKey, DeploymentState,
    EventDetail, HpaCondition, HpaDetail, HpaState, PodDetail, Resources, Sample, UnixSeconds,
};

/// Events a describe shows, the latest.
const DESCRIBE_EVENTS: usize = 20;
use crate::sim::hpa::{HpaConfig, Reconcile};
use crate::sim::nodes::{self, SimNode};
use crate::sim::scenario::DeploymentSpec;

/// A pod as `sim serve` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PodView {
    pub id: u64,
    pub created: UnixSeconds,
    pub ready_at: UnixSeconds,
    pub ready: bool,
    /// Usage at the last scrape, millicores and MiB; None before the first metrics.
    pub cpu_usage_millis: Option<f64>,
    pub mem_usage_mib: Option<f64>,
    /// Index in `SimWorld::nodes()` of the node it runs on.
    pub node: usize,
}

/// An HPA as `sim serve` shows it.
#[derive(Clone, Debug)]
pub struct HpaView {
    pub config: HpaConfig,
    /// False when `spec.behavior` is unset.
    pub with_behavior: bool,
    pub desired_replicas: u32,
    pub last_scale_time: Option<UnixSeconds>,
    /// The last sync's outcome (None before the first sync).
    pub last: Option<Reconcile>,
}

/// A deployment with its pods and HPA, as `sim serve` shows it.
#[derive(Clone, Debug)]
pub struct DeploymentView<'a> {
    pub key: &'a DeploymentKey,
    pub spec: &'a DeploymentSpec,
    pub replicas: u32,
    pub pods: Vec<PodView>,
    pub annotations: &'a BTreeMap<String, String>,
    pub labels: &'a BTreeMap<String, String>,
    pub hpa: Option<HpaView>,
    /// Who else owns its scaling (KEDA, a VPA, GitOps).
    pub ownership: &'a crate::model::Ownership,
}

impl SimWorld {
    /// Replica changes with `seq >= from_seq` still remembered (the last 4,096), oldest first.
    pub fn scale_records_since(&self, from_seq: u64) -> Vec<ScaleRecord> {
        self.scale_log
            .iter()
            .filter(|r| r.seq >= from_seq)
            .cloned()
            .collect()
    }

    /// The sequence number the next scale record will get.
    pub fn next_scale_seq(&self) -> u64 {
        self.next_scale_seq
    }

    /// Every deployment's key, in the world's order.
    pub fn deployment_keys(&self) -> Vec<DeploymentKey> {
        self.deployments.iter().map(|d| d.key.clone()).collect()
    }

    /// One deployment with its pods and HPA, as an API server would show it.
    pub fn deployment_view(&self, key: &DeploymentKey) -> Option<DeploymentView<'_>> {
        let i = self.find(key).ok()?;
        let d = &self.deployments[i];
        let now = self.now;
        Some(DeploymentView {
            key: &d.key,
            spec: &d.spec,
            replicas: d.replicas,
            pods: d
                .pods
                .iter()
                .map(|p| PodView {
                    id: p.id,
                    created: p.created,
                    ready_at: p.ready_at,
                    ready: p.ready(now),
                    cpu_usage_millis: p.cpu_usage,
                    mem_usage_mib: p.mem_usage,
                    node: nodes::placement(self.nodes.len(), i, p.id),
                })
                .collect(),
            annotations: &d.annotations,
            labels: &d.labels,
            hpa: d.hpa.as_ref().map(|h| {
                let status = d.hpa_status.clone().unwrap_or_default();
                HpaView {
                    config: h.config.clone(),
                    with_behavior: h.uses_behavior(),
                    desired_replicas: status.desired,
                    last_scale_time: status.last_scale_time,
                    last: status.last,
                }
            }),
            ownership: &d.ownership,
        })
    }

    /// The cluster as `kubectl get deploy,hpa` plus `kubectl top` would show it.
    pub fn snapshot(&self) -> ClusterSnapshot {
        ClusterSnapshot {
            context: "demo".into(),
            time: self.now,
            deployments: self.deployments.iter().map(|d| self.state_of(d)).collect(),
            capacity: Some(self.capacity()),
        }
    }

    /// The nodes, as `kubectl get nodes` shows them.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// The index in `nodes()` of the node a deployment's pod runs on.
    pub fn node_of(&self, key: &DeploymentKey, pod_id: u64) -> Option<usize> {
        let i = self.find(key).ok()?;
        (!self.nodes.is_empty()).then(|| nodes::placement(self.nodes.len(), i, pod_id))
    }

    /// The requests of the pods on each node (every pod is placed), in `nodes()` order.
    pub fn requested_per_node(&self) -> Vec<Resources> {
        let mut per = vec![Resources::default(); self.nodes.len()];
        for (i, d) in self.deployments.iter().enumerate() {
            for p in &d.pods {
                let n = nodes::placement(self.nodes.len(), i, p.id);
                if let Some(r) = per.get_mut(n) {
                    *r = r.saturating_add(Resources {
                        cpu_millis: u64::from(d.spec.cpu_request_millis),
                        mem_mib: u64::from(d.spec.mem_request_mib),
                        pods: 1,
                    });
                }
            }
        }
        per
    }

    /// The nodes' allocatable against the requests of every pod.
    pub fn capacity(&self) -> ClusterCapacity {
        let requested = self
            .requested_per_node()
            .into_iter()
            .fold(Resources::default(), Resources::saturating_add);
        nodes::capacity(&self.nodes, requested, self.autoscaler)
    }

    fn state_of(&self, d: &SimDeployment) -> DeploymentState {
        let ready = d.pods.iter().filter(|p| p.ready(self.now)).count() as u32;
        let hpa = d.hpa.as_ref().map(|h| {
            let status = d.hpa_status.clone().unwrap_or_default();
            HpaState {
                name: d.spec.name.to_string(),
                min_replicas: h.config.min_replicas,
                max_replicas: h.config.max_replicas,
                target_cpu_pct: h.config.target_cpu_pct,
                target_mem_pct: h.config.target_mem_pct,
                current_replicas: d.replicas,
                desired_replicas: status.desired,
                scaling_status: scaling_status(&status.reason, d.replicas, h.config.max_replicas),
                last_scale_time: status.last_scale_time,
                metrics: Vec::new(),
            }
        });
        let annotated = |k: &str| d.annotations.get(k).and_then(|v| v.parse::<u32>().ok());
        let annotated_bounds = (
            annotated(annotations::MIN_REPLICAS),
            annotated(annotations::MAX_REPLICAS),
        );
        let (min, max) = deployment_bounds(annotated_bounds, hpa.as_ref(), d.replicas);
        DeploymentState {
            key: d.key.clone(),
            desired_replicas: d.replicas,
            ready_replicas: ready,
            total_pods: d.pods.len() as u32,
            min_replicas: min,
            max_replicas: max,
            cpu_request_millis: d.spec.cpu_request_millis,
            mem_request_mib: d.spec.mem_request_mib,
            cpu_pct: d.cpu_pct,
            mem_pct: d.mem_pct,
            hpa,
            predictive_enabled: d
                .annotations
                .get(annotations::PREDICTIVE)
                .is_some_and(|v| v == "true"),
            annotated_bounds,
            floor_mark: d
                .annotations
                .get(annotations::FLOOR)
                .and_then(|v| crate::model::FloorMark::parse(v)),
            write_block: None,
            ownership: d.ownership.clone(),
        }
    }

    /// Minute samples recorded during the warm-up, per deployment.
    pub fn history(&self) -> Vec<(DeploymentKey, Vec<Sample>)> {
        self.deployments
            .iter()
            .zip(&self.history)
            .map(|(d, h)| (d.key.clone(), h.clone()))
            .collect()
    }

    /// One deployment as `kubectl describe` would show it: pods with their usage, the HPA's
    /// conditions (from its last sync) and the events of its last replica changes.
    pub fn describe(&self, key: &DeploymentKey) -> Option<DeploymentDetail> {
        let view = self.deployment_view(key)?;
        let pods = view
            .pods
            .iter()
            .map(|p| PodDetail {
                name: format!("{}-{}", key.name, p.id),
                ready: p.ready,
                phase: "Running".into(),
                created: Some(p.created),
                cpu_millis: p.cpu_usage_millis,
                mem_mib: p.mem_usage_mib,
            })
            .collect();
        let hpa = view.hpa.as_ref().map(|h| HpaDetail {
            name: key.name.clone(),
            conditions: hpa_conditions(h, self.now),
        });
        let mut events: Vec<EventDetail> = self
            .scale_log
            .iter()
            .filter(|r| &r.key == key)
            .flat_map(scale_events)
            .collect();
        if let Some(last) = view.hpa.as_ref().and_then(|h| h.last.as_ref())
            && let Some(why) = &last.metrics_error
        {
            events.push(EventDetail {
                time: Some(self.now),
                kind: "Warning".into(),
                reason: "FailedGetResourceMetric".into(),
                object: format!("hpa/{}", key.name),
                message: why.clone(),
                count: 1,
            });
        }
        let skip = events.len().saturating_sub(DESCRIBE_EVENTS);
        Some(DeploymentDetail {
            key: key.clone(),
            read_at: self.now,
            pods,
            hpa,
            events: events.split_off(skip),
            problems: Vec::new(),
        })
    }

    /// Demand (cores) not served by ready capacity at the last step, per deployment.
    pub fn unserved_cores(&self, key: &DeploymentKey) -> Option<f64> {
        self.find(key)
            .ok()
            .map(|i| self.deployments[i].unserved_cores)
    }
}

fn scaling_status(reason: &str, replicas: u32, max: u32) -> String {
    if reason.starts_with("metrics:") {
        return reason.to_string();
    }
    match reason {
        "TooManyReplicas" => "at max".into(),
        "ScaleUpLimit" => "limited: scale-up rate".into(),
        "ScaleDownLimit" => "limited: scale-down rate".into(),
        "TooFewReplicas" => "at min".into(),
        _ if replicas >= max => "at max".into(),
        _ => "stable".into(),
    }
}

/// The events the controllers record for one replica change: the HPA's SuccessfulRescale (when
/// the HPA made it) and the deployment controller's ScalingReplicaSet.
fn scale_events(r: &ScaleRecord) -> Vec<EventDetail> {
    let mut out = Vec::with_capacity(2);
    if let Some(reason) = &r.hpa_reason {
        out.push(EventDetail {
            time: Some(r.time),
            kind: "Normal".into(),
            reason: "SuccessfulRescale".into(),
            object: format!("hpa/{}", r.key.name),
            message: format!("New size: {}; reason: {reason}", r.to),
            count: 1,
        });
    }
    let direction = if r.to > r.from { "up" } else { "down" };
    out.push(EventDetail {
        time: Some(r.time),
        kind: "Normal".into(),
        reason: "ScalingReplicaSet".into(),
        object: format!("deployment/{}", r.key.name),
        message: format!(
            "Scaled {direction} replica set {} from {} to {}",
            r.key.name, r.from, r.to
        ),
        count: 1,
    });
    out
}

/// AbleToScale, ScalingActive and ScalingLimited as the HPA controller words them after its
/// last sync (one condition before the first sync).
fn hpa_conditions(h: &HpaView, now: UnixSeconds) -> Vec<HpaCondition> {
    let cond = |kind: &str, status: &str, reason: &str, message: String| HpaCondition {
        kind: kind.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        since: h.last_scale_time.or(Some(now)),
    };
    let Some(last) = &h.last else {
        return vec![cond(
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale".into(),
        )];
    };
    let able = match last.reason {
        "ScaleUpStabilized" | "ScaleDownStabilized" => (
            last.reason,
            "recent recommendations differ from the current one; the stabilization window holds it",
        ),
        _ if h.last_scale_time == Some(now - now.rem_euclid(super::STEP_SECONDS)) => (
            "SucceededRescale",
            "the HPA controller was able to update the target scale",
        ),
        _ => ("ReadyForNewScale", "recommended size matches current size"),
    };
    let active = match (last.reason, &last.metrics_error) {
        ("ScalingDisabled", _) => (
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".to_string(),
        ),
        ("FailedGetResourceMetric", e) => (
            "False",
            "FailedGetResourceMetric",
            format!(
                "the HPA was unable to compute the replica count: {}",
                e.as_deref()
                    .unwrap_or("no metrics returned from resource metrics API")
            ),
        ),
        _ => (
            "True",
            "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count".to_string(),
        ),
    };
    let limited = match last.reason {
        "TooManyReplicas" => (
            "True",
            "the desired replica count is more than the maximum replica count",
        ),
        "TooFewReplicas" => (
            "True",
            "the desired replica count is less than the minimum replica count",
        ),
        "ScaleUpLimit" => (
            "True",
            "the desired replica count is increasing faster than the maximum scale rate",
        ),
        "ScaleDownLimit" => (
            "True",
            "the desired replica count is decreasing faster than the maximum scale rate",
        ),
        _ => ("False", "the desired count is within the acceptable range"),
    };
    let limited_reason = if limited.0 == "True" {
        last.reason
    } else {
        "DesiredWithinRange"
    };
    vec![
        cond("AbleToScale", "True", able.0, able.1.to_string()),
        cond("ScalingActive", active.0, active.1, active.2),
        cond(
            "ScalingLimited",
            limited.0,
            limited_reason,
            limited.1.to_string(),
        ),
    ]
}
