//! HorizontalPodAutoscalers (autoscaling/v2): spec, status, conditions and current metrics,
//! with the metadata the server keeps beside the world's controller.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus,
    ResourceMetricSource, ResourceMetricStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::deployments::i32_of;
use super::meta::{Clocks, Ctx, deployment_created, uid};
use crate::k8s::quantity;
use crate::model::ownership::SCALED_OBJECT_LABEL;
use crate::model::{DeploymentKey, UnixSeconds};
use crate::sim::hpa::{
    Behavior, DEFAULT_CPU_UTILIZATION, HpaConfig, PolicyKind, ScalingRules, SelectPolicy,
};
use crate::sim::world::{DeploymentView, HpaView, STEP_SECONDS};

/// What the server remembers about an HPA beyond the world's controller.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaMeta {
    pub name: String,
    pub uid: String,
    pub created: UnixSeconds,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl HpaMeta {
    /// The metadata of an HPA the world started with (named after its deployment).
    pub fn initial(seed: u64, key: &DeploymentKey) -> Self {
        let created = deployment_created() + 60;
        Self::new(seed, key, &key.name, created)
    }

    pub fn new(seed: u64, key: &DeploymentKey, name: &str, created: UnixSeconds) -> Self {
        Self {
            name: name.to_string(),
            uid: uid(&[
                &seed.to_string(),
                "hpa",
                &key.namespace,
                name,
                &created.to_string(),
            ]),
            created,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// `spec.metrics` of the world's HPA config, defaulted like the API server (CPU 80 %).
fn metric_specs(config: &HpaConfig) -> Vec<MetricSpec> {
    let cpu = match (config.target_cpu_pct, config.target_mem_pct) {
        (None, None) => Some(DEFAULT_CPU_UTILIZATION),
        (c, _) => c,
    };
    [("cpu", cpu), ("memory", config.target_mem_pct)]
        .into_iter()
        .filter_map(|(name, target)| {
            target.map(|t| MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: name.into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(i32_of(t)),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            })
        })
        .collect()
}

fn rules(r: &ScalingRules) -> HPAScalingRules {
    HPAScalingRules {
        stabilization_window_seconds: Some(i32_of(r.stabilization_window_seconds)),
        select_policy: Some(
            match r.select {
                SelectPolicy::Max => "Max",
                SelectPolicy::Min => "Min",
                SelectPolicy::Disabled => "Disabled",
            }
            .into(),
        ),
        policies: Some(
            r.policies
                .iter()
                .map(|p| HPAScalingPolicy {
                    type_: match p.kind {
                        PolicyKind::Pods => "Pods",
                        PolicyKind::Percent => "Percent",
                    }
                    .into(),
                    value: i32_of(p.value),
                    period_seconds: i32_of(p.period_seconds),
                })
                .collect(),
        ),
        ..Default::default()
    }
}

pub fn behavior(b: &Behavior) -> HorizontalPodAutoscalerBehavior {
    HorizontalPodAutoscalerBehavior {
        scale_up: Some(rules(&b.scale_up)),
        scale_down: Some(rules(&b.scale_down)),
    }
}

/// The spec of the world's HPA on `key`.
pub fn hpa_spec(
    key: &DeploymentKey,
    config: &HpaConfig,
    with_behavior: bool,
) -> HorizontalPodAutoscalerSpec {
    HorizontalPodAutoscalerSpec {
        scale_target_ref: CrossVersionObjectReference {
            api_version: Some("apps/v1".into()),
            kind: "Deployment".into(),
            name: key.name.clone(),
        },
        min_replicas: Some(i32_of(config.min_replicas)),
        max_replicas: i32_of(config.max_replicas),
        metrics: Some(metric_specs(config)),
        behavior: with_behavior.then(|| behavior(&config.behavior)),
    }
}

fn condition(
    clocks: &mut Clocks,
    uid: &str,
    ctx: &Ctx,
    (type_, status, reason, message): (&str, &str, &str, String),
) -> HorizontalPodAutoscalerCondition {
    let since = clocks.since(
        format!("{uid}/{type_}"),
        &format!("{status}/{reason}"),
        ctx.now,
    );
    HorizontalPodAutoscalerCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(ctx.time(since)),
    }
}

fn hpa_conditions(
    h: &HpaView,
    meta: &HpaMeta,
    ctx: &Ctx,
    clocks: &mut Clocks,
) -> Vec<HorizontalPodAutoscalerCondition> {
    let now = ctx.now;
    let Some(last) = &h.last else {
        return vec![condition(
            clocks,
            &meta.uid,
            ctx,
            (
                "AbleToScale",
                "True",
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale".into(),
            ),
        )];
    };
    // The world syncs its HPAs at every step: a scale at the last step time is this sync's.
    let last_sync = now - now.rem_euclid(STEP_SECONDS);
    let able = match last.reason {
        "ScaleUpStabilized" => (
            "AbleToScale",
            "True",
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation".to_string(),
        ),
        "ScaleDownStabilized" => (
            "AbleToScale",
            "True",
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation".to_string(),
        ),
        _ if h.last_scale_time == Some(last_sync) => (
            "AbleToScale",
            "True",
            "SucceededRescale",
            format!(
                "the HPA controller was able to update the target scale to {}",
                h.desired_replicas
            ),
        ),
        _ => (
            "AbleToScale",
            "True",
            "ReadyForNewScale",
            "recommended size matches current size".to_string(),
        ),
    };
    let metric = if h.config.target_cpu_pct.is_none() && h.config.target_mem_pct.is_some() {
        "memory"
    } else {
        "cpu"
    };
    let active = match (last.reason, &last.metrics_error) {
        ("ScalingDisabled", _) => (
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".to_string(),
        ),
        ("FailedGetResourceMetric", e) => (
            "ScalingActive",
            "False",
            "FailedGetResourceMetric",
            format!(
                "the HPA was unable to compute the replica count: {}",
                e.as_deref()
                    .unwrap_or("no metrics returned from resource metrics API")
            ),
        ),
        _ => (
            "ScalingActive",
            "True",
            "ValidMetricFound",
            format!(
                "the HPA was able to successfully calculate a replica count from {metric} resource utilization (percentage of request)"
            ),
        ),
    };
    let limited = match last.reason {
        "TooManyReplicas" => (
            "True",
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        ),
        "TooFewReplicas" => (
            "True",
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        ),
        "ScaleUpLimit" => (
            "True",
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        ),
        "ScaleDownLimit" => (
            "True",
            "ScaleDownLimit",
            "the desired replica count is decreasing faster than the maximum scale rate",
        ),
        _ => (
            "False",
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        ),
    };
    vec![
        condition(clocks, &meta.uid, ctx, able),
        condition(clocks, &meta.uid, ctx, active),
        condition(
            clocks,
            &meta.uid,
            ctx,
            (
                "ScalingLimited",
                limited.0,
                limited.1,
                limited.2.to_string(),
            ),
        ),
    ]
}

fn current_metrics(view: &DeploymentView<'_>, h: &HpaView) -> Option<Vec<MetricStatus>> {
    let last = h.last.as_ref()?;
    let specs = metric_specs(&h.config);
    let statuses = specs
        .iter()
        .map(|s| {
            let name = s
                .resource
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or("cpu");
            let (util, value) = if name == "memory" {
                let u = last.mem_utilization;
                let bytes = u.map(|u| {
                    (f64::from(u) / 100.0 * f64::from(view.spec.mem_request_mib) * 1_048_576.0)
                        .round() as i64
                });
                (u, bytes.map(quantity::format_bytes_decimal))
            } else {
                let u = last.cpu_utilization;
                let millis = u.map(|u| {
                    (f64::from(u) / 100.0 * f64::from(view.spec.cpu_request_millis)).round() as i64
                });
                (u, millis.map(quantity::format_cpu_millis))
            };
            match util {
                Some(u) => MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus {
                        name: name.into(),
                        current: MetricValueStatus {
                            average_utilization: Some(i32_of(u)),
                            average_value: value.map(Quantity),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                },
                // The controller leaves a metric it could not read empty.
                None => MetricStatus::default(),
            }
        })
        .collect();
    Some(statuses)
}

/// KEDA's label on the HPA it makes for a ScaledObject, beside the HPA's own.
fn keda_labels(
    view: &DeploymentView<'_>,
    labels: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let mut labels = labels.clone();
    if let Some(so) = &view.ownership.keda {
        labels.insert(SCALED_OBJECT_LABEL.into(), so.name.clone());
    }
    (!labels.is_empty()).then_some(labels)
}

/// The ScaledObject as the HPA's controlling owner, as KEDA sets it.
fn keda_owner(view: &DeploymentView<'_>, ctx: &Ctx) -> Option<Vec<OwnerReference>> {
    let so = view.ownership.keda.as_ref()?;
    Some(vec![OwnerReference {
        api_version: "keda.sh/v1alpha1".into(),
        kind: "ScaledObject".into(),
        name: so.name.clone(),
        uid: uid(&[
            &ctx.seed.to_string(),
            "scaledobject",
            &view.key.namespace,
            &so.name,
        ]),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }])
}

pub fn hpa(
    view: &DeploymentView<'_>,
    meta: &HpaMeta,
    ctx: &Ctx,
    clocks: &mut Clocks,
) -> Option<HorizontalPodAutoscaler> {
    let h = view.hpa.as_ref()?;
    let key = view.key;
    Some(HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(meta.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid: Some(meta.uid.clone()),
            creation_timestamp: Some(ctx.time(meta.created)),
            labels: keda_labels(view, &meta.labels),
            owner_references: keda_owner(view, ctx),
            annotations: (!meta.annotations.is_empty()).then(|| meta.annotations.clone()),
            ..Default::default()
        },
        spec: Some(hpa_spec(key, &h.config, h.with_behavior)),
        status: Some(HorizontalPodAutoscalerStatus {
            current_replicas: Some(i32_of(view.replicas)),
            desired_replicas: i32_of(h.desired_replicas),
            last_scale_time: h.last_scale_time.map(|t| ctx.time(t)),
            current_metrics: current_metrics(view, h),
            conditions: Some(hpa_conditions(h, meta, ctx, clocks)),
            ..Default::default()
        }),
    })
}
