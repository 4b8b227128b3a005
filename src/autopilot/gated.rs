//! The cluster as the autopilot sees it under leader election: reads pass through; every write
//! first asks the [`Leadership`] gate, on the local monotonic clock, whether this replica may
//! still write. A plan's later steps are checked again, so a lease that runs out mid-plan
//! stops the plan there.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::leader::Leadership;
use crate::cluster::{Change, ChangeEvent, Cluster, ClusterError, ClusterStatus};
use crate::metrics::prom_transport::PromTransport;
use crate::model::{ClusterSnapshot, DeploymentDetail, DeploymentKey, Sample};

pub struct GatedCluster {
    inner: Arc<dyn Cluster>,
    leadership: Leadership,
}

impl GatedCluster {
    pub fn new(inner: Arc<dyn Cluster>, leadership: Leadership) -> Self {
        Self { inner, leadership }
    }

    fn gate(&self) -> Result<(), ClusterError> {
        if self.leadership.may_write() {
            Ok(())
        } else {
            Err(ClusterError::ReadOnly(format!(
                "{} is not the leader (or could not renew its lease in time)",
                self.leadership.identity()
            )))
        }
    }
}

#[async_trait]
impl Cluster for GatedCluster {
    fn context(&self) -> String {
        self.inner.context()
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        self.inner.snapshot().await
    }

    async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError> {
        self.inner.history().await
    }

    async fn write(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        self.gate()?;
        self.inner.write(key, change).await
    }

    async fn dry_run(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        self.inner.dry_run(key, change).await
    }

    fn status(&self) -> ClusterStatus {
        self.inner.status()
    }

    async fn record_event(
        &self,
        key: &DeploymentKey,
        event: &ChangeEvent,
    ) -> Result<(), ClusterError> {
        self.gate()?;
        self.inner.record_event(key, event).await
    }

    // Reads, passed through like the others (a default here would hide the cluster's own).
    async fn describe(&self, key: &DeploymentKey) -> Result<DeploymentDetail, ClusterError> {
        self.inner.describe(key).await
    }

    fn prometheus_transport(&self, timeout: Duration) -> Option<Arc<dyn PromTransport>> {
        self.inner.prometheus_transport(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::prom_transport::HttpTransport;
    use crate::sim::{SimCluster, SimWorld};

    /// A cluster with its own Prometheus, as a live one has through its service proxy.
    struct WithPrometheus(SimCluster);

    #[async_trait]
    impl Cluster for WithPrometheus {
        fn context(&self) -> String {
            self.0.context()
        }
        async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
            self.0.snapshot().await
        }
        async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError> {
            self.0.history().await
        }
        async fn write(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
            self.0.write(key, change).await
        }
        async fn dry_run(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
            self.0.dry_run(key, change).await
        }
        async fn describe(&self, key: &DeploymentKey) -> Result<DeploymentDetail, ClusterError> {
            self.0.describe(key).await
        }
        fn prometheus_transport(&self, timeout: Duration) -> Option<Arc<dyn PromTransport>> {
            let t = HttpTransport::new("http://127.0.0.1:9/", timeout).ok()?;
            Some(Arc::new(t))
        }
    }

    #[tokio::test]
    async fn reads_the_autopilot_needs_pass_through_the_gate() {
        let sim = SimCluster::new(SimWorld::demo(42, 1));
        let gated = GatedCluster::new(Arc::new(WithPrometheus(sim)), Leadership::sole());
        // Discovery and backfill go through the cluster: the gate must not hide them.
        let t = gated
            .prometheus_transport(Duration::from_secs(1))
            .expect("the cluster's Prometheus");
        assert!(t.describe().contains("127.0.0.1:9"), "{}", t.describe());
        let key = DeploymentKey::new("shop", "frontend");
        let detail = gated.describe(&key).await.expect("described");
        assert!(!detail.pods.is_empty());
    }
}
