//! A minimal OpenAPI v3 index: per group/version, the paths of the writable resources with
//! their `x-kubernetes-group-version-kind` and the `fieldValidation` query parameter. kubectl
//! reads exactly that to decide it can leave validation to the server (`--validate=strict`,
//! its default for create/apply/replace); no schemas are published.

use serde_json::{Value, json};

use super::discovery::RESOURCES;

/// `api/v1`, `apis/apps/v1`, … for every served group/version with a writable resource.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group/version's document is.
pub fn root() -> Value {
    let paths: serde_json::Map<String, Value> = group_versions()
        .into_iter()
        .map(|(g, v)| {
            let p = prefix(g, v);
            (
                p.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{p}") }),
            )
        })
        .collect();
    json!({ "paths": paths })
}

fn operation(action: &str, group: &str, version: &str, kind: &str) -> Value {
    json!({
        "parameters": [
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        ],
        "responses": {},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    })
}

/// `/openapi/v3/apis/GROUP/VERSION` (or `api/v1`); None if not served.
pub fn group_version(path: &str) -> Option<Value> {
    let (group, version) = group_versions()
        .into_iter()
        .find(|(g, v)| prefix(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let base = format!(
            "/{}/namespaces/{{namespace}}/{}",
            prefix(group, version),
            r.plural
        );
        if r.supports("create") {
            paths.insert(
                base.clone(),
                json!({ "post": operation("post", group, version, r.kind) }),
            );
        }
        if r.supports("patch") || r.supports("update") {
            paths.insert(
                format!("{base}/{{name}}"),
                json!({
                    "patch": operation("patch", group, version, r.kind),
                    "put": operation("put", group, version, r.kind),
                }),
            );
        }
        for s in r.subresources {
            paths.insert(
                format!("{base}/{{name}}/{}", s.name),
                json!({
                    "patch": operation("patch", s.group, s.version, s.kind),
                    "put": operation("put", s.group, s.version, s.kind),
                }),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_names_field_validation_per_kind() {
        let r = root();
        assert_eq!(
            r["paths"]["apis/autoscaling/v2"]["serverRelativeURL"],
            "/openapi/v3/apis/autoscaling/v2"
        );
        let doc = group_version("apis/autoscaling/v2").expect("served");
        let patch = &doc["paths"]["/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}"]
            ["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "HorizontalPodAutoscaler"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "fieldValidation"))
        );
        assert!(group_version("apis/batch/v1").is_none());
    }
}
