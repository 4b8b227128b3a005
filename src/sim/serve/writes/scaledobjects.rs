//! ScaledObject writes (patch and update): only spec.minReplicaCount and spec.maxReplicaCount
//! may change; KEDA's loop in the world then carries them into the HPA.

use std::sync::Arc;

use http::Response;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::decode::{Edit, WriteOpts, check_meta, parse};
use crate::cluster::ScaledObjectExpect;
use crate::sim::serve::http::{self as h, Body};
use crate::sim::serve::state::Server;
use crate::sim::serve::status::{ApiError, FieldError, GroupResource};
use crate::sim::serve::store::Kind;

const SCALED_OBJECTS: GroupResource = GroupResource::new("keda.sh", "scaledobjects");

fn count(v: &Value, field: &str) -> Result<Option<u32>, FieldError> {
    match v.pointer(&format!("/spec/{field}")) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                FieldError::invalid(format!("spec.{field}"), n, "must be a non-negative integer")
            }),
    }
}

pub(super) fn write_scaled_object(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    edit: Edit<'_>,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let (mut w, mut store) = server.both();
    // The deployment whose ScaledObject this is.
    let key = w
        .deployment_keys()
        .into_iter()
        .find(|k| k.namespace == ns && w.scaled_object(k).is_ok_and(|so| so.name == name))
        .ok_or_else(|| ApiError::not_found(SCALED_OBJECTS, name))?;
    store.sync_key(&w, &key);
    let cur = store
        .get(Kind::ScaledObject, ns, name)
        .ok_or_else(|| ApiError::not_found(SCALED_OBJECTS, name))?;
    let cur_v: Value = parse(&cur.json)?;
    let new = edit.apply(&cur_v)?;
    let meta: ObjectMeta = new
        .get("metadata")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .unwrap_or_default();
    let cur_uid = cur_v.pointer("/metadata/uid").and_then(Value::as_str);
    check_meta(
        &meta,
        &cur,
        cur_uid,
        SCALED_OBJECTS,
        ns,
        name,
        edit.is_put(),
    )?;
    let mut errs = Vec::new();
    let (min, max) = (
        count(&new, "minReplicaCount").unwrap_or_else(|e| {
            errs.push(e);
            None
        }),
        count(&new, "maxReplicaCount").unwrap_or_else(|e| {
            errs.push(e);
            None
        }),
    );
    let strip = |v: &Value| {
        let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(o) = s.as_object_mut() {
            o.remove("minReplicaCount");
            o.remove("maxReplicaCount");
        }
        s
    };
    if strip(&cur_v) != strip(&new) {
        errs.push(FieldError::forbidden(
            "spec",
            "the ai4k8s simulator can change only spec.minReplicaCount and spec.maxReplicaCount of a ScaledObject",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("ScaledObject", "keda.sh", name, errs));
    }
    let fail = |e| ApiError::from_cluster(e, SCALED_OBJECTS, name, "patch", ns);
    let expect = ScaledObjectExpect {
        name: name.to_string(),
        ..ScaledObjectExpect::default()
    };
    // KEDA's defaults for counts removed from the spec.
    let min = min.unwrap_or(crate::model::ownership::KEDA_DEFAULT_MIN);
    let max = max.unwrap_or(crate::model::ownership::KEDA_DEFAULT_MAX);
    if opts.dry_run {
        let mut preview = w.clone();
        preview
            .patch_scaled_object(&key, &expect, Some(min), Some(max))
            .map_err(fail)?;
        return Ok(h::json(200, new.to_string()));
    }
    w.patch_scaled_object(&key, &expect, Some(min), Some(max))
        .map_err(fail)?;
    store.sync_key(&w, &key);
    let obj = store
        .get(Kind::ScaledObject, ns, name)
        .ok_or_else(|| ApiError::not_found(SCALED_OBJECTS, name))?;
    Ok(h::json(200, obj.json.clone()))
}
