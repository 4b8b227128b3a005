//! The cluster's spare capacity from the Node and Pod stores, as the scheduler counts it:
//! the allocatable of the nodes that take pods (Ready, not cordoned) minus the requests of
//! the unfinished pods bound to them; and whether an autoscaler adds nodes (a
//! cluster-autoscaler or Karpenter Deployment, or nodes Karpenter labelled).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::slim_deployment::SlimDeployment as Deployment;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::slim_pod::SlimPod as Pod;
use crate::k8s::quantity;
use crate::model::{ClusterCapacity, Resources};

/// Labels only nodes that Karpenter launched carry.
const KARPENTER_LABELS: [&str; 2] = ["karpenter.sh/nodepool", "karpenter.sh/provisioner-name"];
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";

fn takes_pods(n: &Node) -> bool {
    let cordoned = n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    ready && !cordoned
}

/// A resource list as amounts; an unparsable or absent quantity counts as zero (a node that
/// says nothing of a resource offers none of it).
fn amounts(m: Option<&BTreeMap<String, Quantity>>) -> Resources {
    let get = |k: &str, parse: fn(&str) -> Result<f64, quantity::QuantityError>| {
        m.and_then(|m| m.get(k))
            .and_then(|q| parse(&q.0).ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .map_or(0, |v| v as u64)
    };
    Resources {
        cpu_millis: get("cpu", quantity::cpu_millis),
        mem_mib: get("memory", quantity::bytes) >> 20,
        pods: get("pods", quantity::parse),
    }
}

fn allocatable(n: &Node) -> Resources {
    amounts(n.status.as_ref().and_then(|s| s.allocatable.as_ref()))
}

/// A pod's requests as the scheduler counts them: each container's request (its limit where
/// the request is unset), one pod.
fn requested(p: &Pod) -> Resources {
    let mut r = Resources {
        pods: 1,
        ..Resources::default()
    };
    // An unparsable or absent request counts as zero, as in `amounts`.
    let whole = |v: Option<f64>| {
        v.filter(|v| v.is_finite() && *v > 0.0)
            .map_or(0, |v| v as u64)
    };
    for c in p.containers() {
        r.cpu_millis = r.cpu_millis.saturating_add(whole(c.cpu_millis));
        r.mem_mib = r.mem_mib.saturating_add(whole(c.mem_bytes) >> 20);
    }
    r
}

fn finished(p: &Pod) -> bool {
    matches!(p.phase(), Some("Succeeded" | "Failed"))
}

/// Whether something adds nodes when pods do not fit.
pub fn autoscaler(nodes: &[Arc<Node>], deployments: &[Arc<Deployment>]) -> bool {
    let by_label = nodes.iter().any(|n| {
        n.metadata
            .labels
            .as_ref()
            .is_some_and(|l| KARPENTER_LABELS.iter().any(|k| l.contains_key(*k)))
    });
    let by_deployment = deployments.iter().any(|d| {
        let name = d.metadata.name.as_deref().unwrap_or("");
        let ns = d.metadata.namespace.as_deref().unwrap_or("");
        (name == "cluster-autoscaler" && ns == "kube-system") || name == "karpenter"
    });
    by_label || by_deployment
}

pub fn capacity(
    nodes: &[Arc<Node>],
    pods: &[Arc<Pod>],
    deployments: &[Arc<Deployment>],
) -> ClusterCapacity {
    let usable: Vec<&Node> = nodes
        .iter()
        .map(|n| n.as_ref())
        .filter(|n| takes_pods(n))
        .collect();
    let names: HashSet<&str> = usable
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let allocatable_sum = usable.iter().fold(Resources::default(), |a, n| {
        a.saturating_add(allocatable(n))
    });
    let requested_sum = pods
        .iter()
        .filter(|p| !finished(p))
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| names.contains(n))
        })
        .fold(Resources::default(), |a, p| a.saturating_add(requested(p)));
    // The most common instance type (ties: the first by name) is what an autoscaler would add.
    let mut types: BTreeMap<&str, (usize, Resources)> = BTreeMap::new();
    for n in &usable {
        if let Some(t) = n
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(INSTANCE_TYPE_LABEL))
        {
            let e = types.entry(t.as_str()).or_insert((0, allocatable(n)));
            e.0 += 1;
        }
    }
    let common = types
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
        .map(|(t, (_, r))| (t.to_string(), *r));
    ClusterCapacity {
        nodes: usable.len() as u32,
        allocatable: allocatable_sum,
        requested: requested_sum,
        autoscaler: autoscaler(nodes, deployments),
        node_type: common.as_ref().map(|(t, _)| t.clone()),
        node_allocatable: common
            .map(|(_, r)| r)
            .or_else(|| usable.first().map(|n| allocatable(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cpu: &str, ready: bool, labels: serde_json::Value) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": labels},
                "status": {
                    "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]
                }
            }))
            .unwrap_or_default(),
        )
    }

    fn pod(node: &str, cpu: &str, phase: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("p-{node}-{cpu}"), "namespace": "shop"},
                "spec": {"nodeName": node, "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}},
                    {"name": "b", "resources": {"limits": {"cpu": "100m"}}}
                ]},
                "status": {"phase": phase}
            }))
            .unwrap_or_default(),
        )
    }

    #[test]
    fn spare_is_ready_nodes_allocatable_minus_their_pods_requests() {
        let nodes = [
            node(
                "a",
                "2",
                true,
                serde_json::json!({INSTANCE_TYPE_LABEL: "m5.large"}),
            ),
            node(
                "b",
                "1930m",
                true,
                serde_json::json!({INSTANCE_TYPE_LABEL: "m5.large"}),
            ),
            // Not Ready: neither its allocatable nor its pods count.
            node("c", "4", false, serde_json::json!({})),
        ];
        let pods = [
            pod("a", "500m", "Running"),
            pod("b", "250m", "Pending"),
            pod("c", "1", "Running"),
            // Finished pods hold nothing.
            pod("a", "2", "Succeeded"),
        ];
        let c = capacity(&nodes, &pods, &[]);
        assert_eq!(c.nodes, 2);
        assert_eq!(c.allocatable.cpu_millis, 3930);
        assert_eq!(c.allocatable.mem_mib, 16_384);
        // 500 + 100 (limit as request) + 250 + 100.
        assert_eq!(c.requested.cpu_millis, 950);
        assert_eq!(c.requested.mem_mib, 512);
        assert_eq!(c.requested.pods, 2);
        assert_eq!(c.spare().cpu_millis, 2980);
        assert_eq!(c.spare().pods, 218);
        assert_eq!(c.node_type.as_deref(), Some("m5.large"));
        assert!(!c.autoscaler);
    }

    #[test]
    fn an_autoscaler_is_seen_by_its_deployment_or_by_karpenter_labels() {
        let ca: Arc<Deployment> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"}
            }))
            .unwrap_or_default(),
        );
        let elsewhere: Arc<Deployment> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "cluster-autoscaler", "namespace": "shop"}
            }))
            .unwrap_or_default(),
        );
        let plain = [node("a", "2", true, serde_json::json!({}))];
        assert!(autoscaler(&plain, &[ca]));
        assert!(!autoscaler(&plain, &[elsewhere]));
        let karpenter = [node(
            "k",
            "2",
            true,
            serde_json::json!({"karpenter.sh/nodepool": "default"}),
        )];
        assert!(autoscaler(&karpenter, &[]));
    }
}
