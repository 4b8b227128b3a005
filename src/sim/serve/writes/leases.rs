//! Lease writes (coordination.k8s.io/v1): create, update/patch with the resourceVersion
//! precondition (a stale one is a 409, which is how two leader candidates race), delete.

use std::sync::Arc;

use http::Response;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::decode::{Edit, WriteOpts, check_meta, check_rv_precondition, decode, parse};
use crate::sim::serve::http::{self as h, Body};
use crate::sim::serve::objects;
use crate::sim::serve::state::Server;
use crate::sim::serve::status::{ApiError, FieldError, GroupResource};
use crate::sim::serve::store::Kind;
use crate::sim::serve::validate;

pub(super) const LEASES: GroupResource = GroupResource::new("coordination.k8s.io", "leases");

fn invalid(name: &str, errs: Vec<FieldError>) -> ApiError {
    ApiError::invalid("Lease", "coordination.k8s.io", name, errs)
}

/// The name a create asks for: metadata.name, or generateName plus a suffix.
pub(super) fn name_to_create(
    meta: &ObjectMeta,
    rv: u64,
    kind: &str,
    group: &str,
) -> Result<String, ApiError> {
    match (meta.name.as_deref(), meta.generate_name.as_deref()) {
        (Some(n), _) if !n.is_empty() => Ok(n.to_string()),
        (_, Some(prefix)) if !prefix.is_empty() => Ok(format!(
            "{prefix}{}",
            objects::suffix(&[prefix, &rv.to_string(), kind])
        )),
        _ => Err(ApiError::invalid(
            kind,
            group,
            "",
            vec![FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        )),
    }
}

/// The namespace in a body must be the URL's, if it is given.
pub(super) fn check_namespace(meta: &ObjectMeta, ns: &str) -> Result<(), ApiError> {
    match meta.namespace.as_deref() {
        Some(n) if !n.is_empty() && n != ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

fn stored_json(v: Option<Value>) -> Result<Value, ApiError> {
    v.ok_or_else(|| ApiError::bad_request("the Lease could not be encoded"))
}

pub(super) fn create_lease(
    server: &Arc<Server>,
    ns: &str,
    v: Value,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let lease: Lease = decode(v, opts.strict)?;
    check_namespace(&lease.metadata, ns)?;
    let (w, mut store) = server.both();
    let name = name_to_create(&lease.metadata, store.rv(), "Lease", "coordination.k8s.io")?;
    let mut errs = validate::name_errors(&name);
    errs.extend(validate::meta_errors(&lease.metadata));
    errs.extend(objects::lease_errors(&lease));
    if !errs.is_empty() {
        return Err(invalid(&name, errs));
    }
    if store.get(Kind::Lease, ns, &name).is_some() {
        return Err(ApiError::already_exists(LEASES, &name));
    }
    let ctx = store.ctx(w.now());
    let value = stored_json(objects::new_lease(lease, (ns, &name, store.rv()), &ctx))?;
    if opts.dry_run {
        return Ok(h::json(201, value.to_string()));
    }
    let obj = store
        .put(Kind::Lease, &value)
        .ok_or_else(|| ApiError::bad_request("the Lease could not be stored"))?;
    Ok(h::json(201, obj.json.clone()))
}

pub(super) fn write_lease(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    edit: Edit<'_>,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let mut store = server.store();
    let cur = store
        .get(Kind::Lease, ns, name)
        .ok_or_else(|| ApiError::not_found(LEASES, name))?;
    let cur_value: Value = parse(&cur.json)?;
    let stored: Lease = parse(&cur.json)?;
    let new: Lease = decode(edit.apply(&cur_value)?, opts.strict)?;
    check_meta(
        &new.metadata,
        &cur,
        stored.metadata.uid.as_deref(),
        LEASES,
        ns,
        name,
        edit.is_put(),
    )?;
    let mut errs = validate::meta_errors(&new.metadata);
    errs.extend(objects::lease_errors(&new));
    if !errs.is_empty() {
        return Err(invalid(name, errs));
    }
    let mut value = stored_json(objects::updated_lease(new, &stored.metadata))?;
    value["metadata"]["name"] = name.into();
    if opts.dry_run {
        value["metadata"]["resourceVersion"] = cur.rv.to_string().into();
        return Ok(h::json(200, value.to_string()));
    }
    let obj = store
        .put(Kind::Lease, &value)
        .ok_or_else(|| ApiError::bad_request("the Lease could not be stored"))?;
    Ok(h::json(200, obj.json.clone()))
}

pub(super) fn delete_lease(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    body: &[u8],
    dry_run: bool,
) -> Result<Response<Body>, ApiError> {
    let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let dry_run = dry_run
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    let mut store = server.store();
    let cur = store
        .get(Kind::Lease, ns, name)
        .ok_or_else(|| ApiError::not_found(LEASES, name))?;
    check_rv_precondition(&options, LEASES, name, cur.rv)?;
    if dry_run {
        return Ok(h::json(200, cur.json.clone()));
    }
    let last = store
        .delete(Kind::Lease, ns, name)
        .ok_or_else(|| ApiError::not_found(LEASES, name))?;
    Ok(h::json(200, last.json.clone()))
}
