//! One deployment opened (Enter in the TUI): its pods, its HPA's conditions and its recent
//! events, so the user sees why the HPA did what it did. Read on demand through
//! `Cluster::describe`, like `kubectl describe`.

use serde::{Deserialize, Serialize};

use super::{DeploymentKey, UnixSeconds};

/// What `Cluster::describe` returns for one deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    pub key: DeploymentKey,
    /// Cluster time it was read at (ages are measured against it).
    pub read_at: UnixSeconds,
    /// The pods the deployment's selector matches, oldest first.
    pub pods: Vec<PodDetail>,
    /// The HPA that targets it, if any.
    pub hpa: Option<HpaDetail>,
    /// Events of the deployment and its HPA, oldest first.
    pub events: Vec<EventDetail>,
    /// What could not be read (e.g. events forbidden), shown instead of that part.
    pub problems: Vec<String>,
}

/// One pod, as `kubectl get pods` plus `kubectl top pod` show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodDetail {
    pub name: String,
    pub ready: bool,
    /// "Running", "Pending", …
    pub phase: String,
    pub created: Option<UnixSeconds>,
    /// Usage at the last scrape; None when metrics are missing.
    pub cpu_millis: Option<f64>,
    pub mem_mib: Option<f64>,
}

/// An HPA's status conditions (AbleToScale, ScalingActive, ScalingLimited).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HpaDetail {
    pub name: String,
    pub conditions: Vec<HpaCondition>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HpaCondition {
    /// AbleToScale, ScalingActive, ScalingLimited.
    pub kind: String,
    /// "True", "False", "Unknown".
    pub status: String,
    pub reason: String,
    pub message: String,
    pub since: Option<UnixSeconds>,
}

/// One event (SuccessfulRescale, ScalingReplicaSet, FailedGetResourceMetric…).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDetail {
    /// When it last happened.
    pub time: Option<UnixSeconds>,
    /// "Normal" or "Warning".
    pub kind: String,
    pub reason: String,
    /// "deployment/web", "hpa/web".
    pub object: String,
    pub message: String,
    pub count: u32,
}
