//! The one policy: every face's decision. The card (with or without an LLM), `a`, `recommend`,
//! the autopilot and the backtest's `ai4k8s` policy all call `decide`; nothing else decides.
//!
//! With an HPA the policy changes the HPA, never spec.replicas (which the HPA would undo):
//! it raises minReplicas ahead of a forecast peak (pre-scaling; the HPA stays the reactive
//! safety net above it), releases that floor when the forecast and the recent past allow, or
//! moves the HPA's CPU target within the user's range to what calibration found this
//! deployment can run at. Without an HPA it sizes spec.replicas itself.
//!
//! Raising is immediate (a late pod is an under-provisioned minute) unless the HPA's own
//! tolerance would ignore it (the forecast peak within 10 % of what the pods running carry at
//! the sizing utilization: no scale event for a change the HPA would not make); lowering waits
//! for a hold time and a clear margin, and only goes to what a longer look-ahead and the recent
//! peak still need, so a dip between two peaks is not a scale-down followed by a scale-up. The
//! hold times are read from the `ai4k8s.io/floor` mark the last change left on the deployment,
//! so the decision is a function of what the cluster shows: any process decides the same.

pub mod capacity;
pub mod demand;
mod explain;
mod room;
pub mod sizing;
mod target;

use crate::config::AdvisorConfig;
use crate::model::{
    AdvisorInputs, Decision, Forecast, HpaState, PolicyChange, PolicyParams, ScalingAction,
    UnixSeconds,
};

pub use explain::MISSING_INPUTS_CONFIDENCE;
pub use sizing::{peak_at, replicas_for};
pub use target::{action_of, bounds, reference, target_of};

use explain::Driver;

/// Utilization ratios within this of 1.0 do not move replicas (as the HPA's tolerance).
pub const TOLERANCE: f64 = 0.1;

/// Why a deployment must not be changed whatever anyone advises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAction {
    /// Its owner scaled it to zero: zero stays zero unless the user's own min bound says more.
    ScaledToZero,
    /// Its load is unknown: missing inputs cap confidence and mean no action.
    NoMetrics,
}

impl std::fmt::Display for NoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoAction::ScaledToZero => "scaled to zero by its owner",
            NoAction::NoMetrics => "no CPU metrics",
        })
    }
}

pub fn no_action_reason(inputs: &AdvisorInputs) -> Option<NoAction> {
    if scaled_to_zero(inputs) {
        Some(NoAction::ScaledToZero)
    } else if inputs.current_replicas > 0 && demand_now(inputs).is_none() {
        Some(NoAction::NoMetrics)
    } else {
        None
    }
}

/// At zero replicas no metrics can exist: only the user's own min bound (an annotation, on a
/// deployment no HPA scales: an HPA is off at zero) brings it up.
fn scaled_to_zero(inputs: &AdvisorInputs) -> bool {
    inputs.current_replicas == 0
        && (inputs.hpa.is_some() || inputs.policy.annotated_bounds.0.is_none_or(|m| m == 0))
}

/// A deployment at zero that the user's min bound wants running.
fn below_users_min(inputs: &AdvisorInputs) -> Option<u32> {
    let min = inputs.policy.annotated_bounds.0?;
    (inputs.current_replicas == 0 && inputs.hpa.is_none() && min > 0).then_some(min)
}

/// Apply `no_action_reason` to a validated decision: no change, the target where it is, the
/// confidence capped; returns the correction to show, if anything moved.
pub fn hold_still(
    inputs: &AdvisorInputs,
    decision: &mut Decision,
    change: &mut PolicyChange,
) -> Option<String> {
    let why = no_action_reason(inputs)?;
    let before = (change.clone(), decision.confidence);
    *change = PolicyChange::Maintain;
    decision.target_replicas = target_of(inputs, change);
    decision.action = ScalingAction::Maintain;
    if why == NoAction::NoMetrics {
        decision.confidence = decision.confidence.min(MISSING_INPUTS_CONFIDENCE);
    }
    (before != (change.clone(), decision.confidence)).then(|| {
        format!(
            "{why}: no change (confidence {:.2} → {:.2})",
            before.1, decision.confidence
        )
    })
}

/// What the policy decided, and the range an LLM may choose the target in.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    pub change: PolicyChange,
    /// Acceptable `target_replicas` (the floor with an HPA, replicas without): fewer would be
    /// short of the forecast even at 100 % utilization, more is beyond the HPA's own headroom;
    /// a lowering the hold forbids is outside it.
    pub range: (u32, u32),
}

/// What the policy sees, with the deployment's bounds repaired.
struct View<'a> {
    inputs: &'a AdvisorInputs,
    p: PolicyParams,
    now: UnixSeconds,
    min: u32,
    max: u32,
    forecast: Option<&'a Forecast>,
}

impl View<'_> {
    fn peak(&self, horizon: i64) -> Option<(f64, UnixSeconds)> {
        let f = self.forecast?;
        peak_at(f, self.now, self.now + horizon, self.p.band)
    }

    /// Replicas the forecast needs over `horizon` at `util`, within bounds.
    fn need(&self, horizon: i64, util: f64) -> u32 {
        self.peak(horizon)
            .map(|(d, _)| replicas_for(d, 1.0, util))
            .unwrap_or(0)
            .clamp(self.min, self.max)
    }

    /// Whether raising to `up` above the `reach` replicas already running (or held) is a change
    /// the HPA's own tolerance would ignore: the forecast peak on `reach` pods is within
    /// `TOLERANCE` of the sizing utilization. Such a raise would be a scale event for nothing.
    fn within_tolerance(&self, up: u32, reach: u32) -> bool {
        let p = self.p;
        up > reach
            && self.need(
                p.lookahead_seconds,
                p.target_utilization * (1.0 + TOLERANCE),
            ) <= reach
    }

    fn since(&self, t: Option<UnixSeconds>, d: i64) -> bool {
        t.is_none_or(|t| self.now - t >= d)
    }

    fn last_change(&self) -> Option<UnixSeconds> {
        self.inputs.policy.floor_mark.map(|m| m.at)
    }

    fn last_lower(&self) -> Option<UnixSeconds> {
        self.inputs
            .policy
            .floor_mark
            .filter(|m| !m.raised)
            .map(|m| m.at)
    }

    fn demand_now(&self) -> Option<f64> {
        demand_now(self.inputs)
    }

    /// When a raise to `to` can be let go: the end of the last forecast point in the longer
    /// window that still needs it, and never before the hold.
    fn until(&self, to: u32) -> UnixSeconds {
        let hold = self.now + self.p.hold_seconds.max(0);
        let Some(f) = self.forecast else {
            return hold;
        };
        let end = self.now + self.p.lower_lookahead_seconds.max(self.p.lookahead_seconds);
        let step = f.step_seconds.max(1) as i64;
        let last = sizing::window(f, self.now, end)
            .filter(|pt| {
                replicas_for(
                    sizing::sized(pt, self.p.band),
                    1.0,
                    self.p.target_utilization,
                ) >= to
            })
            .map(|pt| pt.timestamp + step)
            .max();
        last.unwrap_or(hold).max(hold)
    }
}

/// How far the floor (or replicas) could come down now, and whether the hold allows it.
struct Lowering {
    forecast_need: u32,
    recent_need: u32,
    /// What the longer look-ahead, the recent peak and `at_least` still need, within bounds.
    down: u32,
    /// Seconds the hold still has to run.
    held: Option<i64>,
}

impl Lowering {
    /// Lowering `from` is allowed: the hold is over and the need is clearly below.
    fn allows(&self, from: u32, hysteresis: f64) -> bool {
        self.held.is_none() && (self.down as f64) < from as f64 * (1.0 - hysteresis)
    }

    fn driver(&self) -> Driver {
        Driver::Lower {
            forecast_need: self.forecast_need,
            recent_need: self.recent_need,
        }
    }

    fn steady(&self) -> Driver {
        Driver::Steady {
            need: self.down,
            held: self.held,
        }
    }
}

impl View<'_> {
    /// The lowering case: the forecast over the longer window at `util`, the recent peak at
    /// `recent_util`, and `at_least` (what the short window needs).
    fn lowering(&self, at_least: u32, util: f64, recent_util: f64) -> Lowering {
        let p = self.p;
        let recent_need = self
            .inputs
            .policy
            .recent_peak
            .map(|d| replicas_for(d, 1.0, recent_util))
            .unwrap_or(0);
        let forecast_need = self.need(p.lower_lookahead_seconds.max(p.lookahead_seconds), util);
        let last = self.last_change();
        Lowering {
            forecast_need,
            recent_need,
            down: forecast_need
                .max(at_least)
                .max(recent_need)
                .clamp(self.min, self.max),
            held: (!self.since(last, p.hold_seconds))
                .then(|| p.hold_seconds - (self.now - last.unwrap_or(self.now))),
        }
    }
}

/// Demand now in pods' worth of requests: what the inputs say (the backtest's lagged served
/// demand), else CPU % × the ready pods (all pods while none is ready).
pub fn demand_now(i: &AdvisorInputs) -> Option<f64> {
    i.policy.demand_now.or_else(|| {
        let serving = if i.running_pods > 0 {
            i.running_pods
        } else {
            i.current_replicas
        };
        i.cpu_pct.map(|c| c / 100.0 * serving as f64)
    })
}

/// The HPA target (% of requests) the policy wants: calibration's, within the user's range;
/// None to leave the HPA's own.
fn wanted_target(inputs: &AdvisorInputs, cfg: &AdvisorConfig, h: &HpaState) -> Option<u32> {
    let cur = h.target_cpu_pct?;
    if inputs.policy.target_owner.is_some() {
        return None;
    }
    let want = inputs.policy.params.hpa_target_pct?;
    let (lo, hi) = (cfg.min_hpa_target_pct, cfg.max_hpa_target_pct);
    let (lo, hi) = (lo.clamp(1, 100), hi.clamp(1, 100));
    let want = want.clamp(lo.min(hi), hi.max(lo));
    (want != cur).then_some(want)
}

/// The policy's decision for one deployment, before validation.
pub fn decide(inputs: &AdvisorInputs, cfg: &AdvisorConfig) -> Outcome {
    let (min, max) = target::bounds(inputs);
    let v = View {
        inputs,
        p: inputs.policy.params,
        now: inputs.observed_at,
        min,
        max,
        forecast: inputs.policy.demand_forecast.as_deref(),
    };
    let (change, driver) = if scaled_to_zero(inputs) {
        (PolicyChange::Maintain, Driver::ScaledToZero)
    } else if let Some(min) = below_users_min(inputs) {
        (PolicyChange::Replicas { from: 0, to: min }, Driver::Bounds)
    } else {
        match (&inputs.hpa, v.demand_now()) {
            (_, None) => (PolicyChange::Maintain, Driver::MissingMetrics),
            (Some(h), Some(now_demand)) => with_hpa(&v, cfg, h, now_demand),
            (None, Some(now_demand)) => without_hpa(&v, cfg, now_demand),
        }
    };
    let need = target_of(inputs, &change);
    let change = within_step(inputs, change, cfg.max_step);
    // The cluster's room last: what the step allows may still not fit on the nodes.
    let stepped = target_of(inputs, &change);
    let (change, room_note) = room::cap(inputs, change);
    let target = target_of(inputs, &change);
    let mut range = range(&v, cfg, &change, target);
    if let Some(limit) = room::limit(inputs) {
        // An LLM may not pick what the nodes cannot hold either.
        range.1 = range.1.min(limit.max(target));
        range.0 = range.0.min(range.1);
    }
    let mut decision = explain::decision(inputs, cfg, &change, &driver, need, stepped, v.forecast);
    if let Some(note) = room_note {
        decision.reasoning.push(' ');
        decision.reasoning.push_str(&note);
    }
    Outcome {
        decision,
        change,
        range,
    }
}

/// The change limited to `[advisor] max_step` from the floor (or replicas) it starts from, so
/// the card says what will be written; the reasoning still names the need.
fn within_step(inputs: &AdvisorInputs, change: PolicyChange, max_step: u32) -> PolicyChange {
    let base = reference(inputs);
    let step = |to: u32| to.clamp(base.saturating_sub(max_step), base.saturating_add(max_step));
    match change {
        PolicyChange::Floor {
            hpa,
            from,
            to,
            until,
        } => PolicyChange::Floor {
            hpa,
            from,
            to: step(to),
            until,
        },
        PolicyChange::Release { hpa, from, to } => PolicyChange::Release {
            hpa,
            from,
            to: step(to),
        },
        PolicyChange::Replicas { from, to } => PolicyChange::Replicas { from, to: step(to) },
        other => other,
    }
}

fn with_hpa(
    v: &View<'_>,
    cfg: &AdvisorConfig,
    h: &HpaState,
    demand_now: f64,
) -> (PolicyChange, Driver) {
    let p = v.p;
    let floor = h.min_replicas;
    let hpa = h.name.clone();
    let replicas = v.inputs.current_replicas;

    // Bounds first: a floor outside the user's bounds moves into them at once.
    if floor > v.max {
        return (
            PolicyChange::Release {
                hpa,
                from: floor,
                to: v.max,
            },
            Driver::Bounds,
        );
    }
    if floor < v.min {
        return (
            PolicyChange::Floor {
                hpa,
                from: floor,
                to: v.min,
                until: v.until(v.min),
            },
            Driver::Bounds,
        );
    }
    let up = v.need(p.lookahead_seconds, p.target_utilization);
    if up > floor
        && !v.within_tolerance(up, floor.max(replicas))
        && v.since(v.last_lower(), p.reverse_guard_seconds)
    {
        let (demand, at) = v.peak(p.lookahead_seconds).unwrap_or((0.0, v.now));
        return (
            PolicyChange::Floor {
                hpa,
                from: floor,
                to: up,
                until: v.until(up),
            },
            if up == v.min && demand <= 0.0 {
                Driver::Bounds
            } else {
                Driver::ForecastPeak { demand, at }
            },
        );
    }
    let hpa_target = h.target_cpu_pct.unwrap_or(100).max(1) as f64 / 100.0;
    let need_now = replicas_for(demand_now, 1.0, hpa_target);
    if need_now > v.max && replicas >= v.max {
        return (PolicyChange::AtMax, Driver::Saturated { need: need_now });
    }
    if p.follow_hpa && replicas > floor && replicas <= v.max {
        return (
            PolicyChange::Floor {
                hpa,
                from: floor,
                to: replicas,
                until: v.until(replicas),
            },
            Driver::FollowHpa { replicas },
        );
    }
    if let Some(want) = wanted_target(v.inputs, cfg, h)
        && let Some(cur) = h.target_cpu_pct
        // Running hotter takes capacity away: not while the floor holds a raise.
        && (want < cur || v.since(v.last_change(), p.hold_seconds))
    {
        return (
            PolicyChange::Target {
                hpa,
                from: cur,
                to: want,
            },
            Driver::Calibrated,
        );
    }
    let low = v.lowering(up, p.target_utilization, p.recent_utilization);
    if floor > v.min && low.allows(floor, p.lower_hysteresis) {
        return (
            PolicyChange::Release {
                hpa,
                from: floor,
                to: low.down,
            },
            low.driver(),
        );
    }
    (PolicyChange::Maintain, low.steady())
}

fn without_hpa(v: &View<'_>, cfg: &AdvisorConfig, demand_now: f64) -> (PolicyChange, Driver) {
    let p = v.p;
    let current = v.inputs.current_replicas;
    // No safety net underneath: size for the load now as well as the forecast, at the
    // configured target (the role an HPA's target would play).
    let util = cfg.default_target_cpu_pct.clamp(1, 100) as f64 / 100.0;
    let ratio = demand_now / (current.max(1) as f64 * util);
    let now_need = if (ratio - 1.0).abs() <= TOLERANCE {
        current
    } else {
        replicas_for(demand_now, 1.0, util)
    };
    let forecast_up = v.need(p.lookahead_seconds, util);
    let up = now_need.max(forecast_up).clamp(v.min, v.max);
    let raw_need = replicas_for(demand_now, 1.0, util);
    if raw_need > v.max && current >= v.max {
        return (PolicyChange::AtMax, Driver::Saturated { need: raw_need });
    }
    if current > v.max || current < v.min {
        let to = current.clamp(v.min, v.max);
        return (PolicyChange::Replicas { from: current, to }, Driver::Bounds);
    }
    if up > current && v.since(v.last_lower(), p.reverse_guard_seconds) {
        let driver = match v.peak(p.lookahead_seconds) {
            Some((demand, at)) if forecast_up >= now_need => Driver::ForecastPeak { demand, at },
            _ => Driver::CurrentLoad { demand: demand_now },
        };
        return (
            PolicyChange::Replicas {
                from: current,
                to: up,
            },
            driver,
        );
    }
    let low = v.lowering(up.max(now_need), util, util);
    if low.allows(current, p.lower_hysteresis) {
        return (
            PolicyChange::Replicas {
                from: current,
                to: low.down,
            },
            low.driver(),
        );
    }
    (PolicyChange::Maintain, low.steady())
}

/// The range an LLM may pick `target_replicas` in around the policy's own target.
fn range(v: &View<'_>, cfg: &AdvisorConfig, change: &PolicyChange, target: u32) -> (u32, u32) {
    let p = v.p;
    let reference = reference(v.inputs);
    if matches!(change, PolicyChange::Target { .. } | PolicyChange::AtMax) {
        // Not a replica decision: the LLM explains, it does not move it.
        return (target, target);
    }
    let hpa_util = v
        .inputs
        .hpa
        .as_ref()
        .and_then(|h| h.target_cpu_pct)
        .unwrap_or(cfg.default_target_cpu_pct)
        .clamp(1, 100) as f64
        / 100.0;
    let peak = v
        .peak(p.lookahead_seconds)
        .map(|(d, _)| d)
        .or(v.demand_now())
        .unwrap_or(0.0);
    // Fewer than this is short even at 100 %; with an HPA underneath, the floor may be lower
    // (the HPA still reacts), but not below what the bounds say.
    let short = if v.inputs.hpa.is_some() {
        v.min
    } else {
        replicas_for(peak, 1.0, 1.0).clamp(v.min, v.max)
    };
    // replicas_for saturates at u32::MAX on absurd demand.
    let roomy = replicas_for(peak, 1.0, hpa_util)
        .saturating_add(1)
        .clamp(v.min, v.max);
    let mut lo = short.min(target);
    let mut hi = roomy.max(target);
    // What the hold and the reverse guard forbid the policy, they forbid the LLM.
    if !v.since(v.last_change(), p.hold_seconds) {
        lo = lo.max(reference.min(hi));
    }
    if !v.since(v.last_lower(), p.reverse_guard_seconds) {
        hi = hi.min(reference.max(lo));
    }
    (lo.min(hi), hi.max(lo))
}

/// The change that moves to `target` (an LLM's or a schedule's choice within the range), with
/// `policy` the policy's own change, kept when the target is the policy's.
pub fn change_for_target(
    inputs: &AdvisorInputs,
    policy: &PolicyChange,
    target: u32,
) -> PolicyChange {
    if target == target_of(inputs, policy) {
        return policy.clone();
    }
    let hold = inputs.policy.params.hold_seconds.max(0);
    match &inputs.hpa {
        Some(h) => {
            let floor = h.min_replicas;
            match target.cmp(&floor) {
                std::cmp::Ordering::Greater => PolicyChange::Floor {
                    hpa: h.name.clone(),
                    from: floor,
                    to: target,
                    until: match policy {
                        PolicyChange::Floor { until, .. } => *until,
                        _ => inputs.observed_at + hold,
                    },
                },
                std::cmp::Ordering::Less => PolicyChange::Release {
                    hpa: h.name.clone(),
                    from: floor,
                    to: target,
                },
                std::cmp::Ordering::Equal => PolicyChange::Maintain,
            }
        }
        None if target == inputs.current_replicas => PolicyChange::Maintain,
        None => PolicyChange::Replicas {
            from: inputs.current_replicas,
            to: target,
        },
    }
}

#[cfg(test)]
mod tests;
