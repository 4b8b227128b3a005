//! autoscaling/v2 HorizontalPodAutoscalers as the model's `HpaState`: bounds, CPU/memory
//! utilization targets, every metric (Resource, ContainerResource, Pods, Object, External)
//! current against target, and a short status from the HPA's conditions.

use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, MetricSpec, MetricStatus,
    MetricTarget, MetricValueStatus,
};

use crate::model::{HpaMetric, HpaState};

/// Whether the HPA scales the named deployment.
pub fn targets(hpa: &HorizontalPodAutoscaler, deployment: &str) -> bool {
    hpa.spec.as_ref().is_some_and(|s| {
        let r = &s.scale_target_ref;
        r.kind == "Deployment"
            && r.name == deployment
            && r.api_version
                .as_deref()
                .is_none_or(|v| v.starts_with("apps/") || v.starts_with("extensions/"))
    })
}

fn u32_of(v: i32) -> u32 {
    v.max(0) as u32
}

pub fn state(hpa: &HorizontalPodAutoscaler) -> HpaState {
    let spec = hpa.spec.clone().unwrap_or_default();
    let status = hpa.status.clone().unwrap_or_default();
    let min = u32_of(spec.min_replicas.unwrap_or(1));
    let max = u32_of(spec.max_replicas);
    let utilization_target = |resource: &str| {
        spec.metrics.iter().flatten().find_map(|m| {
            let r = m.resource.as_ref()?;
            (m.type_ == "Resource" && r.name == resource && r.target.type_ == "Utilization")
                .then_some(r.target.average_utilization)
                .flatten()
                .map(u32_of)
        })
    };
    let conditions = status.conditions.clone().unwrap_or_default();
    let current_metrics = status.current_metrics.clone().unwrap_or_default();
    // The controller has written its status at least once.
    let synced = status.observed_generation.is_some()
        || !current_metrics.is_empty()
        || !conditions.is_empty();
    let metrics = spec
        .metrics
        .iter()
        .flatten()
        .map(|m| metric(m, &current_metrics, &conditions, synced))
        .collect();
    let current = u32_of(status.current_replicas.unwrap_or(0));
    let desired = u32_of(status.desired_replicas);
    HpaState {
        name: hpa.metadata.name.clone().unwrap_or_default(),
        min_replicas: min,
        max_replicas: max,
        target_cpu_pct: utilization_target("cpu"),
        target_mem_pct: utilization_target("memory"),
        current_replicas: current,
        desired_replicas: desired,
        scaling_status: scaling_status(&conditions, current, desired, max),
        last_scale_time: status.last_scale_time.map(|t| t.0.as_second()),
        metrics,
    }
}

fn condition<'a>(
    conditions: &'a [HorizontalPodAutoscalerCondition],
    type_: &str,
) -> Option<&'a HorizontalPodAutoscalerCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The sim's vocabulary: "stable", "scaling up", "scaling down", "at max", "at min",
/// "limited: …", plus what only live HPAs say ("metrics unavailable: …", "inactive: …").
pub fn scaling_status(
    conditions: &[HorizontalPodAutoscalerCondition],
    current: u32,
    desired: u32,
    max: u32,
) -> String {
    if let Some(c) = condition(conditions, "AbleToScale").filter(|c| c.status == "False") {
        return format!("limited: {}", c.reason.as_deref().unwrap_or("cannot scale"));
    }
    if let Some(c) = condition(conditions, "ScalingActive").filter(|c| c.status == "False") {
        let reason = c.reason.as_deref().unwrap_or("unknown");
        return if reason.starts_with("FailedGet") {
            format!("metrics unavailable: {reason}")
        } else {
            format!("inactive: {reason}")
        };
    }
    if let Some(c) = condition(conditions, "ScalingLimited").filter(|c| c.status == "True") {
        match c.reason.as_deref() {
            Some("TooManyReplicas") => return "at max".into(),
            Some("TooFewReplicas") => return "at min".into(),
            Some("ScaleUpLimit") => return "limited: scale-up rate".into(),
            Some("ScaleDownLimit") => return "limited: scale-down rate".into(),
            _ => {}
        }
    }
    if desired > current && current > 0 {
        "scaling up".into()
    } else if desired < current && desired > 0 {
        "scaling down".into()
    } else if max > 0 && current >= max {
        "at max".into()
    } else {
        "stable".into()
    }
}

fn target(t: &MetricTarget) -> String {
    match (
        t.type_.as_str(),
        t.average_utilization,
        &t.average_value,
        &t.value,
    ) {
        ("Utilization", Some(u), _, _) => format!("{u}%"),
        ("AverageValue", _, Some(v), _) => format!("avg {}", v.0),
        ("Value", _, _, Some(v)) => v.0.clone(),
        (_, Some(u), _, _) => format!("{u}%"),
        (_, _, Some(v), _) => format!("avg {}", v.0),
        (_, _, _, Some(v)) => v.0.clone(),
        (kind, ..) => format!("<{} without a value>", kind),
    }
}

fn current(v: &MetricValueStatus, t: &MetricTarget) -> Option<String> {
    // Shown in the target's terms, as `kubectl describe hpa` does.
    let util = v.average_utilization.map(|u| format!("{u}%"));
    let avg = v.average_value.as_ref().map(|q| format!("avg {}", q.0));
    let val = v.value.as_ref().map(|q| q.0.clone());
    match t.type_.as_str() {
        "Utilization" => util.or(avg).or(val),
        "AverageValue" => avg.or(val).or(util),
        _ => val.or(avg).or(util),
    }
}

/// One spec metric with its status counterpart.
fn metric(
    m: &MetricSpec,
    statuses: &[MetricStatus],
    conditions: &[HorizontalPodAutoscalerCondition],
    synced: bool,
) -> HpaMetric {
    let same_type = statuses.iter().filter(|s| s.type_ == m.type_);
    let (name, tgt, found): (String, Option<&MetricTarget>, Option<&MetricValueStatus>) =
        match m.type_.as_str() {
            "Resource" => match &m.resource {
                Some(r) => (
                    r.name.clone(),
                    Some(&r.target),
                    same_type
                        .filter_map(|s| s.resource.as_ref())
                        .find(|s| s.name == r.name)
                        .map(|s| &s.current),
                ),
                None => ("resource".into(), None, None),
            },
            "ContainerResource" => match &m.container_resource {
                Some(r) => (
                    format!("container {} {}", r.container, r.name),
                    Some(&r.target),
                    same_type
                        .filter_map(|s| s.container_resource.as_ref())
                        .find(|s| s.name == r.name && s.container == r.container)
                        .map(|s| &s.current),
                ),
                None => ("container resource".into(), None, None),
            },
            "Pods" => match &m.pods {
                Some(p) => (
                    p.metric.name.clone(),
                    Some(&p.target),
                    same_type
                        .filter_map(|s| s.pods.as_ref())
                        .find(|s| s.metric.name == p.metric.name)
                        .map(|s| &s.current),
                ),
                None => ("pods metric".into(), None, None),
            },
            "Object" => match &m.object {
                Some(o) => (
                    format!(
                        "{}/{} {}",
                        o.described_object.kind, o.described_object.name, o.metric.name
                    ),
                    Some(&o.target),
                    same_type
                        .filter_map(|s| s.object.as_ref())
                        .find(|s| {
                            s.metric.name == o.metric.name
                                && s.described_object.name == o.described_object.name
                                && s.described_object.kind == o.described_object.kind
                        })
                        .map(|s| &s.current),
                ),
                None => ("object metric".into(), None, None),
            },
            "External" => match &m.external {
                Some(e) => (
                    e.metric.name.clone(),
                    Some(&e.target),
                    same_type
                        .filter_map(|s| s.external.as_ref())
                        .find(|s| s.metric.name == e.metric.name)
                        .map(|s| &s.current),
                ),
                None => ("external metric".into(), None, None),
            },
            other => (format!("{other} metric"), None, None),
        };
    let target_text = tgt.map(target).unwrap_or_else(|| "<no target>".into());
    let current_text = match (found, tgt) {
        (Some(v), Some(t)) => current(v, t),
        _ => None,
    };
    let unknown_reason = match (&current_text, tgt) {
        (Some(_), _) => None,
        (None, None) => Some(format!("the spec has no {} source", m.type_)),
        (None, Some(_)) => Some(unknown_reason(conditions, synced)),
    };
    HpaMetric {
        kind: m.type_.clone(),
        name,
        target: target_text,
        current: current_text,
        unknown_reason,
    }
}

fn unknown_reason(conditions: &[HorizontalPodAutoscalerCondition], synced: bool) -> String {
    if let Some(c) = condition(conditions, "ScalingActive").filter(|c| c.status == "False") {
        let reason = c.reason.as_deref().unwrap_or("ScalingActive=False");
        return match c.message.as_deref() {
            Some(m) if !m.is_empty() => format!("{reason}: {m}"),
            _ => reason.to_string(),
        };
    }
    if !synced {
        return "the HPA controller has not reported on this HPA yet".into();
    }
    "not in the HPA's status (the controller could not compute it)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(v: serde_json::Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("test HPA: {e}"))
    }

    #[test]
    fn every_metric_type_is_rendered_with_a_reason_when_unknown() {
        let h = hpa(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                    {"type": "ContainerResource", "containerResource": {"container": "app", "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {"describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
                        "metric": {"name": "requests-per-second"}, "target": {"type": "Value", "value": "10k"}}},
                    {"type": "External", "external": {"metric": {"name": "queue_messages_ready"}, "target": {"type": "AverageValue", "averageValue": "30"}}}
                ]
            },
            "status": {
                "currentReplicas": 4, "desiredReplicas": 4, "observedGeneration": 1,
                "lastScaleTime": "2026-03-02T10:00:00Z",
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45, "averageValue": "225m"}}},
                    {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "300Mi"}}},
                    {"type": "ContainerResource", "containerResource": {"container": "app", "name": "cpu", "current": {"averageUtilization": 50}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "current": {"averageValue": "800"}}},
                    {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main"},
                        "metric": {"name": "requests-per-second"}, "current": {"value": "2k"}}}
                ],
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                    {"type": "ScalingActive", "status": "False", "reason": "FailedGetExternalMetric",
                     "message": "the HPA was unable to compute the replica count: unable to get external metric queue_messages_ready"},
                    {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}
                ]
            }
        }));
        let s = state(&h);
        assert_eq!((s.min_replicas, s.max_replicas), (2, 10));
        assert_eq!((s.target_cpu_pct, s.target_mem_pct), (Some(70), None));
        assert_eq!((s.current_replicas, s.desired_replicas), (4, 4));
        assert_eq!(s.last_scale_time, Some(1_772_445_600));
        assert_eq!(
            s.scaling_status,
            "metrics unavailable: FailedGetExternalMetric"
        );
        let shown: Vec<String> = s.metrics.iter().map(|m| m.to_string()).collect();
        assert_eq!(shown[0], "cpu 45%/70%");
        assert_eq!(shown[1], "memory avg 300Mi/avg 512Mi");
        assert_eq!(shown[2], "container app cpu 50%/60%");
        assert_eq!(shown[3], "packets-per-second avg 800/avg 1k");
        assert_eq!(shown[4], "Ingress/main requests-per-second 2k/10k");
        assert_eq!(s.metrics[5].kind, "External");
        assert_eq!(s.metrics[5].current, None);
        let why = s.metrics[5].unknown_reason.clone().unwrap_or_default();
        assert!(
            why.starts_with("FailedGetExternalMetric: the HPA was unable"),
            "{why}"
        );
        assert!(targets(&h, "web") && !targets(&h, "api"));
    }

    #[test]
    fn a_new_hpa_says_it_has_not_reported_and_conditions_drive_the_status() {
        let h = hpa(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}
        }));
        let s = state(&h);
        assert_eq!(s.min_replicas, 1, "minReplicas defaults to 1");
        assert_eq!(
            s.metrics[0].unknown_reason.as_deref(),
            Some("the HPA controller has not reported on this HPA yet")
        );
        let cond = |t: &str, st: &str, r: &str| HorizontalPodAutoscalerCondition {
            type_: t.into(),
            status: st.into(),
            reason: Some(r.into()),
            ..HorizontalPodAutoscalerCondition::default()
        };
        assert_eq!(
            scaling_status(
                &[cond("ScalingLimited", "True", "TooManyReplicas")],
                5,
                7,
                5
            ),
            "at max"
        );
        assert_eq!(
            scaling_status(&[cond("ScalingLimited", "True", "ScaleUpLimit")], 2, 4, 9),
            "limited: scale-up rate"
        );
        assert_eq!(
            scaling_status(&[cond("AbleToScale", "False", "FailedGetScale")], 2, 2, 9),
            "limited: FailedGetScale"
        );
        assert_eq!(scaling_status(&[], 2, 4, 9), "scaling up");
        assert_eq!(scaling_status(&[], 4, 2, 9), "scaling down");
        assert_eq!(scaling_status(&[], 9, 9, 9), "at max");
        assert_eq!(scaling_status(&[], 3, 3, 9), "stable");
    }
}
