//! Which asks go first (issue 13, "spend the budget where decisions are at stake"). When the
//! LLM is to be asked about more deployments than the day's requests and the minute's tokens
//! cover, the ones served first are those where its review changes the most: a pending change
//! (the policy proposes one), then deployments near their max (the next step up may be the
//! last), then anomalies (the forecast is unsure, or the load left it), then the rest, whose
//! review is oldest first.

use super::policy::Outcome;
use crate::model::{AdvisorInputs, UnixSeconds};

/// What is at stake in one ask, most first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stake {
    /// The policy proposes a change: the review decides what is written.
    PendingChange,
    /// Within a tenth of max (at least one replica): little room left to be wrong in.
    NearMax,
    /// The forecast's band is wide, or the load is far from what it forecast.
    Anomaly,
    Rest,
}

/// A forecast band wider than this share of its value is unsure.
const WIDE_BAND: f64 = 0.5;
/// Usage further than this share from its forecast has left it.
const FAR_FROM_FORECAST: f64 = 0.3;
/// Below this (% of requests) a difference is noise, not an anomaly.
const NOISE_PCT: f64 = 10.0;

/// What is at stake for this deployment and the policy's proposal.
pub fn stake(inputs: &AdvisorInputs, proposal: &Outcome) -> Stake {
    if super::consult::is_change(&proposal.change) {
        return Stake::PendingChange;
    }
    let max = inputs.max_replicas;
    let margin = (max / 10).max(1);
    if max > inputs.min_replicas && inputs.current_replicas.saturating_add(margin) >= max {
        return Stake::NearMax;
    }
    if anomalous(inputs) {
        return Stake::Anomaly;
    }
    Stake::Rest
}

/// The forecast band is wide (demand forecast's upper bound far above its value), or CPU
/// usage is far from the CPU forecast's current value.
fn anomalous(inputs: &AdvisorInputs) -> bool {
    let wide = inputs.policy.demand_forecast.as_ref().is_some_and(|f| {
        f.points.iter().any(|p| {
            p.value.is_finite()
                && p.upper.is_finite()
                && p.upper - p.lower > WIDE_BAND * p.value.abs().max(1.0)
        })
    });
    let far = match (inputs.cpu_pct, inputs.cpu_forecast.as_ref()) {
        (Some(now), Some(f)) if now.is_finite() && f.current.is_finite() => {
            (now - f.current).abs() > (FAR_FROM_FORECAST * f.current.abs()).max(NOISE_PCT)
        }
        _ => false,
    };
    wide || far
}

/// The order to serve asks in: by stake, then the oldest review first (never reviewed
/// before any), then as given. Returns indices into `asks` (stake, last review time).
pub fn order(asks: &[(Stake, Option<UnixSeconds>)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..asks.len()).collect();
    // `None` sorts before `Some`: never reviewed is the stalest.
    idx.sort_by_key(|&i| (asks[i].0, asks[i].1, i));
    idx
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{
        Decision, DeploymentState, Forecast, ForecastPoints, ForecastSummary, Peak, PolicyChange,
        ScalingAction, Trend,
    };

    fn proposal(change: PolicyChange) -> Outcome {
        Outcome {
            decision: Decision::fixture(ScalingAction::Maintain, 4, 0.9),
            change,
            range: (4, 4),
        }
    }

    fn at(replicas: u32, max: u32) -> AdvisorInputs {
        DeploymentState::fixture("ns", "app")
            .with_replicas(replicas)
            .with_bounds(2, max)
            .with_usage(Some(60.0), Some(40.0))
            .inputs_at(0)
    }

    fn summary(current: f64) -> ForecastSummary {
        ForecastSummary {
            current,
            peak: current,
            peak_at: 0,
            trend: Trend::Stable,
            predictions: vec![current; 6],
            model: "m".into(),
            low_confidence: false,
        }
    }

    fn band(value: f64, lower: f64, upper: f64) -> Arc<Forecast> {
        Arc::new(Forecast {
            model: "m".into(),
            step_seconds: 60,
            points: ForecastPoints::new(60, 60, [(value, lower, upper)]),
            peak: Peak {
                timestamp: 60,
                value,
            },
            trend: Trend::Stable,
            trend_pct_per_hour: 0.0,
            current: value,
            hourly: vec![],
            anomalies: vec![],
            low_confidence: false,
        })
    }

    #[test]
    fn changes_then_near_max_then_anomalies_then_the_rest() {
        let keep = proposal(PolicyChange::Maintain);
        let change = proposal(PolicyChange::Replicas { from: 4, to: 6 });
        assert_eq!(stake(&at(4, 20), &change), Stake::PendingChange);
        assert_eq!(stake(&at(18, 20), &keep), Stake::NearMax);
        assert_eq!(stake(&at(17, 20), &keep), Stake::Rest);
        assert_eq!(
            stake(&at(4, 5), &keep),
            Stake::NearMax,
            "at least one replica"
        );
        assert_eq!(
            stake(&at(3, 3).clone_with_min(3), &keep),
            Stake::Rest,
            "fixed size"
        );
        // Usage 60 % against a forecast of 30 %: far from it.
        let far = AdvisorInputs {
            cpu_forecast: Some(summary(30.0)),
            ..at(4, 20)
        };
        assert_eq!(stake(&far, &keep), Stake::Anomaly);
        let near = AdvisorInputs {
            cpu_forecast: Some(summary(55.0)),
            ..at(4, 20)
        };
        assert_eq!(stake(&near, &keep), Stake::Rest);
        let mut wide = at(4, 20);
        wide.policy.demand_forecast = Some(band(4.0, 1.0, 8.0));
        assert_eq!(stake(&wide, &keep), Stake::Anomaly);
        wide.policy.demand_forecast = Some(band(4.0, 3.5, 4.5));
        assert_eq!(stake(&wide, &keep), Stake::Rest);
    }

    #[test]
    fn the_order_serves_stakes_first_then_the_stalest_review() {
        let asks = [
            (Stake::Rest, Some(500)),
            (Stake::Anomaly, Some(900)),
            (Stake::Rest, None),
            (Stake::PendingChange, Some(1000)),
            (Stake::Rest, Some(100)),
            (Stake::NearMax, Some(50)),
            (Stake::PendingChange, Some(10)),
        ];
        assert_eq!(order(&asks), vec![6, 3, 5, 1, 2, 4, 0]);
        assert!(order(&[]).is_empty());
    }

    trait WithMin {
        fn clone_with_min(&self, min: u32) -> AdvisorInputs;
    }
    impl WithMin for AdvisorInputs {
        fn clone_with_min(&self, min: u32) -> AdvisorInputs {
            AdvisorInputs {
                min_replicas: min,
                ..self.clone()
            }
        }
    }
}
