//! The simulated cluster's Nodes as the apiserver shows them: the world's nodes with their
//! labels, capacity and allocatable (what kubectl describe node and the scheduler read),
//! Ready conditions and a kubelet's nodeInfo. Nodes do not change while the world runs, so
//! their timestamps are fixed (no watch churn).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{Ctx, uid};
use crate::k8s::quantity;
use crate::model::Resources;
use crate::sim::nodes::SimNode;
use crate::sim::world::EPOCH;

/// Nodes joined the cluster before the deployments were created.
const JOINED_BEFORE_EPOCH: i64 = 31 * 86_400;
pub const KUBELET_VERSION: &str = "v1.33.0";

/// A node's InternalIP (pods' hostIP), by its index in the world's nodes.
pub fn internal_ip(index: usize) -> String {
    format!("10.0.{}.{}", index / 200, index % 200 + 11)
}

fn quantities(r: Resources) -> BTreeMap<String, Quantity> {
    let millis = i64::try_from(r.cpu_millis).unwrap_or(i64::MAX);
    let bytes = i64::try_from(r.mem_mib).unwrap_or(i64::MAX / (1 << 20)) << 20;
    BTreeMap::from([
        (
            "cpu".to_string(),
            Quantity(quantity::format_cpu_millis(millis)),
        ),
        (
            "memory".to_string(),
            Quantity(quantity::format_bytes_binary(bytes)),
        ),
        ("pods".to_string(), Quantity(r.pods.to_string())),
        (
            "ephemeral-storage".to_string(),
            Quantity("100Gi".to_string()),
        ),
    ])
}

pub fn node(n: &SimNode, index: usize, ctx: &Ctx) -> Node {
    let seed = ctx.seed.to_string();
    let joined = ctx.time(EPOCH - JOINED_BEFORE_EPOCH);
    let condition = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(joined.clone()),
        last_transition_time: Some(joined.clone()),
    };
    let zone = n
        .labels
        .get("topology.kubernetes.io/zone")
        .cloned()
        .unwrap_or_default();
    let id = uid(&[&seed, "node", &n.name]);
    Node {
        metadata: ObjectMeta {
            name: Some(n.name.clone()),
            uid: Some(id.clone()),
            creation_timestamp: Some(joined.clone()),
            labels: Some(n.labels.clone()),
            annotations: Some(BTreeMap::from([(
                "node.alpha.kubernetes.io/ttl".to_string(),
                "0".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(format!("10.244.{index}.0/24")),
            pod_cidrs: Some(vec![format!("10.244.{index}.0/24")]),
            provider_id: Some(format!("sim:///{zone}/{}", n.name)),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(quantities(n.capacity)),
            allocatable: Some(quantities(n.allocatable)),
            conditions: Some(vec![
                condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                condition(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                condition(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                condition(
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                ),
            ]),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: internal_ip(index),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: n.name.clone(),
                },
            ]),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".into(),
                boot_id: uid(&[&seed, "boot", &n.name]),
                container_runtime_version: "containerd://1.7.27".into(),
                kernel_version: "6.1.0-sim".into(),
                kube_proxy_version: KUBELET_VERSION.into(),
                kubelet_version: KUBELET_VERSION.into(),
                machine_id: id.replace('-', ""),
                operating_system: "linux".into(),
                os_image: "ai4k8s simulated node".into(),
                system_uuid: id,
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::nodes;

    #[test]
    fn a_node_shows_its_allocatable_and_capacity_as_quantities() {
        let ctx = Ctx {
            seed: 1,
            now: EPOCH,
            offset: 0,
        };
        let n = node(&nodes::node(0), 0, &ctx);
        let st = n.status.unwrap_or_default();
        let q = |m: Option<BTreeMap<String, Quantity>>, k: &str| {
            m.and_then(|m| m.get(k).map(|q| q.0.clone()))
        };
        assert_eq!(q(st.allocatable.clone(), "cpu").as_deref(), Some("15890m"));
        assert_eq!(q(st.allocatable.clone(), "memory").as_deref(), Some("61Gi"));
        assert_eq!(q(st.allocatable, "pods").as_deref(), Some("234"));
        assert_eq!(q(st.capacity.clone(), "cpu").as_deref(), Some("16"));
        assert_eq!(q(st.capacity, "memory").as_deref(), Some("64Gi"));
        assert_eq!(n.metadata.name.as_deref(), Some("sim-node-1"));
    }
}
