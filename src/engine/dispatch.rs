//! Hands the worker pool the queue's next jobs, one per worker at most, each built from the
//! deployment's data when it starts (so a queued job holds no copy of a history, and runs on
//! the freshest one). Results come back to the engine's loop as `Done::Pooled`.

use std::collections::{HashMap, HashSet};

use tokio::task::JoinSet;

use super::pool::{self, Pool};
use super::queue::{JobKind, WorkQueue};
use super::state::{Done, Known};
use crate::advisor::Advisor;
use crate::backtest;
use crate::forecast::ForecastOptions;
use crate::model::{ClusterSnapshot, DeploymentKey, Sample};
use crate::pipeline::{self, Forecasts};

pub(super) struct Dispatch {
    pub(super) queue: WorkQueue,
    pool: &'static Pool,
    running: usize,
    calibrating: usize,
}

impl Dispatch {
    pub(super) fn new() -> Self {
        Self {
            queue: WorkQueue::default(),
            pool: pool::shared(),
            running: 0,
            calibrating: 0,
        }
    }

    /// Start queued jobs while a worker is free. At most all workers but one calibrate (a
    /// calibration is a second of CPU), so forecasts keep moving.
    pub(super) fn start(
        &mut self,
        work: &mut JoinSet<Done>,
        known: &HashMap<DeploymentKey, Known>,
        in_flight: &mut HashSet<(DeploymentKey, bool)>,
        snapshot: Option<&ClusterSnapshot>,
        advisor: &Advisor,
    ) {
        let workers = self.pool.workers();
        let max_calibrating = workers.saturating_sub(1).max(1);
        while self.running < workers {
            let Some((key, kind)) = self.queue.pop(self.calibrating < max_calibrating) else {
                return;
            };
            let Some(done) = self.job(key, kind, known, in_flight, snapshot, advisor) else {
                continue;
            };
            self.running += 1;
            if kind == JobKind::Calibration {
                self.calibrating += 1;
            }
            work.spawn(async move { Done::Pooled(kind, Box::new(done.await)) });
        }
    }

    /// A pooled job came back: its worker is free again.
    pub(super) fn finished(&mut self, kind: JobKind) {
        self.running = self.running.saturating_sub(1);
        if kind == JobKind::Calibration {
            self.calibrating = self.calibrating.saturating_sub(1);
        }
    }

    /// The job for `key`, started on the pool; None when there is nothing to run (the
    /// deployment left: its forecast slot is freed).
    fn job(
        &self,
        key: DeploymentKey,
        kind: JobKind,
        known: &HashMap<DeploymentKey, Known>,
        in_flight: &mut HashSet<(DeploymentKey, bool)>,
        snapshot: Option<&ClusterSnapshot>,
        advisor: &Advisor,
    ) -> Option<futures::future::BoxFuture<'static, Done>> {
        let k = known.get(&key);
        let state = snapshot.and_then(|s| s.deployments.iter().find(|d| d.key == key));
        let t = snapshot.map_or(0, |s| s.time);
        match kind {
            JobKind::Forecast => {
                let Some(k) = k else {
                    in_flight.remove(&(key, false));
                    return None;
                };
                let history = k.history.clone();
                let rx = self
                    .pool
                    .run(move || pipeline::forecast_history(&history, ForecastOptions::default()));
                Some(Box::pin(async move {
                    let f = flatten(rx.await).unwrap_or_else(|e| Forecasts {
                        error: Some(format!("forecast task failed: {e}")),
                        ..Forecasts::default()
                    });
                    Done::Forecast(key, t, Box::new(f))
                }))
            }
            JobKind::Calibration => {
                let Some((k, state)) = k.zip(state) else {
                    // Retried an hour later if it comes back.
                    return Some(Box::pin(async move {
                        Done::Calibration(key, t, Err("not in the cluster now".into()))
                    }));
                };
                let (history, state) = (k.history.clone(), state.clone());
                let cfg = advisor.config().clone();
                let rx = self
                    .pool
                    .run(move || pipeline::calibration_of(&history, &state, &cfg).map(Box::new));
                Some(Box::pin(async move {
                    let result = flatten(rx.await)
                        .unwrap_or_else(|e| Err(format!("calibration task failed: {e}")));
                    Done::Calibration(key, t, result)
                }))
            }
            JobKind::Backtest => {
                let Some((k, state)) = k.zip(state) else {
                    return Some(Box::pin(async move {
                        Done::Backtest(key, Err("no history for it yet".into()))
                    }));
                };
                let samples: Vec<Sample> = k.history.iter().collect();
                let opts = backtest::HistoryReplayOptions {
                    advisor: advisor.config().clone(),
                    ..backtest::HistoryReplayOptions::for_deployment(state)
                };
                let rx = self.pool.run(move || {
                    backtest::replay_history(&samples, &opts)
                        .map(Box::new)
                        .map_err(|e| e.to_string())
                });
                Some(Box::pin(async move {
                    let result = flatten(rx.await)
                        .unwrap_or_else(|e| Err(format!("the replay failed: {e}")));
                    Done::Backtest(key, result)
                }))
            }
        }
    }
}

/// A worker's answer: its result, or why there is none (it panicked, or no worker ran it).
fn flatten<T>(
    answer: Result<Result<T, String>, tokio::sync::oneshot::error::RecvError>,
) -> Result<T, String> {
    answer.map_err(|_| "no worker ran it".to_string())?
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::AdvisorConfig;
    use crate::engine::{Command, EngineOptions, Update, spawn};
    use crate::sim::{SimCluster, SimWorld};

    #[tokio::test]
    async fn the_focused_deployment_is_forecast_before_the_rest() {
        let sim = SimCluster::new(SimWorld::demo(42, 48));
        let keys: Vec<DeploymentKey> = sim
            .world()
            .snapshot()
            .deployments
            .iter()
            .map(|d| d.key.clone())
            .collect();
        // Queued last (the snapshot's order), never forecast before: the stalest of equals.
        let focused = keys.last().expect("the demo has deployments").clone();
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let opts = EngineOptions {
            poll_every: Duration::from_millis(20),
            ..EngineOptions::default()
        };
        let (cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
        cmd.send(Command::Focus(vec![focused.clone()]))
            .expect("engine alive");
        let mut order = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while order.len() < keys.len() {
            let u = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("updates keep coming")
                .expect("engine alive");
            if let Update::Forecasts(k, _) = u
                && !order.contains(&k)
            {
                order.push(k);
            }
        }
        // At most the jobs the pool had started before the focus arrived came first.
        let at = order.iter().position(|k| k == &focused).expect("forecast");
        assert!(
            at <= pool::shared().workers(),
            "the focused deployment's forecast came {at}th of {}: {order:?}",
            order.len()
        );
    }
}
