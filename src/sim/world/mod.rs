//! The simulated cluster's state and its 15-second step: demand from traces, pods that start
//! after a delay, per-pod metrics like metrics-server's, and an HPA controller per deployment.
//!
//! Everything is a function of the seed and the number of steps taken, so two worlds built with
//! the same seed and stepped the same way are identical.
//!
//! This file holds the state and its construction; `step` moves it, `views` is what readers
//! see, `writes` is what clients change.

mod backdate;
pub mod keda;
mod step;
#[cfg(test)]
mod tests;
mod views;
mod writes;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::hpa::{Behavior, HpaConfig, HpaController, Reconcile};
use super::nodes::{self, SimNode};
use super::scenario::{self, DeploymentSpec};
use crate::cluster::{ClusterError, annotations};
use crate::model::{DeploymentKey, Sample, UnixSeconds};
use crate::traces::{Trace, embedded};

pub use backdate::Backdate;
pub use views::{DeploymentView, HpaView, PodView};

/// The HPA sync period and metrics-server's scrape interval.
pub const STEP_SECONDS: i64 = 15;
/// Monday 2026-03-02 00:00 UTC: the demo's history starts here, so a seed always means the
/// same calendar.
pub const EPOCH: UnixSeconds = 1_772_409_600;
/// A pod has its first metrics sample this long after it was created.
const FIRST_METRICS_AFTER: i64 = 30;
/// CPU limit as a multiple of the request: pods may burst up to it.
pub const CPU_LIMIT_FACTOR: f64 = 3.0;
/// Share of its request a starting pod burns before it is Ready.
const STARTUP_CPU_SHARE: f64 = 0.15;

#[derive(Clone, Debug)]
struct Pod {
    /// Unique within its deployment, in creation order (names the pod in `sim serve`).
    id: u64,
    created: UnixSeconds,
    ready_at: UnixSeconds,
    /// Per-pod spread of load around the mean (uneven load balancing).
    skew: f64,
    /// Last scrape, millicores and MiB; None before the pod's first metrics.
    cpu_usage: Option<f64>,
    mem_usage: Option<f64>,
}

impl Pod {
    fn ready(&self, now: UnixSeconds) -> bool {
        now >= self.ready_at
    }
}

#[derive(Clone, Debug)]
struct SimDeployment {
    spec: DeploymentSpec,
    key: DeploymentKey,
    trace: Arc<Trace>,
    trace_p99: f64,
    replicas: u32,
    pods: Vec<Pod>,
    hpa: Option<HpaController>,
    hpa_status: Option<HpaStatus>,
    annotations: BTreeMap<String, String>,
    /// Last scrape: average CPU and memory % of requests over pods with metrics.
    cpu_pct: Option<f64>,
    mem_pct: Option<f64>,
    /// Demand the ready pods could not serve at the last step, cores.
    unserved_cores: f64,
    minute: MinuteAccumulator,
    /// Id of the next pod created.
    next_pod_id: u64,
    labels: BTreeMap<String, String>,
    /// Who else owns its scaling (`keda.rs`).
    ownership: crate::model::Ownership,
}

#[derive(Clone, Debug, Default)]
struct HpaStatus {
    desired: u32,
    reason: String,
    last_scale_time: Option<UnixSeconds>,
    /// The last sync's outcome (None before the first sync).
    last: Option<Reconcile>,
}

/// How many replica changes the world remembers for `scale_records_since`.
const SCALE_LOG_LEN: usize = 4096;

/// One change of a deployment's spec.replicas, by the HPA or a write.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleRecord {
    /// Increases by one per record.
    pub seq: u64,
    pub time: UnixSeconds,
    pub key: DeploymentKey,
    pub from: u32,
    pub to: u32,
    /// Set when the HPA rescaled: its reason, worded like the controller's event.
    pub hpa_reason: Option<String>,
}

/// Averages the 15-second scrapes of one minute into one sample.
#[derive(Clone, Debug, Default)]
struct MinuteAccumulator {
    cpu_sum: f64,
    cpu_n: u32,
    mem_sum: f64,
    mem_n: u32,
}

impl MinuteAccumulator {
    fn add(&mut self, cpu: Option<f64>, mem: Option<f64>) {
        if let Some(c) = cpu {
            self.cpu_sum += c;
            self.cpu_n += 1;
        }
        if let Some(m) = mem {
            self.mem_sum += m;
            self.mem_n += 1;
        }
    }

    fn take(&mut self, timestamp: UnixSeconds, replicas: u32, ready: u32) -> Sample {
        let avg = |s: f64, n: u32| if n == 0 { f64::NAN } else { s / n as f64 };
        let sample = Sample {
            timestamp,
            cpu_pct: avg(self.cpu_sum, self.cpu_n),
            mem_pct: avg(self.mem_sum, self.mem_n),
            replicas,
            ready,
        };
        *self = Self::default();
        sample
    }
}

/// The whole simulated cluster.
#[derive(Clone, Debug)]
pub struct SimWorld {
    seed: u64,
    now: UnixSeconds,
    deployments: Vec<SimDeployment>,
    rng: ChaCha8Rng,
    /// Minute samples kept while `recording` (the warm-up history).
    history: Vec<Vec<Sample>>,
    recording: bool,
    /// Errors later writes return (after that many successes), for tests of the error paths.
    faults: Vec<(u32, ClusterError)>,
    /// Bumped by every step and every successful write: readers poll it to see change.
    generation: u64,
    scale_log: VecDeque<ScaleRecord>,
    next_scale_seq: u64,
    nodes: Vec<SimNode>,
    /// A cluster autoscaler runs (tests; the demo has none).
    autoscaler: bool,
}

impl SimWorld {
    /// A world of the given deployments at `EPOCH`, not yet stepped.
    pub fn new(seed: u64, specs: Vec<DeploymentSpec>) -> Self {
        let nodes = nodes::for_scenario(&specs);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut traces: BTreeMap<&'static str, (Arc<Trace>, f64)> = BTreeMap::new();
        let mut deployments = Vec::with_capacity(specs.len());
        for spec in specs {
            let (trace, p99) = traces
                .entry(spec.demand.trace)
                .or_insert_with(|| {
                    let t = embedded::load(spec.demand.trace).unwrap_or_else(|| Trace {
                        name: spec.demand.trace.to_string(),
                        start: 0,
                        step_seconds: 60,
                        values: vec![1.0],
                    });
                    let p99 = t.quantile(0.99);
                    (Arc::new(t), p99)
                })
                .clone();
            let mut annotations = BTreeMap::new();
            if spec.hpa.is_none() {
                annotations.insert(
                    annotations::MIN_REPLICAS.to_string(),
                    spec.min_replicas.to_string(),
                );
                annotations.insert(
                    annotations::MAX_REPLICAS.to_string(),
                    spec.max_replicas.to_string(),
                );
            }
            if spec.predictive {
                annotations.insert(annotations::PREDICTIVE.to_string(), "true".to_string());
            }
            let hpa = spec.hpa.as_ref().map(|h| {
                HpaController::new(HpaConfig {
                    min_replicas: spec.min_replicas,
                    max_replicas: spec.max_replicas,
                    target_cpu_pct: h.target_cpu_pct,
                    target_mem_pct: h.target_mem_pct,
                    behavior: Behavior::default(),
                })
            });
            let pods = (0..spec.initial_replicas)
                .map(|id| Pod {
                    id: u64::from(id),
                    created: EPOCH - 3600,
                    ready_at: EPOCH - 3600,
                    skew: 1.0 + rng.random_range(-0.08..0.08),
                    cpu_usage: None,
                    mem_usage: None,
                })
                .collect();
            deployments.push(SimDeployment {
                key: DeploymentKey::new(spec.namespace, spec.name),
                trace,
                trace_p99: p99,
                replicas: spec.initial_replicas,
                pods,
                hpa_status: hpa.as_ref().map(|_| HpaStatus {
                    desired: spec.initial_replicas,
                    reason: "DesiredWithinRange".into(),
                    last_scale_time: None,
                    last: None,
                }),
                hpa,
                annotations,
                cpu_pct: None,
                mem_pct: None,
                unserved_cores: 0.0,
                minute: MinuteAccumulator::default(),
                next_pod_id: u64::from(spec.initial_replicas),
                labels: BTreeMap::from([("app".to_string(), spec.name.to_string())]),
                ownership: crate::model::Ownership::default(),
                spec,
            });
        }
        let n = deployments.len();
        Self {
            seed,
            now: EPOCH,
            deployments,
            rng,
            history: vec![Vec::new(); n],
            recording: false,
            faults: Vec::new(),
            generation: 0,
            scale_log: VecDeque::new(),
            next_scale_seq: 0,
            nodes,
            autoscaler: false,
        }
    }

    /// The demo cluster after `history_hours` of simulated time, with that history recorded.
    pub fn demo(seed: u64, history_hours: u32) -> Self {
        Self::warmed_up(seed, scenario::demo(), history_hours)
    }

    /// Any set of deployments after a recorded warm-up.
    pub fn warmed_up(seed: u64, specs: Vec<DeploymentSpec>, history_hours: u32) -> Self {
        let mut w = Self::new(seed, specs);
        w.recording = true;
        w.advance(history_hours as i64 * 3600);
        w.recording = false;
        w
    }

    /// Keep (or stop keeping) minute samples as history, so a warm-up stepped elsewhere
    /// (`SimCluster::warming_up`, in the background) records like `warmed_up`.
    pub fn record_history(&mut self, on: bool) {
        self.recording = on;
    }

    pub fn now(&self) -> UnixSeconds {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Bumped by every step and every successful write.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn record_scale(&mut self, i: usize, from: u32, to: u32, hpa_reason: Option<String>) {
        if from == to {
            return;
        }
        if self.scale_log.len() == SCALE_LOG_LEN {
            self.scale_log.pop_front();
        }
        self.scale_log.push_back(ScaleRecord {
            seq: self.next_scale_seq,
            time: self.now,
            key: self.deployments[i].key.clone(),
            from,
            to,
            hpa_reason,
        });
        self.next_scale_seq += 1;
    }

    fn find(&self, key: &DeploymentKey) -> Result<usize, ClusterError> {
        self.deployments
            .iter()
            .position(|d| &d.key == key)
            .ok_or_else(|| {
                ClusterError::NotFound(format!("deployments.apps \"{}\" not found", key.name))
            })
    }

    /// The index of a deployment that has an HPA, or the API server's 404 for the HPA.
    fn find_hpa(&self, key: &DeploymentKey) -> Result<usize, ClusterError> {
        let i = self.find(key)?;
        if self.deployments[i].hpa.is_none() {
            return Err(ClusterError::NotFound(format!(
                "horizontalpodautoscalers.autoscaling \"{}\" not found",
                key.name
            )));
        }
        Ok(i)
    }
}
