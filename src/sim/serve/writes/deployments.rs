//! Deployment writes: the `/scale` subresource and the Deployment itself (spec.replicas, labels,
//! annotations).

use std::sync::Arc;

use http::Response;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1 as hpa_v1;
use serde_json::Value;

use super::decode::{DEPLOYMENTS, Edit, WriteOpts, check_meta, decode, parse};
use crate::model::DeploymentKey;
use crate::sim::serve::http::{self as h, Body};
use crate::sim::serve::objects::{self, REVISION_ANNOTATION};
use crate::sim::serve::state::Server;
use crate::sim::serve::status::{ApiError, FieldError};
use crate::sim::serve::store::Kind;
use crate::sim::serve::validate::{self};

pub(super) fn write_scale(
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

pub(super) fn write_deployment(
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
