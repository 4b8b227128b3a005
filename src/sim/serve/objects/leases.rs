//! Leases (coordination.k8s.io/v1) and client-written Events: objects the world does not
//! model, kept as clients wrote them plus what the apiserver fills in (uid, creation time).

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::meta::{Ctx, uid};
use crate::sim::serve::status::FieldError;

/// The metadata the server owns on a newly created object.
/// `salt` (the store's resourceVersion) tells apart objects re-created under one name.
fn created(
    mut meta: ObjectMeta,
    kind: &str,
    (ns, name, salt): (&str, &str, u64),
    ctx: &Ctx,
) -> ObjectMeta {
    meta.name = Some(name.to_string());
    meta.namespace = Some(ns.to_string());
    meta.uid = Some(uid(&[
        &ctx.seed.to_string(),
        kind,
        ns,
        name,
        &salt.to_string(),
    ]));
    meta.creation_timestamp = Some(ctx.time(ctx.now));
    meta.resource_version = None;
    meta
}

/// A Lease as the store keeps it after a create.
pub fn new_lease(mut lease: Lease, at: (&str, &str, u64), ctx: &Ctx) -> Option<Value> {
    lease.metadata = created(lease.metadata, "lease", at, ctx);
    with_type_meta(
        serde_json::to_value(lease).ok()?,
        "coordination.k8s.io/v1",
        "Lease",
    )
}

/// A Lease after an update or patch: the server-owned metadata stays the stored object's.
pub fn updated_lease(mut lease: Lease, stored: &ObjectMeta) -> Option<Value> {
    lease.metadata.uid = stored.uid.clone();
    lease.metadata.creation_timestamp = stored.creation_timestamp.clone();
    lease.metadata.namespace = stored.namespace.clone();
    lease.metadata.resource_version = None;
    with_type_meta(
        serde_json::to_value(lease).ok()?,
        "coordination.k8s.io/v1",
        "Lease",
    )
}

/// An Event a client created, with its timestamps defaulted as the apiserver's clients expect
/// (`kubectl get events` sorts and ages by them).
pub fn new_event(mut event: Event, at: (&str, &str, u64), ctx: &Ctx) -> Option<Value> {
    event.metadata = created(event.metadata, "event", at, ctx);
    let now = ctx.time(ctx.now);
    if event.first_timestamp.is_none() && event.event_time.is_none() {
        event.first_timestamp = Some(now.clone());
    }
    if event.last_timestamp.is_none() && event.event_time.is_none() {
        event.last_timestamp = Some(now);
    }
    event.count = event.count.or(Some(1));
    with_type_meta(serde_json::to_value(event).ok()?, "v1", "Event")
}

fn with_type_meta(mut v: Value, api_version: &str, kind: &str) -> Option<Value> {
    let o = v.as_object_mut()?;
    o.insert("apiVersion".into(), api_version.into());
    o.insert("kind".into(), kind.into());
    Some(v)
}

/// The apiserver's validation of a Lease spec (pkg/apis/coordination/validation).
pub fn lease_errors(lease: &Lease) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(spec) = &lease.spec else {
        return errs;
    };
    if let Some(d) = spec.lease_duration_seconds
        && d <= 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec.lease_transitions
        && t < 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            t,
            "must be greater than or equal to 0",
        ));
    }
    errs
}

/// The apiserver's minimal checks of an Event: it must name what it is about, in its namespace.
pub fn event_errors(event: &Event, ns: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let obj = &event.involved_object;
    if obj.name.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required("involvedObject.name", ""));
    }
    if let Some(n) = obj.namespace.as_deref()
        && !n.is_empty()
        && n != ns
    {
        errs.push(FieldError::invalid_str(
            "involvedObject.namespace",
            n,
            "does not match event.namespace",
        ));
    }
    errs
}
