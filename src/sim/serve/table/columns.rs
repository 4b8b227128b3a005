//! The Table columns of each kind, with the apiserver's names, types and priorities.

use serde_json::{Value, json};

use crate::sim::serve::store::Kind;

/// (name, type, format, priority, description)
type Col = (&'static str, &'static str, &'static str, i32, &'static str);

const NAME: Col = (
    "Name",
    "string",
    "name",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Col = (
    "Age",
    "string",
    "",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

fn columns(kind: Option<Kind>) -> Vec<Col> {
    match kind {
        Some(Kind::Deployment) => vec![
            NAME,
            (
                "Ready",
                "string",
                "",
                0,
                "Number of the pod with ready state",
            ),
            (
                "Up-to-date",
                "integer",
                "",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            (
                "Available",
                "integer",
                "",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            (
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            (
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            (
                "Selector",
                "string",
                "",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ],
        Some(Kind::ReplicaSet) => vec![
            NAME,
            (
                "Desired",
                "integer",
                "",
                0,
                "Replicas is the number of desired pods.",
            ),
            (
                "Current",
                "integer",
                "",
                0,
                "Replicas is the most recently observed number of replicas.",
            ),
            (
                "Ready",
                "integer",
                "",
                0,
                "The number of ready replicas for this replica set.",
            ),
            AGE,
            (
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            (
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            (
                "Selector",
                "string",
                "",
                1,
                "Selector is a label query over pods that should match the replica count.",
            ),
        ],
        Some(Kind::Pod) => vec![
            NAME,
            (
                "Ready",
                "string",
                "",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            (
                "Status",
                "string",
                "",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            (
                "Restarts",
                "string",
                "",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            (
                "IP",
                "string",
                "",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            (
                "Node",
                "string",
                "",
                1,
                "NodeName indicates in which node this pod is scheduled.",
            ),
            (
                "Nominated Node",
                "string",
                "",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
            ),
            (
                "Readiness Gates",
                "string",
                "",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        Some(Kind::Hpa) => vec![
            NAME,
            (
                "Reference",
                "string",
                "",
                0,
                "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
            ),
            (
                "Targets",
                "string",
                "",
                0,
                "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
            ),
            (
                "MinPods",
                "string",
                "",
                0,
                "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
            ),
            (
                "MaxPods",
                "integer",
                "",
                0,
                "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
            ),
            (
                "Replicas",
                "integer",
                "",
                0,
                "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
            ),
            AGE,
        ],
        Some(Kind::Event) => vec![
            (
                "Last Seen",
                "string",
                "",
                0,
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            (
                "Type",
                "string",
                "",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            (
                "Reason",
                "string",
                "",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            (
                "Object",
                "string",
                "",
                0,
                "The object that this event is about.",
            ),
            (
                "Subobject",
                "string",
                "",
                1,
                "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
            ),
            (
                "Source",
                "string",
                "",
                1,
                "The component reporting this event. Should be a short machine understandable string.",
            ),
            (
                "Message",
                "string",
                "",
                0,
                "A human-readable description of the status of this operation.",
            ),
            (
                "First Seen",
                "string",
                "",
                1,
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            (
                "Count",
                "string",
                "",
                1,
                "The number of times this event has occurred.",
            ),
            (
                "Name",
                "string",
                "name",
                1,
                "Name must be unique within a namespace.",
            ),
        ],
        Some(Kind::Node) => vec![
            NAME,
            ("Status", "string", "", 0, "The status of the node"),
            ("Roles", "string", "", 0, "The roles of the node"),
            AGE,
            (
                "Version",
                "string",
                "",
                0,
                "Kubelet Version reported by the node.",
            ),
            (
                "Internal-IP",
                "string",
                "",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            (
                "External-IP",
                "string",
                "",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            (
                "OS-Image",
                "string",
                "",
                1,
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            (
                "Kernel-Version",
                "string",
                "",
                1,
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            (
                "Container-Runtime",
                "string",
                "",
                1,
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
        Some(Kind::Namespace) => vec![
            NAME,
            ("Status", "string", "", 0, "The status of the namespace"),
            AGE,
        ],
        Some(Kind::Lease) => vec![
            NAME,
            ("Holder", "string", "", 0, "The holder of the lease"),
            AGE,
        ],
        // The default table of resources without printers (PodMetrics, the custom resources).
        Some(Kind::ScaledObject | Kind::Vpa | Kind::Service) | None => vec![
            NAME,
            (
                "Created At",
                "date",
                "",
                0,
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
    }
}

pub fn column_definitions(kind: Option<Kind>) -> Value {
    Value::Array(
        columns(kind)
            .into_iter()
            .map(|(name, type_, format, priority, description)| {
                json!({
                    "name": name,
                    "type": type_,
                    "format": format,
                    "description": description,
                    "priority": priority,
                })
            })
            .collect(),
    )
}
