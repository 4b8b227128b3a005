//! One deployment's decision within the room the fleet's sharing left it (`capacity::rooms`):
//! a scale-up beyond the room is cut to it, and the reasoning says why.

use crate::model::{AdvisorInputs, PolicyChange};

/// Pods a change adds beyond spec.replicas (a floor below the HPA's replicas adds none).
pub(super) fn extra_pods(inputs: &AdvisorInputs, change: &PolicyChange) -> u32 {
    match change {
        PolicyChange::Floor { to, .. } | PolicyChange::Replicas { to, .. } => {
            to.saturating_sub(inputs.current_replicas)
        }
        _ => 0,
    }
}

/// The highest replicas (with an HPA, floor) the room allows; None when not capped.
pub(super) fn limit(inputs: &AdvisorInputs) -> Option<u32> {
    let pods = inputs.policy.room.as_ref()?.pods?;
    Some(inputs.current_replicas.saturating_add(pods))
}

/// The change within the room, and the sentence that says so (also when an autoscaler will
/// add nodes instead).
pub(super) fn cap(inputs: &AdvisorInputs, change: PolicyChange) -> (PolicyChange, Option<String>) {
    let Some(room) = inputs.policy.room.as_ref() else {
        return (change, None);
    };
    if extra_pods(inputs, &change) == 0 {
        return (change, None);
    }
    if let Some((nodes, kind)) = &room.nodes_needed {
        let s = if *nodes == 1 { "" } else { "s" };
        return (
            change,
            Some(format!(
                "The fleet's scale-ups need about {nodes} more node{s} of {kind} than the \
                 cluster has spare; the cluster autoscaler adds them."
            )),
        );
    }
    let Some(limit) = limit(inputs) else {
        return (change, None);
    };
    let pods = room.pods.unwrap_or(0);
    let note = format!(
        "Capped: the cluster has room for {pods} more pods of this size ({} m CPU spare, {} MiB \
         memory) while the fleet's scale-ups want more.",
        room.spare_cpu_millis, room.spare_mem_mib
    );
    let capped = match change {
        PolicyChange::Floor {
            hpa,
            from,
            to,
            until,
        } if to > limit => {
            if limit > from {
                PolicyChange::Floor {
                    hpa,
                    from,
                    to: limit,
                    until,
                }
            } else {
                PolicyChange::Maintain
            }
        }
        PolicyChange::Replicas { from, to } if to > limit => {
            if limit > from {
                PolicyChange::Replicas { from, to: limit }
            } else {
                PolicyChange::Maintain
            }
        }
        other => return (other, None),
    };
    (capped, Some(note))
}
