//! The simulated cluster's nodes: enough identical nodes for every deployment at its maximum
//! with a quarter to spare, so the demo's own plans always fit; a deterministic function of the
//! scenario. Pods are placed round-robin by (deployment, pod id), so a pod keeps its node.

use std::collections::BTreeMap;

use super::scenario::DeploymentSpec;
use crate::model::{ClusterCapacity, Resources};

/// The instance type every simulated node is (its AWS shape: 16 vCPU, 64 GiB, 234 pods).
pub const INSTANCE_TYPE: &str = "m5.4xlarge";
/// Fewer nodes than this would not be a cluster (and `describe node` would look odd).
pub const MIN_NODES: u32 = 3;
/// Headroom over the scenario's maximum: every deployment at max fits with this to spare.
const HEADROOM: f64 = 1.25;

/// One node's status.capacity (what the machine has).
pub const NODE_CAPACITY: Resources = Resources {
    cpu_millis: 16_000,
    mem_mib: 65_536,
    pods: 234,
};
/// One node's status.allocatable (capacity less the kubelet's and system's reservations).
pub const NODE_ALLOCATABLE: Resources = Resources {
    cpu_millis: 15_890,
    mem_mib: 62_464,
    pods: 234,
};

/// One simulated node.
#[derive(Clone, Debug, PartialEq)]
pub struct SimNode {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub capacity: Resources,
    pub allocatable: Resources,
}

/// The nodes for a scenario: the most nodes any resource needs at every deployment's maximum
/// (× `HEADROOM`), at least `MIN_NODES`.
pub fn for_scenario(specs: &[DeploymentSpec]) -> Vec<SimNode> {
    let need = specs.iter().fold(Resources::default(), |acc, s| {
        let n = u64::from(s.max_replicas);
        acc.saturating_add(Resources {
            cpu_millis: n * u64::from(s.cpu_request_millis),
            mem_mib: n * u64::from(s.mem_request_mib),
            pods: n,
        })
    });
    let nodes_for = |need: u64, each: u64| (need as f64 * HEADROOM / each as f64).ceil() as u32;
    let n = nodes_for(need.cpu_millis, NODE_ALLOCATABLE.cpu_millis)
        .max(nodes_for(need.mem_mib, NODE_ALLOCATABLE.mem_mib))
        .max(nodes_for(need.pods, NODE_ALLOCATABLE.pods))
        .max(MIN_NODES);
    (0..n).map(node).collect()
}

/// The name of node `i` (from 1, as the old fixed three were).
pub fn node_name(i: usize) -> String {
    format!("sim-node-{}", i + 1)
}

/// Node `i`: named and labelled like a managed node group's.
pub fn node(i: u32) -> SimNode {
    let name = node_name(i as usize);
    let zone = ["a", "b", "c"][i as usize % 3];
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        (
            "node.kubernetes.io/instance-type".to_string(),
            INSTANCE_TYPE.to_string(),
        ),
        (
            "topology.kubernetes.io/zone".to_string(),
            format!("sim-1{zone}"),
        ),
    ]);
    SimNode {
        name,
        labels,
        capacity: NODE_CAPACITY,
        allocatable: NODE_ALLOCATABLE,
    }
}

/// The node a pod runs on: round-robin over the nodes by deployment and pod id.
pub fn placement(nodes: usize, deployment: usize, pod_id: u64) -> usize {
    if nodes == 0 {
        return 0;
    }
    ((deployment as u64).wrapping_mul(7).wrapping_add(pod_id) % nodes as u64) as usize
}

/// The cluster's capacity: the nodes' allocatable against the requests of every pod.
pub fn capacity(nodes: &[SimNode], requested: Resources, autoscaler: bool) -> ClusterCapacity {
    let allocatable = nodes
        .iter()
        .fold(Resources::default(), |a, n| a.saturating_add(n.allocatable));
    ClusterCapacity {
        nodes: nodes.len() as u32,
        allocatable,
        requested,
        autoscaler,
        node_type: nodes.first().map(|_| INSTANCE_TYPE.to_string()),
        node_allocatable: nodes.first().map(|n| n.allocatable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_fits_at_every_maximum_with_headroom() {
        let specs = super::super::scenario::demo();
        let nodes = for_scenario(&specs);
        assert!(nodes.len() >= MIN_NODES as usize);
        let at_max = specs.iter().fold(Resources::default(), |a, s| {
            let n = u64::from(s.max_replicas);
            a.saturating_add(Resources {
                cpu_millis: n * u64::from(s.cpu_request_millis),
                mem_mib: n * u64::from(s.mem_request_mib),
                pods: n,
            })
        });
        let cap = capacity(&nodes, at_max, false);
        let spare = cap.spare();
        // A fifth of allocatable (1 − 1/1.25) is left even with every deployment at max.
        assert!(spare.cpu_millis * 5 >= cap.allocatable.cpu_millis - NODE_ALLOCATABLE.cpu_millis);
        assert!(spare.cpu_millis > 0 && spare.mem_mib > 0 && spare.pods > 0);
        // Deterministic: the same scenario, the same nodes.
        assert_eq!(for_scenario(&specs), nodes);
        assert_eq!(
            nodes[0]
                .labels
                .get("node.kubernetes.io/instance-type")
                .map(String::as_str),
            Some(INSTANCE_TYPE)
        );
    }

    #[test]
    fn a_pod_keeps_its_node() {
        assert_eq!(placement(3, 1, 5), placement(3, 1, 5));
        assert!(placement(3, 4, 10) < 3);
        assert_eq!(placement(0, 4, 10), 0);
    }
}
