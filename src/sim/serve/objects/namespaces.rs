//! Namespaces, one per namespace the world's deployments use.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{Ctx, deployment_created, uid};

pub fn namespace(name: &str, ctx: &Ctx) -> Namespace {
    let seed = ctx.seed;
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            uid: Some(uid(&[&seed.to_string(), "namespace", name])),
            creation_timestamp: Some(ctx.time(deployment_created() - 3600)),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                name.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NamespaceSpec {
            finalizers: Some(vec!["kubernetes".into()]),
        }),
        status: Some(NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        }),
    }
}
