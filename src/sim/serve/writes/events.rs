//! Event creation (core/v1): what a controller records about the objects it changed, so
//! `kubectl get events` and `kubectl describe` show it. Created events are kept as written.

use std::sync::Arc;

use http::Response;
use k8s_openapi::api::core::v1::Event;
use serde_json::Value;

use super::decode::{WriteOpts, decode};
use super::leases::{check_namespace, name_to_create};
use crate::sim::serve::http::{self as h, Body};
use crate::sim::serve::objects;
use crate::sim::serve::state::Server;
use crate::sim::serve::status::{ApiError, GroupResource};
use crate::sim::serve::store::Kind;
use crate::sim::serve::validate;

const EVENTS: GroupResource = GroupResource::new("", "events");

pub(super) fn create_event(
    server: &Arc<Server>,
    ns: &str,
    v: Value,
    opts: WriteOpts,
) -> Result<Response<Body>, ApiError> {
    let event: Event = decode(v, opts.strict)?;
    check_namespace(&event.metadata, ns)?;
    let (w, mut store) = server.both();
    let name = name_to_create(&event.metadata, store.rv(), "Event", "")?;
    let mut errs = validate::name_errors(&name);
    errs.extend(objects::event_errors(&event, ns));
    if !errs.is_empty() {
        return Err(ApiError::invalid("Event", "", &name, errs));
    }
    if store.get(Kind::Event, ns, &name).is_some() {
        return Err(ApiError::already_exists(EVENTS, &name));
    }
    let ctx = store.ctx(w.now());
    let value = objects::new_event(event, (ns, &name, store.rv()), &ctx)
        .ok_or_else(|| ApiError::bad_request("the Event could not be encoded"))?;
    if opts.dry_run {
        return Ok(h::json(201, value.to_string()));
    }
    let obj = store
        .put(Kind::Event, &value)
        .ok_or_else(|| ApiError::bad_request("the Event could not be stored"))?;
    Ok(h::json(201, obj.json.clone()))
}
