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
