//! Validation every decision passes before it becomes a recommendation, whoever made it:
//! the target is clamped into [min, max] and the maximum step, the action is made to agree with
//! the target, confidence is kept in [0, 1] and short reasoning is flagged. What changed is
//! returned so the card can show it.

use super::policy::{bounds, reference};
use crate::model::{AdvisorInputs, Decision, ScalingAction};

/// The seed's minimum length of `reasoning`.
pub const MIN_REASONING_CHARS: usize = 50;

/// Bring `decision` within the deployment's bounds; returns the corrections made.
pub fn validate(decision: &mut Decision, inputs: &AdvisorInputs, max_step: u32) -> Vec<String> {
    let mut corrections = Vec::new();
    let (min, max) = bounds(inputs);
    // With an HPA the target is its floor (minReplicas), measured from the floor it has.
    let current = reference(inputs);

    let requested = decision.target_replicas;
    let mut target = requested.clamp(min, max);
    if target != requested {
        corrections.push(format!(
            "target_replicas {requested} clamped into [{min}, {max}] → {target}"
        ));
    }
    let lowest = current.saturating_sub(max_step).max(min);
    let highest = current.saturating_add(max_step).min(max);
    if lowest <= highest {
        let stepped = target.clamp(lowest, highest);
        if stepped != target {
            corrections.push(format!(
                "target_replicas {target} limited to a step of {max_step} from {current} → {stepped}"
            ));
            target = stepped;
        }
    }
    decision.target_replicas = target;

    let consistent = consistent_action(decision.action, current, target, max);
    if consistent != decision.action {
        corrections.push(format!(
            "action {} disagreed with {current} → {target}; now {}",
            decision.action.as_str(),
            consistent.as_str()
        ));
        decision.action = consistent;
    }

    if !decision.confidence.is_finite() || !(0.0..=1.0).contains(&decision.confidence) {
        let fixed = if decision.confidence.is_finite() {
            decision.confidence.clamp(0.0, 1.0)
        } else {
            0.0
        };
        corrections.push(format!(
            "confidence {} outside [0, 1] → {fixed}",
            decision.confidence
        ));
        decision.confidence = fixed;
    }
    if decision.reasoning.trim().chars().count() < MIN_REASONING_CHARS {
        corrections.push(format!(
            "reasoning shorter than {MIN_REASONING_CHARS} characters"
        ));
    }
    corrections
}

/// The action that matches moving from `current` to `target` with `max` as the ceiling.
pub fn consistent_action(
    proposed: ScalingAction,
    current: u32,
    target: u32,
    max: u32,
) -> ScalingAction {
    use std::cmp::Ordering::*;
    match target.cmp(&current) {
        Greater => ScalingAction::ScaleUp,
        Less => ScalingAction::ScaleDown,
        // Staying put at the ceiling is "at max" when asked for more or said so.
        Equal
            if target >= max
                && matches!(proposed, ScalingAction::ScaleUp | ScalingAction::AtMax) =>
        {
            ScalingAction::AtMax
        }
        Equal => ScalingAction::Maintain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentState;

    fn inputs(current: u32, min: u32, max: u32) -> AdvisorInputs {
        DeploymentState::fixture("ns", "app")
            .with_replicas(current)
            .with_bounds(min, max)
            .with_usage(Some(50.0), Some(40.0))
            .inputs_at(0)
    }

    fn decision(action: ScalingAction, target: u32) -> Decision {
        Decision {
            reasoning: "x".repeat(60),
            ..Decision::fixture(action, target, 0.8)
        }
    }

    #[test]
    fn target_is_clamped_into_bounds_and_action_follows() {
        let mut d = decision(ScalingAction::ScaleUp, 50);
        let c = validate(&mut d, &inputs(10, 2, 10), 10);
        assert_eq!((d.target_replicas, d.action), (10, ScalingAction::AtMax));
        assert_eq!(c.len(), 2, "{c:?}");
        let mut d = decision(ScalingAction::ScaleDown, 0);
        validate(&mut d, &inputs(4, 2, 10), 10);
        assert_eq!((d.target_replicas, d.action), (2, ScalingAction::ScaleDown));
    }

    #[test]
    fn max_step_limits_the_change() {
        let mut d = decision(ScalingAction::ScaleUp, 40);
        let c = validate(&mut d, &inputs(5, 1, 100), 4);
        assert_eq!(d.target_replicas, 9);
        assert!(c.iter().any(|c| c.contains("step of 4")), "{c:?}");
    }

    #[test]
    fn wrong_action_confidence_and_short_reasoning_are_corrected() {
        let mut d = decision(ScalingAction::ScaleDown, 8);
        d.confidence = 1.7;
        d.reasoning = "too short".into();
        let c = validate(&mut d, &inputs(5, 1, 10), 10);
        assert_eq!(d.action, ScalingAction::ScaleUp);
        assert_eq!(d.confidence, 1.0);
        assert_eq!(c.len(), 3, "{c:?}");
        let mut d = decision(ScalingAction::Maintain, 5);
        d.confidence = f64::NAN;
        validate(&mut d, &inputs(5, 1, 10), 10);
        assert_eq!(d.confidence, 0.0);
    }

    #[test]
    fn min_above_max_from_the_cluster_never_widens_beyond_min() {
        let mut d = decision(ScalingAction::ScaleUp, 9);
        validate(&mut d, &inputs(3, 5, 4), 10);
        assert_eq!(d.target_replicas, 5);
    }
}
