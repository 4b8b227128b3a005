//! The fleet's scale-ups against the cluster's spare capacity. Each deployment's policy decision
//! is made alone; when the extra pods they all want (× each pod's CPU and memory requests) do
//! not fit in what the nodes have spare, every scale-up gets the same fraction of its want
//! (rounded down, the remainder handed out one pod each to the largest shortfall first).
//!
//! Proportional rather than largest-first: a shortfall shared by fraction leaves every
//! deployment part of its pre-scale, where largest-first would give one deployment all of the
//! room and none to the rest, and a small change in one forecast would swing the whole room
//! between deployments from one cycle to the next.
//!
//! With a cluster autoscaler nothing is capped (it adds nodes for pods that do not fit); the
//! reasoning says how many nodes the plan needs. Unknown capacity (nodes not listable) caps
//! nothing.

use std::collections::HashMap;

use super::room::extra_pods;
use crate::config::AdvisorConfig;
use crate::model::{
    AdvisorInputs, ClusterCapacity, DeploymentKey, DeploymentState, Resources, Room,
};

/// One deployment's pending scale-up: extra pods beyond the replicas it has, and their size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want {
    pub key: DeploymentKey,
    pub extra: u32,
    pub cpu_millis: u32,
    pub mem_mib: u32,
}

impl Want {
    fn need(&self, pods: u32) -> Resources {
        let n = u64::from(pods);
        Resources {
            cpu_millis: n * u64::from(self.cpu_millis),
            mem_mib: n * u64::from(self.mem_mib),
            pods: n,
        }
    }
}

/// The extra pods the policy's own decision (uncapped) would add to this deployment.
pub fn want(
    inputs: &AdvisorInputs,
    cfg: &AdvisorConfig,
    cpu_millis: u32,
    mem_mib: u32,
) -> Option<Want> {
    let mut uncapped = inputs.clone();
    uncapped.policy.room = None;
    let out = super::decide(&uncapped, cfg);
    let extra = extra_pods(inputs, &out.change);
    (extra > 0).then(|| Want {
        key: inputs.key(),
        extra,
        cpu_millis,
        mem_mib,
    })
}

/// Whether the fleet's scale-ups could ever exceed the spare capacity: false when even every
/// deployment at the most one decision can add (its maximum, and `max_step` from its floor or
/// replicas) fits. Then no room can cap anything, and no face needs the whole fleet's
/// decisions (which `recommend NS/NAME` would otherwise forecast and calibrate for).
pub fn can_overflow(cap: &ClusterCapacity, fleet: &[DeploymentState], max_step: u32) -> bool {
    let most = fleet.iter().fold(Resources::default(), |a, d| {
        let reference = d
            .hpa
            .as_ref()
            .map_or(d.desired_replicas, |h| h.min_replicas);
        let top = d
            .max_replicas
            .max(d.min_replicas)
            .max(1)
            .min(reference.saturating_add(max_step));
        let extra = u64::from(top.saturating_sub(d.desired_replicas));
        a.saturating_add(Resources {
            cpu_millis: extra.saturating_mul(u64::from(d.cpu_request_millis)),
            mem_mib: extra.saturating_mul(u64::from(d.mem_request_mib)),
            pods: extra,
        })
    });
    !fits_in(most, cap.spare())
}

fn fits_in(need: Resources, spare: Resources) -> bool {
    need.cpu_millis <= spare.cpu_millis && need.mem_mib <= spare.mem_mib && need.pods <= spare.pods
}

/// Each wanting deployment's room, when the wants do not fit together; empty when they fit or
/// the capacity is unknown.
pub fn rooms(capacity: Option<&ClusterCapacity>, wants: &[Want]) -> HashMap<DeploymentKey, Room> {
    let Some(cap) = capacity else {
        return HashMap::new();
    };
    let spare = cap.spare();
    let total = wants.iter().fold(Resources::default(), |a, w| {
        a.saturating_add(w.need(w.extra))
    });
    if fits_in(total, spare) {
        return HashMap::new();
    }
    let room = |pods| Room {
        pods,
        spare_cpu_millis: spare.cpu_millis,
        spare_mem_mib: spare.mem_mib,
        nodes_needed: None,
    };
    if cap.autoscaler {
        let nodes = nodes_needed(total.saturating_sub(spare), cap);
        return wants
            .iter()
            .map(|w| {
                (
                    w.key.clone(),
                    Room {
                        nodes_needed: nodes.clone(),
                        ..room(None)
                    },
                )
            })
            .collect();
    }
    // The share every want gets: the scarcest resource's spare over what the wants need of it.
    let share = |s: u64, t: u64| if t == 0 { 1.0 } else { s as f64 / t as f64 };
    let f = share(spare.cpu_millis, total.cpu_millis)
        .min(share(spare.mem_mib, total.mem_mib))
        .min(share(spare.pods, total.pods))
        .clamp(0.0, 1.0);
    let mut given: Vec<u32> = wants
        .iter()
        .map(|w| ((w.extra as f64 * f).floor() as u32).min(w.extra))
        .collect();
    let used = wants
        .iter()
        .zip(&given)
        .fold(Resources::default(), |a, (w, g)| {
            a.saturating_add(w.need(*g))
        });
    let mut left = spare.saturating_sub(used);
    // What rounding left over: one more pod each, largest shortfall first (then by name).
    let mut order: Vec<usize> = (0..wants.len()).collect();
    order.sort_by(|&a, &b| {
        let short = |i: usize| wants[i].extra - given[i];
        short(b)
            .cmp(&short(a))
            .then(wants[a].key.cmp(&wants[b].key))
    });
    for i in order {
        let one = wants[i].need(1);
        if given[i] < wants[i].extra && fits_in(one, left) {
            given[i] += 1;
            left = left.saturating_sub(one);
        }
    }
    wants
        .iter()
        .zip(given)
        .map(|(w, g)| (w.key.clone(), room(Some(g))))
        .collect()
}

/// Nodes of the cluster's usual type that cover `short` in every resource.
fn nodes_needed(short: Resources, cap: &ClusterCapacity) -> Option<(u32, String)> {
    let each = cap.node_allocatable?;
    let n = |need: u64, per: u64| if per == 0 { 0 } else { need.div_ceil(per) };
    let nodes = n(short.cpu_millis, each.cpu_millis)
        .max(n(short.mem_mib, each.mem_mib))
        .max(n(short.pods, each.pods))
        .max(1);
    let kind = cap
        .node_type
        .clone()
        .unwrap_or_else(|| "the usual size".into());
    Some((u32::try_from(nodes).unwrap_or(u32::MAX), kind))
}
