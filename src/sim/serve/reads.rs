//! get and list (with label/field selectors, limit/continue and resourceVersion semantics) in
//! JSON, Table or PartialObjectMetadata form; PodMetrics computed from the world's last scrape.

use std::sync::Arc;

use http::Response;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

use super::discovery::Backend;
use super::faults;
use super::http::{self as h, Body, Media, Offers};
use super::objects;
use super::request::{Req, Target};
use super::selector::{self, FieldSelector};
use super::state::Server;
use super::status::{ApiError, GroupResource};
use super::store::{Kind, Obj};
use super::table::{self, IncludeObject};
use super::versions::view_json;
use super::watch;
use crate::k8s::selector::Selector;

const OFFERS: Offers = Offers {
    table: true,
    partial: true,
    discovery: false,
};

/// The stored kind behind a resource (None for PodMetrics).
pub fn kind_of(backend: Backend) -> Option<Kind> {
    match backend {
        Backend::Stored(k) => Some(k),
        Backend::HpaV1 => Some(Kind::Hpa),
        Backend::PodMetrics => None,
    }
}

fn partial(meta: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": meta,
    })
}

/// One object in the negotiated form.
fn one(media: Media, kind: Option<Kind>, json: String, now: i64, req: &Req) -> Response<Body> {
    match media {
        Media::Json | Media::Discovery => h::json(200, json),
        Media::Table(v) => {
            let value: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
            let include = IncludeObject::parse(req.query.get("includeObject"));
            let rows = table::row(kind, &value, now, include).into_iter().collect();
            let rv = value.pointer("/metadata/resourceVersion").cloned();
            let mut t = table::table(kind, rows, json!({ "resourceVersion": rv }), true);
            t["apiVersion"] = format!("meta.k8s.io/{v}").into();
            h::respond(200, &media.content_type(), t.to_string())
        }
        Media::Partial(v) => {
            let value: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
            let p = partial(value.get("metadata").unwrap_or(&Value::Null), v);
            h::respond(
                200,
                &format!("application/json;as=PartialObjectMetadata;v={v};g=meta.k8s.io"),
                p.to_string(),
            )
        }
    }
}

pub fn get(server: &Arc<Server>, req: &Req, t: &Target<'_>) -> Result<Response<Body>, ApiError> {
    let media = h::negotiate(&req.accept, OFFERS)?;
    let name = t.name.as_deref().unwrap_or_default();
    let ns = t.namespace.as_deref().unwrap_or_default();
    let backend = t.resource.backend;
    if t.subresource == Some("scale") {
        let store = server.fresh();
        let d = store
            .get(Kind::Deployment, ns, name)
            .ok_or_else(|| ApiError::not_found(t.resource.group_resource(), name))?;
        let d: Deployment = serde_json::from_str(&d.json)
            .map_err(|e| ApiError::bad_request(format!("stored object: {e}")))?;
        return Ok(h::json(
            200,
            serde_json::to_string(&objects::scale(&d)).unwrap_or_default(),
        ));
    }
    match backend {
        Backend::PodMetrics => {
            let w = server.sim.world();
            let ctx = server.store().ctx(w.now());
            for key in w.deployment_keys().iter().filter(|k| k.namespace == ns) {
                let Some(view) = w.deployment_view(key) else {
                    continue;
                };
                if let Some(p) = view
                    .pods
                    .iter()
                    .find(|p| objects::pod_name(key, p.id) == name)
                {
                    let m = objects::pod_metrics(&view, p, &ctx).ok_or_else(|| {
                        ApiError::not_found(
                            GroupResource::new("metrics.k8s.io", "podmetrics"),
                            name,
                        )
                    })?;
                    let json = serde_json::to_string(&m).unwrap_or_default();
                    return Ok(one(media, None, json, ctx.shown_now(), req));
                }
            }
            Err(ApiError::not_found(
                GroupResource::new("metrics.k8s.io", "podmetrics"),
                name,
            ))
        }
        Backend::Stored(_) | Backend::HpaV1 => {
            let kind = kind_of(backend);
            let (obj, now) = {
                let (store, world_now) = server.fresh_at();
                let obj = kind.and_then(|k| store.get(k, ns, name));
                (obj, store.ctx(world_now).shown_now())
            };
            let obj = obj.ok_or_else(|| ApiError::not_found(t.resource.group_resource(), name))?;
            Ok(one(media, kind, view_json(backend, &obj.json)?, now, req))
        }
    }
}

/// Where a paged list resumes: opaque to clients (hex of a small JSON document).
#[derive(Debug, PartialEq)]
struct Continue {
    rv: u64,
    start: (String, String),
}

fn encode_continue(c: &Continue) -> String {
    json!({ "rv": c.rv, "start": [c.start.0, c.start.1] })
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(s: &str) -> Result<Continue, ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token: {s:?}"));
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(Continue {
        rv: v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?,
        start: (
            v.pointer("/start/0")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_string(),
            v.pointer("/start/1")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_string(),
        ),
    })
}

/// The list's `resourceVersion` parameter against the store's current version.
fn check_list_rv(req: &Req, current: u64) -> Result<(), ApiError> {
    let Some(rv) = req.query.get("resourceVersion").filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let asked: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
    match req.query.get("resourceVersionMatch") {
        Some("Exact") if asked != current => {
            if asked < current {
                Err(ApiError::expired(format!(
                    "too old resource version: {asked} ({current})"
                )))
            } else {
                Err(ApiError::too_large_resource_version(asked, current))
            }
        }
        _ if asked > current => Err(ApiError::too_large_resource_version(asked, current)),
        _ => Ok(()),
    }
}

pub fn list(server: &Arc<Server>, req: &Req, t: &Target<'_>) -> Result<Response<Body>, ApiError> {
    let media = h::negotiate(&req.accept, OFFERS)?;
    let backend = t.resource.backend;
    let kind = kind_of(backend);
    let q = &req.query;
    let labels = selector::parse_labels(q.get("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), kind)?;
    let ns = t.namespace.as_deref();
    let Some(kind) = kind else {
        return metrics_list(server, req, media, ns, &labels, &fields);
    };
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let cont = q
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(decode_continue)
        .transpose()?;
    let (selected, list_rv, next, remaining, now) = {
        let (store, world_now) = server.fresh_at();
        check_list_rv(req, store.rv())?;
        let list_rv = cont.as_ref().map_or(store.rv(), |c| c.rv);
        let mut selected: Vec<Arc<Obj>> = Vec::new();
        let mut remaining = 0usize;
        for obj in store.list(kind, ns, cont.as_ref().map(|c| &c.start)) {
            if !labels.matches(&obj.labels) || !fields.matches(obj) {
                continue;
            }
            if limit.is_some_and(|l| selected.len() >= l) {
                remaining += 1;
            } else {
                selected.push(obj.clone());
            }
        }
        let next = (remaining > 0)
            .then(|| selected.last())
            .flatten()
            .map(|last| Continue {
                rv: list_rv,
                start: (last.namespace.clone(), last.name.clone()),
            });
        let now = store.ctx(world_now).shown_now();
        (selected, list_rv, next, remaining, now)
    };
    let mut meta = json!({ "resourceVersion": list_rv.to_string() });
    if let Some(n) = &next {
        meta["continue"] = encode_continue(n).into();
        meta["remainingItemCount"] = remaining.into();
    }
    match media {
        Media::Json | Media::Discovery => {
            let mut items = Vec::with_capacity(selected.len());
            for o in &selected {
                items.push(view_json(backend, &o.json)?);
            }
            let body = format!(
                r#"{{"kind":"{}List","apiVersion":"{}","metadata":{},"items":[{}]}}"#,
                t.resource.kind,
                t.resource.api_version(),
                meta,
                items.join(",")
            );
            Ok(h::json(200, body))
        }
        Media::Table(v) => {
            let include = IncludeObject::parse(q.get("includeObject"));
            let rows = selected
                .iter()
                .filter_map(|o| serde_json::from_str::<Value>(&o.json).ok())
                .filter_map(|o| table::row(Some(kind), &o, now, include))
                .collect();
            let mut t = table::table(Some(kind), rows, meta, true);
            t["apiVersion"] = format!("meta.k8s.io/{v}").into();
            Ok(h::respond(200, &media.content_type(), t.to_string()))
        }
        Media::Partial(v) => {
            let items: Vec<Value> = selected
                .iter()
                .filter_map(|o| serde_json::from_str::<Value>(&o.json).ok())
                .map(|o| partial(o.get("metadata").unwrap_or(&Value::Null), v))
                .collect();
            let body = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": format!("meta.k8s.io/{v}"),
                "metadata": meta,
                "items": items,
            });
            Ok(h::respond(200, &media.content_type(), body.to_string()))
        }
    }
}

/// metrics-server's list: pods with a scrape only, no resourceVersion.
fn metrics_list(
    server: &Arc<Server>,
    req: &Req,
    media: Media,
    ns: Option<&str>,
    labels: &Selector,
    fields: &FieldSelector,
) -> Result<Response<Body>, ApiError> {
    let w = server.sim.world();
    let ctx = server.store().ctx(w.now());
    let now = ctx.shown_now();
    let mut items = Vec::new();
    for key in w.deployment_keys() {
        if ns.is_some_and(|ns| ns != key.namespace) {
            continue;
        }
        let Some(view) = w.deployment_view(&key) else {
            continue;
        };
        for p in &view.pods {
            let name = objects::pod_name(&key, p.id);
            if fields.name().is_some_and(|n| n != name)
                || !fields.matches_meta(&key.namespace, &name)
            {
                continue;
            }
            let Some(m) = objects::pod_metrics(&view, p, &ctx) else {
                continue;
            };
            if !labels.matches(m.metadata.labels.as_ref().unwrap_or(&Default::default())) {
                continue;
            }
            if let Ok(v) = serde_json::to_value(&m) {
                items.push(v);
            }
        }
    }
    drop(w);
    match media {
        Media::Table(v) => {
            let include = IncludeObject::parse(req.query.get("includeObject"));
            let rows = items
                .iter()
                .filter_map(|o| table::row(None, o, now, include))
                .collect();
            let mut t = table::table(None, rows, json!({}), true);
            t["apiVersion"] = format!("meta.k8s.io/{v}").into();
            Ok(h::respond(200, &media.content_type(), t.to_string()))
        }
        _ => Ok(h::json(
            200,
            json!({
                "kind": "PodMetricsList",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": items,
            })
            .to_string(),
        )),
    }
}

pub fn watch(server: &Arc<Server>, req: &Req, t: &Target<'_>) -> Result<Response<Body>, ApiError> {
    let Some(kind) = kind_of(t.resource.backend) else {
        // metrics.k8s.io is not watchable.
        return Err(ApiError::method_not_allowed());
    };
    let media = h::negotiate(&req.accept, OFFERS)?;
    let q = &req.query;
    let labels = selector::parse_labels(q.get("labelSelector").unwrap_or_default())?;
    let mut field_sel = q.get("fieldSelector").unwrap_or_default().to_string();
    // A watch on an object path is a watch on its name.
    if let Some(name) = &t.name {
        if !field_sel.is_empty() {
            field_sel.push(',');
        }
        field_sel.push_str(&format!("metadata.name={name}"));
    }
    let fields = FieldSelector::parse(&field_sel, Some(kind))?;
    let timeout = q.int("timeoutSeconds")?;
    watch::serve(
        server.clone(),
        watch::WatchSpec {
            kind,
            backend: t.resource.backend,
            media,
            include: IncludeObject::parse(q.get("includeObject")),
            namespace: t.namespace.clone(),
            labels,
            fields,
            timeout_seconds: timeout,
            bookmarks: q.flag("allowWatchBookmarks"),
            send_initial_events: q.flag("sendInitialEvents"),
            resource_version: q.get("resourceVersion").map(str::to_string),
            group_version_kind: (t.resource.api_version(), t.resource.kind),
            cut_after: server
                .options
                .faults
                .drops_watches(t.resource, t.subresource)
                .then_some(faults::DROP_WATCHES_AFTER),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let c = Continue {
            rv: 42,
            start: ("shop".into(), "frontend".into()),
        };
        assert_eq!(decode_continue(&encode_continue(&c)), Ok(c));
        assert_eq!(decode_continue("zz").map_err(|e| e.code), Err(400));
        assert_eq!(decode_continue("7b7d").map_err(|e| e.code), Err(400));
    }
}
