//! The advisor: turns what the pipeline knows about a deployment into a recommendation card.
//!
//! One policy decides (`policy::decide`); the LLM (when configured) reviews its candidate and
//! may pick another target within the policy's range, explaining why; when the LLM is absent,
//! rate-limited, over budget or fails, the policy's own answer stands and the card says why.
//! Every decision, whoever made it, passes the same validation, and its change is derived from
//! its target by the same function.

mod backend;
pub mod consult;
pub mod llm;
mod many;
pub mod policy;
pub mod priority;
pub mod scheduled;
pub mod validate;

use std::sync::Arc;

use crate::config::AdvisorConfig;
use crate::model::{
    AdvisorInputs, Decision, LlmReview, Recommendation, RecommendationSource, ReviewStatus, rfc3339,
};

pub use backend::{LlmAdvice, LlmBackend, LlmFailure};

/// How a card labels one of a recommendation's notes: "reused" for an earlier answer given
/// again because the inputs did not change (nothing was corrected), "corrected" otherwise.
pub fn note_label(note: &str) -> &'static str {
    if note.starts_with(llm::REUSED_PREFIX) {
        "reused"
    } else {
        "corrected"
    }
}

/// The advisor every face uses.
#[derive(Clone)]
pub struct Advisor {
    cfg: AdvisorConfig,
    llm: Option<Arc<dyn LlmBackend>>,
    /// Why there is no LLM (e.g. "no key"), shown in the status bar and on cards.
    no_llm_reason: String,
    /// `[[schedule]]` windows raise recommendations to their minimum.
    schedule: scheduled::Schedule,
}

impl Advisor {
    /// Rules only, with the reason the LLM is not used.
    pub fn rules_only(cfg: AdvisorConfig, reason: impl Into<String>) -> Self {
        Self {
            cfg,
            llm: None,
            no_llm_reason: reason.into(),
            schedule: scheduled::Schedule::default(),
        }
    }

    pub fn with_llm(cfg: AdvisorConfig, llm: Arc<dyn LlmBackend>) -> Self {
        Self {
            cfg,
            llm: Some(llm),
            no_llm_reason: String::new(),
            schedule: scheduled::Schedule::default(),
        }
    }

    /// Add the `[[schedule]]` rules.
    pub fn with_schedule(mut self, schedule: scheduled::Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    pub fn config(&self) -> &AdvisorConfig {
        &self.cfg
    }

    /// Status-bar text for the LLM side.
    pub fn llm_status(&self) -> String {
        match &self.llm {
            Some(llm) => llm.status(),
            None => format!("{}: policy only", self.no_llm_reason),
        }
    }

    /// A validated recommendation for one deployment, raised to an open schedule window's
    /// minimum when it is below it.
    pub async fn recommend(&self, inputs: &AdvisorInputs) -> Recommendation {
        #[cfg(test)]
        test_panic::maybe(inputs);
        let rec = self.advise(inputs).await;
        self.overlay(rec)
    }

    /// The schedule's floor over a recommendation.
    fn overlay(&self, rec: Recommendation) -> Recommendation {
        if self.schedule.is_empty() {
            rec
        } else {
            self.schedule.overlay(rec, self.cfg.max_step)
        }
    }

    /// The policy proposes; the LLM reviews the proposal when `consult` says so, else the
    /// deployment's last review stands (no request). Either answer is brought into the
    /// policy's range and validated against today's inputs.
    async fn advise(&self, inputs: &AdvisorInputs) -> Recommendation {
        let Some(llm) = &self.llm else {
            return self.policy(inputs, Some(self.no_llm_reason.clone()));
        };
        let proposal = policy::decide(inputs, &self.cfg);
        let below = llm.consult_below_confidence();
        let (advice, status, why) =
            match consult::consult(&proposal, below, || llm.stored_review(inputs)) {
                consult::Consult::Stand(review, why) => (review, ReviewStatus::NotAsked, why),
                consult::Consult::Ask(why) => match llm.advise_fresh(inputs).await {
                    Ok(advice) => {
                        let status = if advice.cached {
                            ReviewStatus::Reused
                        } else {
                            ReviewStatus::Asked
                        };
                        (advice, status, why.text())
                    }
                    Err(failure) => return self.policy(inputs, Some(failure.reason)),
                },
            };
        self.reviewed(inputs, &proposal, advice, status, why)
    }

    /// An LLM answer with how it came (asked, reused, standing) and why, as a card.
    fn reviewed(
        &self,
        inputs: &AdvisorInputs,
        proposal: &policy::Outcome,
        advice: LlmAdvice,
        status: ReviewStatus,
        why: String,
    ) -> Recommendation {
        let review = LlmReview {
            status,
            reviewed_at: rfc3339(advice.reviewed_at),
            age_seconds: (inputs.observed_at - advice.reviewed_at).max(0),
            why,
        };
        self.llm_card(inputs, proposal, advice, review)
    }

    /// An LLM answer (asked now or standing) as a card: within the policy's range, validated
    /// against today's bounds and step, its change derived from its target.
    fn llm_card(
        &self,
        inputs: &AdvisorInputs,
        policy: &policy::Outcome,
        advice: LlmAdvice,
        review: LlmReview,
    ) -> Recommendation {
        let mut decision = advice.decision;
        let mut corrections = advice.notes;
        let (lo, hi) = policy.range;
        let asked = decision.target_replicas;
        if !(lo..=hi).contains(&asked) {
            decision.target_replicas = asked.clamp(lo, hi);
            corrections.push(format!(
                "target_replicas {asked} outside the policy's range [{lo}, {hi}] → {}",
                decision.target_replicas
            ));
        }
        corrections.extend(validate::validate(&mut decision, inputs, self.cfg.max_step));
        let mut change =
            policy::change_for_target(inputs, &policy.change, decision.target_replicas);
        decision.action = policy::action_of(&change);
        corrections.extend(policy::hold_still(inputs, &mut decision, &mut change));
        let cached = advice.cached || review.status == ReviewStatus::NotAsked;
        let mut rec = build(
            inputs,
            decision,
            RecommendationSource::Llm,
            Some(advice.model),
            cached,
            corrections,
            None,
            change,
        );
        rec.policy_range = Some(policy.range);
        rec.llm_review = Some(review);
        rec
    }

    /// The policy's own recommendation, labelled with why the LLM did not answer.
    pub fn policy(
        &self,
        inputs: &AdvisorInputs,
        fallback_reason: Option<String>,
    ) -> Recommendation {
        let out = policy::decide(inputs, &self.cfg);
        let mut decision = out.decision;
        let mut corrections = validate::validate(&mut decision, inputs, self.cfg.max_step);
        let mut change = policy::change_for_target(inputs, &out.change, decision.target_replicas);
        decision.action = policy::action_of(&change);
        corrections.extend(policy::hold_still(inputs, &mut decision, &mut change));
        build(
            inputs,
            decision,
            RecommendationSource::Policy,
            None,
            false,
            corrections,
            fallback_reason.filter(|r| !r.is_empty()),
            change,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    inputs: &AdvisorInputs,
    decision: Decision,
    source: RecommendationSource,
    model: Option<String>,
    cached: bool,
    corrections: Vec<String>,
    fallback_reason: Option<String>,
    change: crate::model::PolicyChange,
) -> Recommendation {
    Recommendation {
        namespace: inputs.namespace.clone(),
        name: inputs.name.clone(),
        decision,
        current_replicas: inputs.current_replicas,
        min_replicas: inputs.min_replicas,
        max_replicas: inputs.max_replicas,
        source,
        model,
        cached,
        created_at: rfc3339(inputs.observed_at),
        corrections,
        fallback_reason,
        change,
        policy_range: None,
        llm_review: None,
        inputs: inputs.clone(),
    }
}

/// Tests of the engine's handling of a panicking recommendation: the next `n` calls for the
/// namespace `PANIC_NAMESPACE` panic (no other test uses that namespace).
#[cfg(test)]
pub(crate) mod test_panic {
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub const PANIC_NAMESPACE: &str = "panic-test";
    pub static REMAINING: AtomicUsize = AtomicUsize::new(0);

    pub fn maybe(inputs: &crate::model::AdvisorInputs) {
        if inputs.namespace == PANIC_NAMESPACE
            && REMAINING
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            panic!("injected advisor panic for {}", inputs.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentState;
    use crate::model::{Level, PerformanceImpact, ScalingAction, Timing};

    fn inputs() -> AdvisorInputs {
        DeploymentState::fixture("ns", "app")
            .with_replicas(4)
            .with_bounds(2, 6)
            .with_usage(Some(90.0), Some(40.0))
            .inputs_at(1_700_000_000)
    }

    struct FixedLlm(Result<LlmAdvice, LlmFailure>);

    #[async_trait::async_trait]
    impl LlmBackend for FixedLlm {
        async fn advise(&self, _: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure> {
            self.0.clone()
        }
        fn status(&self) -> String {
            "LLM fixed".into()
        }
    }

    #[tokio::test]
    async fn without_llm_the_rules_answer_and_say_why() {
        let a = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let r = a.recommend(&inputs()).await;
        assert_eq!(r.source, RecommendationSource::Policy);
        assert_eq!(r.fallback_reason.as_deref(), Some("no key"));
        assert_eq!(a.llm_status(), "no key: policy only");
        // 90 % on 4 pods at a 70 % target needs ceil(4 × 90/70) = 6.
        assert_eq!(r.decision.target_replicas, 6);
        assert_eq!(r.created_at, "2023-11-14T22:13:20Z");
    }

    #[tokio::test]
    async fn llm_advice_is_validated_and_a_failure_falls_back() {
        let advice = LlmAdvice {
            decision: Decision {
                action: ScalingAction::ScaleDown,
                target_replicas: 40,
                confidence: 0.9,
                reasoning: "The model explains itself at some length, well past fifty characters."
                    .into(),
                factors_considered: vec![],
                risk_assessment: Level::Low,
                cost_impact: Level::Medium,
                performance_impact: PerformanceImpact::Positive,
                recommended_timing: Timing::Immediate,
            },
            model: "m".into(),
            cached: true,
            reviewed_at: 1_700_000_000,
            notes: vec![],
        };
        let a = Advisor::with_llm(AdvisorConfig::default(), Arc::new(FixedLlm(Ok(advice))));
        let r = a.recommend(&inputs()).await;
        assert_eq!(r.source, RecommendationSource::Llm);
        assert_eq!(
            (r.decision.target_replicas, r.decision.action),
            (6, ScalingAction::ScaleUp)
        );
        assert_eq!(r.corrections.len(), 2, "{:?}", r.corrections);
        assert!(r.cached);

        let a = Advisor::with_llm(
            AdvisorConfig::default(),
            Arc::new(FixedLlm(Err(LlmFailure {
                reason: "429 rate limited".into(),
            }))),
        );
        let r = a.recommend(&inputs()).await;
        assert_eq!(r.source, RecommendationSource::Policy);
        assert_eq!(r.fallback_reason.as_deref(), Some("429 rate limited"));
    }

    fn confident_scale_up() -> LlmAdvice {
        LlmAdvice {
            decision: Decision {
                action: ScalingAction::ScaleUp,
                target_replicas: 6,
                confidence: 0.95,
                reasoning: "The model is very sure about this, and says so at length here.".into(),
                factors_considered: vec![],
                risk_assessment: Level::Low,
                cost_impact: Level::Medium,
                performance_impact: PerformanceImpact::Positive,
                recommended_timing: Timing::Immediate,
            },
            model: "m".into(),
            cached: false,
            reviewed_at: 1_700_000_000,
            notes: vec![],
        }
    }

    /// A backend with a stored review and a count of the requests it was asked for.
    struct Stored {
        review: LlmAdvice,
        asked: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl LlmBackend for Stored {
        async fn advise(&self, _: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(LlmAdvice {
                cached: false,
                reviewed_at: 1_700_000_000,
                ..self.review.clone()
            })
        }
        fn stored_review(&self, _: &AdvisorInputs) -> Option<LlmAdvice> {
            Some(self.review.clone())
        }
        fn status(&self) -> String {
            "LLM stored".into()
        }
    }

    #[tokio::test]
    async fn a_standing_review_shows_its_age_and_is_revalidated_against_todays_bounds() {
        // Reviewed 14 minutes ago, when max was 14: "scale up to 12".
        let review = LlmAdvice {
            cached: true,
            reviewed_at: 1_700_000_000 - 14 * 60,
            ..confident_scale_up()
        };
        let review = LlmAdvice {
            decision: Decision {
                target_replicas: 12,
                ..review.decision
            },
            ..review
        };
        let llm = Arc::new(Stored {
            review,
            asked: Default::default(),
        });
        let a = Advisor::with_llm(AdvisorConfig::default(), llm.clone());
        // Today max is 8; 60 % on 6 pods needs 6 at 70 %: the policy maintains.
        let steady = DeploymentState::fixture("ns", "app")
            .with_replicas(6)
            .with_bounds(2, 8)
            .with_usage(Some(60.0), Some(40.0))
            .inputs_at(1_700_000_000);
        let proposal = policy::decide(&steady, a.config());
        assert_eq!(proposal.change, crate::model::PolicyChange::Maintain);
        let r = a.recommend(&steady).await;
        assert_eq!(llm.asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(r.source, RecommendationSource::Llm);
        let review = r.llm_review.clone().expect("review");
        assert_eq!(review.status, ReviewStatus::NotAsked);
        assert_eq!(review.age_seconds, 840);
        assert_eq!(review.age_text(), "reviewed 14 min ago");
        assert!(r.decision.target_replicas <= 8, "{r:?}");
        assert!(
            proposal.range.0 <= r.decision.target_replicas
                && r.decision.target_replicas <= proposal.range.1
        );
        assert!(
            r.corrections
                .iter()
                .any(|c| c.contains("target_replicas 12")),
            "{:?}",
            r.corrections
        );
        // A change is asked for, whatever is stored.
        let hot = AdvisorInputs {
            cpu_pct: Some(95.0),
            ..steady
        };
        let r = a.recommend(&hot).await;
        assert_eq!(llm.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            r.llm_review.map(|v| (v.status, v.why)),
            Some((ReviewStatus::Asked, "the policy proposes a change".into()))
        );
    }

    #[tokio::test]
    async fn an_llm_answer_made_without_metrics_changes_nothing_and_is_not_confident() {
        let a = Advisor::with_llm(
            AdvisorConfig::default(),
            Arc::new(FixedLlm(Ok(confident_scale_up()))),
        );
        let blind = AdvisorInputs {
            cpu_pct: None,
            mem_pct: None,
            ..inputs()
        };
        let r = a.recommend(&blind).await;
        assert_eq!(r.source, RecommendationSource::Llm);
        assert_eq!(r.change, crate::model::PolicyChange::Maintain);
        assert_eq!(
            (r.decision.action, r.decision.target_replicas),
            (ScalingAction::Maintain, 4)
        );
        assert!(r.decision.confidence <= policy::MISSING_INPUTS_CONFIDENCE);
        assert!(
            r.corrections
                .iter()
                .any(|c| c.starts_with("no CPU metrics: no change")),
            "{:?}",
            r.corrections
        );
        // With metrics the same answer stands.
        let r = a.recommend(&inputs()).await;
        assert_eq!(r.decision.target_replicas, 6);
        assert!(r.decision.confidence > 0.9);
    }

    #[tokio::test]
    async fn zero_stays_zero_unless_the_users_bounds_say_otherwise() {
        let zero = AdvisorInputs {
            current_replicas: 0,
            running_pods: 0,
            total_pods: 0,
            min_replicas: 1,
            cpu_pct: None,
            mem_pct: None,
            ..inputs()
        };
        for a in [
            Advisor::rules_only(AdvisorConfig::default(), "no key"),
            Advisor::with_llm(
                AdvisorConfig::default(),
                Arc::new(FixedLlm(Ok(confident_scale_up()))),
            ),
        ] {
            let r = a.recommend(&zero).await;
            assert_eq!(r.change, crate::model::PolicyChange::Maintain, "{r:?}");
            assert_eq!(r.decision.target_replicas, 0);
        }
        let r = Advisor::rules_only(AdvisorConfig::default(), "no key")
            .recommend(&zero)
            .await;
        assert!(r.decision.reasoning.contains("Scaled to zero by its owner"));
        // The user's own min of 2 says it should run.
        let wanted = AdvisorInputs {
            min_replicas: 2,
            policy: crate::model::PolicyContext {
                annotated_bounds: (Some(2), None),
                ..Default::default()
            },
            ..zero
        };
        let r = Advisor::rules_only(AdvisorConfig::default(), "no key")
            .recommend(&wanted)
            .await;
        assert_ne!(r.change, crate::model::PolicyChange::Maintain, "{r:?}");
    }
}
