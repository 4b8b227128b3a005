//! The simulated cluster's state and its 15-second step: demand from traces, pods that start
//! after a delay, per-pod metrics like metrics-server's, and an HPA controller per deployment.
//!
//! Everything is a function of the seed and the number of steps taken, so two worlds built with
//! the same seed and stepped the same way are identical.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::hpa::{Behavior, HpaConfig, HpaController, PodSample, Reconcile};
use super::nodes::{self, SimNode};
use super::scenario::{self, DeploymentSpec};
use crate::cluster::{ClusterError, HpaExpect, HpaSpec, annotations, deployment_bounds};
use crate::model::{
    ClusterCapacity, ClusterSnapshot, DeploymentKey, DeploymentState, HpaState, Resources, Sample,
    UnixSeconds,
};
use crate::traces::{Trace, embedded};

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

/// A pod as `sim serve` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PodView {
    pub id: u64,
    pub created: UnixSeconds,
    pub ready_at: UnixSeconds,
    pub ready: bool,
    /// Usage at the last scrape, millicores and MiB; None before the first metrics.
    pub cpu_usage_millis: Option<f64>,
    pub mem_usage_mib: Option<f64>,
    /// Index in `SimWorld::nodes()` of the node it runs on.
    pub node: usize,
}

/// An HPA as `sim serve` shows it.
#[derive(Clone, Debug)]
pub struct HpaView {
    pub config: HpaConfig,
    /// False when `spec.behavior` is unset.
    pub with_behavior: bool,
    pub desired_replicas: u32,
    pub last_scale_time: Option<UnixSeconds>,
    /// The last sync's outcome (None before the first sync).
    pub last: Option<Reconcile>,
}

/// A deployment with its pods and HPA, as `sim serve` shows it.
#[derive(Clone, Debug)]
pub struct DeploymentView<'a> {
    pub key: &'a DeploymentKey,
    pub spec: &'a DeploymentSpec,
    pub replicas: u32,
    pub pods: Vec<PodView>,
    pub annotations: &'a BTreeMap<String, String>,
    pub labels: &'a BTreeMap<String, String>,
    pub hpa: Option<HpaView>,
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

    pub fn now(&self) -> UnixSeconds {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Step the world forward by whole 15-second steps covering `seconds`.
    pub fn advance(&mut self, seconds: i64) {
        for _ in 0..(seconds / STEP_SECONDS) {
            self.step();
        }
    }

    /// One 15-second step: demand, readiness, scrape, HPA sync, pod churn, minute samples.
    pub fn step(&mut self) {
        self.now += STEP_SECONDS;
        self.generation += 1;
        let now = self.now;
        let mut rescaled = Vec::new();
        for (i, d) in self.deployments.iter_mut().enumerate() {
            let demand = demand_cores(self.seed, i, d, now);
            let pods = scrape(d, demand, now);
            d.minute.add(d.cpu_pct, d.mem_pct);

            if let Some(hpa) = d.hpa.as_mut() {
                let r = hpa.reconcile(now, d.replicas, &pods);
                let status = d.hpa_status.get_or_insert_with(HpaStatus::default);
                status.desired = r.desired_replicas;
                status.reason = match &r.metrics_error {
                    Some(e) => format!("metrics: {e}"),
                    None => r.reason.to_string(),
                };
                if r.desired_replicas != d.replicas {
                    let reason = rescale_reason(&r, d.replicas, &hpa.config);
                    rescaled.push((i, d.replicas, r.desired_replicas, reason));
                    d.replicas = r.desired_replicas;
                    status.last_scale_time = Some(now);
                }
                status.last = Some(r);
            }
            reconcile_pods(d, now, &mut self.rng);

            if now % 60 == 0 {
                let ready = d.pods.iter().filter(|p| p.ready(now)).count() as u32;
                let sample = d.minute.take(now, d.replicas, ready);
                if self.recording {
                    self.history[i].push(sample);
                }
            }
        }
        for (i, from, to, reason) in rescaled {
            self.record_scale(i, from, to, Some(reason));
        }
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

    /// Replica changes with `seq >= from_seq` still remembered (the last 4,096), oldest first.
    pub fn scale_records_since(&self, from_seq: u64) -> Vec<ScaleRecord> {
        self.scale_log
            .iter()
            .filter(|r| r.seq >= from_seq)
            .cloned()
            .collect()
    }

    /// The sequence number the next scale record will get.
    pub fn next_scale_seq(&self) -> u64 {
        self.next_scale_seq
    }

    /// Every deployment's key, in the world's order.
    pub fn deployment_keys(&self) -> Vec<DeploymentKey> {
        self.deployments.iter().map(|d| d.key.clone()).collect()
    }

    /// One deployment with its pods and HPA, as an API server would show it.
    pub fn deployment_view(&self, key: &DeploymentKey) -> Option<DeploymentView<'_>> {
        let i = self.find(key).ok()?;
        let d = &self.deployments[i];
        let now = self.now;
        Some(DeploymentView {
            key: &d.key,
            spec: &d.spec,
            replicas: d.replicas,
            pods: d
                .pods
                .iter()
                .map(|p| PodView {
                    id: p.id,
                    created: p.created,
                    ready_at: p.ready_at,
                    ready: p.ready(now),
                    cpu_usage_millis: p.cpu_usage,
                    mem_usage_mib: p.mem_usage,
                    node: nodes::placement(self.nodes.len(), i, p.id),
                })
                .collect(),
            annotations: &d.annotations,
            labels: &d.labels,
            hpa: d.hpa.as_ref().map(|h| {
                let status = d.hpa_status.clone().unwrap_or_default();
                HpaView {
                    config: h.config.clone(),
                    with_behavior: h.uses_behavior(),
                    desired_replicas: status.desired,
                    last_scale_time: status.last_scale_time,
                    last: status.last,
                }
            }),
        })
    }

    /// The cluster as `kubectl get deploy,hpa` plus `kubectl top` would show it.
    pub fn snapshot(&self) -> ClusterSnapshot {
        ClusterSnapshot {
            context: "demo".into(),
            time: self.now,
            deployments: self.deployments.iter().map(|d| self.state_of(d)).collect(),
            capacity: Some(self.capacity()),
        }
    }

    /// The nodes, as `kubectl get nodes` shows them.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// Replace the nodes (tests of a full cluster) and say whether an autoscaler runs.
    pub fn set_nodes(&mut self, nodes: Vec<SimNode>, autoscaler: bool) {
        self.nodes = nodes;
        self.autoscaler = autoscaler;
        self.generation += 1;
    }

    /// The index in `nodes()` of the node a deployment's pod runs on.
    pub fn node_of(&self, key: &DeploymentKey, pod_id: u64) -> Option<usize> {
        let i = self.find(key).ok()?;
        (!self.nodes.is_empty()).then(|| nodes::placement(self.nodes.len(), i, pod_id))
    }

    /// The requests of the pods on each node (every pod is placed), in `nodes()` order.
    pub fn requested_per_node(&self) -> Vec<Resources> {
        let mut per = vec![Resources::default(); self.nodes.len()];
        for (i, d) in self.deployments.iter().enumerate() {
            for p in &d.pods {
                let n = nodes::placement(self.nodes.len(), i, p.id);
                if let Some(r) = per.get_mut(n) {
                    *r = r.saturating_add(Resources {
                        cpu_millis: u64::from(d.spec.cpu_request_millis),
                        mem_mib: u64::from(d.spec.mem_request_mib),
                        pods: 1,
                    });
                }
            }
        }
        per
    }

    /// The nodes' allocatable against the requests of every pod.
    pub fn capacity(&self) -> ClusterCapacity {
        let requested = self
            .requested_per_node()
            .into_iter()
            .fold(Resources::default(), Resources::saturating_add);
        nodes::capacity(&self.nodes, requested, self.autoscaler)
    }

    fn state_of(&self, d: &SimDeployment) -> DeploymentState {
        let ready = d.pods.iter().filter(|p| p.ready(self.now)).count() as u32;
        let hpa = d.hpa.as_ref().map(|h| {
            let status = d.hpa_status.clone().unwrap_or_default();
            HpaState {
                name: d.spec.name.to_string(),
                min_replicas: h.config.min_replicas,
                max_replicas: h.config.max_replicas,
                target_cpu_pct: h.config.target_cpu_pct,
                target_mem_pct: h.config.target_mem_pct,
                current_replicas: d.replicas,
                desired_replicas: status.desired,
                scaling_status: scaling_status(&status.reason, d.replicas, h.config.max_replicas),
                last_scale_time: status.last_scale_time,
                metrics: Vec::new(),
            }
        });
        let annotated = |k: &str| d.annotations.get(k).and_then(|v| v.parse::<u32>().ok());
        let annotated_bounds = (
            annotated(annotations::MIN_REPLICAS),
            annotated(annotations::MAX_REPLICAS),
        );
        let (min, max) = deployment_bounds(annotated_bounds, hpa.as_ref(), d.replicas);
        DeploymentState {
            key: d.key.clone(),
            desired_replicas: d.replicas,
            ready_replicas: ready,
            total_pods: d.pods.len() as u32,
            min_replicas: min,
            max_replicas: max,
            cpu_request_millis: d.spec.cpu_request_millis,
            mem_request_mib: d.spec.mem_request_mib,
            cpu_pct: d.cpu_pct,
            mem_pct: d.mem_pct,
            hpa,
            predictive_enabled: d
                .annotations
                .get(annotations::PREDICTIVE)
                .is_some_and(|v| v == "true"),
            annotated_bounds,
            floor_mark: d
                .annotations
                .get(annotations::FLOOR)
                .and_then(|v| crate::model::FloorMark::parse(v)),
            write_block: None,
        }
    }

    /// Minute samples recorded during the warm-up, per deployment.
    pub fn history(&self) -> Vec<(DeploymentKey, Vec<Sample>)> {
        self.deployments
            .iter()
            .zip(&self.history)
            .map(|(d, h)| (d.key.clone(), h.clone()))
            .collect()
    }

    /// Demand (cores) not served by ready capacity at the last step, per deployment.
    pub fn unserved_cores(&self, key: &DeploymentKey) -> Option<f64> {
        self.find(key)
            .ok()
            .map(|i| self.deployments[i].unserved_cores)
    }

    /// Make the next write fail with `error` (tests of the 403/409 paths).
    pub fn inject_fault(&mut self, error: ClusterError) {
        self.inject_fault_after(0, error);
    }

    /// Let `successes` writes through, then fail one with `error` (tests of rollback).
    pub fn inject_fault_after(&mut self, successes: u32, error: ClusterError) {
        self.faults.push((successes, error));
    }

    fn take_fault(&mut self) -> Result<(), ClusterError> {
        match self.faults.first_mut() {
            None => Ok(()),
            Some((skip, _)) if *skip > 0 => {
                *skip -= 1;
                Ok(())
            }
            Some(_) => Err(self.faults.remove(0).1),
        }
    }

    fn find(&self, key: &DeploymentKey) -> Result<usize, ClusterError> {
        self.deployments
            .iter()
            .position(|d| &d.key == key)
            .ok_or_else(|| {
                ClusterError::NotFound(format!("deployments.apps \"{}\" not found", key.name))
            })
    }

    /// `/scale`: set spec.replicas (an HPA, if any, may move it again at its next sync).
    pub fn scale(&mut self, key: &DeploymentKey, replicas: u32) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        let from = self.deployments[i].replicas;
        self.deployments[i].replicas = replicas;
        let now = self.now;
        reconcile_pods(&mut self.deployments[i], now, &mut self.rng);
        self.record_scale(i, from, replicas, None);
        self.generation += 1;
        Ok(())
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

    /// The HPA still shows what a patch was decided on (its name is the deployment's here).
    pub fn expect_hpa(&self, key: &DeploymentKey, expect: &HpaExpect) -> Result<(), ClusterError> {
        let i = self.find_hpa(key)?;
        let Some(hpa) = self.deployments[i].hpa.as_ref() else {
            return Err(ClusterError::NotFound(key.name.clone()));
        };
        let c = &hpa.config;
        expect.check(&key.name, c.min_replicas, c.max_replicas, c.target_cpu_pct)
    }

    pub fn patch_hpa(
        &mut self,
        key: &DeploymentKey,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Result<(), ClusterError> {
        let i = self.find_hpa(key)?;
        let Some(hpa) = self.deployments[i].hpa.as_ref() else {
            return Err(ClusterError::NotFound(key.name.clone()));
        };
        let new_min = min.unwrap_or(hpa.config.min_replicas);
        let new_max = max.unwrap_or(hpa.config.max_replicas);
        if new_min < 1 || new_min > new_max {
            return Err(ClusterError::Invalid(format!(
                "spec.minReplicas {new_min} must be at least 1 and at most spec.maxReplicas {new_max}"
            )));
        }
        self.take_fault()?;
        let hpa = self.deployments[i]
            .hpa
            .as_mut()
            .ok_or_else(|| ClusterError::NotFound(key.name.clone()))?;
        hpa.config.min_replicas = new_min;
        hpa.config.max_replicas = new_max;
        self.generation += 1;
        Ok(())
    }

    pub fn patch_hpa_target(
        &mut self,
        key: &DeploymentKey,
        cpu_pct: u32,
    ) -> Result<(), ClusterError> {
        let i = self.find_hpa(key)?;
        if self.deployments[i]
            .hpa
            .as_ref()
            .is_none_or(|h| h.config.target_cpu_pct.is_none())
        {
            return Err(ClusterError::Invalid(format!(
                "hpa {} has no CPU utilization target to move",
                key.name
            )));
        }
        if !(1..=100).contains(&cpu_pct) {
            return Err(ClusterError::Invalid(format!(
                "a CPU target of {cpu_pct} % is outside 1..=100"
            )));
        }
        self.take_fault()?;
        if let Some(hpa) = self.deployments[i].hpa.as_mut() {
            hpa.config.target_cpu_pct = Some(cpu_pct);
        }
        self.generation += 1;
        Ok(())
    }

    pub fn annotate(
        &mut self,
        key: &DeploymentKey,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        let d = &mut self.deployments[i];
        for (k, v) in changes {
            match v {
                Some(v) => d.annotations.insert(k.clone(), v.clone()),
                None => d.annotations.remove(k),
            };
        }
        self.generation += 1;
        Ok(())
    }

    pub fn create_hpa(&mut self, key: &DeploymentKey, spec: &HpaSpec) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        if self.deployments[i].hpa.is_some() {
            return Err(ClusterError::Conflict(format!(
                "horizontalpodautoscalers.autoscaling \"{}\" already exists",
                key.name
            )));
        }
        if spec.min_replicas < 1 || spec.min_replicas > spec.max_replicas {
            return Err(ClusterError::Invalid(format!(
                "spec.minReplicas {} must be at least 1 and at most spec.maxReplicas {}",
                spec.min_replicas, spec.max_replicas
            )));
        }
        if spec.target_cpu_pct.is_none() && spec.target_mem_pct.is_none() {
            return Err(ClusterError::Invalid(
                "spec.metrics: at least one target is required".into(),
            ));
        }
        self.take_fault()?;
        let d = &mut self.deployments[i];
        d.hpa = Some(HpaController::new(HpaConfig {
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            target_cpu_pct: spec.target_cpu_pct,
            target_mem_pct: spec.target_mem_pct,
            behavior: Behavior::default(),
        }));
        d.hpa_status = Some(HpaStatus {
            desired: d.replicas,
            reason: "DesiredWithinRange".into(),
            last_scale_time: None,
            last: None,
        });
        self.generation += 1;
        Ok(())
    }

    /// Replace the deployment's labels.
    pub fn set_labels(
        &mut self,
        key: &DeploymentKey,
        labels: BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        self.deployments[i].labels = labels;
        self.generation += 1;
        Ok(())
    }

    /// Replace the deployment's annotations.
    pub fn set_annotations(
        &mut self,
        key: &DeploymentKey,
        annotations: BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        self.deployments[i].annotations = annotations;
        self.generation += 1;
        Ok(())
    }

    /// Create the deployment's HPA, or replace its spec keeping the controller's memory
    /// (recommendations, scale events), as the real controller keeps it across spec updates.
    /// `with_behavior`: whether `spec.behavior` is set. The caller validates the config.
    pub fn put_hpa(
        &mut self,
        key: &DeploymentKey,
        config: HpaConfig,
        with_behavior: bool,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        let d = &mut self.deployments[i];
        match d.hpa.as_mut() {
            Some(h) => h.set_config(config, with_behavior),
            None => {
                d.hpa = Some(if with_behavior {
                    HpaController::new(config)
                } else {
                    HpaController::without_behavior(config)
                });
                d.hpa_status = Some(HpaStatus {
                    desired: d.replicas,
                    reason: "DesiredWithinRange".into(),
                    last_scale_time: None,
                    last: None,
                });
            }
        }
        self.generation += 1;
        Ok(())
    }

    /// Remove the deployment's HPA.
    pub fn delete_hpa(&mut self, key: &DeploymentKey) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        if self.deployments[i].hpa.is_none() {
            return Err(ClusterError::NotFound(format!(
                "horizontalpodautoscalers.autoscaling \"{}\" not found",
                key.name
            )));
        }
        self.take_fault()?;
        let d = &mut self.deployments[i];
        d.hpa = None;
        d.hpa_status = None;
        self.generation += 1;
        Ok(())
    }
}

/// The reason in the controller's SuccessfulRescale event ("New size: N; reason: …").
fn rescale_reason(r: &Reconcile, current: u32, config: &HpaConfig) -> String {
    if r.reason == "TooManyReplicas" && current > config.max_replicas {
        return "Current number of replicas above Spec.MaxReplicas".into();
    }
    if r.reason == "TooFewReplicas" && current < config.min_replicas {
        return "Current number of replicas below Spec.MinReplicas".into();
    }
    if r.desired_replicas < current {
        return "All metrics below target".into();
    }
    // The metric that asked for the most replicas: the highest usage-to-target ratio.
    let ratio = |u: Option<u32>, t: Option<u32>| match (u, t) {
        (Some(u), Some(t)) if t > 0 => f64::from(u) / f64::from(t),
        _ => f64::NEG_INFINITY,
    };
    let cpu_target = match (config.target_cpu_pct, config.target_mem_pct) {
        (None, None) => Some(super::hpa::DEFAULT_CPU_UTILIZATION),
        (c, _) => c,
    };
    let metric =
        if ratio(r.mem_utilization, config.target_mem_pct) > ratio(r.cpu_utilization, cpu_target) {
            "memory"
        } else {
            "cpu"
        };
    format!("{metric} resource utilization (percentage of request) above target")
}

/// Demand in cores for deployment `i` at `now`, with seeded per-minute noise.
fn demand_cores(seed: u64, i: usize, d: &SimDeployment, now: UnixSeconds) -> f64 {
    let base = scenario::base_demand(&d.spec.demand, &d.trace, d.trace_p99, now - EPOCH);
    let minute = (now - EPOCH).div_euclid(60) as u64;
    // Noise depends only on (seed, deployment, minute): replays and restarts agree.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((i as u64 + 1) << 40) ^ minute);
    let n = d.spec.demand.noise;
    base * (1.0 + rng.random_range(-n..=n)).max(0.0)
}

/// metrics-server's view of the deployment's pods; updates the deployment's averages.
fn scrape(d: &mut SimDeployment, demand: f64, now: UnixSeconds) -> Vec<PodSample> {
    let ready = d.pods.iter().filter(|p| p.ready(now)).count();
    let cpu_req = d.spec.cpu_request_millis as f64;
    let mem_req = d.spec.mem_request_mib as f64;
    let limit = cpu_req * CPU_LIMIT_FACTOR;
    let per_pod = if ready > 0 {
        demand * 1000.0 / ready as f64
    } else {
        0.0
    };
    let mut served = 0.0;
    let (mut cpu_sum, mut mem_sum, mut req_n) = (0.0, 0.0, 0u32);
    let samples: Vec<PodSample> = d
        .pods
        .iter_mut()
        .map(|p| {
            let is_ready = p.ready(now);
            let cpu = if is_ready {
                (per_pod * p.skew).min(limit)
            } else {
                cpu_req * STARTUP_CPU_SHARE
            };
            if is_ready {
                served += cpu;
            }
            let mem = d.spec.mem_base_mib + d.spec.mem_per_core_mib * cpu / 1000.0;
            let has_metrics = now - p.created >= FIRST_METRICS_AFTER;
            p.cpu_usage = has_metrics.then_some(cpu);
            p.mem_usage = has_metrics.then_some(mem);
            if has_metrics {
                cpu_sum += cpu;
                mem_sum += mem;
                req_n += 1;
            }
            PodSample {
                pending: false,
                deleting: false,
                ready: is_ready,
                start_time: p.created,
                ready_transition: if is_ready { p.ready_at } else { p.created },
                cpu_usage: has_metrics.then_some(cpu),
                mem_usage: has_metrics.then_some(mem),
                metric_timestamp: now,
                metric_window_seconds: STEP_SECONDS,
                cpu_request: cpu_req,
                mem_request: mem_req,
            }
        })
        .collect();
    d.unserved_cores = (demand - served / 1000.0).max(0.0);
    if req_n > 0 {
        d.cpu_pct = Some(cpu_sum / (cpu_req * req_n as f64) * 100.0);
        d.mem_pct = Some(mem_sum / (mem_req * req_n as f64) * 100.0);
    } else {
        d.cpu_pct = None;
        d.mem_pct = None;
    }
    samples
}

/// The ReplicaSet controller: create pods up to spec.replicas, delete the surplus (pods that are
/// not ready first, then the newest, as Kubernetes ranks them).
fn reconcile_pods(d: &mut SimDeployment, now: UnixSeconds, rng: &mut ChaCha8Rng) {
    let want = d.replicas as usize;
    while d.pods.len() < want {
        let s = d.spec.startup_seconds as f64;
        let delay = (s * rng.random_range(0.75..1.25)).round() as i64;
        d.pods.push(Pod {
            id: d.next_pod_id,
            created: now,
            ready_at: now + delay.max(1),
            skew: 1.0 + rng.random_range(-0.08..0.08),
            cpu_usage: None,
            mem_usage: None,
        });
        d.next_pod_id += 1;
    }
    if d.pods.len() > want {
        d.pods
            .sort_by_key(|p| (p.ready(now), std::cmp::Reverse(p.created)));
        let surplus = d.pods.len() - want;
        d.pods.drain(..surplus);
        d.pods.sort_by_key(|p| p.created);
    }
}

fn scaling_status(reason: &str, replicas: u32, max: u32) -> String {
    if reason.starts_with("metrics:") {
        return reason.to_string();
    }
    match reason {
        "TooManyReplicas" => "at max".into(),
        "ScaleUpLimit" => "limited: scale-up rate".into(),
        "ScaleDownLimit" => "limited: scale-down rate".into(),
        "TooFewReplicas" => "at min".into(),
        _ if replicas >= max => "at max".into(),
        _ => "stable".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> DeploymentKey {
        DeploymentKey::new(ns, name)
    }

    #[test]
    fn same_seed_same_world_different_seed_different_noise() {
        let a = SimWorld::demo(7, 24);
        let b = SimWorld::demo(7, 24);
        let c = SimWorld::demo(8, 24);
        assert_eq!(a.snapshot(), b.snapshot());
        assert_eq!(a.history(), b.history());
        assert_ne!(a.snapshot(), c.snapshot());
        assert_eq!(a.now(), EPOCH + 24 * 3600);
    }

    #[test]
    fn warm_up_records_a_minute_sample_per_deployment_per_minute() {
        let w = SimWorld::demo(1, 24);
        for (k, h) in w.history() {
            assert_eq!(h.len(), 24 * 60, "{k}");
            assert!(h.windows(2).all(|p| p[1].timestamp - p[0].timestamp == 60));
            let known = h.iter().filter(|s| s.cpu_pct.is_finite()).count();
            assert!(known > 24 * 60 - 5, "{k}: {known} minutes with metrics");
        }
    }

    #[test]
    fn new_pods_become_ready_after_their_startup_delay_and_report_metrics_late() {
        let mut w = SimWorld::new(3, scenario::demo());
        let k = key("payments", "ledger"); // no HPA, 90 s start-up
        w.scale(&k, 5).expect("scale");
        let s = w.snapshot();
        let d = s.deployments.iter().find(|d| d.key == k).expect("ledger");
        assert_eq!(
            (d.desired_replicas, d.ready_replicas, d.total_pods),
            (5, 3, 5)
        );
        w.advance(60);
        let d = w
            .snapshot()
            .deployments
            .into_iter()
            .find(|d| d.key == k)
            .expect("ledger");
        assert_eq!(d.ready_replicas, 3, "start-up takes at least 67 s");
        w.advance(60);
        let d = w
            .snapshot()
            .deployments
            .into_iter()
            .find(|d| d.key == k)
            .expect("ledger");
        assert_eq!(d.ready_replicas, 5, "start-up takes at most 113 s");
    }

    #[test]
    fn the_hpa_scales_a_deployment_with_demand_and_the_pinned_one_sits_at_max() {
        let w = SimWorld::demo(42, 48);
        let h = w.history();
        let frontend = &h
            .iter()
            .find(|(k, _)| k.name == "frontend")
            .expect("frontend")
            .1;
        let (lo, hi) = frontend.iter().fold((u32::MAX, 0), |(lo, hi), s| {
            (lo.min(s.replicas), hi.max(s.replicas))
        });
        assert!(
            hi >= lo + 3,
            "frontend followed its daily cycle: {lo}..{hi}"
        );
        let s = w.snapshot();
        let search = s
            .deployments
            .iter()
            .find(|d| d.key.name == "search")
            .expect("search");
        let hpa = search.hpa.as_ref().expect("search has an HPA");
        assert_eq!(search.desired_replicas, hpa.max_replicas);
        assert!(search.cpu_pct.unwrap_or(0.0) > 65.0, "{:?}", search.cpu_pct);
    }

    #[test]
    fn writes_validate_and_faults_surface() {
        let mut w = SimWorld::new(3, scenario::demo());
        let k = key("shop", "frontend");
        assert!(matches!(
            w.patch_hpa(&k, Some(9), Some(4)),
            Err(ClusterError::Invalid(_))
        ));
        w.patch_hpa(&k, Some(5), None).expect("patch");
        assert_eq!(w.snapshot().deployments[0].min_replicas, 5);
        w.inject_fault(ClusterError::Conflict(
            "the object has been modified".into(),
        ));
        assert!(matches!(w.scale(&k, 3), Err(ClusterError::Conflict(_))));
        assert_eq!(
            w.snapshot().deployments[0].desired_replicas,
            4,
            "nothing half applied"
        );
        assert!(matches!(
            w.scale(&key("x", "y"), 1),
            Err(ClusterError::NotFound(_))
        ));
        let ledger = key("payments", "ledger");
        w.annotate(
            &ledger,
            &[(annotations::PREDICTIVE.into(), Some("true".into()))],
        )
        .expect("annotate");
        let s = w.snapshot();
        assert!(
            s.deployments
                .iter()
                .any(|d| d.key == ledger && d.predictive_enabled)
        );
        assert!(matches!(
            w.create_hpa(
                &k,
                &HpaSpec {
                    min_replicas: 1,
                    max_replicas: 3,
                    target_cpu_pct: Some(70),
                    target_mem_pct: None
                }
            ),
            Err(ClusterError::Conflict(_))
        ));
        w.create_hpa(
            &ledger,
            &HpaSpec {
                min_replicas: 2,
                max_replicas: 5,
                target_cpu_pct: Some(70),
                target_mem_pct: None,
            },
        )
        .expect("create");
        assert!(
            w.snapshot()
                .deployments
                .iter()
                .any(|d| d.key == ledger && d.hpa.is_some())
        );
    }
}
