//! The simulator behind a hook that sees every write before the world does, with the
//! deployment as it is at that moment: for tests that check or disturb writes as they happen.

use std::sync::Mutex;

use ai4k8s::cluster::{Cluster, ClusterError, HpaExpect, HpaSpec, Write};
use ai4k8s::model::{ClusterSnapshot, DeploymentKey, DeploymentState, Sample};
use ai4k8s::sim::SimCluster;
use async_trait::async_trait;

pub type Hook = Box<dyn Fn(&Write, Option<&DeploymentState>) + Send + Sync>;

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

    pub fn hook(&self, f: impl Fn(&Write, Option<&DeploymentState>) + Send + Sync + 'static) {
        *self.on_write.lock().expect("hook") = Some(Box::new(f));
    }

    fn seen(&self, write: Write) {
        let state = self
            .sim
            .world()
            .snapshot()
            .deployments
            .into_iter()
            .find(|d| &d.key == write.key());
        if let Some(f) = self.on_write.lock().expect("hook").as_ref() {
            f(&write, state.as_ref());
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
    async fn scale(&self, key: &DeploymentKey, replicas: u32) -> Result<(), ClusterError> {
        self.seen(Write::Scale {
            key: key.clone(),
            replicas,
        });
        self.sim.scale(key, replicas).await
    }
    async fn patch_hpa(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Result<(), ClusterError> {
        self.seen(Write::PatchHpa {
            key: key.clone(),
            expect: expect.clone(),
            min_replicas: min,
            max_replicas: max,
        });
        self.sim.patch_hpa(key, expect, min, max).await
    }
    async fn patch_hpa_target(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        cpu_pct: u32,
    ) -> Result<(), ClusterError> {
        self.seen(Write::PatchHpaTarget {
            key: key.clone(),
            expect: expect.clone(),
            cpu_pct,
        });
        self.sim.patch_hpa_target(key, expect, cpu_pct).await
    }
    async fn annotate(
        &self,
        key: &DeploymentKey,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ClusterError> {
        self.seen(Write::Annotate {
            key: key.clone(),
            changes: changes.to_vec(),
        });
        self.sim.annotate(key, changes).await
    }
    async fn create_hpa(&self, key: &DeploymentKey, spec: &HpaSpec) -> Result<(), ClusterError> {
        self.seen(Write::CreateHpa {
            key: key.clone(),
            spec: spec.clone(),
        });
        self.sim.create_hpa(key, spec).await
    }
    async fn dry_run(&self, write: &Write) -> Result<(), ClusterError> {
        self.sim.dry_run(write).await
    }
}
