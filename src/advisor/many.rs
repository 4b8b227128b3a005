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

/// Where a fleet's cards go as they are made (`Advisor::recommend_each`): each with its index
/// in the fleet, one request's worth at a time.
pub type Cards<'a> = &'a (dyn Fn(Vec<(usize, Recommendation)>) + Send + Sync);

impl Advisor {
    /// One validated recommendation per deployment of `fleet`, in its order.
    pub async fn recommend_many(&self, fleet: &[AdvisorInputs]) -> Vec<Recommendation> {
        let cards: std::sync::Mutex<Vec<Option<Recommendation>>> =
            std::sync::Mutex::new(vec![None; fleet.len()]);
        self.recommend_each(fleet, &|made| {
            if let Ok(mut cards) = cards.lock() {
                for (i, rec) in made {
                    if let Some(slot) = cards.get_mut(i) {
                        *slot = Some(rec);
                    }
                }
            }
        })
        .await;
        cards
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .chain(std::iter::repeat(None))
            .zip(fleet)
            .map(|(rec, inputs)| rec.unwrap_or_else(|| self.overlay(self.policy(inputs, None))))
            .collect()
    }

    /// [`recommend_many`](Self::recommend_many), each card handed to `cards` as soon as it is
    /// made: those the LLM need not be asked for at once, the others as their request
    /// answers. No card is sent before its own: a deployment the LLM is asked about gets no
    /// provisional policy card first. Every deployment gets exactly one card.
    pub async fn recommend_each(&self, fleet: &[AdvisorInputs], cards: Cards<'_>) {
        #[cfg(test)]
        fleet.iter().for_each(super::test_panic::maybe);
        let Some(llm) = &self.llm else {
            cards(
                fleet
                    .iter()
                    .enumerate()
                    .map(|(i, inputs)| {
                        let rec = self.policy(inputs, Some(self.no_llm_reason.clone()));
                        (i, self.overlay(rec))
                    })
                    .collect(),
            );
            return;
        };
        let below = llm.consult_below_confidence();
        let mut standing = Vec::new();
        let mut asks = Vec::new();
        for (i, inputs) in fleet.iter().enumerate() {
            let proposal = policy::decide(inputs, &self.cfg);
            match consult::consult(&proposal, below, || llm.stored_review(inputs)) {
                consult::Consult::Stand(review, why) => {
                    let rec = self.reviewed(inputs, &proposal, review, ReviewStatus::NotAsked, why);
                    standing.push((i, self.overlay(rec)));
                }
                consult::Consult::Ask(why) => asks.push((i, proposal, why)),
            }
        }
        if !standing.is_empty() {
            cards(standing);
        }
        if asks.is_empty() {
            return;
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
        llm.advise_each(&ordered, &|answers| {
            let made = answers
                .into_iter()
                .filter_map(|(j, answer)| {
                    let (i, proposal, why) = asks.get(*order.get(j)?)?;
                    let rec = self.answered(&fleet[*i], proposal, why, answer, llm.as_ref());
                    Some((*i, self.overlay(rec)))
                })
                .collect();
            cards(made);
        })
        .await;
    }

    /// The card for an ask, from the LLM's answer or, failing that, the last review that may
    /// stand in for it, else the policy's own with the reason.
    fn answered(
        &self,
        inputs: &AdvisorInputs,
        proposal: &policy::Outcome,
        why: &consult::Why,
        answer: Result<super::LlmAdvice, super::LlmFailure>,
        llm: &dyn super::LlmBackend,
    ) -> Recommendation {
        match answer {
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
        }
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
