//! The autoscaling/v1 view of a v2 HPA, converted as the API server converts it.

use k8s_openapi::api::autoscaling::v1 as hpa_v1;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec};

/// How v1 HPAs carry their v2 conditions.
pub(super) const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
pub(super) const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// autoscaling/v1 view of a v2 HPA, converted as the API server converts it: CPU utilization
/// in the v1 fields, everything else in `autoscaling.alpha.kubernetes.io/*` annotations.
pub fn hpa_to_v1(v2: &HorizontalPodAutoscaler) -> hpa_v1::HorizontalPodAutoscaler {
    let spec = v2.spec.clone().unwrap_or_default();
    let status = v2.status.clone().unwrap_or_default();
    let is_cpu_util = |m: &MetricSpec| {
        m.resource.as_ref().is_some_and(|r| {
            r.name == "cpu"
                && r.target.type_ == "Utilization"
                && r.target.average_utilization.is_some()
        })
    };
    let metrics = spec.metrics.clone().unwrap_or_default();
    let target_cpu = metrics
        .iter()
        .find(|m| is_cpu_util(m))
        .and_then(|m| m.resource.as_ref()?.target.average_utilization);
    let other: Vec<serde_json::Value> = metrics
        .iter()
        .filter(|m| !is_cpu_util(m))
        .filter_map(|m| {
            let r = m.resource.as_ref()?;
            let mut v = serde_json::json!({"type": "Resource", "resource": {"name": r.name}});
            if let Some(u) = r.target.average_utilization {
                v["resource"]["targetAverageUtilization"] = u.into();
            }
            if let Some(q) = &r.target.average_value {
                v["resource"]["targetAverageValue"] = q.0.clone().into();
            }
            Some(v)
        })
        .collect();
    let current_cpu = status
        .current_metrics
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.current.average_utilization);
    let mut annotations = v2.metadata.annotations.clone().unwrap_or_default();
    if let Some(c) = &status.conditions
        && let Ok(s) = serde_json::to_string(c)
    {
        annotations.insert(CONDITIONS_ANNOTATION.into(), s);
    }
    if !other.is_empty()
        && let Ok(s) = serde_json::to_string(&other)
    {
        annotations.insert(METRICS_ANNOTATION.into(), s);
    }
    if let Some(b) = &spec.behavior
        && let Ok(s) = serde_json::to_string(b)
    {
        annotations.insert(BEHAVIOR_ANNOTATION.into(), s);
    }
    let mut metadata = v2.metadata.clone();
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    hpa_v1::HorizontalPodAutoscaler {
        metadata,
        spec: Some(hpa_v1::HorizontalPodAutoscalerSpec {
            scale_target_ref: hpa_v1::CrossVersionObjectReference {
                api_version: spec.scale_target_ref.api_version.clone(),
                kind: spec.scale_target_ref.kind.clone(),
                name: spec.scale_target_ref.name.clone(),
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            target_cpu_utilization_percentage: target_cpu,
        }),
        status: Some(hpa_v1::HorizontalPodAutoscalerStatus {
            observed_generation: status.observed_generation,
            last_scale_time: status.last_scale_time,
            current_replicas: status.current_replicas.unwrap_or_default(),
            desired_replicas: status.desired_replicas,
            current_cpu_utilization_percentage: current_cpu,
        }),
    }
}

/// True for the annotations the v1 view adds (not stored on the object).
pub fn is_v1_conversion_annotation(k: &str) -> bool {
    k == CONDITIONS_ANNOTATION || k == METRICS_ANNOTATION || k == BEHAVIOR_ANNOTATION
}
