//! The replay model on a virtual clock: demand per tick, pods that serve `startup` after they are
//! created, and the lagged metrics policies see. One `Replay` per policy; nothing sleeps.

use crate::model::UnixSeconds;
use crate::sim::hpa::PodSample;

use super::demand::Demand;
use super::metrics::Scorer;
use super::options::ModelOptions;

/// Milli-units of CPU one replica is requested (and can serve): the capacity unit.
pub const REQUEST_MILLI: f64 = 1000.0;

/// One policy's cluster: the deployment's pods and what has been observed of them.
pub struct Replay<'a> {
    pub demand: &'a Demand,
    pub model: &'a ModelOptions,
    /// Creation time of each pod, oldest first; the newest are the unready ones.
    pods: Vec<UnixSeconds>,
    /// Served demand and ready pods per tick so far (the metrics source).
    served: Vec<f64>,
    ready: Vec<u32>,
    k: usize,
    lag_ticks: usize,
    startup: i64,
    pub score: Scorer,
    /// Every change of spec.replicas: (time, new count).
    pub events: Vec<(UnixSeconds, u32)>,
}

impl<'a> Replay<'a> {
    /// A deployment with `initial` pods, all long ready.
    pub fn new(
        demand: &'a Demand,
        model: &'a ModelOptions,
        scored_from: usize,
        initial: u32,
    ) -> Self {
        let old = demand.start - 3600 - model.startup_seconds;
        Self {
            demand,
            model,
            pods: vec![old; initial as usize],
            served: Vec::with_capacity(demand.len()),
            ready: Vec::with_capacity(demand.len()),
            k: 0,
            lag_ticks: (model.lag_seconds / demand.tick_seconds).max(0) as usize,
            startup: model.startup_seconds,
            score: Scorer::new(scored_from, demand.tick_seconds, model.flap_window_seconds),
            events: Vec::new(),
        }
    }

    pub fn tick(&self) -> usize {
        self.k
    }

    pub fn now(&self) -> UnixSeconds {
        self.demand.time(self.k)
    }

    pub fn replicas(&self) -> u32 {
        self.pods.len() as u32
    }

    fn ready_at(&self, t: UnixSeconds) -> u32 {
        // Pods are sorted by creation, so the ready ones are a prefix.
        self.pods.partition_point(|&c| c + self.startup <= t) as u32
    }

    pub fn ready_now(&self) -> u32 {
        self.ready_at(self.now())
    }

    /// Serve this tick's demand with the ready pods and score it. Call once per tick, before
    /// the policy acts.
    pub fn observe(&mut self) {
        let d = self.demand.values[self.k];
        let ready = self.ready_at(self.now());
        let served = d.min(ready as f64);
        self.served.push(served);
        self.ready.push(ready);
        self.score
            .record_tick(self.k, d, ready as f64, self.pods.len() as f64);
        self.score.record_sizing(self.k, ready);
    }

    /// Move to the next tick; false at the end of the trace.
    pub fn advance(&mut self) -> bool {
        self.k += 1;
        self.k < self.demand.len()
    }

    /// Index of the tick whose metrics are visible now (the lag), clamped to the first tick.
    fn lagged_index(&self) -> usize {
        self.k.saturating_sub(self.lag_ticks)
    }

    /// The newest observation policies may see now: (time, served demand, ready pods).
    pub fn lagged(&self) -> (UnixSeconds, f64, u32) {
        let j = self.lagged_index().min(self.served.len().saturating_sub(1));
        (
            self.demand.time(j),
            self.served.get(j).copied().unwrap_or(0.0),
            self.ready.get(j).copied().unwrap_or(0),
        )
    }

    /// The observation made visible at this tick for the first time, if any (feeds histories).
    pub fn newly_visible(&self) -> Option<(UnixSeconds, f64)> {
        let j = self.k.checked_sub(self.lag_ticks)?;
        Some((self.demand.time(j), *self.served.get(j)?))
    }

    /// Everything observed so far, as the metrics show it: (start, step, served demand per
    /// tick up to the newest visible sample).
    pub fn observed(&self) -> (UnixSeconds, i64, &[f64]) {
        let end = match self.k.checked_sub(self.lag_ticks) {
            Some(e) => (e + 1).min(self.served.len()),
            None => 0,
        };
        (
            self.demand.start,
            self.demand.tick_seconds,
            &self.served[..end],
        )
    }

    /// The highest served demand observed over the `seconds` up to the newest visible sample.
    pub fn recent_peak(&self, seconds: i64) -> Option<f64> {
        let end = self.k.checked_sub(self.lag_ticks)?;
        let n = (seconds / self.demand.tick_seconds).max(0) as usize;
        let v = self.served.get(end.saturating_sub(n)..=end)?;
        v.iter().copied().reduce(f64::max)
    }

    /// Lagged utilization of the pods that were ready, as a fraction of their request.
    pub fn lagged_utilization(&self) -> Option<f64> {
        let (_, served, ready) = self.lagged();
        (ready > 0).then(|| served / ready as f64)
    }

    /// What metrics-server would hand the HPA now, written into `buf` (reused across ticks).
    /// Usage is the lagged per-pod load; a pod that did not exist at the lagged instant has no
    /// sample yet, and one that was still starting reports 0 (the HPA treats it as unready).
    pub fn pod_samples(&self, buf: &mut Vec<PodSample>) {
        buf.clear();
        let now = self.now();
        let (m, served, ready) = self.lagged();
        let per_pod = if ready > 0 {
            served / ready as f64 * REQUEST_MILLI
        } else {
            0.0
        };
        let window = self.demand.tick_seconds;
        buf.extend(self.pods.iter().map(|&c| {
            let ready_at = c + self.startup;
            let is_ready = now >= ready_at;
            let usage = if m < c {
                None
            } else if m >= ready_at {
                Some(per_pod)
            } else {
                Some(0.0)
            };
            PodSample {
                pending: false,
                deleting: false,
                ready: is_ready,
                start_time: c,
                ready_transition: if is_ready { ready_at } else { c },
                cpu_usage: usage,
                mem_usage: None,
                metric_timestamp: m,
                metric_window_seconds: window,
                cpu_request: REQUEST_MILLI,
                mem_request: 0.0,
            }
        }));
    }

    /// Set spec.replicas: create pods now, or delete the unready and then the newest first
    /// (the ReplicaSet controller's order). Records a scale event when the count changes.
    pub fn set_replicas(&mut self, n: u32) {
        let n = n.clamp(self.model.min_replicas, self.model.max_replicas) as usize;
        let before = self.pods.len();
        if n == before {
            return;
        }
        let now = self.now();
        if n > before {
            self.pods.resize(n, now);
        } else {
            self.pods.truncate(n);
        }
        self.score.record_event(self.k, now, n > before);
        self.events.push((now, n as u32));
    }
}
