//! The policies replayed: the HPA, the one policy (`ai4k8s`: the same `Advisor`, the same
//! autopilot gate and the same `plan_apply` changes as the app, applied to the replayed HPA and
//! deployment), the oracles and a static size. Each acts once per tick (the HPA's 15 s sync)
//! on what it may see: lagged metrics, never the future (the oracle excepted, by design).

use std::sync::Arc;

use super::calibrate;
use crate::actions::Autopilot;
use crate::actions::Change;
use crate::advisor::Advisor;
use crate::advisor::policy::{demand as policy_demand, replicas_for};
use crate::cluster::deployment_bounds;
use crate::model::{
    AdvisorInputs, Calibration, DeploymentKey, DeploymentState, FloorMark, Forecast, HpaState,
    PolicyParams, Recommendation, RecommendationSource, UnixSeconds,
};
use crate::sim::hpa::{Behavior, HpaConfig, HpaController, PodSample};

use super::demand::Demand;
use super::metrics::{ForecastScore, PolicyMetrics};
use super::options::{FORECAST_SCORE_HORIZON_SECONDS, ModelOptions, PolicyKind, PolicyOptions};
use super::replay::{REQUEST_MILLI, Replay};

/// What every policy of one run shares: the demand and what is derived from it once.
pub struct Shared<'a> {
    pub demand: &'a Demand,
    pub model: &'a ModelOptions,
    pub policy: &'a PolicyOptions,
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
        policy: &'a PolicyOptions,
        scored_from: usize,
    ) -> Self {
        let w = ((model.startup_seconds + model.lag_seconds) / demand.tick_seconds).max(0) as usize;
        let window_max = window_max(&demand.values, w);
        Self {
            demand,
            model,
            policy,
            scored_from,
            truth: buckets(demand),
            window_max,
        }
    }

    fn initial_replicas(&self) -> u32 {
        let d0 = self.demand.values.first().copied().unwrap_or(0.0);
        replicas_for(d0, 1.0, self.model.target_utilization())
            .clamp(self.model.min_replicas, self.model.max_replicas)
    }

    fn replay(&self, initial: u32) -> Replay<'a> {
        let mut r = Replay::new(self.demand, self.model, self.scored_from, initial);
        r.score
            .set_needs(&self.window_max, self.model.target_utilization());
        r
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

/// Demand aggregated into the policy's forecast buckets (5-minute peaks).
fn buckets(demand: &Demand) -> Vec<f64> {
    let per = (policy_demand::STEP_SECONDS as i64 / demand.tick_seconds).max(1) as usize;
    demand
        .values
        .chunks(per)
        .filter(|c| c.len() == per)
        .map(|c| c.iter().copied().fold(0.0, f64::max))
        .collect()
}

/// Run one synchronous policy over the whole trace (`ai4k8s` through `run_ai4k8s`).
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
        PolicyKind::Ai4k8s => {
            let advisor = Advisor::rules_only(shared.policy.advisor.clone(), "backtest");
            let p = ai4k8s(shared, &advisor);
            let events = p.r.events.clone();
            (p.finish().0, events)
        }
        // The LLM policy needs the advisor's LLM: `run_llm`.
        PolicyKind::Llm => (PolicyMetrics::default(), Vec::new()),
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

/// The policy's view of demand: lagged observations of served demand, in the policy's 5-minute
/// peak buckets, forecast every `forecast_every_seconds` by the app's own demand forecast.
pub struct Forecaster<'s, 'a> {
    shared: &'s Shared<'a>,
    /// Complete buckets since the trace start.
    series: Vec<f64>,
    current: Option<f64>,
    current_bucket: i64,
    next_at: UnixSeconds,
    /// Every forecast made, with its time (calibration reuses them: made from the past only).
    made: Vec<(UnixSeconds, Arc<Forecast>)>,
}

impl<'s, 'a> Forecaster<'s, 'a> {
    fn new(shared: &'s Shared<'a>) -> Self {
        Self {
            shared,
            series: Vec::with_capacity(shared.truth.len()),
            current: None,
            current_bucket: 0,
            next_at: shared.demand.start,
            made: Vec::new(),
        }
    }

    fn step() -> i64 {
        policy_demand::STEP_SECONDS as i64
    }

    /// Take in the observation that became visible this tick.
    fn feed(&mut self, r: &Replay<'_>) {
        let Some((t, served)) = r.newly_visible() else {
            return;
        };
        let b = (t - self.shared.demand.start).div_euclid(Self::step());
        if b != self.current_bucket
            && let Some(v) = self.current.take()
        {
            // Buckets with no observation at all (cannot happen on a regular replay) repeat.
            while (self.series.len() as i64) < b {
                self.series.push(v);
            }
        }
        self.current_bucket = b;
        self.current = Some(self.current.map_or(served, |c| c.max(served)));
    }

    fn due(&self, now: UnixSeconds) -> bool {
        now >= self.next_at
    }

    /// A forecast from the buckets seen so far (None while too short), scored against the
    /// truth when made after the warm-up.
    fn forecast(&mut self, r: &mut Replay<'_>) -> Option<Arc<Forecast>> {
        let every = self.shared.policy.forecast_every_seconds;
        self.next_at = r.now() + every.max(self.shared.demand.tick_seconds);
        let f = Arc::new(policy_demand::forecast_buckets(
            self.shared.demand.start,
            &self.series,
        )?);
        if r.score.scored(r.tick()) {
            self.score(&f, &mut r.score.forecast);
        }
        self.made.push((r.now(), f.clone()));
        Some(f)
    }

    /// Add the forecast's error over the scoring horizon, and seasonal naive's on the same
    /// points, when the whole horizon lies within the trace.
    fn score(&self, f: &Forecast, out: &mut ForecastScore) {
        let step = Self::step();
        let season = (86_400 / step) as usize;
        let horizon = (FORECAST_SCORE_HORIZON_SECONDS / step) as usize;
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

/// Where a replay's forecasts come from: made live from what the replay observes, or given
/// (calibration replays many parameter sets over one history's forecasts).
pub enum Feed<'s, 'a> {
    Live(Box<Forecaster<'s, 'a>>),
    Given {
        forecasts: &'s [(UnixSeconds, Arc<Forecast>)],
        next: usize,
    },
}

impl<'s, 'a> Feed<'s, 'a> {
    pub fn live(shared: &'s Shared<'a>) -> Self {
        Feed::Live(Box::new(Forecaster::new(shared)))
    }

    pub fn given(forecasts: &'s [(UnixSeconds, Arc<Forecast>)]) -> Self {
        Feed::Given { forecasts, next: 0 }
    }

    /// The newest forecast made by now, when a new one is available this tick.
    fn tick(&mut self, r: &mut Replay<'_>) -> Option<Arc<Forecast>> {
        match self {
            Feed::Live(fc) => {
                fc.feed(r);
                if fc.due(r.now()) {
                    fc.forecast(r)
                } else {
                    None
                }
            }
            Feed::Given { forecasts, next } => {
                let mut out = None;
                while let Some((t, f)) = forecasts.get(*next)
                    && *t <= r.now()
                {
                    out = Some(f.clone());
                    *next += 1;
                }
                out
            }
        }
    }

    fn made(&self) -> &[(UnixSeconds, Arc<Forecast>)] {
        match self {
            Feed::Live(fc) => &fc.made,
            Feed::Given { forecasts, .. } => forecasts,
        }
    }
}

/// How a policy replay gets its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tuning {
    /// Fixed parameters throughout (a calibration candidate, or `--policy-*` flags).
    Fixed(PolicyParams),
    /// Walk-forward: calibrated on what was observed so far, every `calibrate_every_seconds`
    /// from the first scored tick on (defaults before).
    Walk,
}

/// How many of a policy's decisions came from where, and what the autopilot's gate did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecisionCounts {
    pub llm: u64,
    pub llm_cached: u64,
    /// The policy's own answers (no LLM, or it did not answer).
    pub policy: u64,
    /// Decisions during the warm-up (the policy's own; no LLM call spent on unscored time).
    pub warmup: u64,
    /// Changes applied (the autopilot's gate passed, `plan_apply` had something to write).
    pub applied: u64,
    /// Changes the gate held back (confidence, cooldown).
    pub gated: u64,
}

/// The one policy on a replayed deployment with an HPA: every decision goes through the
/// `Advisor` (the card's path), the autopilot's gate and `plan_apply` (the changes `a` writes),
/// and those changes are made to the replayed HPA and deployment.
pub struct PolicyDriven<'s, 'a> {
    shared: &'s Shared<'a>,
    hpa: Hpa,
    feed: Feed<'s, 'a>,
    pub r: Replay<'a>,
    key: DeploymentKey,
    annotated: (Option<u32>, Option<u32>),
    mark: Option<FloorMark>,
    latest: Option<Arc<Forecast>>,
    next_decision: UnixSeconds,
    pilot: Autopilot,
    tuning: Tuning,
    calibration: Option<Calibration>,
    next_calibration: UnixSeconds,
    pub counts: DecisionCounts,
}

impl<'s, 'a> PolicyDriven<'s, 'a> {
    pub fn new(shared: &'s Shared<'a>, feed: Feed<'s, 'a>, tuning: Tuning) -> Self {
        let first_scored = shared.demand.time(shared.scored_from);
        Self {
            shared,
            hpa: Hpa::new(shared.model, shared.model.target_pct),
            feed,
            r: shared.replay(shared.initial_replicas()),
            key: DeploymentKey::new(
                "backtest",
                shared
                    .demand
                    .name
                    .replace(['_', '.', ' ', '/'], "-")
                    .to_lowercase(),
            ),
            annotated: (None, None),
            mark: None,
            latest: None,
            next_decision: shared.demand.start,
            pilot: Autopilot::new(shared.policy.autopilot),
            tuning,
            calibration: None,
            next_calibration: first_scored,
            counts: DecisionCounts::default(),
        }
    }

    /// Serve this tick; the advisor's inputs when a decision is due.
    pub fn begin_tick(&mut self) -> Option<AdvisorInputs> {
        self.r.observe();
        if let Some(f) = self.feed.tick(&mut self.r) {
            self.latest = Some(f);
        }
        if self.tuning == Tuning::Walk && self.r.now() >= self.next_calibration {
            self.next_calibration =
                self.r.now() + self.shared.policy.calibrate_every_seconds.max(3600);
            self.recalibrate();
        }
        if self.r.now() < self.next_decision {
            return None;
        }
        self.next_decision = self.r.now() + self.shared.policy.decide_every_seconds();
        Some(self.inputs())
    }

    /// Calibrate on what the policy has observed so far (served demand up to the lagged
    /// instant) and the forecasts made so far: nothing after now.
    fn recalibrate(&mut self) {
        let (start, step, observed) = self.r.observed();
        let m = self.shared.model;
        let input = calibrate::Input {
            start,
            step_seconds: step,
            demand: observed,
            forecasts: Some(self.feed.made()),
            min_replicas: m.min_replicas,
            max_replicas: m.max_replicas,
            hpa_target_pct: m.target_pct,
            startup_seconds: m.startup_seconds,
            lag_seconds: m.lag_seconds,
            advisor: &self.shared.policy.advisor,
            autopilot: self.shared.policy.autopilot,
            now: self.r.now(),
        };
        match calibrate::calibrate_demand(&input) {
            Ok(c) => self.calibration = Some(c),
            Err(e) => tracing::debug!("backtest calibration: {e}"),
        }
    }

    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Whether this tick is scored (the LLM is only asked then).
    pub fn scored(&self) -> bool {
        self.r.score.scored(self.r.tick())
    }

    /// The deployment as the app would see it now: the HPA's current floor and target, the
    /// user's bounds in the annotations once the first apply recorded them, the floor mark.
    pub fn state(&self) -> DeploymentState {
        let r = &self.r;
        let m = r.model;
        let hpa = self.hpa.state(r, &self.key.name);
        let (min, max) = deployment_bounds(self.annotated, Some(&hpa), r.replicas());
        DeploymentState {
            key: self.key.clone(),
            desired_replicas: r.replicas(),
            ready_replicas: r.ready_now(),
            total_pods: r.replicas(),
            min_replicas: min.max(m.min_replicas),
            max_replicas: max.min(m.max_replicas),
            cpu_request_millis: REQUEST_MILLI as u32,
            mem_request_mib: 0,
            cpu_pct: r.lagged_utilization().map(|u| u * 100.0),
            mem_pct: None,
            hpa: Some(hpa),
            predictive_enabled: true,
            annotated_bounds: self.annotated,
            floor_mark: self.mark,
            write_block: None,
            ownership: Default::default(),
        }
    }

    /// What the app's pipeline would hand the advisor now (`pipeline::inputs`' policy part):
    /// demand now and its recent peak from the lagged metrics, the demand forecast, the
    /// calibration.
    pub fn inputs(&self) -> AdvisorInputs {
        let state = self.state();
        let per_pct = 100.0 / self.r.ready_now().max(1) as f64;
        let cpu = self.latest.as_deref().map(|f| scaled(f, per_pct));
        let mut i = AdvisorInputs::from_state(&state, cpu.as_ref(), None, self.r.now());
        let params = match self.tuning {
            Tuning::Fixed(p) => p,
            Tuning::Walk => self
                .calibration
                .as_ref()
                .map(|c| c.params)
                .unwrap_or_default(),
        };
        i.policy.demand_now = Some(self.r.lagged().1);
        i.policy.recent_peak = self.r.recent_peak(params.recent_seconds);
        i.policy.demand_forecast = self.latest.clone();
        i.policy.params = params;
        i.policy.calibration = self.calibration.clone();
        // One deployment replayed alone: the cluster's room is unlimited (nothing capped).
        i.policy.room = None;
        i
    }

    /// Apply a recommendation as the autopilot does: its gate, then `plan_apply`'s changes,
    /// made to the replayed objects.
    pub fn apply(&mut self, rec: &Recommendation) {
        match (rec.source, rec.cached, self.scored()) {
            (_, _, false) => self.counts.warmup += 1,
            (RecommendationSource::Llm, true, _) => self.counts.llm_cached += 1,
            (RecommendationSource::Llm, false, _) => self.counts.llm += 1,
            _ => self.counts.policy += 1,
        }
        let state = self.state();
        let now = self.r.now();
        let plan = match self.pilot.decide(&state, rec, now) {
            Ok(p) => p,
            Err(crate::actions::Skip::Nothing(_)) => return,
            Err(_) => {
                self.counts.gated += 1;
                return;
            }
        };
        let m = self.r.model;
        for change in &plan.changes {
            match change {
                Change::HpaMin { to, .. } => {
                    self.hpa.ctl.config.min_replicas = (*to).clamp(m.min_replicas, m.max_replicas);
                }
                Change::HpaTarget { to, .. } => {
                    self.hpa.ctl.config.target_cpu_pct = Some((*to).clamp(1, 100));
                }
                Change::FloorMark { to, .. } => self.mark = *to,
                Change::BoundsAnnotations { to, .. } => self.annotated = *to,
                Change::Scale { to, .. } => self.r.set_replicas(*to),
                // The replayed deployment has no ScaledObject: its plans never carry one.
                Change::HpaBounds { .. }
                | Change::Predictive { .. }
                | Change::CreateHpa { .. }
                | Change::ScaledObjectMin { .. }
                | Change::ScaledObjectBounds { .. } => {}
            }
        }
        self.pilot.changed(&state.key, now);
        self.counts.applied += 1;
    }

    /// Let the HPA sync and move on; false after the last tick.
    pub fn end_tick(&mut self) -> bool {
        self.hpa.act(&mut self.r);
        self.r.advance()
    }

    /// The whole replay with the policy's own decisions.
    pub fn run_sync(&mut self, advisor: &Advisor) {
        if self.shared.demand.is_empty() {
            return;
        }
        loop {
            if let Some(inputs) = self.begin_tick() {
                let rec = advisor.policy(&inputs, None);
                self.apply(&rec);
            }
            if !self.end_tick() {
                break;
            }
        }
    }

    pub fn finish(self) -> (PolicyMetrics, DecisionCounts, Option<Calibration>) {
        (self.r.score.finish(), self.counts, self.calibration)
    }
}

/// The one policy, calibrated walk-forward, through the advisor without an LLM.
pub fn run_ai4k8s(
    shared: &Shared<'_>,
    advisor: &Advisor,
) -> (PolicyMetrics, DecisionCounts, Option<Calibration>) {
    ai4k8s(shared, advisor).finish()
}

/// The policy's replay, run to the end: fixed parameters when `--policy-*` gave them, else
/// walk-forward calibration.
fn ai4k8s<'s, 'a>(shared: &'s Shared<'a>, advisor: &Advisor) -> PolicyDriven<'s, 'a> {
    let mut p = PolicyDriven::new(shared, Feed::live(shared), tuning(shared));
    p.run_sync(advisor);
    p
}

fn tuning(shared: &Shared<'_>) -> Tuning {
    shared.policy.fixed.map_or(Tuning::Walk, Tuning::Fixed)
}

/// The same with the advisor's LLM after the warm-up (the policy alone during it: no call is
/// spent on time that is not scored). The LLM chooses within the policy's range, exactly as
/// on the card.
pub async fn run_llm(
    shared: &Shared<'_>,
    advisor: &Advisor,
) -> (PolicyMetrics, DecisionCounts, Option<Calibration>) {
    let mut p = PolicyDriven::new(shared, Feed::live(shared), tuning(shared));
    if shared.demand.is_empty() {
        return p.finish();
    }
    loop {
        if let Some(inputs) = p.begin_tick() {
            let rec = if p.scored() {
                advisor.recommend(&inputs).await
            } else {
                advisor.policy(&inputs, None)
            };
            p.apply(&rec);
        }
        if !p.end_tick() {
            break;
        }
    }
    p.finish()
}

/// The forecast with every value multiplied by `k`; hourly means and peak recomputed.
fn scaled(f: &Forecast, k: f64) -> Forecast {
    let mut g = f.clone();
    g.points = f.points.map_values(|v| v * k);
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
