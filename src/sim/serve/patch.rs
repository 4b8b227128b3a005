//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch,
//! applied to an object's current JSON with the apiserver's error codes (400 for a body that
//! does not parse, 422 for a JSON patch that does not apply).
//!
//! Strategic merge is treated as a merge patch that understands the `$patch: replace|delete`
//! directives and drops the other `$` directives: lists are replaced, not merged by key, which
//! is exact for the fields this server stores (annotations, labels, replicas, HPA specs).

use serde_json::Value;

use super::status::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
}

pub const ACCEPTED: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
            _ => Err(ApiError::unsupported_media_type(ACCEPTED)),
        }
    }
}

/// The object after the patch.
pub fn apply(current: &Value, ty: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match ty {
        PatchType::Json => {
            let patch: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::patch(&mut doc, &patch)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        }
        PatchType::Merge => {
            let patch: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::merge(&mut doc, &patch);
        }
        PatchType::StrategicMerge => {
            let patch: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "strategic merge patch must be a JSON object",
                ));
            }
            strategic(&mut doc, patch);
        }
    }
    Ok(doc)
}

/// A merge that honours `$patch: replace|delete` on maps and ignores other directives.
fn strategic(doc: &mut Value, patch: Value) {
    let Value::Object(mut p) = patch else {
        *doc = patch;
        return;
    };
    match p.remove("$patch").as_ref().and_then(Value::as_str) {
        Some("delete") => {
            *doc = Value::Null;
            return;
        }
        Some("replace") => {
            p.retain(|k, _| !k.starts_with('$'));
            *doc = Value::Object(p);
            return;
        }
        _ => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Default::default());
    }
    let Value::Object(d) = doc else { return };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                d.remove(&k);
            }
            Value::Object(_) => {
                let slot = d.entry(k.clone()).or_insert(Value::Null);
                strategic(slot, v);
                // `$patch: delete` removes the whole field.
                if slot.is_null() {
                    d.remove(&k);
                }
            }
            other => {
                d.insert(k, other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({"metadata": {"name": "x", "annotations": {"a": "1", "b": "2"}}, "spec": {"minReplicas": 2, "maxReplicas": 5}})
    }

    #[test]
    fn the_three_patch_types_apply() {
        let merged = apply(
            &obj(),
            PatchType::Merge,
            br#"{"spec":{"minReplicas":4},"metadata":{"annotations":{"a":null}}}"#,
        )
        .expect("merge");
        assert_eq!(merged["spec"]["minReplicas"], 4);
        assert_eq!(merged["spec"]["maxReplicas"], 5);
        assert!(merged["metadata"]["annotations"].get("a").is_none());
        let j = apply(
            &obj(),
            PatchType::Json,
            br#"[{"op":"replace","path":"/spec/minReplicas","value":3}]"#,
        )
        .expect("json patch");
        assert_eq!(j["spec"]["minReplicas"], 3);
        let s = apply(&obj(), PatchType::StrategicMerge, br#"{"metadata":{"annotations":{"$patch":"replace","c":"3"}},"spec":{"maxReplicas":9}}"#)
            .expect("strategic");
        assert_eq!(s["metadata"]["annotations"], json!({"c": "3"}));
        assert_eq!(s["spec"]["maxReplicas"], 9);
    }

    #[test]
    fn bad_bodies_are_400_and_failing_json_patches_422() {
        assert_eq!(
            apply(&obj(), PatchType::Merge, b"{nope").map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(
            apply(&obj(), PatchType::Json, br#"{"op":"add"}"#).map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(
            apply(
                &obj(),
                PatchType::Json,
                br#"[{"op":"test","path":"/spec/minReplicas","value":7}]"#
            )
            .map_err(|e| e.code),
            Err(422)
        );
        assert_eq!(
            apply(
                &obj(),
                PatchType::Json,
                br#"[{"op":"remove","path":"/spec/nothing"}]"#
            )
            .map_err(|e| e.code),
            Err(422)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml").map_err(|e| e.code),
            Err(415)
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Ok(PatchType::Merge)
        );
    }
}
