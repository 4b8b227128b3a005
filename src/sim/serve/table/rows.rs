//! Rows and Tables: an object's JSON as one row (with the object or its metadata, as
//! `includeObject` asks), and the `meta.k8s.io/v1` Table around them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::cells::{
    deployment_cells, event_cells, hpa_cells, namespace_cells, node_cells, pod_cells,
    replica_set_cells,
};
use super::columns::column_definitions;
use super::leases::lease_cells;
use crate::model::UnixSeconds;
use crate::sim::serve::store::Kind;

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

fn partial(meta: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
    })
}

/// One row for an object's JSON; None if it does not parse as its kind.
pub fn row(
    kind: Option<Kind>,
    json: &Value,
    now: UnixSeconds,
    include: IncludeObject,
) -> Option<Value> {
    fn from<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
        serde_json::from_value(v.clone()).ok()
    }
    let cells = match kind {
        Some(Kind::Deployment) => deployment_cells(&from(json)?, now),
        Some(Kind::ReplicaSet) => replica_set_cells(&from(json)?, now),
        Some(Kind::Pod) => pod_cells(&from(json)?, now),
        Some(Kind::Hpa) => hpa_cells(&from(json)?, now),
        Some(Kind::Event) => event_cells(&from(json)?, now),
        Some(Kind::Namespace) => namespace_cells(&from(json)?, now),
        Some(Kind::Node) => node_cells(&from(json)?, now),
        Some(Kind::Lease) => lease_cells(&from(json)?, now),
        Some(Kind::ScaledObject | Kind::Vpa | Kind::Service) | None => {
            let meta: ObjectMeta = serde_json::from_value(json.get("metadata")?.clone()).ok()?;
            vec![json!(meta.name), json!(meta.creation_timestamp)]
        }
    };
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = partial(json.get("metadata").unwrap_or(&Value::Null));
        }
        IncludeObject::Object => row["object"] = json.clone(),
    }
    Some(row)
}

/// A Table of rows; `list_meta` carries resourceVersion / continue.
pub fn table(kind: Option<Kind>, rows: Vec<Value>, list_meta: Value, with_columns: bool) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": if with_columns { column_definitions(kind) } else { Value::Null },
        "rows": rows,
    })
}
