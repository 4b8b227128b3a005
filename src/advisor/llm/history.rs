//! What the advisor remembers per deployment: its last few LLM decisions and what was observed
//! after each (the seed's "historical pattern learning"), the inputs of its last answer (so a
//! call is spent only when they changed) and why its last call failed.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::cache::CachedAdvice;
use crate::model::{AdvisorInputs, ScalingAction, UnixSeconds};

/// How long after a decision observations still count as its outcome (cluster seconds).
pub const OUTCOME_WINDOW_SECONDS: i64 = 900;
/// Decisions kept per deployment.
const KEEP: usize = 10;

/// What the cluster looked like at one instant, as far as a decision's outcome is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub at: UnixSeconds,
    pub replicas: u32,
    pub cpu_pct: Option<f64>,
    pub mem_pct: Option<f64>,
    pub cpu_peak: Option<f64>,
    pub mem_peak: Option<f64>,
}

impl Observation {
    pub fn of(inputs: &AdvisorInputs) -> Self {
        Self {
            at: inputs.observed_at,
            replicas: inputs.current_replicas,
            cpu_pct: inputs.cpu_pct,
            mem_pct: inputs.mem_pct,
            cpu_peak: inputs.cpu_forecast.as_ref().map(|f| f.peak),
            mem_peak: inputs.mem_forecast.as_ref().map(|f| f.peak),
        }
    }

    /// How far `self` moved from `before`, 0 (same) to 1 (a lot): 50 points of CPU, 25 of
    /// memory or any replica change count as large moves.
    pub fn movement_since(&self, before: &Observation) -> f64 {
        let d = |a: Option<f64>, b: Option<f64>, scale: f64| match (a, b) {
            (Some(a), Some(b)) => ((a - b).abs() / scale).min(1.0),
            (None, None) => 0.0,
            _ => 0.5,
        };
        let replicas = if self.replicas != before.replicas {
            0.5
        } else {
            0.0
        };
        [
            d(self.cpu_pct, before.cpu_pct, 50.0),
            d(self.cpu_peak, before.cpu_peak, 50.0),
            d(self.mem_pct, before.mem_pct, 25.0),
            d(self.mem_peak, before.mem_peak, 25.0),
            replicas,
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }
}

/// One LLM decision and what followed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastDecision {
    pub before: Observation,
    pub action: ScalingAction,
    pub target_replicas: u32,
    pub confidence: f64,
    /// The latest observation within [`OUTCOME_WINDOW_SECONDS`] after the decision.
    pub after: Option<Observation>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentMemory {
    pub decisions: VecDeque<PastDecision>,
    /// Cache key and answer of the last LLM answer: unchanged inputs never cost another call.
    pub last_key: Option<String>,
    pub last_answer: Option<CachedAdvice>,
    pub last_answer_inputs: Option<Observation>,
    /// When this deployment last wanted a call (its key differed from its last answer's).
    pub wanted_at: Option<UnixSeconds>,
    pub last_failure: Option<String>,
}

impl DeploymentMemory {
    /// Cluster time this deployment was last asked about or answered for.
    pub fn last_active(&self) -> Option<UnixSeconds> {
        let answered = self.last_answer.as_ref().map(|a| a.created_at);
        let decided = self
            .decisions
            .back()
            .map(|d| d.after.unwrap_or(d.before).at);
        [self.wanted_at, answered, decided]
            .into_iter()
            .flatten()
            .max()
    }

    /// Record `inputs` as the outcome of recent decisions.
    pub fn observe(&mut self, inputs: &AdvisorInputs) {
        let now = Observation::of(inputs);
        for d in &mut self.decisions {
            let age = now.at - d.before.at;
            if age > 0 && age <= OUTCOME_WINDOW_SECONDS {
                d.after = Some(now);
            }
        }
    }

    pub fn remember(&mut self, key: String, inputs: &AdvisorInputs, advice: CachedAdvice) {
        let before = Observation::of(inputs);
        self.decisions.push_back(PastDecision {
            before,
            action: advice.decision.action,
            target_replicas: advice.decision.target_replicas,
            confidence: advice.decision.confidence,
            after: None,
        });
        while self.decisions.len() > KEEP {
            self.decisions.pop_front();
        }
        self.last_key = Some(key);
        self.last_answer = Some(advice);
        self.last_answer_inputs = Some(before);
        self.last_failure = None;
    }

    /// The last `n` decisions as prompt lines, oldest first; numbers only, never names.
    pub fn render(&self, n: usize, now: UnixSeconds) -> String {
        if n == 0 || self.decisions.is_empty() {
            return "- none yet".into();
        }
        let skip = self.decisions.len().saturating_sub(n);
        let lines: Vec<String> = self
            .decisions
            .iter()
            .skip(skip)
            .map(|d| {
                let mut line = format!(
                    "- {} min ago: {} replicas, CPU {} → advised {} to {} (confidence {:.2})",
                    (now - d.before.at).max(0) / 60,
                    d.before.replicas,
                    pct(d.before.cpu_pct),
                    d.action.as_str(),
                    d.target_replicas,
                    d.confidence
                );
                match &d.after {
                    Some(a) => line.push_str(&format!(
                        "; {} min later: {} replicas, CPU {}",
                        (a.at - d.before.at) / 60,
                        a.replicas,
                        pct(a.cpu_pct)
                    )),
                    None => line.push_str("; outcome not observed yet"),
                }
                line
            })
            .collect();
        lines.join("\n")
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}%"))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentState;
    use crate::model::{Decision, Level, PerformanceImpact, Timing};

    fn inputs(at: i64, replicas: u32, cpu: f64) -> AdvisorInputs {
        DeploymentState::fixture("ns", "app")
            .with_replicas(replicas)
            .with_bounds(1, 10)
            .with_usage(Some(cpu), Some(40.0))
            .inputs_at(at)
    }

    fn advice(target: u32) -> CachedAdvice {
        CachedAdvice {
            decision: Decision {
                action: ScalingAction::ScaleUp,
                target_replicas: target,
                confidence: 0.8,
                reasoning: "r".into(),
                factors_considered: vec![],
                risk_assessment: Level::Low,
                cost_impact: Level::Low,
                performance_impact: PerformanceImpact::Positive,
                recommended_timing: Timing::Immediate,
            },
            model: "m".into(),
            notes: vec![],
            created_at: 0,
        }
    }

    #[test]
    fn outcomes_follow_decisions_within_the_window() {
        let mut m = DeploymentMemory::default();
        assert_eq!(m.render(5, 0), "- none yet");
        m.remember("k".into(), &inputs(0, 4, 90.0), advice(6));
        m.observe(&inputs(300, 6, 60.0));
        m.observe(&inputs(600, 6, 55.0));
        m.observe(&inputs(5000, 3, 10.0)); // too late to count
        let text = m.render(5, 3600);
        assert_eq!(
            text,
            "- 60 min ago: 4 replicas, CPU 90.0% → advised scale_up to 6 (confidence 0.80); \
             10 min later: 6 replicas, CPU 55.0%"
        );
        assert_eq!(m.last_key.as_deref(), Some("k"));
    }

    #[test]
    fn movement_scores() {
        let a = Observation::of(&inputs(0, 4, 40.0));
        assert_eq!(a.movement_since(&a), 0.0);
        let b = Observation::of(&inputs(0, 4, 65.0));
        assert!((b.movement_since(&a) - 0.5).abs() < 1e-9);
        let c = Observation::of(&inputs(0, 5, 40.0));
        assert_eq!(c.movement_since(&a), 0.5);
    }
}
