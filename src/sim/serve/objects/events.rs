//! The Events the controllers record for a replica change.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::hpas::HpaMeta;
use super::meta::{Ctx, deployment_uid, replica_set_name, uid};
use crate::sim::world::ScaleRecord;

/// The Events the controllers record for one replica change: the HPA's SuccessfulRescale
/// (when the HPA made it) and the deployment controller's ScalingReplicaSet.
pub fn events(r: &ScaleRecord, ctx: &Ctx, hpa: Option<&HpaMeta>) -> Vec<Event> {
    let seed = ctx.seed;
    let key = &r.key;
    let mut out = Vec::with_capacity(2);
    let event = |name: &str,
                 n: u64,
                 involved: ObjectReference,
                 reason: &str,
                 message: String,
                 component: &str| {
        // Like client-go's recorder: "<object>.<unix nanos in hex>".
        let nanos =
            u64::try_from(r.time + ctx.offset).unwrap_or_default() * 1_000_000_000 + r.seq * 2 + n;
        let event_name = format!("{name}.{nanos:x}");
        Event {
            metadata: ObjectMeta {
                name: Some(event_name.clone()),
                namespace: Some(key.namespace.clone()),
                uid: Some(uid(&[
                    &seed.to_string(),
                    "event",
                    &key.namespace,
                    &event_name,
                ])),
                creation_timestamp: Some(ctx.time(r.time)),
                ..Default::default()
            },
            involved_object: involved,
            reason: Some(reason.into()),
            message: Some(message),
            source: Some(EventSource {
                component: Some(component.into()),
                host: None,
            }),
            first_timestamp: Some(ctx.time(r.time)),
            last_timestamp: Some(ctx.time(r.time)),
            count: Some(1),
            type_: Some("Normal".into()),
            reporting_component: Some(component.into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        }
    };
    if let (Some(reason), Some(meta)) = (&r.hpa_reason, hpa) {
        out.push(event(
            &meta.name,
            0,
            ObjectReference {
                kind: Some("HorizontalPodAutoscaler".into()),
                namespace: Some(key.namespace.clone()),
                name: Some(meta.name.clone()),
                uid: Some(meta.uid.clone()),
                api_version: Some("autoscaling/v2".into()),
                ..Default::default()
            },
            "SuccessfulRescale",
            format!("New size: {}; reason: {reason}", r.to),
            "horizontal-pod-autoscaler",
        ));
    }
    let direction = if r.to > r.from { "up" } else { "down" };
    out.push(event(
        &key.name,
        1,
        ObjectReference {
            kind: Some("Deployment".into()),
            namespace: Some(key.namespace.clone()),
            name: Some(key.name.clone()),
            uid: Some(deployment_uid(seed, key)),
            api_version: Some("apps/v1".into()),
            ..Default::default()
        },
        "ScalingReplicaSet",
        format!(
            "Scaled {direction} replica set {} from {} to {}",
            replica_set_name(key),
            r.from,
            r.to
        ),
        "deployment-controller",
    ));
    out
}
