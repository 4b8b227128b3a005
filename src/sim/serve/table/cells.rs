//! The cells of each kind's row, printed as the apiserver's printers print them.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, Event, Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use serde_json::{Value, json};

use crate::model::UnixSeconds;
use crate::sim::serve::objects::unix;

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

pub(super) fn deployment_cells(d: &Deployment, now: UnixSeconds) -> Vec<Value> {
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

pub(super) fn replica_set_cells(r: &ReplicaSet, now: UnixSeconds) -> Vec<Value> {
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

pub(super) fn pod_cells(p: &Pod, now: UnixSeconds) -> Vec<Value> {
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

pub(super) fn hpa_cells(h: &HorizontalPodAutoscaler, now: UnixSeconds) -> Vec<Value> {
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

pub(super) fn event_cells(e: &Event, now: UnixSeconds) -> Vec<Value> {
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

pub(super) fn namespace_cells(n: &Namespace, now: UnixSeconds) -> Vec<Value> {
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
pub(super) fn node_cells(n: &Node, now: UnixSeconds) -> Vec<Value> {
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
