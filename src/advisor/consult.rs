//! Whether to ask the LLM (issue 13, "ask only when it matters"): the one policy proposes, and
//! the LLM is consulted when that proposal is a change, when its confidence is low, or when
//! no review of this deployment matches today's inputs (they left the cache buckets of its
//! last review). Otherwise the last review stands: no request, no budget spent, and the card
//! shows it with its age. A standing review still passes today's range and validation.

use super::policy::Outcome;
use crate::model::PolicyChange;

/// Why the LLM is asked.
#[derive(Clone, Debug, PartialEq)]
pub enum Why {
    /// The policy proposes a change (floor, release, target, replicas).
    Change,
    /// The policy's confidence is below `llm.consult_below_confidence`.
    LowConfidence { confidence: f64, below: f64 },
    /// No review of this deployment matches today's inputs.
    NoReview,
}

impl Why {
    pub fn text(&self) -> String {
        match self {
            Why::Change => "the policy proposes a change".into(),
            Why::LowConfidence { confidence, below } => {
                format!("the policy's confidence {confidence:.2} is below {below:.2}")
            }
            Why::NoReview => "no LLM review for these inputs yet (they left its buckets)".into(),
        }
    }
}

/// What the advisor does with the LLM for one recommendation.
#[derive(Clone, Debug, PartialEq)]
pub enum Consult<R> {
    Ask(Why),
    /// The stored review stands; the text says why it was not asked.
    Stand(R, String),
}

/// Whether the proposal alone calls for the LLM: a change, or low confidence.
pub fn proposal_needs_review(proposal: &Outcome, below: f64) -> Option<Why> {
    if is_change(&proposal.change) {
        return Some(Why::Change);
    }
    let confidence = proposal.decision.confidence;
    // NaN counts as low: nothing is known about it.
    if confidence.is_nan() || confidence < below {
        return Some(Why::LowConfidence { confidence, below });
    }
    None
}

/// The one decision: ask (and why), or let the stored review stand. `stored` is only looked
/// up when the proposal itself does not call for the LLM.
pub fn consult<R>(
    proposal: &Outcome,
    below: f64,
    stored: impl FnOnce() -> Option<R>,
) -> Consult<R> {
    if let Some(why) = proposal_needs_review(proposal, below) {
        return Consult::Ask(why);
    }
    match stored() {
        Some(review) => Consult::Stand(
            review,
            format!(
                "the policy proposes no change ({}, confidence {:.2})",
                proposal.change.headline(),
                proposal.decision.confidence
            ),
        ),
        None => Consult::Ask(Why::NoReview),
    }
}

/// Whether applying the change writes anything (maintain and at max write nothing).
pub fn is_change(change: &PolicyChange) -> bool {
    !matches!(change, PolicyChange::Maintain | PolicyChange::AtMax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decision, ScalingAction};

    fn outcome(change: PolicyChange, confidence: f64) -> Outcome {
        Outcome {
            decision: Decision::fixture(ScalingAction::Maintain, 4, confidence),
            change,
            range: (4, 4),
        }
    }

    #[test]
    fn asks_for_a_change_low_confidence_or_no_matching_review() {
        let steady = outcome(PolicyChange::Maintain, 0.9);
        assert_eq!(
            consult(&steady, 0.6, || Some("review")),
            Consult::Stand(
                "review",
                "the policy proposes no change (maintain, confidence 0.90)".into()
            )
        );
        assert_eq!(
            consult(&steady, 0.6, || None::<&str>),
            Consult::Ask(Why::NoReview)
        );
        let change = outcome(PolicyChange::Replicas { from: 4, to: 6 }, 0.9);
        let looked = std::cell::Cell::new(false);
        let c = consult(&change, 0.6, || {
            looked.set(true);
            Some("review")
        });
        assert_eq!(c, Consult::Ask(Why::Change));
        assert!(!looked.get(), "a change never looks up a stored review");
        let unsure = outcome(PolicyChange::Maintain, 0.5);
        let Consult::Ask(why) = consult(&unsure, 0.6, || Some("review")) else {
            panic!("low confidence asks");
        };
        assert_eq!(why.text(), "the policy's confidence 0.50 is below 0.60");
        assert!(matches!(
            consult(&outcome(PolicyChange::Maintain, f64::NAN), 0.6, || Some(1)),
            Consult::Ask(Why::LowConfidence { .. })
        ));
        // At max writes nothing: a confident at-max stands like maintain.
        assert!(matches!(
            consult(&outcome(PolicyChange::AtMax, 0.9), 0.6, || Some(1)),
            Consult::Stand(1, _)
        ));
        // A threshold of 0 never asks for confidence alone.
        assert!(proposal_needs_review(&outcome(PolicyChange::Maintain, 0.0), 0.0).is_none());
    }
}
