//! What the reflector stores keep of each object: only the fields the snapshot reads, so that
//! watching every pod of a large cluster costs little memory (managed fields, env, volumes and
//! last-applied annotations are most of an object's size).

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::slim_deployment::SlimDeployment;
use super::slim_pod::SlimPod;
use crate::model::ownership::ARGOCD_TRACKING_ANNOTATION;

/// Annotations the snapshot reads; the rest are dropped.
const KEPT_ANNOTATION_PREFIX: &str = "ai4k8s.io/";

fn meta(m: &mut ObjectMeta, keep_annotations: bool) {
    m.managed_fields = None;
    // Nothing reads them from a store, and the store's keys copy uid and version again.
    m.uid = None;
    m.generate_name = None;
    m.self_link = None;
    // Only a ScaledObject owner is read (KEDA owns the HPA).
    m.owner_references = m
        .owner_references
        .take()
        .map(|o| {
            o.into_iter()
                .filter(|r| r.kind == "ScaledObject")
                .collect::<Vec<_>>()
        })
        .filter(|o| !o.is_empty());
    m.finalizers = None;
    // The app's own annotations where asked, and Argo CD's tracking annotation everywhere.
    if let Some(a) = m.annotations.as_mut() {
        a.retain(|k, _| {
            (keep_annotations && k.starts_with(KEPT_ANNOTATION_PREFIX))
                || k == ARGOCD_TRACKING_ANNOTATION
        });
    }
    if m.annotations.as_ref().is_some_and(|a| a.is_empty()) && !keep_annotations {
        m.annotations = None;
    }
}

/// A pod's spec and status are slim already (`SlimPod` reads only what is used).
pub fn pod(p: &mut SlimPod) {
    meta(&mut p.metadata, false);
    // Pods are never written, so their version is not needed for a conflict check (the watcher
    // has read it before the store sees the pod). HPAs and deployments keep theirs: a patch
    // carries the version the plan was made on.
    p.metadata.resource_version = None;
}

/// A deployment's spec and status are slim already (`SlimDeployment`); its metadata keeps the
/// app's annotations.
pub fn deployment(d: &mut SlimDeployment) {
    meta(&mut d.metadata, true);
}

pub fn hpa(h: &mut HorizontalPodAutoscaler) {
    meta(&mut h.metadata, false);
}

/// A node reduced to what capacity reads: labels (instance type, Karpenter's), cordoned,
/// allocatable and Ready (images and volumes in use are most of a node's size).
pub fn node(n: &mut Node) {
    meta(&mut n.metadata, false);
    n.spec = n.spec.take().map(|s| NodeSpec {
        unschedulable: s.unschedulable,
        ..NodeSpec::default()
    });
    n.status = n.status.take().map(|s| NodeStatus {
        allocatable: s.allocatable,
        conditions: s
            .conditions
            .map(|c| c.into_iter().filter(|c| c.type_ == "Ready").collect()),
        ..NodeStatus::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_pods_metadata_keeps_what_the_snapshot_reads() {
        let mut p: SlimPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"},
                         "annotations": {"big": "x"}, "resourceVersion": "7",
                         "uid": "0b5e", "generateName": "web-",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                                     "resources": {"requests": {"cpu": "250m"}}}],
                     "volumes": [{"name": "v", "emptyDir": {}}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
        }))
        .unwrap_or_default();
        pod(&mut p);
        assert!(p.metadata.annotations.is_none() && p.metadata.managed_fields.is_none());
        let m = &p.metadata;
        assert!(m.resource_version.is_none() && m.uid.is_none() && m.generate_name.is_none());
        // A pod's age is read from its creation.
        assert!(m.creation_timestamp.is_some());
        assert_eq!(
            p.metadata.labels,
            Some(BTreeMap::from([("app".to_string(), "web".to_string())]))
        );
        assert_eq!(p.containers().len(), 1);
        assert_eq!(
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some("node-a")
        );
        assert_eq!(p.containers()[0].cpu_millis, Some(250.0));
        assert_eq!(p.phase(), Some("Running"));
        assert!(p.ready());
    }

    #[test]
    fn trimming_a_node_keeps_labels_allocatable_ready_and_cordon() {
        let mut n: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"node.kubernetes.io/instance-type": "m5.large"},
                         "annotations": {"big": "x"}},
            "spec": {"unschedulable": true, "podCIDR": "10.0.0.0/24"},
            "status": {"allocatable": {"cpu": "1930m"}, "capacity": {"cpu": "2"},
                       "images": [{"names": ["nginx"], "sizeBytes": 1}],
                       "conditions": [{"type": "Ready", "status": "True"},
                                      {"type": "MemoryPressure", "status": "False"}]}
        }))
        .unwrap_or_default();
        node(&mut n);
        assert!(n.metadata.annotations.is_none());
        assert!(
            n.metadata
                .labels
                .is_some_and(|l| l.contains_key("node.kubernetes.io/instance-type"))
        );
        let spec = n.spec.unwrap_or_default();
        assert_eq!((spec.unschedulable, spec.pod_cidr), (Some(true), None));
        let st = n.status.unwrap_or_default();
        assert!(st.allocatable.is_some() && st.capacity.is_none() && st.images.is_none());
        assert_eq!(st.conditions.map(|c| c.len()), Some(1));
    }
}
