//! KEDA ScaledObjects (keda.sh/v1alpha1), one per KEDA-owned deployment: scaleTargetRef, the
//! counts KEDA copies into its HPA, a CPU trigger, and the status KEDA's operator writes.

use serde_json::{Value, json};

use super::meta::{Ctx, deployment_created, uid};
use crate::sim::world::DeploymentView;

/// The ScaledObject of a KEDA-owned deployment (None: not KEDA's).
pub fn scaled_object(view: &DeploymentView<'_>, ctx: &Ctx) -> Option<Value> {
    let so = view.ownership.keda.as_ref()?;
    let key = view.key;
    let cpu = view
        .hpa
        .as_ref()
        .and_then(|h| h.config.target_cpu_pct)
        .unwrap_or(80);
    Some(json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": so.name,
            "namespace": key.namespace,
            "uid": uid(&[&ctx.seed.to_string(), "scaledobject", &key.namespace, &so.name]),
            "creationTimestamp": ctx.time(deployment_created() + 30),
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": key.name},
            "minReplicaCount": so.min_replica_count,
            "maxReplicaCount": so.max_replica_count,
            "pollingInterval": 30,
            "cooldownPeriod": 300,
            "triggers": [{
                "type": "cpu",
                "metricType": "Utilization",
                "metadata": {"value": cpu.to_string()},
            }],
        },
        "status": {
            "scaleTargetKind": "apps/v1.Deployment",
            "originalReplicaCount": view.spec.initial_replicas,
            "hpaName": key.name,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "ScaledObjectReady",
                 "message": "ScaledObject is defined correctly and is ready for scaling"},
                {"type": "Active", "status": "True", "reason": "ScalerActive",
                 "message": "Scaling is performed because triggers are active"},
            ],
        },
    }))
}
