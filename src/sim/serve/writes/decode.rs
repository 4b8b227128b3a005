//! What every write shares: the body decoded (JSON, or protobuf for HPAs) with unknown fields
//! refused under `fieldValidation=Strict`, the query's options, and the metadata checks against
//! the stored object.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::sim::serve::discovery::Backend;
use crate::sim::serve::patch::{self, PatchType};
use crate::sim::serve::proto;
use crate::sim::serve::request::Req;
use crate::sim::serve::status::{ApiError, GroupResource};
use crate::sim::serve::store::{Kind, Obj};

pub(super) const DEPLOYMENTS: GroupResource = GroupResource::new("apps", "deployments");
pub(super) const HPAS: GroupResource =
    GroupResource::new("autoscaling", "horizontalpodautoscalers");

/// How the request changes the object: a whole new object (PUT) or a patch.
pub(super) enum Edit<'a> {
    Put(Value),
    Patch(PatchType, &'a [u8]),
}

impl Edit<'_> {
    pub(super) fn apply(&self, current: &Value) -> Result<Value, ApiError> {
        match self {
            Edit::Put(v) => Ok(v.clone()),
            Edit::Patch(ty, body) => patch::apply(current, *ty, body),
        }
    }

    pub(super) fn is_put(&self) -> bool {
        matches!(self, Edit::Put(_))
    }
}

/// A POST/PUT body as JSON: JSON itself, or protobuf for HPAs (what typed clients such as
/// `kubectl autoscale` send).
pub(super) fn body_json(req: &Req, backend: Backend) -> Result<Value, ApiError> {
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
pub(super) struct WriteOpts {
    /// `dryRun=All`: validate and answer, but store nothing.
    pub(super) dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are an error (kubectl's default).
    pub(super) strict: bool,
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
pub(super) fn decode<T: DeserializeOwned + serde::Serialize>(
    v: Value,
    strict: bool,
) -> Result<T, ApiError> {
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

pub(super) fn parse<T: DeserializeOwned>(json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json).map_err(|e| ApiError::bad_request(format!("stored object: {e}")))
}

/// Name, namespace, resourceVersion and uid of a written object against the stored one.
pub(super) fn check_meta(
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

/// A delete's `preconditions.resourceVersion`, as the apiserver checks it: a 409 when the
/// object has changed since the client read it.
pub(super) fn check_rv_precondition(
    options: &Value,
    resource: GroupResource,
    name: &str,
    current: u64,
) -> Result<(), ApiError> {
    match options
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(rv) if rv != current.to_string() => Err(ApiError::conflict_because(
            resource,
            name,
            &format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({current}). The object might have been modified"
            ),
        )),
        _ => Ok(()),
    }
}
