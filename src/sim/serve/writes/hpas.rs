//! HPA writes in autoscaling/v2 or through the v1 view: create, update/patch and delete.

use std::sync::Arc;

use http::Response;
use k8s_openapi::api::autoscaling::v1 as hpa_v1;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::decode::{Edit, HPAS, WriteOpts, check_meta, check_rv_precondition, decode, parse};
use crate::model::DeploymentKey;
use crate::sim::serve::discovery::Backend;
use crate::sim::serve::http::{self as h, Body};
use crate::sim::serve::objects::{self, HpaMeta};
use crate::sim::serve::state::Server;
use crate::sim::serve::status::{ApiError, FieldError};
use crate::sim::serve::store::Kind;
use crate::sim::serve::validate::{self, SimHpa};
use crate::sim::serve::versions::view_json;

/// A written HPA in either version, as metadata plus a v2 spec. v1 carries only the CPU
/// target; the v2-only parts (memory target, behavior) are kept from `keep`.
fn hpa_from_body(
    v: Value,
    backend: Backend,
    keep: Option<&SimHpa>,
    strict: bool,
) -> Result<(ObjectMeta, HorizontalPodAutoscalerSpec), ApiError> {
    if backend != Backend::HpaV1 {
        let h: HorizontalPodAutoscaler = decode(v, strict)?;
        return Ok((h.metadata, h.spec.unwrap_or_default()));
    }
    let h: hpa_v1::HorizontalPodAutoscaler = decode(v, strict)?;
    let spec = h.spec.unwrap_or_default();
    let utilization = |name: &str, pct: i32| MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: name.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(pct),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let cpu = spec
        .target_cpu_utilization_percentage
        .map(|p| utilization("cpu", p));
    let mem = keep
        .and_then(|k| k.config.target_mem_pct)
        .map(|p| utilization("memory", i32::try_from(p).unwrap_or(i32::MAX)));
    let metrics: Vec<MetricSpec> = cpu.into_iter().chain(mem).collect();
    let mut annotations = validate::map(&h.metadata.annotations);
    annotations.retain(|k, _| !objects::is_v1_conversion_annotation(k));
    let mut metadata = h.metadata;
    metadata.annotations = Some(annotations);
    Ok((
        metadata,
        HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: spec.scale_target_ref.api_version,
                kind: spec.scale_target_ref.kind,
                name: spec.scale_target_ref.name,
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            metrics: Some(metrics),
            behavior: keep
                .filter(|k| k.with_behavior)
                .map(|k| objects::behavior(&k.config.behavior)),
        },
    ))
}

fn hpa_response(
    backend: Backend,
    code: u16,
    h: &HorizontalPodAutoscaler,
) -> Result<Response<Body>, ApiError> {
    let json = serde_json::to_string(h).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(h::json(code, view_json(backend, &json)?))
}

pub(super) fn create_hpa(
    server: &Arc<Server>,
    ns: &str,
    v: Value,
    backend: Backend,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let (meta, spec) = hpa_from_body(v, backend, None, opts.strict)?;
    if let Some(n) = meta.namespace.as_deref()
        && !n.is_empty()
        && n != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let (mut w, mut store) = server.both();
    if store.synced_generation() != Some(w.generation()) {
        store.sync_all(&w);
    }
    let name = match (meta.name.as_deref(), meta.generate_name.as_deref()) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(prefix)) if !prefix.is_empty() => format!(
            "{prefix}{}",
            objects::suffix(&[prefix, &store.rv().to_string(), &w.now().to_string()])
        ),
        _ => {
            return Err(ApiError::invalid(
                "HorizontalPodAutoscaler",
                "autoscaling",
                "",
                vec![FieldError::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            ));
        }
    };
    let mut errs = validate::name_errors(&name);
    errs.extend(validate::meta_errors(&meta));
    let sim = match validate::sim_hpa(Some(&spec)) {
        Ok(s) => Some(s),
        Err(e) => {
            errs.extend(e);
            None
        }
    };
    if store.get(Kind::Hpa, ns, &name).is_some() {
        return Err(ApiError::already_exists(HPAS, &name));
    }
    if let Some(s) = &sim {
        let key = DeploymentKey::new(ns, &s.target);
        match w.deployment_view(&key) {
            None => errs.push(FieldError::invalid_str(
                "spec.scaleTargetRef.name",
                &s.target,
                "the ai4k8s simulator autoscales existing Deployments only",
            )),
            Some(v) if v.hpa.is_some() => {
                let other = store
                    .hpa_meta(&key)
                    .map_or_else(|| s.target.clone(), |m| m.name.clone());
                errs.push(FieldError::forbidden(
                    "spec.scaleTargetRef",
                    &format!(
                        "the ai4k8s simulator runs one HPA per Deployment and horizontalpodautoscalers.autoscaling \"{other}\" already scales Deployment \"{}\"",
                        s.target
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let Some(sim) = sim.filter(|_| errs.is_empty()) else {
        return Err(ApiError::invalid(
            "HorizontalPodAutoscaler",
            "autoscaling",
            &name,
            errs,
        ));
    };
    let key = DeploymentKey::new(ns, &sim.target);
    let mut hpa_meta = HpaMeta::new(store.seed(), &key, &name, w.now());
    hpa_meta.labels = validate::map(&meta.labels);
    hpa_meta.annotations = validate::map(&meta.annotations);
    if opts.dry_run {
        let h = HorizontalPodAutoscaler {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(ns.to_string()),
                uid: Some(hpa_meta.uid.clone()),
                creation_timestamp: Some(store.ctx(w.now()).time(w.now())),
                generation: Some(1),
                labels: (!hpa_meta.labels.is_empty()).then_some(hpa_meta.labels),
                annotations: (!hpa_meta.annotations.is_empty()).then_some(hpa_meta.annotations),
                ..Default::default()
            },
            spec: Some(objects::hpa_spec(&key, &sim.config, sim.with_behavior)),
            status: Some(HorizontalPodAutoscalerStatus::default()),
        };
        return hpa_response(backend, 201, &h);
    }
    store.set_hpa_meta(key.clone(), hpa_meta);
    let put = w.put_hpa(&key, sim.config, sim.with_behavior);
    store.sync_key(&w, &key);
    put.map_err(|e| ApiError::from_cluster(e, HPAS, &name, "create", ns))?;
    let obj = store
        .get(Kind::Hpa, ns, &name)
        .ok_or_else(|| ApiError::not_found(HPAS, &name))?;
    Ok(h::json(201, view_json(backend, &obj.json)?))
}

/// The world's current HPA for `key` as a `SimHpa`.
fn current_sim_hpa(w: &crate::sim::SimWorld, key: &DeploymentKey) -> Option<SimHpa> {
    let h = w.deployment_view(key)?.hpa?;
    Some(SimHpa {
        config: h.config,
        with_behavior: h.with_behavior,
        target: key.name.clone(),
    })
}

pub(super) fn write_hpa(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    edit: Edit<'_>,
    backend: Backend,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let (mut w, mut store) = server.both();
    if store.synced_generation() != Some(w.generation()) {
        store.sync_all(&w);
    }
    let (key, meta) = store
        .hpa_by_name(ns, name)
        .ok_or_else(|| ApiError::not_found(HPAS, name))?;
    store.sync_key(&w, &key);
    let cur = store
        .get(Kind::Hpa, ns, name)
        .ok_or_else(|| ApiError::not_found(HPAS, name))?;
    let old: HorizontalPodAutoscaler = parse(&cur.json)?;
    let shown: Value = serde_json::from_str(&view_json(backend, &cur.json)?)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let keep = current_sim_hpa(&w, &key);
    let (new_meta, new_spec) =
        hpa_from_body(edit.apply(&shown)?, backend, keep.as_ref(), opts.strict)?;
    check_meta(
        &new_meta,
        &cur,
        Some(meta.uid.as_str()),
        HPAS,
        ns,
        name,
        edit.is_put(),
    )?;
    let mut errs = validate::meta_errors(&new_meta);
    let sim = match validate::sim_hpa(Some(&new_spec)) {
        Ok(s) => {
            if s.target != key.name {
                errs.push(FieldError::forbidden(
                    "spec.scaleTargetRef.name",
                    "the ai4k8s simulator cannot move an HPA to another Deployment",
                ));
            }
            Some(s)
        }
        Err(e) => {
            errs.extend(e);
            None
        }
    };
    let Some(sim) = sim.filter(|_| errs.is_empty()) else {
        return Err(ApiError::invalid(
            "HorizontalPodAutoscaler",
            "autoscaling",
            name,
            errs,
        ));
    };
    let mut annotations = validate::map(&new_meta.annotations);
    annotations.retain(|k, _| !objects::is_v1_conversion_annotation(k));
    let labels = validate::map(&new_meta.labels);
    let spec_changed = keep
        .as_ref()
        .is_none_or(|k| k.config != sim.config || k.with_behavior != sim.with_behavior);
    if opts.dry_run {
        let mut out = old;
        out.spec = Some(objects::hpa_spec(&key, &sim.config, sim.with_behavior));
        out.metadata.labels = (!labels.is_empty()).then_some(labels);
        out.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
        if spec_changed {
            out.metadata.generation = out.metadata.generation.map(|g| g + 1);
        }
        return hpa_response(backend, 200, &out);
    }
    if spec_changed {
        w.put_hpa(&key, sim.config, sim.with_behavior)
            .map_err(|e| ApiError::from_cluster(e, HPAS, name, "patch", ns))?;
    }
    store.set_hpa_meta(
        key.clone(),
        HpaMeta {
            labels,
            annotations,
            ..meta
        },
    );
    store.sync_key(&w, &key);
    let obj = store
        .get(Kind::Hpa, ns, name)
        .ok_or_else(|| ApiError::not_found(HPAS, name))?;
    Ok(h::json(200, view_json(backend, &obj.json)?))
}

pub(super) fn delete_hpa(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    body: &[u8],
    backend: Backend,
    dry_run: bool,
) -> Result<Response<Body>, ApiError> {
    // DeleteOptions may carry preconditions.
    let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    // kubectl delete --dry-run=server says so in the DeleteOptions body.
    let dry_run = dry_run
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    let (mut w, mut store) = server.both();
    if store.synced_generation() != Some(w.generation()) {
        store.sync_all(&w);
    }
    let (key, meta) = store
        .hpa_by_name(ns, name)
        .ok_or_else(|| ApiError::not_found(HPAS, name))?;
    let cur = store
        .get(Kind::Hpa, ns, name)
        .ok_or_else(|| ApiError::not_found(HPAS, name))?;
    check_rv_precondition(&options, HPAS, name, cur.rv)?;
    if let Some(uid) = options
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        && uid != meta.uid
    {
        return Err(ApiError::conflict_because(
            HPAS,
            name,
            &format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been replaced",
                meta.uid
            ),
        ));
    }
    let shown = view_json(backend, &cur.json)?;
    if dry_run {
        return Ok(h::json(200, shown));
    }
    w.delete_hpa(&key)
        .map_err(|e| ApiError::from_cluster(e, HPAS, name, "delete", ns))?;
    store.sync_key(&w, &key);
    Ok(h::json(200, shown))
}
