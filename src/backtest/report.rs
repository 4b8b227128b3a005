//! What a backtest reports: per policy the metrics, the model it ran under, and the
//! issue's goals checked for each forecasting policy against the HPA and the 100 % oracle.
//! Rendered as a text table or as JSON
//! (`{"trace", "policies": [{"policy", "under_provisioned_minutes", …}], …}`).

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::metrics::PolicyMetrics;
use super::policy::DecisionCounts;
use super::sim::Demand;
use super::{Options, PolicyKind};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub policy: String,
    #[serde(flatten)]
    pub metrics: PolicyMetrics,
    /// Where an advisor-driven policy's decisions came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions: Option<DecisionCounts>,
    /// Wall time of this policy's replay.
    pub replay_seconds: f64,
}

impl PolicyReport {
    pub fn new(
        kind: PolicyKind,
        metrics: PolicyMetrics,
        decisions: Option<DecisionCounts>,
        elapsed: Duration,
    ) -> Self {
        Self {
            policy: kind.name().to_string(),
            metrics,
            decisions,
            replay_seconds: elapsed.as_secs_f64(),
        }
    }
}

/// The model a report was made under (so a table can be reproduced).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub tick_seconds: i64,
    pub startup_seconds: i64,
    pub lag_seconds: i64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_pct: u32,
    /// None: the series was used as demand in replica units as it is.
    pub p99_replicas: Option<u32>,
    /// Trace units one replica serves.
    pub trace_units_per_replica: f64,
    pub warmup_minutes: f64,
    pub scored_minutes: f64,
    pub predictive: PredictiveSummary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictiveSummary {
    pub every_seconds: i64,
    pub decide_every_seconds: i64,
    pub advisor_every_seconds: i64,
    pub step_seconds: u32,
    pub aggregate: String,
    pub history_seconds: i64,
    pub hpa_target_pct: u32,
    pub utilization: f64,
    pub band: f64,
    pub lookahead_seconds: i64,
    pub lower_lookahead_seconds: i64,
    pub hold_seconds: i64,
    pub lower_hysteresis: f64,
    pub recent_seconds: i64,
    pub recent_utilization: f64,
    pub reverse_guard_seconds: i64,
    pub follow_hpa: bool,
}

/// One of the goals for one policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub policy: String,
    /// "under_half_at_no_more_cost", "close_40pct_of_gap", "no_more_events_no_flips".
    pub goal: String,
    pub met: bool,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub trace: String,
    pub policies: Vec<PolicyReport>,
    pub model: ModelSummary,
    /// Empty unless hpa, oracle-100 and a forecasting policy were replayed.
    pub goals: Vec<Goal>,
    pub replay_seconds: f64,
}

impl Report {
    pub fn new(
        d: &Demand,
        opts: &Options,
        scored_from: usize,
        policies: Vec<PolicyReport>,
        elapsed: Duration,
    ) -> Self {
        let m = &opts.model;
        let p = &opts.predictive;
        let minutes = |ticks: usize| ticks as f64 * d.tick_seconds as f64 / 60.0;
        let mut r = Self {
            trace: d.name.clone(),
            model: ModelSummary {
                tick_seconds: d.tick_seconds,
                startup_seconds: m.startup_seconds,
                lag_seconds: m.lag_seconds,
                min_replicas: m.min_replicas,
                max_replicas: m.max_replicas,
                target_pct: m.target_pct,
                p99_replicas: m.p99_replicas,
                trace_units_per_replica: d.trace_units_per_replica,
                warmup_minutes: minutes(scored_from),
                scored_minutes: minutes(d.len().saturating_sub(scored_from)),
                predictive: PredictiveSummary {
                    every_seconds: p.every_seconds,
                    decide_every_seconds: p.decide_every_seconds,
                    advisor_every_seconds: p.advisor_every_seconds,
                    step_seconds: p.step_seconds,
                    aggregate: p.aggregate.to_string(),
                    history_seconds: p.history_seconds,
                    hpa_target_pct: p.hpa_target_pct,
                    utilization: p.sizing.target_utilization,
                    band: p.sizing.band,
                    lookahead_seconds: p.sizing.lookahead_seconds,
                    lower_lookahead_seconds: p.sizing.lower_lookahead_seconds,
                    hold_seconds: p.sizing.hold_seconds,
                    lower_hysteresis: p.sizing.lower_hysteresis,
                    recent_seconds: p.sizing.recent_seconds,
                    recent_utilization: p.sizing.recent_utilization,
                    reverse_guard_seconds: p.sizing.reverse_guard_seconds,
                    follow_hpa: p.sizing.follow_hpa,
                },
            },
            policies,
            goals: Vec::new(),
            replay_seconds: elapsed.as_secs_f64(),
        };
        r.goals = r.check_goals();
        r
    }

    pub fn policy(&self, name: &str) -> Option<&PolicyMetrics> {
        self.policies
            .iter()
            .find(|p| p.policy == name)
            .map(|p| &p.metrics)
    }

    /// The three goals for every forecasting policy present.
    fn check_goals(&self) -> Vec<Goal> {
        let (Some(hpa), Some(oracle)) = (self.policy("hpa"), self.policy("oracle-100")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in ["predictive", "rules", "llm"] {
            let Some(p) = self.policy(name) else {
                continue;
            };
            out.extend(goals_for(name, p, hpa, oracle));
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The table the CLI prints.
    pub fn to_table(&self) -> String {
        let m = &self.model;
        let mut s = String::new();
        let scale = match m.p99_replicas {
            Some(r) => format!(
                "rescaled: p99 needs {r} replicas at {}% ({:.4} trace units per replica)",
                m.target_pct, m.trace_units_per_replica
            ),
            None => "demand in replica units".into(),
        };
        let _ = writeln!(
            s,
            "backtest {}: {scale}; {:.1} d scored after {:.1} d warm-up; pods serve {} s after \
             creation, metrics {} s late, replicas {}..{}",
            self.trace,
            m.scored_minutes / 1440.0,
            m.warmup_minutes / 1440.0,
            m.startup_seconds,
            m.lag_seconds,
            m.min_replicas,
            m.max_replicas
        );
        let _ = writeln!(
            s,
            "{:<11} {:>9} {:>7} {:>9} {:>7} {:>10} {:>7} {:>6} {:>7} {:>8}",
            "policy",
            "under min",
            "under%",
            "unserved%",
            "over%",
            "replica-h",
            "events",
            "flaps",
            "flip300",
            "fc/naive"
        );
        for p in &self.policies {
            let x = &p.metrics;
            let fc = x
                .forecast_error_vs_naive
                .map_or("-".to_string(), |r| format!("{r:.2}"));
            let _ = writeln!(
                s,
                "{:<11} {:>9.1} {:>7.2} {:>9.3} {:>7.1} {:>10.1} {:>7} {:>6} {:>7} {:>8}",
                p.policy,
                x.under_provisioned_minutes,
                x.under_provisioned_pct,
                x.unserved_pct,
                x.overprovisioned_pct,
                x.replica_hours,
                x.scale_events,
                x.flaps,
                x.flips_within_300s,
                fc
            );
        }
        for p in &self.policies {
            let Some(d) = &p.decisions else { continue };
            let _ = if d.llm + d.llm_cached > 0 || p.policy == "llm" {
                writeln!(
                    s,
                    "{} decisions after the warm-up: {} fresh LLM answers, {} reused, {} by the \
                     rules (LLM unavailable, limited or over budget); {} by the rules during the \
                     warm-up",
                    p.policy, d.llm, d.llm_cached, d.rules, d.warmup_rules
                )
            } else {
                writeln!(
                    s,
                    "{} decisions: {} after the warm-up, {} during it",
                    p.policy, d.rules, d.warmup_rules
                )
            };
        }
        if !self.goals.is_empty() {
            let _ = writeln!(s, "goals (vs hpa and oracle-100):");
            for g in &self.goals {
                let _ = writeln!(
                    s,
                    "  {:<10} [{}] {}",
                    g.policy,
                    if g.met { "met" } else { "MISSED" },
                    g.detail
                );
            }
        }
        let _ = write!(s, "replayed in {:.2} s", self.replay_seconds);
        s
    }
}

/// The goals for policy `name` (metrics `p`) against the HPA and the 100 % oracle.
pub fn goals_for(
    name: &str,
    p: &PolicyMetrics,
    hpa: &PolicyMetrics,
    oracle: &PolicyMetrics,
) -> Vec<Goal> {
    let goal = |id: &str, met: bool, detail: String| Goal {
        policy: name.to_string(),
        goal: id.to_string(),
        met,
        detail,
    };
    let half = hpa.under_provisioned_minutes / 2.0;
    let gap = hpa.replica_hours - oracle.replica_hours;
    let closed = if gap > 0.0 {
        (hpa.replica_hours - p.replica_hours) / gap
    } else {
        0.0
    };
    vec![
        goal(
            "under_half_at_no_more_cost",
            p.under_provisioned_minutes <= half && p.replica_hours <= hpa.replica_hours,
            format!(
                "under-provisioned {:.1} min vs <= {:.1} (half the HPA's); replica-h {:.1} vs <= {:.1}",
                p.under_provisioned_minutes, half, p.replica_hours, hpa.replica_hours
            ),
        ),
        goal(
            "close_40pct_of_gap",
            closed >= 0.4 && p.under_provisioned_minutes <= hpa.under_provisioned_minutes,
            format!(
                "closes {:.0}% of the HPA-oracle replica-h gap ({:.1}) vs >= 40%; under-provisioned \
                 {:.1} min vs <= {:.1}",
                closed * 100.0,
                gap,
                p.under_provisioned_minutes,
                hpa.under_provisioned_minutes
            ),
        ),
        goal(
            "no_more_events_no_flips",
            p.scale_events <= hpa.scale_events && p.flips_within_300s == 0,
            format!(
                "scale events {} vs <= {}; direction flips within 300 s: {}",
                p.scale_events, hpa.scale_events, p.flips_within_300s
            ),
        ),
    ]
}
