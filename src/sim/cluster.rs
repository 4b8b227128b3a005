//! `SimCluster`: a `SimWorld` behind the `Cluster` trait, with the clock that moves it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::world::{self, SimWorld};
use crate::cluster::{Change, Cluster, ClusterError, Operation};
use crate::metrics::feed::HistoryFeed;
use crate::model::{ClusterSnapshot, DeploymentDetail, DeploymentKey, Sample};

/// Warm-up steps taken per hold of the world's lock: readers wait at most that long.
const WARM_UP_STEPS_PER_LOCK: usize = 8;

/// A `SimWorld` behind the `Cluster` trait, shared between the clock task and readers.
#[derive(Clone)]
pub struct SimCluster {
    world: Arc<Mutex<SimWorld>>,
    /// True once the world's warm-up history is recorded (at once unless `warming_up`).
    warm: watch::Receiver<bool>,
    /// Hand the engine the weeks before the epoch (`with_backdated_history`).
    backdated: bool,
}

impl SimCluster {
    pub fn new(world: SimWorld) -> Self {
        let (_, warm) = watch::channel(true);
        Self {
            world: Arc::new(Mutex::new(world)),
            warm,
            backdated: false,
        }
    }

    /// Also offer the `backdate::DAYS` before the epoch as a `HistoryFeed` (the demo's 14
    /// days at launch: computed in the background after the warm-up's history).
    pub fn with_backdated_history(mut self) -> Self {
        self.backdated = true;
        self
    }

    /// A world warmed up for `hours` on a thread of its own, recording its history, so a
    /// face can draw its first frame meanwhile (a fleet of thousands takes seconds).
    /// `history()` and the clock wait for it; other reads see the world as far as it got.
    pub fn warming_up(world: SimWorld, hours: u32) -> Self {
        let (done, warm) = watch::channel(false);
        let this = Self {
            world: Arc::new(Mutex::new(world)),
            warm,
            backdated: false,
        };
        let world = this.world.clone();
        std::thread::spawn(move || {
            let lock = || world.lock().unwrap_or_else(|p| p.into_inner());
            let mut steps = i64::from(hours) * 3600 / world::STEP_SECONDS;
            lock().record_history(true);
            while steps > 0 {
                let mut w = lock();
                for _ in 0..WARM_UP_STEPS_PER_LOCK.min(steps as usize) {
                    w.step();
                    steps -= 1;
                }
            }
            lock().record_history(false);
            let _ = done.send(true);
        });
        this
    }

    /// Until the warm-up is over (at once when there is none).
    async fn warmed(&self) {
        let mut warm = self.warm.clone();
        let _ = warm.wait_for(|done| *done).await;
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
        let this = self.clone();
        tokio::spawn(async move {
            // The clock starts where the warm-up ends.
            this.warmed().await;
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
        self.warmed().await;
        Ok(self.world().history())
    }

    async fn write(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        apply(&mut self.world(), key, change)
    }

    async fn dry_run(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        // The same validation on a throwaway copy of the world.
        let mut preview = self.world().clone();
        apply(&mut preview, key, change)
    }

    async fn describe(&self, key: &DeploymentKey) -> Result<DeploymentDetail, ClusterError> {
        self.world()
            .describe(key)
            .ok_or_else(|| ClusterError::NotFound(format!("deployment {key}")))
    }

    fn history_feed(&self) -> Option<Arc<dyn HistoryFeed>> {
        self.backdated
            .then(|| Arc::new(self.world().backdate()) as Arc<dyn HistoryFeed>)
    }
}

/// Make `change` in `world`, as `Change::operation` says; HPA patches first check that the HPA
/// still shows what the change was made from.
fn apply(world: &mut SimWorld, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
    match change.operation() {
        Operation::Scale { replicas } => world.scale(key, replicas),
        Operation::PatchHpa {
            expect,
            min_replicas,
            max_replicas,
        } => {
            world.expect_hpa(key, &expect)?;
            world.patch_hpa(key, min_replicas, max_replicas)
        }
        Operation::PatchHpaTarget { expect, cpu_pct } => {
            world.expect_hpa(key, &expect)?;
            world.patch_hpa_target(key, cpu_pct)
        }
        Operation::Annotate { changes } => world.annotate(key, &changes),
        Operation::CreateHpa { spec } => world.create_hpa(key, &spec),
        Operation::PatchScaledObject {
            expect,
            min_replica_count,
            max_replica_count,
        } => world.patch_scaled_object(key, &expect, min_replica_count, max_replica_count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;

    #[tokio::test]
    async fn a_background_warm_up_records_the_same_history_as_warmed_up() {
        let specs = scenario::fleet(30);
        let want = SimWorld::warmed_up(7, specs.clone(), 2);
        let sim = SimCluster::warming_up(SimWorld::new(7, specs), 2);
        // Returns at once; history waits for the warm-up and then holds all of it.
        let history = sim.history().await.expect("history");
        assert_eq!(history, want.history());
        assert_eq!(history.len(), 30);
        assert!(
            history.iter().all(|(_, s)| s.len() == 120),
            "two hours of minutes"
        );
        assert_eq!(sim.world().now(), want.now());
        // Recording stopped with the warm-up: later steps add no history.
        sim.advance(600);
        assert_eq!(sim.world().history(), want.history());
    }
}
