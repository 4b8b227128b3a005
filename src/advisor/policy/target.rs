//! What a change means in replicas: the deployment's repaired [min, max], the count a target is
//! measured from, the count a change leaves and the seed's action that names it.

use crate::model::{AdvisorInputs, PolicyChange, ScalingAction};

/// [min, max] of the deployment, repaired if the cluster reports min above max.
pub fn bounds(inputs: &AdvisorInputs) -> (u32, u32) {
    let min = inputs.min_replicas.max(1);
    (min, inputs.max_replicas.max(min))
}

/// The replicas (with an HPA: the floor) a change leaves.
pub fn target_of(inputs: &AdvisorInputs, change: &PolicyChange) -> u32 {
    match change {
        PolicyChange::Floor { to, .. }
        | PolicyChange::Release { to, .. }
        | PolicyChange::Replicas { to, .. } => *to,
        PolicyChange::AtMax => bounds(inputs).1,
        _ => reference(inputs),
    }
}

/// What `target_replicas` is measured against: the HPA's floor, or spec.replicas.
pub fn reference(inputs: &AdvisorInputs) -> u32 {
    inputs
        .hpa
        .as_ref()
        .map_or(inputs.current_replicas, |h| h.min_replicas)
}

/// The action of the seed's contract that matches a change.
pub fn action_of(change: &PolicyChange) -> ScalingAction {
    match change {
        PolicyChange::Floor { .. } => ScalingAction::ScaleUp,
        PolicyChange::Release { .. } => ScalingAction::ScaleDown,
        PolicyChange::Replicas { from, to } if to > from => ScalingAction::ScaleUp,
        PolicyChange::Replicas { .. } => ScalingAction::ScaleDown,
        PolicyChange::AtMax => ScalingAction::AtMax,
        PolicyChange::Target { .. } | PolicyChange::Maintain => ScalingAction::Maintain,
    }
}
