//! `SimCluster`: a `SimWorld` behind the `Cluster` trait, with the clock that moves it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::world::{self, SimWorld};
use crate::cluster::{Cluster, ClusterError, HpaExpect, HpaSpec, Write};
use crate::model::{ClusterSnapshot, DeploymentKey, Sample};

/// A `SimWorld` behind the `Cluster` trait, shared between the clock task and readers.
#[derive(Clone)]
pub struct SimCluster {
    world: Arc<Mutex<SimWorld>>,
}

impl SimCluster {
    pub fn new(world: SimWorld) -> Self {
        Self {
            world: Arc::new(Mutex::new(world)),
        }
    }

    /// The world, even if a panicking thread poisoned the lock (its state is still whole: every
    /// mutation is a single step).
    pub fn world(&self) -> MutexGuard<'_, SimWorld> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Advance cluster time by `seconds` now (tests, backtests).
    pub fn advance(&self, seconds: i64) {
        self.world().advance(seconds);
    }

    /// Run the clock in the background at `speed` cluster seconds per real second.
    pub fn spawn_clock(&self, speed: f64) -> tokio::task::JoinHandle<()> {
        let world = self.world.clone();
        tokio::spawn(async move {
            let speed = speed.max(0.001);
            let started = tokio::time::Instant::now();
            let origin = world.lock().unwrap_or_else(|p| p.into_inner()).now();
            // Wake at least every step of cluster time, at most 20 times a second.
            let period = Duration::from_secs_f64((world::STEP_SECONDS as f64 / speed).max(0.05));
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let due = origin + (started.elapsed().as_secs_f64() * speed) as i64;
                let mut w = world.lock().unwrap_or_else(|p| p.into_inner());
                // Bounded so a stalled process does not freeze catching up.
                let mut steps = 0;
                while w.now() + world::STEP_SECONDS <= due && steps < 10_000 {
                    w.step();
                    steps += 1;
                }
            }
        })
    }
}

#[async_trait]
impl Cluster for SimCluster {
    fn context(&self) -> String {
        "demo".into()
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        Ok(self.world().snapshot())
    }

    async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError> {
        Ok(self.world().history())
    }

    async fn scale(&self, key: &DeploymentKey, replicas: u32) -> Result<(), ClusterError> {
        self.world().scale(key, replicas)
    }

    async fn patch_hpa(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        min_replicas: Option<u32>,
        max_replicas: Option<u32>,
    ) -> Result<(), ClusterError> {
        let mut world = self.world();
        world.expect_hpa(key, expect)?;
        world.patch_hpa(key, min_replicas, max_replicas)
    }

    async fn patch_hpa_target(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        cpu_pct: u32,
    ) -> Result<(), ClusterError> {
        let mut world = self.world();
        world.expect_hpa(key, expect)?;
        world.patch_hpa_target(key, cpu_pct)
    }

    async fn annotate(
        &self,
        key: &DeploymentKey,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ClusterError> {
        self.world().annotate(key, changes)
    }

    async fn create_hpa(&self, key: &DeploymentKey, spec: &HpaSpec) -> Result<(), ClusterError> {
        self.world().create_hpa(key, spec)
    }

    async fn dry_run(&self, write: &Write) -> Result<(), ClusterError> {
        // The same validation on a throwaway copy of the world.
        let preview = SimCluster::new(self.world().clone());
        write.apply(&preview).await
    }
}
