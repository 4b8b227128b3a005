//! Validation of written objects, worded like the apiserver's field errors, and the mapping of
//! an autoscaling/v2 HPA spec onto the simulator's HPA config (refusing, with a 422, what the
//! simulator cannot run: targets other than Deployments, metrics other than CPU/memory
//! utilization).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::status::FieldError;
use crate::sim::hpa::{Behavior, HpaConfig, PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy};

const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
/// The apiserver's cap on all annotations of an object.
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// The most replicas a Deployment, a Scale or an HPA's min/maxReplicas may ask for. The real
/// API server accepts any int32, but the simulator materialises every pod (world state, Pod
/// objects, metrics, events: about 6 KB each), so `kubectl scale --replicas=1000000` grew the
/// process to 5.9 GB. 10 000 pods is more than any one Deployment in the demo or synthetic
/// worlds needs and keeps the worst case per Deployment near 60 MB.
pub const MAX_REPLICAS: i32 = 10_000;

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Field errors for a replica count at `field`: below `min`, or above [`MAX_REPLICAS`].
pub fn replicas_errors(field: &str, value: i32, min: i32, below_min: &str) -> Vec<FieldError> {
    if value < min {
        vec![FieldError::invalid(field, value, below_min)]
    } else if value > MAX_REPLICAS {
        vec![FieldError::invalid(
            field,
            value,
            &format!("must be less than or equal to {MAX_REPLICAS} (the ai4k8s simulator's limit)"),
        )]
    } else {
        Vec::new()
    }
}

/// A lowercase RFC 1123 subdomain (object names, key prefixes).
pub fn is_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

pub fn name_errors(name: &str) -> Vec<FieldError> {
    if is_subdomain(name) {
        Vec::new()
    } else {
        vec![FieldError::invalid_str(
            "metadata.name",
            name,
            SUBDOMAIN_MSG,
        )]
    }
}

/// Why `key` is not a qualified name (`[prefix/]name`), if it is not.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if name.contains('/') {
        return Some(format!(
            "a qualified name {NAME_PART_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    if !is_name_part(name) {
        return Some(NAME_PART_MSG.into());
    }
    match prefix {
        Some("") => Some("prefix part must be non-empty".into()),
        Some(p) if !is_subdomain(p) => Some(format!("prefix part {SUBDOMAIN_MSG}")),
        _ => None,
    }
}

/// Labels and annotations as `ValidateObjectMeta` checks them.
pub fn meta_errors(meta: &ObjectMeta) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let labels = meta.labels.clone().unwrap_or_default();
    for (k, v) in &labels {
        if let Some(p) = qualified_name_problem(k) {
            errs.push(FieldError::invalid_str("metadata.labels", k, &p));
        }
        if !(v.is_empty() || (v.len() <= 63 && is_name_part(v))) {
            errs.push(FieldError::invalid_str(
                "metadata.labels",
                v,
                LABEL_VALUE_MSG,
            ));
        }
    }
    let annotations = meta.annotations.clone().unwrap_or_default();
    let mut size = 0;
    for (k, v) in &annotations {
        size += k.len() + v.len();
        // Annotation keys are checked lowercased (upper case is allowed there).
        if let Some(p) = qualified_name_problem(&k.to_lowercase()) {
            errs.push(FieldError::invalid_str("metadata.annotations", k, &p));
        }
    }
    if size > ANNOTATIONS_MAX_BYTES {
        errs.push(FieldError {
            reason: "FieldValueTooLong",
            field: "metadata.annotations".into(),
            body: format!("Too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes"),
        });
    }
    errs
}

/// What the simulator runs for an HPA spec, after the API's defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct SimHpa {
    pub config: HpaConfig,
    pub with_behavior: bool,
    /// The Deployment it scales.
    pub target: String,
}

fn rules(
    r: Option<&HPAScalingRules>,
    default: ScalingRules,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> ScalingRules {
    let Some(r) = r else { return default };
    let window = match r.stabilization_window_seconds {
        Some(s) if !(0..=3600).contains(&s) => {
            errs.push(FieldError::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                s,
                "must be greater than or equal to zero and less than or equal to 3600",
            ));
            default.stabilization_window_seconds
        }
        Some(s) => s as u32,
        None => default.stabilization_window_seconds,
    };
    let select = match r.select_policy.as_deref() {
        None | Some("Max") => SelectPolicy::Max,
        Some("Min") => SelectPolicy::Min,
        Some("Disabled") => SelectPolicy::Disabled,
        Some(other) => {
            errs.push(FieldError::not_supported(
                format!("{path}.selectPolicy"),
                other,
                &["Disabled", "Max", "Min"],
            ));
            SelectPolicy::Max
        }
    };
    let policies = match &r.policies {
        None => default.policies,
        Some(ps) => {
            if ps.is_empty() && select != SelectPolicy::Disabled {
                errs.push(FieldError::required(
                    format!("{path}.policies"),
                    "must specify at least one Policy",
                ));
            }
            let mut out = Vec::new();
            for (i, p) in ps.iter().enumerate() {
                let at = format!("{path}.policies[{i}]");
                let kind = match p.type_.as_str() {
                    "Pods" => Some(PolicyKind::Pods),
                    "Percent" => Some(PolicyKind::Percent),
                    other => {
                        errs.push(FieldError::not_supported(
                            format!("{at}.type"),
                            other,
                            &["Percent", "Pods"],
                        ));
                        None
                    }
                };
                if p.value <= 0 {
                    errs.push(FieldError::invalid(
                        format!("{at}.value"),
                        p.value,
                        "must be greater than zero",
                    ));
                }
                if p.period_seconds <= 0 || p.period_seconds > 1800 {
                    errs.push(FieldError::invalid(
                        format!("{at}.periodSeconds"),
                        p.period_seconds,
                        "must be greater than zero and less than or equal to 1800",
                    ));
                }
                if let Some(kind) = kind
                    && p.value > 0
                    && p.period_seconds > 0
                {
                    out.push(ScalingPolicy {
                        kind,
                        value: p.value as u32,
                        period_seconds: p.period_seconds as u32,
                    });
                }
            }
            out
        }
    };
    ScalingRules {
        stabilization_window_seconds: window,
        select,
        policies,
    }
}

/// Validate a v2 spec and map it onto the simulator's HPA.
pub fn sim_hpa(spec: Option<&HorizontalPodAutoscalerSpec>) -> Result<SimHpa, Vec<FieldError>> {
    let default_spec = HorizontalPodAutoscalerSpec::default();
    let spec = spec.unwrap_or(&default_spec);
    let mut errs = Vec::new();
    let target = &spec.scale_target_ref;
    if target.kind.is_empty() {
        errs.push(FieldError::required("spec.scaleTargetRef.kind", ""));
    } else if target.kind != "Deployment" {
        errs.push(FieldError::not_supported(
            "spec.scaleTargetRef.kind",
            &target.kind,
            &["Deployment"],
        ));
    }
    if target.name.is_empty() {
        errs.push(FieldError::required("spec.scaleTargetRef.name", ""));
    }
    if let Some(v) = target.api_version.as_deref()
        && !v.is_empty()
        && v != "apps/v1"
    {
        errs.push(FieldError::not_supported(
            "spec.scaleTargetRef.apiVersion",
            v,
            &["apps/v1"],
        ));
    }
    let min = spec.min_replicas.unwrap_or(1);
    errs.extend(replicas_errors(
        "spec.minReplicas",
        min,
        1,
        "must be greater than or equal to 1",
    ));
    let max = spec.max_replicas;
    errs.extend(replicas_errors(
        "spec.maxReplicas",
        max,
        1,
        "must be greater than 0",
    ));
    if min >= 1 && max < min {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let (mut cpu, mut mem) = (None, None);
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        let at = format!("spec.metrics[{i}]");
        if m.type_ != "Resource" {
            errs.push(FieldError::not_supported(
                format!("{at}.type"),
                &m.type_,
                &["Resource"],
            ));
            continue;
        }
        let Some(r) = &m.resource else {
            errs.push(FieldError::required(
                format!("{at}.resource"),
                "must populate information for the given metric source",
            ));
            continue;
        };
        let slot = match r.name.as_str() {
            "cpu" => &mut cpu,
            "memory" => &mut mem,
            other => {
                errs.push(FieldError::not_supported(
                    format!("{at}.resource.name"),
                    other,
                    &["cpu", "memory"],
                ));
                continue;
            }
        };
        if r.target.type_ != "Utilization" {
            errs.push(FieldError::not_supported(
                format!("{at}.resource.target.type"),
                &r.target.type_,
                &["Utilization"],
            ));
            continue;
        }
        match r.target.average_utilization {
            None => errs.push(FieldError::required(
                format!("{at}.resource.target.averageUtilization"),
                "must set averageUtilization when target type is Utilization",
            )),
            Some(u) if u <= 0 => errs.push(FieldError::invalid(
                format!("{at}.resource.target.averageUtilization"),
                u,
                "must be greater than 0",
            )),
            Some(u) => {
                if slot.is_some() {
                    errs.push(FieldError {
                        reason: "FieldValueDuplicate",
                        field: format!("{at}.resource.name"),
                        body: format!("Duplicate value: {:?}", r.name),
                    });
                }
                *slot = Some(u as u32);
            }
        }
    }
    let defaults = Behavior::default();
    let behavior = match &spec.behavior {
        None => defaults,
        Some(b) => Behavior {
            scale_up: rules(
                b.scale_up.as_ref(),
                defaults.scale_up,
                "spec.behavior.scaleUp",
                &mut errs,
            ),
            scale_down: rules(
                b.scale_down.as_ref(),
                defaults.scale_down,
                "spec.behavior.scaleDown",
                &mut errs,
            ),
        },
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(SimHpa {
        config: HpaConfig {
            min_replicas: min as u32,
            max_replicas: max as u32,
            target_cpu_pct: cpu,
            target_mem_pct: mem,
            behavior,
        },
        with_behavior: spec.behavior.is_some(),
        target: target.name.clone(),
    })
}

/// Labels or annotations as a map (absent = empty).
pub fn map(m: &Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    m.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> HorizontalPodAutoscalerSpec {
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn hpa_specs_map_onto_the_simulator_with_the_apis_defaults() {
        let s = sim_hpa(Some(&spec(json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ledger"},
            "maxReplicas": 6,
        }))))
        .expect("valid");
        assert_eq!(s.config.min_replicas, 1, "minReplicas defaults to 1");
        assert_eq!(
            (s.config.target_cpu_pct, s.config.target_mem_pct),
            (None, None)
        );
        assert!(!s.with_behavior);
        assert_eq!(s.target, "ledger");
        let s = sim_hpa(Some(&spec(json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "ledger"},
            "minReplicas": 2, "maxReplicas": 6,
            "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 75}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
        }))))
        .expect("valid");
        assert_eq!(s.config.target_mem_pct, Some(75));
        assert!(s.with_behavior);
        assert_eq!(
            s.config.behavior.scale_down.stabilization_window_seconds,
            60
        );
        assert_eq!(s.config.behavior.scale_up, ScalingRules::default_scale_up());
    }

    #[test]
    fn invalid_specs_are_refused_with_field_errors() {
        let errs = sim_hpa(Some(&spec(json!({
            "scaleTargetRef": {"kind": "StatefulSet", "name": "db"},
            "minReplicas": 9, "maxReplicas": 4,
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}],
        }))))
        .expect_err("invalid");
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.scaleTargetRef.kind",
                "spec.maxReplicas",
                "spec.metrics[0].type"
            ]
        );
        assert_eq!(
            errs[1].to_string(),
            "spec.maxReplicas: Invalid value: 4: must be greater than or equal to `minReplicas`"
        );
        // kind, name, and maxReplicas twice (0 is below 1 and below the defaulted minReplicas).
        let errs = sim_hpa(None).expect_err("empty");
        assert_eq!(errs.len(), 4);
    }

    #[test]
    fn replica_counts_above_the_limit_are_refused() {
        let errs = sim_hpa(Some(&spec(json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "ledger"},
            "minReplicas": MAX_REPLICAS + 1, "maxReplicas": 1_000_000,
        }))))
        .expect_err("too many");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "spec.minReplicas: Invalid value: 10001: must be less than or equal to 10000 (the ai4k8s simulator's limit)",
                "spec.maxReplicas: Invalid value: 1000000: must be less than or equal to 10000 (the ai4k8s simulator's limit)",
            ]
        );
        let at_limit = sim_hpa(Some(&spec(json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "ledger"},
            "minReplicas": MAX_REPLICAS, "maxReplicas": MAX_REPLICAS,
        }))));
        assert!(at_limit.is_ok(), "{at_limit:?}");
        assert!(replicas_errors("spec.replicas", MAX_REPLICAS, 0, "").is_empty());
        assert_eq!(replicas_errors("spec.replicas", -1, 0, "x").len(), 1);
    }

    #[test]
    fn metadata_keys_and_values_are_checked() {
        let meta: ObjectMeta = serde_json::from_value(json!({
            "labels": {"app": "ok", "bad key": "x", "tier": "no spaces"},
            "annotations": {"ai4k8s.io/predictive-autoscaling": "true", "Upper.Case/OK": "1", "a/b/c": "1"},
        }))
        .expect("meta");
        let errs = meta_errors(&meta);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0]
                .to_string()
                .starts_with("metadata.labels: Invalid value: \"bad key\": name part must consist")
        );
        assert!(is_subdomain("frontend-hpa"));
        assert!(!is_subdomain("Frontend"));
    }
}
