//! A context's counts. A probed context has one snapshot and no history: each deployment is
//! decided by the one policy (`Advisor::recommend` on a rules-only advisor: the card's path,
//! without an LLM call) from its inputs now, with the cluster's room shared as every face
//! shares it. The open context's row counts the cards the engine made instead.

use crate::advisor::Advisor;
use crate::model::{ClusterSnapshot, DeploymentState, Recommendation};
use crate::pipeline::{self, Forecasts};

use super::row::{LlmState, Summary};

/// Decide every deployment of `snapshot` with `rules` (an advisor without an LLM) and count.
pub async fn summarise(snapshot: &ClusterSnapshot, rules: &Advisor, llm: LlmState) -> Summary {
    let none = Forecasts::default();
    let mut inputs: Vec<_> = snapshot
        .deployments
        .iter()
        .map(|d| pipeline::inputs(d, &none, None, None, snapshot.time))
        .collect();
    let rooms = pipeline::fleet_rooms(snapshot, inputs.iter(), rules.config());
    let mut recs = Vec::with_capacity(inputs.len());
    for i in &mut inputs {
        i.policy.room = rooms.get(&i.key()).cloned();
        recs.push(rules.recommend(i).await);
    }
    let rows = snapshot.deployments.iter().zip(&recs);
    count(rows.map(|(d, r)| (d, Some(r), false)), llm)
}

/// Count deployments, those at max, those with a pending change (not dismissed) and the
/// savings known. Each row: its state, its last recommendation, whether the user dismissed it
/// (a dismissed card is not pending, its calibration still counts).
pub fn count<'a>(
    rows: impl IntoIterator<Item = (&'a DeploymentState, Option<&'a Recommendation>, bool)>,
    llm: LlmState,
) -> Summary {
    let (mut deployments, mut maxed, mut pending) = (0, 0, 0);
    let mut savings: Option<f64> = None;
    for (state, rec, dismissed) in rows {
        deployments += 1;
        maxed += usize::from(state.at_max());
        pending += usize::from(!dismissed && rec.is_some_and(|r| r.change.moves().is_some()));
        if let Some(s) = rec.and_then(Recommendation::savings_per_day) {
            *savings.get_or_insert(0.0) += s;
        }
    }
    Summary {
        deployments,
        at_max: maxed,
        pending,
        savings_replica_hours_per_day: savings,
        llm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AdvisorConfig;
    use crate::model::HpaState;

    fn snapshot(deployments: Vec<DeploymentState>) -> ClusterSnapshot {
        ClusterSnapshot {
            context: "c".into(),
            time: 1_700_000_000,
            deployments,
            capacity: None,
        }
    }

    #[tokio::test]
    async fn counts_come_from_the_policys_decisions_on_the_snapshot() {
        let hot = DeploymentState::fixture("shop", "hot")
            .with_replicas(2)
            .with_bounds(1, 10)
            .with_usage(Some(190.0), Some(40.0));
        let steady = DeploymentState::fixture("shop", "steady")
            .with_replicas(2)
            .with_bounds(1, 10)
            .with_usage(Some(50.0), Some(40.0));
        let maxed = DeploymentState::fixture("shop", "maxed")
            .with_replicas(5)
            .with_bounds(1, 5)
            .with_usage(Some(95.0), Some(40.0))
            .with_hpa(Some(HpaState::fixture("maxed", 1, 5).steady_at(5)));
        let blind = DeploymentState::fixture("shop", "blind").with_replicas(3);
        let rules = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let snap = snapshot(vec![hot, steady, maxed, blind]);
        let s = summarise(&snap, &rules, LlmState::Off("no key: policy only".into())).await;
        assert_eq!(s.deployments, 4);
        assert_eq!(s.at_max, 1);
        // What the card would say for each, made the card's way (rules only).
        let mut want = 0;
        for d in &snap.deployments {
            let i = pipeline::inputs(d, &Forecasts::default(), None, None, snap.time);
            want += usize::from(rules.recommend(&i).await.change.moves().is_some());
        }
        assert_eq!(s.pending, want);
        // A deployment at 190 % of its CPU request on 2 replicas is scaled up; one without
        // metrics and one at its max are not.
        assert!(want >= 1, "the hot one is pending");
        assert_eq!(
            s.savings_replica_hours_per_day, None,
            "no calibration: unknown"
        );
    }

    #[test]
    fn ready_or_desired_at_the_max_is_at_max() {
        let d = DeploymentState::fixture("a", "b").with_bounds(1, 4);
        assert!(!d.clone().with_replicas(3).at_max());
        assert!(d.clone().with_replicas(4).at_max());
        let mut scaling_down = d.with_replicas(3);
        scaling_down.ready_replicas = 4;
        assert!(scaling_down.at_max());
    }
}
