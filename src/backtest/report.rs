//! What a backtest reports: per policy the metrics, the model it ran under, and the
//! issue's goals checked for each forecasting policy against the HPA and the 100 % oracle.
//! Rendered as a text table or as JSON
//! (`{"trace", "policies": [{"policy", "under_provisioned_minutes", …}], …}`).

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::demand::Demand;
use super::metrics::PolicyMetrics;
use super::options::{Options, PolicyKind};
use super::policy::DecisionCounts;
use crate::model::{Calibration, PolicyParams};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub policy: String,
    #[serde(flatten)]
    pub metrics: PolicyMetrics,
    /// Where an advisor-driven policy's decisions came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions: Option<DecisionCounts>,
    /// The last calibration the policy ran with (ai4k8s, llm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
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
            calibration: None,
            replay_seconds: elapsed.as_secs_f64(),
        }
    }

    pub fn with_calibration(mut self, c: Option<Calibration>) -> Self {
        self.calibration = c;
        self
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
    pub policy: PolicySummary,
}

/// How the one policy ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicySummary {
    pub forecast_every_seconds: i64,
    pub decide_every_seconds: i64,
    pub calibrate_every_seconds: i64,
    /// The HPA target range the policy may move within, %.
    pub hpa_target_range: (u32, u32),
    /// Fixed parameters (None: calibrated walk-forward).
    pub fixed: Option<PolicyParams>,
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
        let p = &opts.policy;
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
                policy: PolicySummary {
                    forecast_every_seconds: p.forecast_every_seconds,
                    decide_every_seconds: p.decide_every_seconds(),
                    calibrate_every_seconds: p.calibrate_every_seconds,
                    hpa_target_range: (p.advisor.min_hpa_target_pct, p.advisor.max_hpa_target_pct),
                    fixed: p.fixed,
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

    /// The goals for every policy the app runs (ai4k8s, llm).
    fn check_goals(&self) -> Vec<Goal> {
        let (Some(hpa), Some(oracle)) = (self.policy("hpa"), self.policy("oracle-100")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in ["ai4k8s", "llm"] {
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
            "{:<11} {:>9} {:>7} {:>9} {:>7} {:>10} {:>7} {:>6} {:>7} {:>6} {:>8}",
            "policy",
            "under min",
            "under%",
            "unserved%",
            "over%",
            "replica-h",
            "events",
            "flaps",
            "flip300",
            "right%",
            "fc/naive"
        );
        for p in &self.policies {
            let x = &p.metrics;
            let fc = x
                .forecast_error_vs_naive
                .map_or("-".to_string(), |r| format!("{r:.2}"));
            let _ = writeln!(
                s,
                "{:<11} {:>9.1} {:>7.2} {:>9.3} {:>7.1} {:>10.1} {:>7} {:>6} {:>7} {:>6.1} {:>8}",
                p.policy,
                x.under_provisioned_minutes,
                x.under_provisioned_pct,
                x.unserved_pct,
                x.overprovisioned_pct,
                x.replica_hours,
                x.scale_events,
                x.flaps,
                x.flips_within_300s,
                x.right_sized_pct,
                fc
            );
        }
        for p in &self.policies {
            let Some(d) = &p.decisions else { continue };
            let _ = if d.llm + d.llm_cached > 0 || p.policy == "llm" {
                writeln!(
                    s,
                    "{} decisions after the warm-up: {} fresh LLM answers, {} reused, {} by the \
                     policy alone (LLM unavailable, limited or over budget); {} during the \
                     warm-up; {} changes applied, {} held back by the autopilot's gate",
                    p.policy, d.llm, d.llm_cached, d.policy, d.warmup, d.applied, d.gated
                )
            } else {
                writeln!(
                    s,
                    "{} decisions: {} after the warm-up, {} during it; {} changes applied, {} \
                     held back by the autopilot's gate",
                    p.policy, d.policy, d.warmup, d.applied, d.gated
                )
            };
            if let Some(c) = &p.calibration {
                let _ = writeln!(s, "{} {}", p.policy, c.summary());
            }
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

/// The goals for policy `name` (metrics `p`) against the HPA and the 100 % oracle:
/// under-provisioning at most half the HPA's (or at most 5 minutes where the HPA's are at most
/// 10), replica-hours no more than the HPA's, 40 % of the HPA-to-oracle gap closed, no more
/// scale events and no flip within 300 s, and right-sized at least 90 % of the time and more
/// often than the HPA.
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
    let allowed = if hpa.under_provisioned_minutes <= 10.0 {
        5.0_f64.max(hpa.under_provisioned_minutes / 2.0)
    } else {
        hpa.under_provisioned_minutes / 2.0
    };
    let gap = hpa.replica_hours - oracle.replica_hours;
    let closed = if gap > 0.0 {
        (hpa.replica_hours - p.replica_hours) / gap
    } else {
        0.0
    };
    vec![
        goal(
            "under_provisioning",
            p.under_provisioned_minutes <= allowed,
            format!(
                "under-provisioned {:.1} min vs <= {:.1} (HPA {:.1})",
                p.under_provisioned_minutes, allowed, hpa.under_provisioned_minutes
            ),
        ),
        goal(
            "replica_hours",
            p.replica_hours <= hpa.replica_hours,
            format!(
                "replica-h {:.1} vs <= {:.1} (the HPA's)",
                p.replica_hours, hpa.replica_hours
            ),
        ),
        goal(
            "close_40pct_of_gap",
            closed >= 0.4,
            format!(
                "closes {:.0}% of the HPA-oracle replica-h gap ({:.1}) vs >= 40%",
                closed * 100.0,
                gap
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
        goal(
            "right_sized",
            p.right_sized_pct >= 90.0 && p.right_sized_pct > hpa.right_sized_pct,
            format!(
                "right-sized {:.1} % of the time vs >= 90 % and > the HPA's {:.1} %",
                p.right_sized_pct, hpa.right_sized_pct
            ),
        ),
    ]
}
