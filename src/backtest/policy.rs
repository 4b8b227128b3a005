//! The policies replayed: the HPA, the predictive floor over the HPA, the advisor (rules or LLM)
//! applied through the HPA's minReplicas, the oracles and a static size. Each acts once per
//! tick (the HPA's 15 s sync) on what it may see: lagged metrics, never the future (the oracle
//! excepted, by design).

use crate::actions::plan::Change;
use crate::advisor::Advisor;
use crate::advisor::predictive::{FloorPlanner, Observed, replicas_for};
use crate::cluster::sim::hpa::{Behavior, HpaConfig, HpaController, PodSample};
use crate::forecast::{self, ForecastOptions, SeriesInput};
use crate::model::{
    AdvisorInputs, DeploymentKey, DeploymentState, Forecast, HpaState, Recommendation,
    RecommendationSource, UnixSeconds,
};

use super::metrics::{ForecastScore, PolicyMetrics};
use super::sim::{Demand, REQUEST_MILLI, Replay};
use super::{Aggregate, ModelOptions, PolicyKind, PredictiveOptions};

/// What every policy of one run shares: the demand and what is derived from it once.
pub struct Shared<'a> {
    pub demand: &'a Demand,
    pub model: &'a ModelOptions,
    pub predictive: &'a PredictiveOptions,
    pub scored_from: usize,
    /// Highest demand over each tick's start-up + lag window (the oracles' foresight).
    pub window_max: Vec<f64>,
    /// True demand aggregated like the forecaster's series, per bucket (forecast scoring).
    pub truth: Vec<f64>,
}

impl<'a> Shared<'a> {
    pub fn new(
        demand: &'a Demand,
        model: &'a ModelOptions,
        predictive: &'a PredictiveOptions,
        scored_from: usize,
    ) -> Self {
        let w = ((model.startup_seconds + model.lag_seconds) / demand.tick_seconds).max(0) as usize;
        Self {
            demand,
            model,
            predictive,
            scored_from,
            window_max: window_max(&demand.values, w),
            truth: buckets(demand, predictive),
        }
    }

    fn initial_replicas(&self) -> u32 {
        let d0 = self.demand.values.first().copied().unwrap_or(0.0);
        replicas_for(d0, 1.0, self.model.target_utilization())
            .clamp(self.model.min_replicas, self.model.max_replicas)
    }

    fn replay(&self, initial: u32) -> Replay<'a> {
        Replay::new(self.demand, self.model, self.scored_from, initial)
    }
}

/// max(values[k ..= k + w]) for every k, in O(n) with a monotonic deque.
pub fn window_max(values: &[f64], w: usize) -> Vec<f64> {
    let n = values.len();
    let mut out = vec![0.0; n];
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    // Walk backwards: the window of k is [k, k + w].
    for k in (0..n).rev() {
        while dq.back().is_some_and(|&j| values[j] <= values[k]) {
            dq.pop_back();
        }
        dq.push_back(k);
        while dq.front().is_some_and(|&j| j > k + w) {
            dq.pop_front();
        }
        out[k] = dq.front().map_or(values[k], |&j| values[j]);
    }
    out
}

/// Demand aggregated into the forecaster's buckets.
fn buckets(demand: &Demand, p: &PredictiveOptions) -> Vec<f64> {
    let per = (p.step_seconds as i64 / demand.tick_seconds).max(1) as usize;
    demand
        .values
        .chunks(per)
        .filter(|c| c.len() == per)
        .map(|c| p.aggregate.of(c))
        .collect()
}

/// Run one synchronous policy over the whole trace.
pub fn run(kind: PolicyKind, shared: &Shared<'_>) -> PolicyMetrics {
    run_with_events(kind, shared).0
}

/// The same, with every change of spec.replicas: (time, new count).
pub fn run_with_events(
    kind: PolicyKind,
    shared: &Shared<'_>,
) -> (PolicyMetrics, Vec<(UnixSeconds, u32)>) {
    match kind {
        PolicyKind::Static => {
            let p99 = crate::traces::quantile(&shared.demand.values, 0.99);
            let n = replicas_for(p99, 1.0, shared.model.target_utilization())
                .clamp(shared.model.min_replicas, shared.model.max_replicas);
            drive(shared.replay(n), |_| {})
        }
        PolicyKind::Oracle100 | PolicyKind::Oracle70 => {
            let u = if kind == PolicyKind::Oracle100 {
                1.0
            } else {
                shared.model.target_utilization()
            };
            let size = |k: usize| replicas_for(shared.window_max[k], 1.0, u);
            drive(shared.replay(size(0)), |r| r.set_replicas(size(r.tick())))
        }
        PolicyKind::Hpa => {
            let mut hpa = Hpa::new(shared.model, shared.model.target_pct);
            drive(shared.replay(shared.initial_replicas()), |r| hpa.act(r))
        }
        PolicyKind::Predictive => {
            let p = shared.predictive;
            let mut hpa = Hpa::new(shared.model, p.hpa_target_pct);
            let mut fc = Forecaster::new(shared);
            let mut planner = FloorPlanner::new(
                p.sizing,
                shared.model.min_replicas,
                shared.model.max_replicas,
            );
            let mut latest: Option<Forecast> = None;
            let decide_every = p.decide_every_seconds.max(shared.demand.tick_seconds);
            let mut next_decision = shared.demand.start;
            drive(shared.replay(shared.initial_replicas()), |r| {
                fc.feed(r);
                if fc.due(r.now()) {
                    latest = fc.forecast(r);
                }
                if r.now() >= next_decision {
                    next_decision = r.now() + decide_every;
                    let seen = Observed {
                        replicas: r.replicas(),
                        recent_peak: r.recent_peak(p.sizing.recent_seconds),
                    };
                    hpa.ctl.config.min_replicas =
                        planner.plan(r.now(), latest.as_ref(), 1.0, 1.0, seen);
                }
                hpa.act(r);
            })
        }
        // Advisor-driven policies need the advisor: `run_rules`, `run_llm`.
        PolicyKind::Rules | PolicyKind::Llm => (PolicyMetrics::default(), Vec::new()),
    }
}

/// The replay loop: serve, score, let the policy act, next tick.
fn drive(
    mut r: Replay<'_>,
    mut act: impl FnMut(&mut Replay<'_>),
) -> (PolicyMetrics, Vec<(UnixSeconds, u32)>) {
    if r.demand.is_empty() {
        return (PolicyMetrics::default(), Vec::new());
    }
    loop {
        r.observe();
        act(&mut r);
        if !r.advance() {
            break;
        }
    }
    (r.score.finish(), r.events)
}

/// The autoscaling/v2 controller on the replay's pods.
struct Hpa {
    ctl: HpaController,
    buf: Vec<PodSample>,
}

impl Hpa {
    fn new(model: &ModelOptions, target_pct: u32) -> Self {
        Self {
            ctl: HpaController::new(HpaConfig {
                min_replicas: model.min_replicas,
                max_replicas: model.max_replicas,
                target_cpu_pct: Some(target_pct),
                target_mem_pct: None,
                behavior: Behavior::default(),
            }),
            buf: Vec::new(),
        }
    }

    fn act(&mut self, r: &mut Replay<'_>) {
        r.pod_samples(&mut self.buf);
        let out = self.ctl.reconcile(r.now(), r.replicas(), &self.buf);
        r.set_replicas(out.desired_replicas);
    }

    fn state(&self, r: &Replay<'_>, name: &str) -> HpaState {
        HpaState {
            name: name.to_string(),
            min_replicas: self.ctl.config.min_replicas,
            max_replicas: self.ctl.config.max_replicas,
            target_cpu_pct: self.ctl.config.target_cpu_pct,
            target_mem_pct: None,
            current_replicas: r.replicas(),
            desired_replicas: r.replicas(),
            scaling_status: "stable".into(),
            last_scale_time: self.ctl.last_scale_time(),
            metrics: Vec::new(),
        }
    }
}

/// The policy's view of demand: lagged observations of served demand, aggregated into
/// buckets, forecast every `every_seconds`.
struct Forecaster<'s, 'a> {
    shared: &'s Shared<'a>,
    /// Complete buckets since the trace start.
    series: Vec<f64>,
    current: Vec<f64>,
    current_bucket: i64,
    next_at: UnixSeconds,
}

impl<'s, 'a> Forecaster<'s, 'a> {
    fn new(shared: &'s Shared<'a>) -> Self {
        Self {
            shared,
            series: Vec::with_capacity(shared.truth.len()),
            current: Vec::new(),
            current_bucket: 0,
            next_at: shared.demand.start,
        }
    }

    fn step(&self) -> i64 {
        self.shared.predictive.step_seconds as i64
    }

    /// Take in the observation that became visible this tick.
    fn feed(&mut self, r: &Replay<'_>) {
        let Some((t, served)) = r.newly_visible() else {
            return;
        };
        let b = (t - self.shared.demand.start).div_euclid(self.step());
        if b != self.current_bucket && !self.current.is_empty() {
            let v = self.shared.predictive.aggregate.of(&self.current);
            // Buckets with no observation at all (cannot happen on a regular replay) repeat.
            while (self.series.len() as i64) < b {
                self.series.push(v);
            }
            self.current.clear();
        }
        self.current_bucket = b;
        self.current.push(served);
    }

    fn due(&self, now: UnixSeconds) -> bool {
        now >= self.next_at
    }

    /// A forecast from the buckets seen so far (None while too short), scored against the
    /// truth when made after the warm-up.
    fn forecast(&mut self, r: &mut Replay<'_>) -> Option<Forecast> {
        let p = self.shared.predictive;
        self.next_at = r.now() + p.every_seconds.max(self.shared.demand.tick_seconds);
        let keep = (p.history_seconds / self.step()).max(1) as usize;
        let first = self.series.len().saturating_sub(keep);
        let values = &self.series[first..];
        let start = self.shared.demand.start + first as i64 * self.step();
        let f = forecast::forecast(
            SeriesInput {
                start,
                step_seconds: p.step_seconds,
                values,
            },
            ForecastOptions {
                horizon_seconds: p.horizon_seconds(),
            },
        )
        .ok()?;
        if r.score.scored(r.tick()) {
            self.score(&f, &mut r.score.forecast);
        }
        Some(f)
    }

    /// Add the forecast's error over the scoring horizon, and seasonal naive's on the same
    /// points, when the whole horizon lies within the trace.
    fn score(&self, f: &Forecast, out: &mut ForecastScore) {
        let step = self.step();
        let season = (86_400 / step) as usize;
        let horizon = (super::FORECAST_SCORE_HORIZON_SECONDS / step) as usize;
        let start = self.shared.demand.start;
        let mut points = Vec::with_capacity(horizon);
        for p in f.points.iter().take(horizon) {
            let b = (p.timestamp - start).div_euclid(step);
            let Ok(b) = usize::try_from(b) else {
                return;
            };
            let (Some(&actual), Some(&naive)) = (
                self.shared.truth.get(b),
                b.checked_sub(season).and_then(|i| self.series.get(i)),
            ) else {
                return;
            };
            points.push((p.value, naive, actual));
        }
        if points.len() == horizon {
            out.add(points);
        }
    }
}

impl Aggregate {
    pub fn of(self, v: &[f64]) -> f64 {
        match self {
            Aggregate::Mean => v.iter().sum::<f64>() / v.len().max(1) as f64,
            Aggregate::Max => v.iter().copied().fold(0.0, f64::max),
        }
    }
}

/// How many of an advisor-driven policy's decisions came from where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecisionCounts {
    pub llm: u64,
    pub llm_cached: u64,
    pub rules: u64,
    /// Decisions made by the rules during the warm-up (no LLM call spent on unscored time).
    pub warmup_rules: u64,
}

/// The advisor's recommendations applied the way the app applies them on a deployment with an
/// HPA: the target becomes the HPA's minReplicas (pre-scaling), the HPA keeps reacting.
pub struct AdvisorDriven<'s, 'a> {
    hpa: Hpa,
    fc: Forecaster<'s, 'a>,
    r: Replay<'a>,
    name: String,
    latest: Option<Forecast>,
    next_decision: UnixSeconds,
    every: i64,
    pub counts: DecisionCounts,
}

impl<'s, 'a> AdvisorDriven<'s, 'a> {
    pub fn new(shared: &'s Shared<'a>) -> Self {
        Self {
            hpa: Hpa::new(shared.model, shared.model.target_pct),
            fc: Forecaster::new(shared),
            r: shared.replay(shared.initial_replicas()),
            name: shared
                .demand
                .name
                .replace(['_', '.', ' '], "-")
                .to_lowercase(),
            latest: None,
            next_decision: shared.demand.start,
            every: shared
                .predictive
                .advisor_every_seconds
                .max(shared.demand.tick_seconds),
            counts: DecisionCounts::default(),
        }
    }

    /// Serve this tick; the advisor's inputs when a decision is due.
    pub fn begin_tick(&mut self) -> Option<AdvisorInputs> {
        self.r.observe();
        self.fc.feed(&self.r);
        if self.fc.due(self.r.now()) {
            self.latest = self.fc.forecast(&mut self.r);
        }
        if self.r.now() < self.next_decision {
            return None;
        }
        self.next_decision = self.r.now() + self.every;
        Some(advisor_inputs(
            &self.r,
            &self.hpa,
            self.latest.as_ref(),
            &self.name,
        ))
    }

    /// Whether this tick is scored (the LLM is only asked then).
    pub fn scored(&self) -> bool {
        self.r.score.scored(self.r.tick())
    }

    /// Apply a recommendation exactly as the app's apply does (`actions::plan::plan_apply`):
    /// on a deployment with an HPA that moves minReplicas to the target, except "maintain",
    /// "at max", a floor already there, and a scale-down the HPA makes on its own.
    pub fn apply(&mut self, rec: &Recommendation) {
        match (rec.source, rec.cached, self.scored()) {
            (_, _, false) => self.counts.warmup_rules += 1,
            (RecommendationSource::Llm, true, _) => self.counts.llm_cached += 1,
            (RecommendationSource::Llm, false, _) => self.counts.llm += 1,
            _ => self.counts.rules += 1,
        }
        let state = deployment_state(&self.r, &self.hpa, &self.name);
        let Ok(plan) = crate::actions::plan::plan_apply(&state, rec) else {
            return;
        };
        let m = self.r.model;
        for change in &plan.changes {
            if let Change::HpaMin { to, .. } = change {
                self.hpa.ctl.config.min_replicas = (*to).clamp(m.min_replicas, m.max_replicas);
            }
        }
    }

    /// Let the HPA sync and move on; false after the last tick.
    pub fn end_tick(&mut self) -> bool {
        self.hpa.act(&mut self.r);
        self.r.advance()
    }

    pub fn finish(self) -> (PolicyMetrics, DecisionCounts) {
        (self.r.score.finish(), self.counts)
    }
}

/// The rules advisor throughout.
pub fn run_rules(shared: &Shared<'_>, advisor: &Advisor) -> (PolicyMetrics, DecisionCounts) {
    let mut p = AdvisorDriven::new(shared);
    if shared.demand.is_empty() {
        return p.finish();
    }
    loop {
        if let Some(inputs) = p.begin_tick() {
            let rec = advisor.rules(&inputs, None);
            p.apply(&rec);
        }
        if !p.end_tick() {
            break;
        }
    }
    p.finish()
}

/// The advisor with its LLM after the warm-up (the rules answer during it: no call is spent on
/// time that is not scored).
pub async fn run_llm(shared: &Shared<'_>, advisor: &Advisor) -> (PolicyMetrics, DecisionCounts) {
    let mut p = AdvisorDriven::new(shared);
    if shared.demand.is_empty() {
        return p.finish();
    }
    loop {
        if let Some(inputs) = p.begin_tick() {
            let rec = if p.scored() {
                advisor.recommend(&inputs).await
            } else {
                advisor.rules(&inputs, None)
            };
            p.apply(&rec);
        }
        if !p.end_tick() {
            break;
        }
    }
    p.finish()
}

/// The deployment as the app would see it now: the HPA's current (possibly raised) floor, and
/// the user's bounds kept in the seed's annotations, as the app's apply records them before it
/// first moves minReplicas.
fn deployment_state(r: &Replay<'_>, hpa: &Hpa, name: &str) -> DeploymentState {
    let m = r.model;
    let ready = r.ready_now();
    DeploymentState {
        key: DeploymentKey::new("backtest", name),
        desired_replicas: r.replicas(),
        ready_replicas: ready,
        total_pods: r.replicas(),
        min_replicas: m.min_replicas,
        max_replicas: m.max_replicas,
        cpu_request_millis: REQUEST_MILLI as u32,
        mem_request_mib: 0,
        cpu_pct: r.lagged_utilization().map(|u| u * 100.0),
        mem_pct: None,
        hpa: Some(hpa.state(r, name)),
        predictive_enabled: true,
        annotated_bounds: (Some(m.min_replicas), Some(m.max_replicas)),
    }
}

/// What the app would hand the advisor for this deployment now. The CPU forecast is the demand
/// forecast as CPU % of the pods now ready (what the app's own CPU forecast approximates).
fn advisor_inputs(r: &Replay<'_>, hpa: &Hpa, f: Option<&Forecast>, name: &str) -> AdvisorInputs {
    let state = deployment_state(r, hpa, name);
    let per_pct = 100.0 / r.ready_now().max(1) as f64;
    let cpu = f.map(|f| scaled(f, per_pct));
    AdvisorInputs::from_state(&state, cpu.as_ref(), None, r.now())
}

/// The forecast with every value multiplied by `k`; hourly means and peak recomputed.
fn scaled(f: &Forecast, k: f64) -> Forecast {
    let mut g = f.clone();
    for p in &mut g.points {
        p.value *= k;
        p.lower *= k;
        p.upper *= k;
    }
    g.peak.value *= k;
    g.current *= k;
    g.trend_pct_per_hour *= k;
    for h in &mut g.hourly {
        *h *= k;
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_max_looks_ahead_w_ticks() {
        let v = [1.0, 3.0, 2.0, 0.0, 5.0, 1.0];
        assert_eq!(window_max(&v, 0), v.to_vec());
        assert_eq!(window_max(&v, 1), vec![3.0, 3.0, 2.0, 5.0, 5.0, 1.0]);
        assert_eq!(window_max(&v, 2), vec![3.0, 3.0, 5.0, 5.0, 5.0, 1.0]);
    }
}
