//! The simulator behind a hook that sees every write before the world does, with the
//! deployment as it is at that moment: for tests that check or disturb writes as they happen.

use std::sync::Mutex;

use ai4k8s::cluster::{Change, Cluster, ClusterError};
use ai4k8s::model::{ClusterSnapshot, DeploymentKey, DeploymentState, Sample};
use ai4k8s::sim::SimCluster;
use async_trait::async_trait;

pub type Hook = Box<dyn Fn(&DeploymentKey, &Change, Option<&DeploymentState>) + Send + Sync>;

pub struct Intercepted {
    pub sim: SimCluster,
    on_write: Mutex<Option<Hook>>,
}

impl Intercepted {
    pub fn new(sim: SimCluster) -> Self {
        Self {
            sim,
            on_write: Mutex::new(None),
        }
    }

    pub fn hook(
        &self,
        f: impl Fn(&DeploymentKey, &Change, Option<&DeploymentState>) + Send + Sync + 'static,
    ) {
        *self.on_write.lock().expect("hook") = Some(Box::new(f));
    }

    fn seen(&self, key: &DeploymentKey, change: &Change) {
        let state = self
            .sim
            .world()
            .snapshot()
            .deployments
            .into_iter()
            .find(|d| &d.key == key);
        if let Some(f) = self.on_write.lock().expect("hook").as_ref() {
            f(key, change, state.as_ref());
        }
    }
}

#[async_trait]
impl Cluster for Intercepted {
    fn context(&self) -> String {
        self.sim.context()
    }
    async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        self.sim.snapshot().await
    }
    async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError> {
        self.sim.history().await
    }
    async fn write(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        self.seen(key, change);
        self.sim.write(key, change).await
    }
    async fn dry_run(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        self.sim.dry_run(key, change).await
    }
}
