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

pub mod calibrate;
pub mod demand;
pub mod metrics;
pub mod options;
pub mod policy;
pub mod replay;
pub mod report;

use std::time::Instant;

use crate::advisor::Advisor;
use crate::config::AdvisorConfig;
use crate::model::Sample;
use crate::traces::Trace;

pub use demand::{Demand, demand, history_trace, hold_per_tick, scored_from};
pub use metrics::PolicyMetrics;
pub use options::{
    BacktestError, FORECAST_SCORE_HORIZON_SECONDS, ModelOptions, Options, PolicyKind, PolicyOptions,
};
pub use policy::DecisionCounts;
pub use report::{Goal, PolicyReport, Report};

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

#[cfg(test)]
mod tests;
