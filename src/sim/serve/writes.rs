//! Writes: the Deployment `/scale` subresource (GET is a read), Deployment patch/update
//! (spec.replicas, labels, annotations), and HPA create/patch/update/delete in autoscaling/v2
//! or through the v1 view. Every write checks the resourceVersion precondition (409), validates
//! (422), honours `dryRun=All` and lands in the world under its lock, then the store re-renders
//! the deployment so the response carries the new resourceVersion.

use std::sync::Arc;

use http::Response;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1 as hpa_v1;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::discovery::Backend;
use super::http::{self as h, Body};
use super::objects::{self, HpaMeta, REVISION_ANNOTATION};
use super::patch::{self, PatchType};
use super::proto;
use super::request::{Req, Target};
use super::state::Server;
use super::status::{ApiError, FieldError, GroupResource};
use super::store::{Kind, Obj};
use super::validate::{self, SimHpa};
use super::versions::view_json;
use crate::model::DeploymentKey;

const DEPLOYMENTS: GroupResource = GroupResource::new("apps", "deployments");
const HPAS: GroupResource = GroupResource::new("autoscaling", "horizontalpodautoscalers");

/// How the request changes the object: a whole new object (PUT) or a patch.
enum Edit<'a> {
    Put(Value),
    Patch(PatchType, &'a [u8]),
}

impl Edit<'_> {
    fn apply(&self, current: &Value) -> Result<Value, ApiError> {
        match self {
            Edit::Put(v) => Ok(v.clone()),
            Edit::Patch(ty, body) => patch::apply(current, *ty, body),
        }
    }

    fn is_put(&self) -> bool {
        matches!(self, Edit::Put(_))
    }
}

/// A POST/PUT body as JSON: JSON itself, or protobuf for HPAs (what typed clients such as
/// `kubectl autoscale` send).
fn body_json(req: &Req, backend: Backend) -> Result<Value, ApiError> {
    let media = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "" | "application/json" => serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("json parse error: {e}"))),
        proto::CONTENT_TYPE if matches!(backend, Backend::Stored(Kind::Hpa) | Backend::HpaV1) => {
            proto::decode_hpa(&req.body, backend == Backend::HpaV1)
        }
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json",
            proto::CONTENT_TYPE,
        ])),
    }
}

/// What the query asks of a write besides the change itself.
#[derive(Clone, Copy, Debug)]
struct WriteOpts {
    /// `dryRun=All`: validate and answer, but store nothing.
    dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are an error (kubectl's default).
    strict: bool,
}

/// Paths of fields in `input` that decoding into the typed object dropped.
fn unknown_fields(input: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, v) in i {
                if v.is_null() {
                    continue;
                }
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    None => out.push(p),
                    Some(kv) => unknown_fields(v, kv, &p, out),
                }
            }
        }
        (Value::Array(i), Value::Array(k)) => {
            for (n, (a, b)) in i.iter().zip(k).enumerate() {
                unknown_fields(a, b, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

/// Decode a written object; with `strict`, refuse fields its type does not have.
fn decode<T: DeserializeOwned + serde::Serialize>(v: Value, strict: bool) -> Result<T, ApiError> {
    let typed: T =
        serde_json::from_value(v.clone()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if strict {
        let known = serde_json::to_value(&typed).unwrap_or(Value::Null);
        let mut unknown = Vec::new();
        unknown_fields(&v, &known, "", &mut unknown);
        if !unknown.is_empty() {
            return Err(ApiError::bad_request(format!(
                "strict decoding error: {}",
                unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(typed)
}

fn parse<T: DeserializeOwned>(json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json).map_err(|e| ApiError::bad_request(format!("stored object: {e}")))
}

pub fn handle(
    server: &Arc<Server>,
    req: &Req,
    t: &Target<'_>,
    verb: &str,
) -> Result<Response<Body>, ApiError> {
    let opts = WriteOpts {
        dry_run: req.query.dry_run()?,
        strict: match req.query.get("fieldValidation") {
            None | Some("" | "Ignore" | "Warn") => false,
            Some("Strict") => true,
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
                )));
            }
        },
    };
    let backend = t.resource.backend;
    let edit = || -> Result<Edit<'_>, ApiError> {
        Ok(if verb == "patch" {
            Edit::Patch(PatchType::from_content_type(&req.content_type)?, &req.body)
        } else {
            Edit::Put(body_json(req, backend)?)
        })
    };
    let ns = t.namespace.as_deref().unwrap_or_default();
    let name = t.name.as_deref().unwrap_or_default();
    match (backend, t.subresource, verb) {
        (Backend::Stored(Kind::Deployment), Some("scale"), "update" | "patch") => {
            write_scale(server, ns, name, edit()?, opts)
        }
        (Backend::Stored(Kind::Deployment), None, "update" | "patch") => {
            write_deployment(server, ns, name, edit()?, opts)
        }
        (Backend::Stored(Kind::Hpa) | Backend::HpaV1, None, "create") => {
            create_hpa(server, ns, body_json(req, backend)?, backend, opts)
        }
        (Backend::Stored(Kind::Hpa) | Backend::HpaV1, None, "update" | "patch") => {
            write_hpa(server, ns, name, edit()?, backend, opts)
        }
        (Backend::Stored(Kind::Hpa) | Backend::HpaV1, None, "delete") => {
            delete_hpa(server, ns, name, &req.body, backend, opts.dry_run)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Name, namespace, resourceVersion and uid of a written object against the stored one.
fn check_meta(
    new: &ObjectMeta,
    cur: &Obj,
    cur_uid: Option<&str>,
    gr: GroupResource,
    ns: &str,
    name: &str,
    put: bool,
) -> Result<(), ApiError> {
    match new.name.as_deref() {
        Some(n) if n == name => {}
        None if !put => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                other.unwrap_or_default()
            )));
        }
    }
    if let Some(n) = new.namespace.as_deref()
        && !n.is_empty()
        && n != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(rv) = new.resource_version.as_deref()
        && !rv.is_empty()
        && rv != cur.rv.to_string()
    {
        return Err(ApiError::conflict(gr, name));
    }
    if let (Some(uid), Some(cur_uid)) = (new.uid.as_deref(), cur_uid)
        && !uid.is_empty()
        && uid != cur_uid
    {
        return Err(ApiError::conflict_because(
            gr,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {cur_uid}"
            ),
        ));
    }
    Ok(())
}

fn write_scale(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    edit: Edit<'_>,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let key = DeploymentKey::new(ns, name);
    let (mut w, mut store) = server.both();
    store.sync_key(&w, &key);
    let cur = store
        .get(Kind::Deployment, ns, name)
        .ok_or_else(|| ApiError::not_found(DEPLOYMENTS, name))?;
    let d: Deployment = parse(&cur.json)?;
    let scale = objects::scale(&d);
    let current = serde_json::to_value(&scale).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let new: hpa_v1::Scale = decode(edit.apply(&current)?, opts.strict)?;
    check_meta(
        &new.metadata,
        &cur,
        d.metadata.uid.as_deref(),
        DEPLOYMENTS,
        ns,
        name,
        edit.is_put(),
    )?;
    // ScaleSpec.replicas is omitempty in Go: absent means 0.
    let replicas = new.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let errs = validate::replicas_errors(
        "spec.replicas",
        replicas,
        0,
        "must be greater than or equal to 0",
    );
    if !errs.is_empty() {
        return Err(ApiError::invalid("Scale", "autoscaling", name, errs));
    }
    if opts.dry_run {
        let mut out = scale;
        out.spec = Some(hpa_v1::ScaleSpec {
            replicas: Some(replicas),
        });
        return Ok(h::json(
            200,
            serde_json::to_string(&out).unwrap_or_default(),
        ));
    }
    let current_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    if replicas != current_replicas {
        w.scale(&key, replicas as u32)
            .map_err(|e| ApiError::from_cluster(e, DEPLOYMENTS, name, "update", ns))?;
    }
    store.sync_key(&w, &key);
    let cur = store
        .get(Kind::Deployment, ns, name)
        .ok_or_else(|| ApiError::not_found(DEPLOYMENTS, name))?;
    let d: Deployment = parse(&cur.json)?;
    Ok(h::json(
        200,
        serde_json::to_string(&objects::scale(&d)).unwrap_or_default(),
    ))
}

fn without_revision(
    a: &Option<std::collections::BTreeMap<String, String>>,
) -> std::collections::BTreeMap<String, String> {
    let mut a = validate::map(a);
    a.remove(REVISION_ANNOTATION);
    a
}

fn write_deployment(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    edit: Edit<'_>,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let key = DeploymentKey::new(ns, name);
    let (mut w, mut store) = server.both();
    store.sync_key(&w, &key);
    let cur = store
        .get(Kind::Deployment, ns, name)
        .ok_or_else(|| ApiError::not_found(DEPLOYMENTS, name))?;
    let cur_v: Value = parse(&cur.json)?;
    let old: Deployment = decode(cur_v.clone(), false)?;
    let new: Deployment = decode(edit.apply(&cur_v)?, opts.strict)?;
    check_meta(
        &new.metadata,
        &cur,
        old.metadata.uid.as_deref(),
        DEPLOYMENTS,
        ns,
        name,
        edit.is_put(),
    )?;
    // apps/v1 defaults a missing spec.replicas to 1.
    let replicas = new.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let mut errs = validate::replicas_errors(
        "spec.replicas",
        replicas,
        0,
        "must be greater than or equal to 0",
    );
    errs.extend(validate::meta_errors(&new.metadata));
    let strip = |d: &Deployment| {
        let mut s = d.spec.clone().unwrap_or_default();
        s.replicas = None;
        s
    };
    if strip(&old) != strip(&new) {
        errs.push(FieldError::forbidden(
            "spec",
            "the ai4k8s simulator can change only spec.replicas of a Deployment",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("Deployment", "apps", name, errs));
    }
    let annotations = without_revision(&new.metadata.annotations);
    let labels = validate::map(&new.metadata.labels);
    let old_replicas = old.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    if opts.dry_run {
        let mut out = old;
        let mut shown = annotations.clone();
        shown.insert(REVISION_ANNOTATION.into(), "1".into());
        out.metadata.annotations = Some(shown);
        out.metadata.labels = Some(labels);
        if let Some(s) = out.spec.as_mut() {
            s.replicas = Some(replicas);
        }
        if replicas != old_replicas {
            out.metadata.generation = out.metadata.generation.map(|g| g + 1);
        }
        return Ok(h::json(
            200,
            serde_json::to_string(&out).unwrap_or_default(),
        ));
    }
    let fail = |e| ApiError::from_cluster(e, DEPLOYMENTS, name, "patch", ns);
    if replicas != old_replicas {
        w.scale(&key, replicas as u32).map_err(fail)?;
    }
    let (world_annotations, world_labels) = match w.deployment_view(&key) {
        Some(v) => (v.annotations.clone(), v.labels.clone()),
        None => return Err(ApiError::not_found(DEPLOYMENTS, name)),
    };
    if annotations != world_annotations {
        w.set_annotations(&key, annotations).map_err(fail)?;
    }
    if labels != world_labels {
        w.set_labels(&key, labels).map_err(fail)?;
    }
    store.sync_key(&w, &key);
    let obj = store
        .get(Kind::Deployment, ns, name)
        .ok_or_else(|| ApiError::not_found(DEPLOYMENTS, name))?;
    Ok(h::json(200, obj.json.clone()))
}

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

fn create_hpa(
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

fn write_hpa(
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

fn delete_hpa(
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
    if let Some(rv) = options
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        && rv != cur.rv.to_string()
    {
        return Err(ApiError::conflict_because(
            HPAS,
            name,
            &format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                cur.rv
            ),
        ));
    }
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
