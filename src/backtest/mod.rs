//! Trace-replay backtest (issue 6): the same demand replayed through several autoscaling
//! policies on a virtual clock, scored on under- and over-provisioning, cost and churn.
//!
//! The model (every number an option): demand from a trace, rescaled so its 99th percentile
//! needs `p99_replicas` at the target utilization; 15 s ticks, each trace sample held for its
//! interval; one replica serves one unit; pods serve `startup_seconds` after creation; policies
//! see metrics `lag_seconds` old; replicas within [min, max]; the first `warmup_seconds` (at
//! most half the trace) are replayed but not scored.
//!
//! `replay` is the replay loop, `policy` the policies, `metrics` the scoring, `report` the
//! table, JSON and the goals; `calibrate` replays a deployment's own history through
//! the `ai4k8s` policy to choose its parameters.

pub mod args;
pub mod calibrate;
pub mod metrics;
pub mod policy;
pub mod replay;
pub mod report;

use std::time::Instant;

use crate::actions::AutopilotOptions;
use crate::advisor::Advisor;
use crate::config::{ActionsConfig, AdvisorConfig};
use crate::model::{PolicyParams, Sample};
use crate::traces::{self, Trace};

pub use metrics::PolicyMetrics;
pub use policy::DecisionCounts;
pub use replay::Demand;
pub use report::{Goal, PolicyReport, Report};

/// Forecasts are scored over six hours (the app's horizon).
pub const FORECAST_SCORE_HORIZON_SECONDS: i64 = 6 * 3600;

/// The replayed cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOptions {
    pub tick_seconds: i64,
    /// Rescale the trace so its p99 needs this many replicas at `target_pct`; None: the
    /// series already is demand in replica units (a deployment's own history).
    pub p99_replicas: Option<u32>,
    /// The HPA's CPU target (% of requests), also the oracle's and static's second utilization.
    pub target_pct: u32,
    pub startup_seconds: i64,
    pub lag_seconds: i64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Unscored warm-up, at most half the trace.
    pub warmup_seconds: i64,
    /// Reversals within this long count as flaps.
    pub flap_window_seconds: i64,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            tick_seconds: 15,
            p99_replicas: Some(20),
            target_pct: 70,
            startup_seconds: 60,
            lag_seconds: 60,
            min_replicas: 1,
            max_replicas: 200,
            warmup_seconds: 7 * 86_400,
            flap_window_seconds: 600,
        }
    }
}

impl ModelOptions {
    pub fn target_utilization(&self) -> f64 {
        self.target_pct as f64 / 100.0
    }
}

/// How the `ai4k8s` policy is run: exactly as the autopilot runs it in the app (its config,
/// its gate), with the replay's own forecast and calibration cadence.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyOptions {
    /// Forecast demand this often (hourly: a forecast covers six hours).
    pub forecast_every_seconds: i64,
    /// Recalibrate on the history seen so far this often (daily), walk-forward.
    pub calibrate_every_seconds: i64,
    /// Fixed parameters instead of calibration (`--policy-*` flags).
    pub fixed: Option<PolicyParams>,
    /// The advisor's config (decision cadence, max step, the HPA target range).
    pub advisor: AdvisorConfig,
    /// The autopilot's gate (minimum confidence, cooldown before taking capacity away).
    pub autopilot: AutopilotOptions,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        Self {
            forecast_every_seconds: 3600,
            calibrate_every_seconds: 86_400,
            fixed: None,
            advisor: AdvisorConfig::default(),
            autopilot: AutopilotOptions::from_config(&ActionsConfig::default(), false),
        }
    }
}

impl PolicyOptions {
    /// The policy's decision cadence: the app's refresh.
    pub fn decide_every_seconds(&self) -> i64 {
        self.advisor.refresh_seconds.max(1) as i64
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub model: ModelOptions,
    pub policy: PolicyOptions,
}

impl Options {
    pub fn validate(&self) -> Result<(), BacktestError> {
        let m = &self.model;
        let p = &self.policy;
        let bad = |s: String| Err(BacktestError::Options(s));
        if m.tick_seconds <= 0 {
            return bad("tick must be positive".into());
        }
        for (what, v) in [("startup", m.startup_seconds), ("lag", m.lag_seconds)] {
            if v < 0 || v % m.tick_seconds != 0 {
                return bad(format!(
                    "{what} {v} s must be a non-negative multiple of the {} s tick",
                    m.tick_seconds
                ));
            }
        }
        if m.min_replicas < 1 || m.min_replicas > m.max_replicas {
            return bad(format!(
                "replica bounds [{}, {}]: need 1 <= min <= max",
                m.min_replicas, m.max_replicas
            ));
        }
        if !(1..=100).contains(&m.target_pct) {
            return bad("utilization targets must be within 1..=100 %".into());
        }
        if m.p99_replicas == Some(0) {
            return bad("p99 replicas must be at least 1".into());
        }
        if let Some(f) = &p.fixed
            && !(f.target_utilization > 0.0 && f.target_utilization <= 1.0)
        {
            return bad("policy utilization must be within (0, 1]".into());
        }
        if p.forecast_every_seconds <= 0 || p.calibrate_every_seconds <= 0 {
            return bad("forecast and calibration intervals must be positive".into());
        }
        Ok(())
    }
}

/// A policy to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Hpa,
    /// The one policy, calibrated walk-forward, applied as the autopilot applies it.
    Ai4k8s,
    /// Perfect foresight over the start-up + lag window, at 100 % utilization.
    Oracle100,
    /// The same at the target utilization.
    Oracle70,
    Static,
    /// The same policy with the LLM choosing within its range.
    Llm,
}

impl PolicyKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hpa => "hpa",
            Self::Ai4k8s => "ai4k8s",
            Self::Oracle100 => "oracle-100",
            Self::Oracle70 => "oracle-70",
            Self::Static => "static",
            Self::Llm => "llm",
        }
    }

    /// The default set: hpa, ai4k8s, both oracles, static.
    pub fn defaults() -> Vec<PolicyKind> {
        vec![
            Self::Hpa,
            Self::Ai4k8s,
            Self::Oracle100,
            Self::Oracle70,
            Self::Static,
        ]
    }

    /// Parse `hpa,ai4k8s,oracle,static,llm` (`oracle` is both oracles), in order,
    /// without duplicates.
    pub fn parse_list(s: &str) -> Result<Vec<PolicyKind>, String> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kinds: &[PolicyKind] = match name {
                "hpa" => &[Self::Hpa],
                "ai4k8s" => &[Self::Ai4k8s],
                "predictive" | "rules" => {
                    return Err(format!(
                        "policy {name:?} is now part of the one policy: use ai4k8s (its \
                         parameters are the --policy-* flags)"
                    ));
                }
                "oracle" => &[Self::Oracle100, Self::Oracle70],
                "oracle-100" => &[Self::Oracle100],
                "oracle-70" => &[Self::Oracle70],
                "static" => &[Self::Static],
                "llm" => &[Self::Llm],
                _ => {
                    return Err(format!(
                        "unknown policy {name:?}: expected hpa, ai4k8s, oracle, oracle-100, \
                         oracle-70, static or llm"
                    ));
                }
            };
            for k in kinds {
                if !out.contains(k) {
                    out.push(*k);
                }
            }
        }
        if out.is_empty() {
            return Err("no policies given".into());
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    #[error("{0}")]
    Options(String),
    #[error("{0}")]
    Trace(String),
    #[error("the llm policy needs an advisor with an LLM")]
    NoAdvisor,
}

/// Per-tick demand from a trace under the model: rescaled (or not) and held per sample.
pub fn demand(trace: &Trace, model: &ModelOptions) -> Result<Demand, BacktestError> {
    if model.tick_seconds <= 0 {
        return Err(BacktestError::Options("tick must be positive".into()));
    }
    if trace.values.is_empty() || trace.step_seconds == 0 {
        return Err(BacktestError::Trace(format!("{}: empty trace", trace.name)));
    }
    let units = match model.p99_replicas {
        Some(r) => {
            let p99 = trace.quantile(0.99);
            if p99.is_nan() || p99 <= 0.0 {
                return Err(BacktestError::Trace(format!(
                    "{}: the trace's 99th percentile is {p99}, cannot rescale",
                    trace.name
                )));
            }
            p99 / (r as f64 * model.target_utilization())
        }
        None => 1.0,
    };
    Ok(hold_per_tick(trace, model.tick_seconds, units))
}

/// A trace held per sample at `tick` seconds, divided by `units`.
pub fn hold_per_tick(trace: &Trace, tick: i64, units: f64) -> Demand {
    let model_tick = tick.max(1);
    let step = trace.step_seconds.max(1) as i64;
    let ticks = (trace.len() as i64 * step / model_tick) as usize;
    let values = (0..ticks)
        .map(|k| {
            let i = (k as i64 * model_tick / step) as usize;
            (trace.values[i.min(trace.len().saturating_sub(1))] / units).max(0.0)
        })
        .collect();
    Demand {
        name: trace.name.clone(),
        start: trace.start,
        tick_seconds: model_tick,
        values,
        trace_units_per_replica: units,
    }
}

/// First scored tick: after the warm-up, at most half the replay.
pub fn scored_from(demand: &Demand, model: &ModelOptions) -> usize {
    let warm = (model.warmup_seconds.max(0) / demand.tick_seconds) as usize;
    warm.min(demand.len() / 2)
}

/// Replay `policies` (none of them `llm`) over `trace`.
pub fn run(
    trace: &Trace,
    opts: &Options,
    policies: &[PolicyKind],
) -> Result<Report, BacktestError> {
    if policies.contains(&PolicyKind::Llm) {
        return Err(BacktestError::NoAdvisor);
    }
    // Before `demand`, which divides by the tick.
    opts.validate()?;
    let d = demand(trace, &opts.model)?;
    run_demand(&d, opts, policies)
}

/// Replay over demand already in replica units.
pub fn run_demand(
    d: &Demand,
    opts: &Options,
    policies: &[PolicyKind],
) -> Result<Report, BacktestError> {
    opts.validate()?;
    if policies.contains(&PolicyKind::Llm) {
        return Err(BacktestError::NoAdvisor);
    }
    let started = Instant::now();
    let from = scored_from(d, &opts.model);
    let shared = policy::Shared::new(d, &opts.model, &opts.policy, from);
    let advisor = Advisor::rules_only(opts.policy.advisor.clone(), "backtest");
    let results = policies
        .iter()
        .map(|&k| {
            let t = Instant::now();
            let (m, counts, cal) = match k {
                PolicyKind::Ai4k8s => {
                    let (m, c, cal) = policy::run_ai4k8s(&shared, &advisor);
                    (m, Some(c), cal)
                }
                _ => (policy::run(k, &shared), None, None),
            };
            PolicyReport::new(k, m, counts, t.elapsed()).with_calibration(cal)
        })
        .collect();
    Ok(Report::new(d, opts, from, results, started.elapsed()))
}

/// Replay `policies` over `trace`; `llm` goes through `advisor` (which must have an LLM).
pub async fn run_with_advisor(
    trace: &Trace,
    opts: &Options,
    policies: &[PolicyKind],
    advisor: &Advisor,
) -> Result<Report, BacktestError> {
    opts.validate()?;
    let d = demand(trace, &opts.model)?;
    let started = Instant::now();
    let from = scored_from(&d, &opts.model);
    let shared = policy::Shared::new(&d, &opts.model, &opts.policy, from);
    let mut results = Vec::with_capacity(policies.len());
    for &k in policies {
        let t = Instant::now();
        let (m, counts, cal) = match k {
            PolicyKind::Llm => {
                let (m, c, cal) = policy::run_llm(&shared, advisor).await;
                (m, Some(c), cal)
            }
            PolicyKind::Ai4k8s => {
                let (m, c, cal) = policy::run_ai4k8s(&shared, advisor);
                (m, Some(c), cal)
            }
            _ => (policy::run(k, &shared), None, None),
        };
        results.push(PolicyReport::new(k, m, counts, t.elapsed()).with_calibration(cal));
    }
    Ok(Report::new(&d, opts, from, results, started.elapsed()))
}

/// Options for replaying a deployment's own stored history (the TUI's `b`).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryReplayOptions {
    pub name: String,
    /// The deployment's HPA bounds and target, when it has one.
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_pct: u32,
    /// The advisor's config the policy runs with (the app's own).
    pub advisor: AdvisorConfig,
}

impl Default for HistoryReplayOptions {
    fn default() -> Self {
        Self {
            name: "history".into(),
            min_replicas: 1,
            max_replicas: 200,
            target_pct: 70,
            advisor: AdvisorConfig::default(),
        }
    }
}

impl HistoryReplayOptions {
    /// The deployment's own bounds and HPA target (70 % when it has no CPU target).
    pub fn for_deployment(d: &crate::model::DeploymentState) -> Self {
        Self {
            name: d.key.to_string(),
            min_replicas: d.min_replicas,
            max_replicas: d.max_replicas,
            target_pct: d
                .hpa
                .as_ref()
                .and_then(|h| h.target_cpu_pct)
                .unwrap_or(Self::default().target_pct),
            advisor: AdvisorConfig::default(),
        }
    }
}

/// Replay a deployment's minute samples through hpa, ai4k8s, both oracles and static.
/// Demand is CPU % × ready pods / 100 (in units of one pod's request), which is what the pods
/// served; missing minutes repeat the last known one.
pub fn replay_history(
    samples: &[Sample],
    opts: &HistoryReplayOptions,
) -> Result<Report, BacktestError> {
    let trace = history_trace(samples, &opts.name)?;
    let options = Options {
        model: ModelOptions {
            p99_replicas: None,
            min_replicas: opts.min_replicas.max(1),
            max_replicas: opts.max_replicas.max(opts.min_replicas.max(1)),
            target_pct: opts.target_pct.clamp(1, 100),
            ..ModelOptions::default()
        },
        policy: PolicyOptions {
            advisor: opts.advisor.clone(),
            ..PolicyOptions::default()
        },
    };
    let d = demand(&trace, &options.model)?;
    run_demand(&d, &options, &PolicyKind::defaults())
}

/// Minute samples on a regular grid of demand values (missing minutes repeat the last known).
pub fn history_trace(samples: &[Sample], name: &str) -> Result<Trace, BacktestError> {
    let minute = crate::metrics::MINUTE;
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err(BacktestError::Trace(format!("{name}: no history")));
    };
    let start = first.timestamp.div_euclid(minute) * minute;
    let n = ((last.timestamp - start) / minute + 1).max(0) as usize;
    let mut values = vec![f64::NAN; n];
    for s in samples {
        let i = (s.timestamp - start).div_euclid(minute);
        if let Some(v) = usize::try_from(i).ok().and_then(|i| values.get_mut(i)) {
            *v = crate::metrics::history::Metric::Demand.of(s);
        }
    }
    let first_known = values.iter().copied().find(|v| v.is_finite());
    let Some(mut last_known) = first_known else {
        return Err(BacktestError::Trace(format!(
            "{name}: no CPU samples in the history"
        )));
    };
    for v in &mut values {
        if v.is_finite() {
            last_known = *v;
        } else {
            *v = last_known;
        }
    }
    if values.len() < traces::MIN_ROWS {
        return Err(BacktestError::Trace(format!(
            "{name}: {} minutes of history, too few",
            values.len()
        )));
    }
    Ok(Trace {
        name: name.to_string(),
        start,
        step_seconds: minute as u32,
        values,
    })
}
#[cfg(test)]
mod tests;
