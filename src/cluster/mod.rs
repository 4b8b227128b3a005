//! Where deployments, HPAs and pod metrics come from and where writes go: the `Cluster` trait,
//! implemented by the embedded simulator (`crate::sim`) and, for live clusters, by kube-rs.
//! A write is one `Change` (`change.rs`), the same value plans, the guard, the journal and undo
//! use; `Change::operation` says what the API is asked to do for it.

pub mod change;
pub mod kube;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{ClusterSnapshot, DeploymentDetail, DeploymentKey, Sample, UnixSeconds};

pub use change::{Change, Operation, ScaledObjectExpect};

/// The seed's annotations on a deployment.
pub mod annotations {
    /// "true" when predictive autoscaling is enabled for the deployment.
    pub const PREDICTIVE: &str = "ai4k8s.io/predictive-autoscaling";
    /// Replica bounds for deployments without an HPA.
    pub const MIN_REPLICAS: &str = "ai4k8s.io/min-replicas";
    pub const MAX_REPLICAS: &str = "ai4k8s.io/max-replicas";
    /// The policy's mark: when it last moved the floor, which way, and until when.
    pub const FLOOR: &str = "ai4k8s.io/floor";
}

/// A deployment's replica bounds: the seed's annotations where set (the user's policy, which
/// pre-scaling through the HPA's minReplicas must not erase), else the HPA's, else
/// [1, 4 × replicas]; never above the HPA's maximum, which the HPA cannot exceed.
pub fn deployment_bounds(
    annotated: (Option<u32>, Option<u32>),
    hpa: Option<&crate::model::HpaState>,
    replicas: u32,
) -> (u32, u32) {
    let (hpa_min, hpa_max) = hpa.map_or((None, None), |h| {
        (Some(h.min_replicas), Some(h.max_replicas))
    });
    let min = annotated.0.or(hpa_min).unwrap_or(1).max(1);
    // spec.replicas is the cluster's (up to i32::MAX): 4× must not overflow.
    let mut max = annotated
        .1
        .or(hpa_max)
        .unwrap_or(replicas.max(1).saturating_mul(4));
    if let Some(h) = hpa_max {
        max = max.min(h);
    }
    (min, max.max(min))
}

/// Why a cluster call failed, in the categories the UI must tell apart.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    /// 403: RBAC forbids it; the server's reason.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404
    #[error("not found: {0}")]
    NotFound(String),
    /// 409: someone else changed the object; re-read and ask again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 422 or a request the cluster refuses as invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The API server cannot be reached or answered 5xx.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Writes are disabled (`--read-only`).
    #[error("read-only: {0}")]
    ReadOnly(String),
}

/// An HPA to create for a deployment that has none (the seed's HPA manager).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HpaSpec {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_cpu_pct: Option<u32>,
    pub target_mem_pct: Option<u32>,
}

/// The HPA a patch was decided on, and the spec values the plan starts from (None: not part of
/// the plan). Writers patch only that HPA and only while it still shows these values, so a
/// re-read after a 409 that finds anything else stops the write ("changed: X → Y") instead of
/// overwriting someone else's change; a 409 caused by the controller's status updates alone is
/// retried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpaExpect {
    pub name: String,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
    pub cpu_target_pct: Option<u32>,
}

impl HpaExpect {
    /// What differs between the expectation and the HPA as read, as a `Conflict` saying
    /// "changed: hpa/web spec.minReplicas 2 → 5".
    pub fn check(
        &self,
        name: &str,
        min: u32,
        max: u32,
        cpu_target_pct: Option<u32>,
    ) -> Result<(), ClusterError> {
        if name != self.name {
            return Err(ClusterError::Conflict(format!(
                "changed: the deployment is scaled by hpa/{name} now, not hpa/{}",
                self.name
            )));
        }
        let pct = |v: Option<u32>| v.map_or("unset".to_string(), |v| format!("{v} %"));
        let mut parts = Vec::new();
        if let Some(e) = self.min_replicas.filter(|e| *e != min) {
            parts.push(format!("spec.minReplicas {e} → {min}"));
        }
        if let Some(e) = self.max_replicas.filter(|e| *e != max) {
            parts.push(format!("spec.maxReplicas {e} → {max}"));
        }
        if let Some(e) = self.cpu_target_pct.filter(|e| Some(*e) != cpu_target_pct) {
            parts.push(format!(
                "cpu averageUtilization {} → {}",
                pct(Some(e)),
                pct(cpu_target_pct)
            ));
        }
        if parts.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::Conflict(format!(
                "changed: hpa/{name} {}",
                parts.join(", ")
            )))
        }
    }
}

/// How one source of cluster data is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Delivering current data.
    Ok,
    /// The first list has not arrived yet.
    Syncing,
    /// Had data, but the last attempt failed: what is shown may be old.
    Stale,
    /// Never delivered (forbidden, not served, unreachable): shown without it.
    Missing,
}

/// The health of one source: deployments, HPAs, pods, pod metrics, the API server itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub state: SourceState,
    /// Why it is stale or missing (the server's words), or what stands in for it.
    pub detail: Option<String>,
    /// When it last delivered data (wall clock).
    pub updated_at: Option<UnixSeconds>,
}

/// Which data is missing or stale and why; empty when the cluster cannot tell (simulator).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub sources: Vec<SourceStatus>,
}

impl ClusterStatus {
    /// Sources that are not Ok.
    pub fn problems(&self) -> impl Iterator<Item = &SourceStatus> {
        self.sources.iter().filter(|s| s.state != SourceState::Ok)
    }

    /// One line for a status bar, None when every source is fine.
    pub fn summary(&self) -> Option<String> {
        let parts: Vec<String> = self
            .problems()
            .map(|s| {
                let state = match s.state {
                    SourceState::Ok => "ok",
                    SourceState::Syncing => "syncing",
                    SourceState::Stale => "stale",
                    SourceState::Missing => "missing",
                };
                match &s.detail {
                    Some(d) => format!("{} {state}: {d}", s.source),
                    None => format!("{} {state}", s.source),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A cluster the pipeline can read and act on.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Kube context name, or "demo".
    fn context(&self) -> String;

    /// Every deployment with its HPA and current metrics.
    async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError>;

    /// Past samples the cluster itself can provide (the simulator's warm-up); may be empty.
    async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError>;

    /// Make one change, as `Change::operation` says: `/scale`, an HPA patch (only on the HPA
    /// the change names and only while it still shows the change's `from`; otherwise a
    /// `Conflict` saying what changed), annotations, or a new HPA.
    async fn write(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError>;

    /// Check a change without making it (server-side dry run on live clusters, a throwaway
    /// copy of the world in the simulator): the same validation, admission and RBAC answer the
    /// real write would get.
    async fn dry_run(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError>;

    /// Which data is missing or stale and why. Never waits on the network.
    fn status(&self) -> ClusterStatus {
        ClusterStatus::default()
    }

    /// Record a Kubernetes Event on the deployment about a change made to it, so `kubectl
    /// describe deploy` and `kubectl get events` show it. Clusters without Events: nothing.
    async fn record_event(
        &self,
        _key: &DeploymentKey,
        _event: &ChangeEvent,
    ) -> Result<(), ClusterError> {
        Ok(())
    }

    /// Prometheus reached through the cluster itself (a live cluster: the API server's service
    /// proxy, found on first use); None where there is none (the simulator).
    fn prometheus_transport(
        &self,
        _timeout: std::time::Duration,
    ) -> Option<std::sync::Arc<dyn crate::metrics::prom_transport::PromTransport>> {
        None
    }

    /// One deployment opened: its pods with their usage, its HPA's conditions, its recent
    /// events (what `kubectl describe` shows). Read on demand.
    async fn describe(&self, key: &DeploymentKey) -> Result<DeploymentDetail, ClusterError> {
        Err(ClusterError::Unavailable(format!(
            "this cluster cannot describe {key}"
        )))
    }

    /// History the cluster computes per deployment on request, handed to the engine in the
    /// background after `history()` (the simulator's weeks before its warm-up); None: nothing
    /// more than `history()`.
    fn history_feed(&self) -> Option<std::sync::Arc<dyn crate::metrics::feed::HistoryFeed>> {
        None
    }
}

/// An Event about a change made to a deployment: a CamelCase reason ("AutopilotScaled"), the
/// message (before → after, and why) and who reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub reason: String,
    pub message: String,
    /// The reporting component ("ai4k8s-autopilot") and instance (the replica's identity).
    pub component: String,
    pub instance: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bounds_saturate_instead_of_overflowing() {
        // i32::MAX replicas from the API (and u32::MAX from a hand-written annotation's
        // neighbour) would overflow 4 × replicas.
        assert_eq!(deployment_bounds((None, None), None, 3), (1, 12));
        assert_eq!(deployment_bounds((None, None), None, 0), (1, 4));
        assert_eq!(
            deployment_bounds((None, None), None, i32::MAX as u32),
            (1, u32::MAX)
        );
        assert_eq!(
            deployment_bounds((Some(u32::MAX), None), None, u32::MAX),
            (u32::MAX, u32::MAX)
        );
    }
}
