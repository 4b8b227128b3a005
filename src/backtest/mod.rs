//! Trace-replay backtest (issue 6): the same demand replayed through several autoscaling
//! policies on a virtual clock, scored on under- and over-provisioning, cost and churn.
//!
//! The model (every number an option): demand from a trace, rescaled so its 99th percentile
//! needs `p99_replicas` at the target utilization; 15 s ticks, each trace sample held for its
//! interval; one replica serves one unit; pods serve `startup_seconds` after creation; policies
//! see metrics `lag_seconds` old; replicas within [min, max]; the first `warmup_seconds` (at
//! most half the trace) are replayed but not scored.
//!
//! `sim` is the replay loop, `policy` the policies, `metrics` the scoring, `report` the table,
//! JSON and the goals.

pub mod args;
pub mod metrics;
pub mod policy;
pub mod report;
pub mod sim;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use crate::advisor::Advisor;
use crate::advisor::predictive::PredictiveParams;
use crate::model::Sample;
use crate::traces::{self, Trace};

pub use metrics::PolicyMetrics;
pub use policy::DecisionCounts;
pub use report::{Goal, PolicyReport, Report};
pub use sim::Demand;

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

/// How the forecaster's series is aggregated from the 15 s observations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Mean,
    /// The bucket's peak: sizing for it covers bursts inside the bucket.
    Max,
}

impl FromStr for Aggregate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mean" => Ok(Self::Mean),
            "max" => Ok(Self::Max),
            _ => Err(format!("aggregate {s:?}: expected mean or max")),
        }
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mean => "mean",
            Self::Max => "max",
        })
    }
}

/// The forecasting policies' knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictiveOptions {
    /// Forecast this often. The slowest part of a replay: a forecast covers six hours, so an
    /// hourly one keeps the floor informed while a heavier model stays affordable.
    pub every_seconds: i64,
    /// The predictive floor is re-planned this often from the latest forecast; the HPA still
    /// syncs every tick.
    pub decide_every_seconds: i64,
    /// The advisor-driven policies (rules, llm) decide this often: the LLM limiter's interval,
    /// so every decision can be a fresh call.
    pub advisor_every_seconds: i64,
    /// Step of the series handed to the forecaster.
    pub step_seconds: u32,
    pub aggregate: Aggregate,
    /// History handed to the forecaster.
    pub history_seconds: i64,
    /// The safety-net HPA's CPU target under the predictive floor.
    pub hpa_target_pct: u32,
    pub sizing: PredictiveParams,
}

impl Default for PredictiveOptions {
    fn default() -> Self {
        Self {
            every_seconds: 3600,
            decide_every_seconds: 60,
            advisor_every_seconds: 300,
            step_seconds: 300,
            aggregate: Aggregate::Max,
            history_seconds: 3 * 86_400,
            hpa_target_pct: 85,
            sizing: PredictiveParams::default(),
        }
    }
}

impl PredictiveOptions {
    /// Enough for the scoring horizon and the floor's look-ahead.
    pub fn horizon_seconds(&self) -> u32 {
        let need = FORECAST_SCORE_HORIZON_SECONDS
            .max(self.sizing.lookahead_seconds)
            .max(self.sizing.lower_lookahead_seconds);
        u32::try_from(need).unwrap_or(u32::MAX)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub model: ModelOptions,
    pub predictive: PredictiveOptions,
}

impl Options {
    pub fn validate(&self) -> Result<(), BacktestError> {
        let m = &self.model;
        let p = &self.predictive;
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
        if !(1..=100).contains(&m.target_pct) || !(1..=100).contains(&p.hpa_target_pct) {
            return bad("utilization targets must be within 1..=100 %".into());
        }
        if m.p99_replicas == Some(0) {
            return bad("p99 replicas must be at least 1".into());
        }
        if !(p.sizing.target_utilization > 0.0 && p.sizing.target_utilization <= 1.0) {
            return bad("predictive utilization must be within (0, 1]".into());
        }
        let step = p.step_seconds as i64;
        if step <= 0 || step % m.tick_seconds != 0 || 86_400 % step != 0 {
            return bad(format!(
                "forecast step {step} s must be a multiple of the tick dividing a day"
            ));
        }
        if p.every_seconds <= 0 || p.history_seconds < 86_400 {
            return bad("forecast interval must be positive and history at least a day".into());
        }
        Ok(())
    }
}

/// A policy to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Hpa,
    Predictive,
    /// Perfect foresight over the start-up + lag window, at 100 % utilization.
    Oracle100,
    /// The same at the target utilization.
    Oracle70,
    Static,
    /// The rules advisor applied through minReplicas (what the app's apply does today).
    Rules,
    /// The advisor with its LLM, applied the same way.
    Llm,
}

impl PolicyKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hpa => "hpa",
            Self::Predictive => "predictive",
            Self::Oracle100 => "oracle-100",
            Self::Oracle70 => "oracle-70",
            Self::Static => "static",
            Self::Rules => "rules",
            Self::Llm => "llm",
        }
    }

    /// The default set: hpa, predictive, both oracles, static.
    pub fn defaults() -> Vec<PolicyKind> {
        vec![
            Self::Hpa,
            Self::Predictive,
            Self::Oracle100,
            Self::Oracle70,
            Self::Static,
        ]
    }

    /// Parse `hpa,predictive,oracle,static,llm` (`oracle` is both oracles), in order,
    /// without duplicates.
    pub fn parse_list(s: &str) -> Result<Vec<PolicyKind>, String> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kinds: &[PolicyKind] = match name {
                "hpa" => &[Self::Hpa],
                "predictive" => &[Self::Predictive],
                "oracle" => &[Self::Oracle100, Self::Oracle70],
                "oracle-100" => &[Self::Oracle100],
                "oracle-70" => &[Self::Oracle70],
                "static" => &[Self::Static],
                "rules" => &[Self::Rules],
                "llm" => &[Self::Llm],
                _ => {
                    return Err(format!(
                        "unknown policy {name:?}: expected hpa, predictive, oracle, oracle-100, \
                         oracle-70, static, rules or llm"
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
    let step = trace.step_seconds as i64;
    let ticks = (trace.len() as i64 * step / model.tick_seconds) as usize;
    let values = (0..ticks)
        .map(|k| {
            let i = (k as i64 * model.tick_seconds / step) as usize;
            (trace.values[i.min(trace.len() - 1)] / units).max(0.0)
        })
        .collect();
    Ok(Demand {
        name: trace.name.clone(),
        start: trace.start,
        tick_seconds: model.tick_seconds,
        values,
        trace_units_per_replica: units,
    })
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
    let shared = policy::Shared::new(d, &opts.model, &opts.predictive, from);
    let advisor = Advisor::rules_only(Default::default(), "backtest");
    let results = policies
        .iter()
        .map(|&k| {
            let t = Instant::now();
            let (m, counts) = match k {
                PolicyKind::Rules => {
                    let (m, c) = policy::run_rules(&shared, &advisor);
                    (m, Some(c))
                }
                _ => (policy::run(k, &shared), None),
            };
            PolicyReport::new(k, m, counts, t.elapsed())
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
    let shared = policy::Shared::new(&d, &opts.model, &opts.predictive, from);
    let mut results = Vec::with_capacity(policies.len());
    for &k in policies {
        let t = Instant::now();
        let (m, counts) = match k {
            PolicyKind::Llm => {
                let (m, c) = policy::run_llm(&shared, advisor).await;
                (m, Some(c))
            }
            PolicyKind::Rules => {
                let (m, c) = policy::run_rules(&shared, advisor);
                (m, Some(c))
            }
            _ => (policy::run(k, &shared), None),
        };
        results.push(PolicyReport::new(k, m, counts, t.elapsed()));
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
}

impl Default for HistoryReplayOptions {
    fn default() -> Self {
        Self {
            name: "history".into(),
            min_replicas: 1,
            max_replicas: 200,
            target_pct: 70,
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
        }
    }
}

/// Replay a deployment's minute samples through hpa, predictive, both oracles and static.
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
        predictive: PredictiveOptions {
            hpa_target_pct: PredictiveOptions::default()
                .hpa_target_pct
                .max(opts.target_pct.clamp(1, 100)),
            ..PredictiveOptions::default()
        },
    };
    let d = demand(&trace, &options.model)?;
    run_demand(&d, &options, &PolicyKind::defaults())
}

/// Minute samples on a regular grid of demand values.
fn history_trace(samples: &[Sample], name: &str) -> Result<Trace, BacktestError> {
    let minute = crate::metrics::MINUTE;
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err(BacktestError::Trace(format!("{name}: no history")));
    };
    let start = first.timestamp.div_euclid(minute) * minute;
    let n = ((last.timestamp - start) / minute + 1).max(0) as usize;
    let mut values = vec![f64::NAN; n];
    for s in samples {
        let i = (s.timestamp - start).div_euclid(minute);
        let pods = if s.ready > 0 { s.ready } else { s.replicas };
        if let Some(v) = usize::try_from(i).ok().and_then(|i| values.get_mut(i))
            && s.cpu_pct.is_finite()
        {
            *v = (s.cpu_pct * pods as f64 / 100.0).max(0.0);
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
