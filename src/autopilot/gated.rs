//! The cluster as the autopilot sees it under leader election: reads pass through; every write
//! first asks the [`Leadership`] gate, on the local monotonic clock, whether this replica may
//! still write. A plan's later steps are checked again, so a lease that runs out mid-plan
//! stops the plan there.

use std::sync::Arc;

use async_trait::async_trait;

use super::leader::Leadership;
use crate::cluster::{Change, ChangeEvent, Cluster, ClusterError, ClusterStatus};
use crate::model::{ClusterSnapshot, DeploymentKey, Sample};

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
}
