//! Where deployments, HPAs and pod metrics come from and where writes go: the `Cluster` trait,
//! implemented by the embedded simulator (`sim`) and, for live clusters, by kube-rs.

pub mod sim;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{ClusterSnapshot, DeploymentKey, Sample};

/// The seed's annotations on a deployment.
pub mod annotations {
    /// "true" when predictive autoscaling is enabled for the deployment.
    pub const PREDICTIVE: &str = "ai4k8s.io/predictive-autoscaling";
    /// Replica bounds for deployments without an HPA.
    pub const MIN_REPLICAS: &str = "ai4k8s.io/min-replicas";
    pub const MAX_REPLICAS: &str = "ai4k8s.io/max-replicas";
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

/// A cluster the pipeline can read and act on.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Kube context name, or "demo".
    fn context(&self) -> String;

    /// Every deployment with its HPA and current metrics.
    async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError>;

    /// Past samples the cluster itself can provide (the simulator's warm-up); may be empty.
    async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError>;

    /// Set spec.replicas through the `/scale` subresource.
    async fn scale(&self, key: &DeploymentKey, replicas: u32) -> Result<(), ClusterError>;

    /// Change the bounds of the deployment's HPA.
    async fn patch_hpa(
        &self,
        key: &DeploymentKey,
        min_replicas: Option<u32>,
        max_replicas: Option<u32>,
    ) -> Result<(), ClusterError>;

    /// Set (Some) or remove (None) annotations on the deployment.
    async fn annotate(
        &self,
        key: &DeploymentKey,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ClusterError>;

    /// Create an HPA for a deployment that has none.
    async fn create_hpa(&self, key: &DeploymentKey, spec: &HpaSpec) -> Result<(), ClusterError>;
}
