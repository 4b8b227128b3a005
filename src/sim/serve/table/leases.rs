//! The Lease row as the apiserver prints it: name, holder, age.

use k8s_openapi::api::coordination::v1::Lease;
use serde_json::{Value, json};

use super::cells::human_duration;
use crate::model::UnixSeconds;
use crate::sim::serve::objects::unix;

pub(super) fn lease_cells(l: &Lease, now: UnixSeconds) -> Vec<Value> {
    let holder = l
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default();
    let age = l
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or("<unknown>".into(), |t| human_duration(now - unix(t)));
    vec![json!(l.metadata.name), json!(holder), json!(age)]
}
