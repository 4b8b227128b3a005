//! VerticalPodAutoscalers (autoscaling.k8s.io/v1), read-only: one per deployment the scenario
//! gives a VPA, with its update mode and the resources its container policy controls.

use serde_json::{Value, json};

use super::meta::{Ctx, deployment_created, uid};
use crate::sim::world::DeploymentView;

/// The VPA targeting the deployment (None: it has none).
pub fn vpa(view: &DeploymentView<'_>, ctx: &Ctx) -> Option<Value> {
    let v = view.ownership.vpa.as_ref()?;
    let key = view.key;
    Some(json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {
            "name": v.name,
            "namespace": key.namespace,
            "uid": uid(&[&ctx.seed.to_string(), "vpa", &key.namespace, &v.name]),
            "creationTimestamp": ctx.time(deployment_created() + 30),
        },
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": key.name},
            "updatePolicy": {"updateMode": v.mode.to_string()},
            "resourcePolicy": {"containerPolicies": [{
                "containerName": "*",
                "controlledResources": v.resources,
            }]},
        },
    }))
}
