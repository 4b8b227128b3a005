//! A fleet's recommendations at once (issue 13): the consult decides, per deployment, whether
//! the LLM is asked; the asks are ordered by what is at stake (`priority`) and handed to the
//! LLM together, which carries several in one request; the rest answer without a request.
//! Each card is the one `Advisor::recommend` would make for that deployment.

use super::{Advisor, consult, policy, priority};
use crate::model::{AdvisorInputs, Recommendation, ReviewStatus, UnixSeconds};

/// How old a review may be and still stand in for one the LLM could not give now (the day's
/// requests paced, the minute's tokens spent, the endpoint failing): an hour, beyond which
/// the policy's own answer says more than an old review.
pub const STAND_IN_SECONDS: i64 = 3600;

/// The last review, when it may stand in for an ask that failed: the ask was not for a change
/// (a change is the policy's to propose when the LLM cannot review it), and it is recent.
fn stand_in(
    last: Option<super::LlmAdvice>,
    inputs: &AdvisorInputs,
    why: &consult::Why,
) -> Option<super::LlmAdvice> {
    if *why == consult::Why::Change {
        return None;
    }
    last.filter(|r| inputs.observed_at - r.reviewed_at <= STAND_IN_SECONDS)
}

impl Advisor {
    /// One validated recommendation per deployment of `fleet`, in its order.
    pub async fn recommend_many(&self, fleet: &[AdvisorInputs]) -> Vec<Recommendation> {
        #[cfg(test)]
        fleet.iter().for_each(super::test_panic::maybe);
        let Some(llm) = &self.llm else {
            return fleet
                .iter()
                .map(|i| self.overlay(self.policy(i, Some(self.no_llm_reason.clone()))))
                .collect();
        };
        let below = llm.consult_below_confidence();
        let mut recs: Vec<Option<Recommendation>> = vec![None; fleet.len()];
        let mut asks = Vec::new();
        for (i, inputs) in fleet.iter().enumerate() {
            let proposal = policy::decide(inputs, &self.cfg);
            match consult::consult(&proposal, below, || llm.stored_review(inputs)) {
                consult::Consult::Stand(review, why) => {
                    recs[i] =
                        Some(self.reviewed(inputs, &proposal, review, ReviewStatus::NotAsked, why));
                }
                consult::Consult::Ask(why) => asks.push((i, proposal, why)),
            }
        }
        let stakes: Vec<(priority::Stake, Option<UnixSeconds>)> = asks
            .iter()
            .map(|(i, proposal, _)| {
                let inputs = &fleet[*i];
                (priority::stake(inputs, proposal), llm.reviewed_at(inputs))
            })
            .collect();
        let order = priority::order(&stakes);
        let ordered: Vec<AdvisorInputs> = order.iter().map(|&k| fleet[asks[k].0].clone()).collect();
        let answers = llm.advise_many(&ordered).await;
        for (k, answer) in order.into_iter().zip(answers) {
            let (i, proposal, why) = &asks[k];
            let inputs = &fleet[*i];
            recs[*i] = Some(match answer {
                Ok(advice) => {
                    let status = if advice.cached {
                        ReviewStatus::Reused
                    } else {
                        ReviewStatus::Asked
                    };
                    self.reviewed(inputs, proposal, advice, status, why.text())
                }
                Err(failure) => match stand_in(llm.latest_review(inputs), inputs, why) {
                    // The review was wanted because the inputs moved, not for a change: the
                    // last one stands, with its age and why it was not renewed.
                    Some(review) => {
                        let why = format!(
                            "{}, but {}: the last review stands",
                            why.text(),
                            failure.reason
                        );
                        self.reviewed(inputs, proposal, review, ReviewStatus::NotAsked, why)
                    }
                    None => self.policy(inputs, Some(failure.reason)),
                },
            });
        }
        recs.into_iter()
            .zip(fleet)
            .map(|(rec, inputs)| self.overlay(rec.unwrap_or_else(|| self.policy(inputs, None))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::advisor::{LlmAdvice, LlmBackend, LlmFailure};
    use crate::config::AdvisorConfig;
    use crate::model::{Decision, DeploymentState, RecommendationSource, ScalingAction};

    /// Records the order it is asked in; fails every ask ("budget paced") and has a review of
    /// `reviewed_at` for each deployment that does not match today's inputs.
    struct Recorder {
        asked: Mutex<Vec<String>>,
        reviewed_at: Option<i64>,
    }

    #[async_trait::async_trait]
    impl LlmBackend for Recorder {
        async fn advise(&self, _: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure> {
            Err(LlmFailure {
                reason: "single".into(),
            })
        }
        async fn advise_many(&self, asks: &[AdvisorInputs]) -> Vec<Result<LlmAdvice, LlmFailure>> {
            let mut asked = self.asked.lock().expect("lock");
            asks.iter()
                .map(|i| {
                    asked.push(i.name.clone());
                    Err(LlmFailure {
                        reason: "budget paced (900/1000 spent by 12:00 UTC)".into(),
                    })
                })
                .collect()
        }
        fn latest_review(&self, inputs: &AdvisorInputs) -> Option<LlmAdvice> {
            self.reviewed_at.map(|at| LlmAdvice {
                decision: Decision::fixture(ScalingAction::Maintain, inputs.current_replicas, 0.8),
                model: "m".into(),
                cached: true,
                reviewed_at: at,
                notes: vec![],
            })
        }
        fn reviewed_at(&self, _: &AdvisorInputs) -> Option<i64> {
            self.reviewed_at
        }
        fn status(&self) -> String {
            "recorder".into()
        }
    }

    fn at(name: &str, replicas: u32, max: u32, cpu: f64) -> AdvisorInputs {
        DeploymentState::fixture("ns", name)
            .with_replicas(replicas)
            .with_bounds(2, max)
            .with_usage(Some(cpu), Some(40.0))
            .inputs_at(1_700_000_000)
    }

    #[tokio::test]
    async fn asks_go_out_by_stake_and_a_failed_ask_lets_a_recent_review_stand() {
        let llm = Arc::new(Recorder {
            asked: Mutex::default(),
            reviewed_at: Some(1_700_000_000 - 600),
        });
        let a = Advisor::with_llm(AdvisorConfig::default(), llm.clone());
        // 60 % on 4 pods at a 70 % target: no change; 95 %: a change; 18 of max 20: near max.
        let fleet = [
            at("steady", 4, 20, 60.0),
            at("near-max", 18, 20, 69.0),
            at("hot", 4, 20, 95.0),
        ];
        let recs = a.recommend_many(&fleet).await;
        assert_eq!(
            *llm.asked.lock().expect("lock"),
            vec!["hot", "near-max", "steady"],
            "the change first, then near max, then the rest"
        );
        assert_eq!(
            recs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["steady", "near-max", "hot"],
            "cards in the fleet's order"
        );
        // The change is the policy's when the LLM cannot review it.
        assert_eq!(recs[2].source, RecommendationSource::Policy);
        assert!(
            recs[2]
                .fallback_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("budget paced"))
        );
        // The others: their last review (10 min old) stands, and says why it was not renewed.
        let review = recs[0].llm_review.clone().expect("a review");
        assert_eq!(recs[0].source, RecommendationSource::Llm);
        assert_eq!(review.status, ReviewStatus::NotAsked);
        assert_eq!(review.age_seconds, 600);
        assert!(
            review.why.contains("but budget paced")
                && review.why.ends_with("the last review stands"),
            "{}",
            review.why
        );
        // An hour and more: too old to stand in; the policy answers.
        let old = Arc::new(Recorder {
            asked: Mutex::default(),
            reviewed_at: Some(1_700_000_000 - STAND_IN_SECONDS - 1),
        });
        let recs = Advisor::with_llm(AdvisorConfig::default(), old)
            .recommend_many(&fleet[..1])
            .await;
        assert_eq!(recs[0].source, RecommendationSource::Policy);
    }

    #[tokio::test]
    async fn without_an_llm_every_card_is_the_policys_and_says_why() {
        let a = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let fleet = [at("a", 4, 20, 60.0), at("b", 4, 20, 95.0)];
        let recs = a.recommend_many(&fleet).await;
        for (r, i) in recs.iter().zip(&fleet) {
            assert_eq!(r.source, RecommendationSource::Policy);
            assert_eq!(r.fallback_reason.as_deref(), Some("no key"));
            assert_eq!(*r, a.recommend(i).await, "the same card as alone");
        }
    }
}
