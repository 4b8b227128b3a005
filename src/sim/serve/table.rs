//! Server-side printing: `meta.k8s.io/v1` Tables with the apiserver's columns, which is what
//! `kubectl get` asks for and prints (it has no printers of its own for built-in kinds).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, Event, Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use serde_json::{Value, json};

use super::objects::unix;
use super::store::Kind;
use crate::model::UnixSeconds;

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

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
        // The default table of resources without printers (PodMetrics).
        None => vec![
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

/// apimachinery's `duration.HumanDuration`, as `kubectl get` shows ages.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn since(t: Option<&Time>, now: UnixSeconds) -> String {
    match t {
        Some(t) => human_duration(now - unix(t)),
        None => "<unknown>".into(),
    }
}

fn containers_and_images(cs: &[Container]) -> (String, String) {
    let names = cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>();
    let images = cs
        .iter()
        .map(|c| c.image.as_deref().unwrap_or_default())
        .collect::<Vec<_>>();
    (names.join(","), images.join(","))
}

/// `metav1.LabelSelectorAsSelector(...).String()` for matchLabels selectors.
fn selector_string(s: &LabelSelector) -> String {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.sort();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn deployment_cells(d: &Deployment, now: UnixSeconds) -> Vec<Value> {
    let spec = d.spec.clone().unwrap_or_default();
    let st = d.status.clone().unwrap_or_default();
    let (c, i) = containers_and_images(
        spec.template
            .spec
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or_default(),
    );
    vec![
        json!(d.metadata.name),
        json!(format!(
            "{}/{}",
            st.ready_replicas.unwrap_or(0),
            spec.replicas.unwrap_or(0)
        )),
        json!(st.updated_replicas.unwrap_or(0)),
        json!(st.available_replicas.unwrap_or(0)),
        json!(since(d.metadata.creation_timestamp.as_ref(), now)),
        json!(c),
        json!(i),
        json!(selector_string(&spec.selector)),
    ]
}

fn replica_set_cells(r: &ReplicaSet, now: UnixSeconds) -> Vec<Value> {
    let spec = r.spec.clone().unwrap_or_default();
    let st = r.status.clone().unwrap_or_default();
    let (c, i) = containers_and_images(
        spec.template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .map(|s| s.containers.as_slice())
            .unwrap_or_default(),
    );
    vec![
        json!(r.metadata.name),
        json!(spec.replicas.unwrap_or(0)),
        json!(st.replicas),
        json!(st.ready_replicas.unwrap_or(0)),
        json!(since(r.metadata.creation_timestamp.as_ref(), now)),
        json!(c),
        json!(i),
        json!(selector_string(&spec.selector)),
    ]
}

fn pod_cells(p: &Pod, now: UnixSeconds) -> Vec<Value> {
    let spec = p.spec.clone().unwrap_or_default();
    let st = p.status.clone().unwrap_or_default();
    let statuses = st.container_statuses.unwrap_or_default();
    let ready = statuses.iter().filter(|c| c.ready).count();
    let restarts: i32 = statuses.iter().map(|c| c.restart_count).sum();
    vec![
        json!(p.metadata.name),
        json!(format!("{ready}/{}", spec.containers.len())),
        json!(st.phase.unwrap_or_default()),
        json!(restarts.to_string()),
        json!(since(p.metadata.creation_timestamp.as_ref(), now)),
        json!(st.pod_ip.unwrap_or_else(|| "<none>".into())),
        json!(spec.node_name.unwrap_or_else(|| "<none>".into())),
        json!(st.nominated_node_name.unwrap_or_else(|| "<none>".into())),
        json!("<none>"),
    ]
}

/// The Targets column, as printers.go's formatHPAMetrics writes it (1.31+: "cpu: 45%/70%").
pub fn hpa_targets(h: &HorizontalPodAutoscaler) -> String {
    let specs = h
        .spec
        .as_ref()
        .and_then(|s| s.metrics.clone())
        .unwrap_or_default();
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = h
        .status
        .as_ref()
        .and_then(|s| s.current_metrics.clone())
        .unwrap_or_default();
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let Some(r) = &spec.resource else {
            list.push("<unknown>".to_string());
            continue;
        };
        let current = statuses.get(i).and_then(|s| s.resource.as_ref());
        if let Some(avg) = &r.target.average_value {
            let cur = current
                .and_then(|c| c.current.average_value.as_ref())
                .map_or("<unknown>".to_string(), |q| q.0.clone());
            list.push(format!("{}: {cur}/{}", r.name, avg.0));
        } else {
            let cur = current
                .and_then(|c| c.current.average_utilization)
                .map_or("<unknown>".to_string(), |u| format!("{u}%"));
            let target = r
                .target
                .average_utilization
                .map_or("<auto>".to_string(), |u| format!("{u}%"));
            list.push(format!("{}: {cur}/{target}", r.name));
        }
    }
    // The apiserver shows two and counts the rest.
    if list.len() > 2 {
        let more = list.len() - 2;
        list.truncate(2);
        return format!("{} + {more} more...", list.join(", "));
    }
    list.join(", ")
}

fn hpa_cells(h: &HorizontalPodAutoscaler, now: UnixSeconds) -> Vec<Value> {
    let spec = h.spec.clone().unwrap_or_default();
    let st = h.status.clone().unwrap_or_default();
    vec![
        json!(h.metadata.name),
        json!(format!(
            "{}/{}",
            spec.scale_target_ref.kind, spec.scale_target_ref.name
        )),
        json!(hpa_targets(h)),
        json!(
            spec.min_replicas
                .map_or("<unset>".to_string(), |m| m.to_string())
        ),
        json!(spec.max_replicas),
        json!(st.current_replicas.unwrap_or(0)),
        json!(since(h.metadata.creation_timestamp.as_ref(), now)),
    ]
}

fn event_cells(e: &Event, now: UnixSeconds) -> Vec<Value> {
    let first = since(e.first_timestamp.as_ref(), now);
    let last = since(e.last_timestamp.as_ref(), now);
    let count = e.count.unwrap_or(1);
    let last_seen = if count > 1 {
        format!("{last} (x{count} over {first})")
    } else {
        last
    };
    let obj = &e.involved_object;
    let source = e
        .source
        .as_ref()
        .and_then(|s| s.component.clone())
        .unwrap_or_default();
    vec![
        json!(last_seen),
        json!(e.type_),
        json!(e.reason),
        json!(format!(
            "{}/{}",
            obj.kind.as_deref().unwrap_or_default().to_lowercase(),
            obj.name.as_deref().unwrap_or_default()
        )),
        json!(obj.field_path.as_deref().unwrap_or_default()),
        json!(source),
        json!(e.message.as_deref().unwrap_or_default().trim()),
        json!(first),
        json!(count.to_string()),
        json!(e.metadata.name),
    ]
}

fn namespace_cells(n: &Namespace, now: UnixSeconds) -> Vec<Value> {
    vec![
        json!(n.metadata.name),
        json!(
            n.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default()
        ),
        json!(since(n.metadata.creation_timestamp.as_ref(), now)),
    ]
}

/// As the apiserver prints a node: Ready / NotReady (plus SchedulingDisabled), the roles from
/// its node-role.kubernetes.io/* labels.
fn node_cells(n: &Node, now: UnixSeconds) -> Vec<Value> {
    let st = n.status.clone().unwrap_or_default();
    let ready = st
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let mut status = if ready { "Ready" } else { "NotReady" }.to_string();
    if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = n
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    let address = |t: &str| {
        st.addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == t)
            .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
    };
    let info = st.node_info.clone().unwrap_or_default();
    vec![
        json!(n.metadata.name),
        json!(status),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        json!(since(n.metadata.creation_timestamp.as_ref(), now)),
        json!(info.kubelet_version),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info.os_image),
        json!(info.kernel_version),
        json!(info.container_runtime_version),
    ]
}

fn partial(meta: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
    })
}

/// One row for an object's JSON; None if it does not parse as its kind.
pub fn row(
    kind: Option<Kind>,
    json: &Value,
    now: UnixSeconds,
    include: IncludeObject,
) -> Option<Value> {
    fn from<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
        serde_json::from_value(v.clone()).ok()
    }
    let cells = match kind {
        Some(Kind::Deployment) => deployment_cells(&from(json)?, now),
        Some(Kind::ReplicaSet) => replica_set_cells(&from(json)?, now),
        Some(Kind::Pod) => pod_cells(&from(json)?, now),
        Some(Kind::Hpa) => hpa_cells(&from(json)?, now),
        Some(Kind::Event) => event_cells(&from(json)?, now),
        Some(Kind::Namespace) => namespace_cells(&from(json)?, now),
        Some(Kind::Node) => node_cells(&from(json)?, now),
        None => {
            let meta: ObjectMeta = serde_json::from_value(json.get("metadata")?.clone()).ok()?;
            vec![json!(meta.name), json!(meta.creation_timestamp)]
        }
    };
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = partial(json.get("metadata").unwrap_or(&Value::Null));
        }
        IncludeObject::Object => row["object"] = json.clone(),
    }
    Some(row)
}

/// A Table of rows; `list_meta` carries resourceVersion / continue.
pub fn table(kind: Option<Kind>, rows: Vec<Value>, list_meta: Value, with_columns: bool) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": if with_columns { column_definitions(kind) } else { Value::Null },
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentKey;
    use crate::sim::SimWorld;
    use crate::sim::serve::objects::{self, Clocks, HpaMeta};

    #[test]
    fn ages_read_like_kubectl() {
        for (s, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (10 * 3600, "10h"),
            (3 * 86_400 + 3600, "3d1h"),
            (30 * 86_400, "30d"),
            (3 * 365 * 86_400, "3y"),
        ] {
            assert_eq!(human_duration(s), want, "{s}");
        }
    }

    #[test]
    fn rows_carry_the_columns_kubectl_prints() {
        let mut w = SimWorld::new(2, crate::sim::scenario::demo());
        w.advance(60);
        let key = DeploymentKey::new("shop", "frontend");
        let view = w.deployment_view(&key).expect("frontend");
        let ctx = objects::Ctx {
            seed: 2,
            now: w.now(),
            offset: 0,
        };
        let d = serde_json::to_value(objects::deployment(&view, &ctx, &mut Clocks::default()))
            .expect("json");
        let r = row(Some(Kind::Deployment), &d, w.now(), IncludeObject::Metadata).expect("row");
        assert_eq!(r["cells"][0], "frontend");
        assert_eq!(
            r["cells"][1],
            format!(
                "{}/{}",
                view.pods.iter().filter(|p| p.ready).count(),
                view.replicas
            )
        );
        assert_eq!(r["cells"][4], "30d");
        assert_eq!(r["cells"][7], "app=frontend");
        assert_eq!(r["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(r["object"]["metadata"]["namespace"], "shop");
        let h = objects::hpa(
            &view,
            &HpaMeta::initial(2, &key),
            &ctx,
            &mut Clocks::default(),
        )
        .expect("hpa");
        let targets = hpa_targets(&h);
        assert!(
            targets.starts_with("cpu: ") && targets.ends_with("%/70%"),
            "{targets}"
        );
        let r = row(
            Some(Kind::Hpa),
            &serde_json::to_value(&h).expect("json"),
            w.now(),
            IncludeObject::None,
        )
        .expect("row");
        assert_eq!(r["cells"][1], "Deployment/frontend");
        assert_eq!(r["cells"][3], "2");
        assert_eq!(r["cells"][4], 20);
        assert!(r.get("object").is_none());
        let t = table(
            Some(Kind::Hpa),
            vec![r],
            json!({"resourceVersion": "5"}),
            true,
        );
        assert_eq!(t["columnDefinitions"][2]["name"], "Targets");
    }
}
