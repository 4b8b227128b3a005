//! What the reflector stores keep of each object: only the fields the snapshot reads, so that
//! watching every pod of a large cluster costs little memory (managed fields, env, volumes and
//! last-applied annotations are most of an object's size).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Annotations the snapshot reads; the rest are dropped.
const KEPT_ANNOTATION_PREFIX: &str = "ai4k8s.io/";

fn meta(m: &mut ObjectMeta, keep_annotations: bool) {
    m.managed_fields = None;
    m.owner_references = None;
    m.finalizers = None;
    if keep_annotations {
        if let Some(a) = m.annotations.as_mut() {
            a.retain(|k, _| k.starts_with(KEPT_ANNOTATION_PREFIX));
        }
    } else {
        m.annotations = None;
    }
}

/// Containers reduced to their names and resources.
fn containers(c: &mut [Container]) {
    for x in c.iter_mut() {
        *x = Container {
            name: std::mem::take(&mut x.name),
            resources: x.resources.take(),
            ..Container::default()
        };
    }
}

fn pod_spec(spec: &mut PodSpec) {
    let mut kept = std::mem::take(&mut spec.containers);
    containers(&mut kept);
    *spec = PodSpec {
        containers: kept,
        ..PodSpec::default()
    };
}

pub fn pod(p: &mut Pod) {
    meta(&mut p.metadata, false);
    if let Some(spec) = p.spec.as_mut() {
        pod_spec(spec);
    }
    if let Some(status) = p.status.as_mut() {
        let ready = status
            .conditions
            .take()
            .map(|c| c.into_iter().filter(|c| c.type_ == "Ready").collect());
        *status = PodStatus {
            phase: status.phase.take(),
            conditions: ready,
            ..PodStatus::default()
        };
    }
}

pub fn deployment(d: &mut Deployment) {
    meta(&mut d.metadata, true);
    if let Some(spec) = d.spec.as_mut() {
        let t: &mut PodTemplateSpec = &mut spec.template;
        t.metadata = None;
        if let Some(ps) = t.spec.as_mut() {
            pod_spec(ps);
        }
    }
}

pub fn hpa(h: &mut HorizontalPodAutoscaler) {
    meta(&mut h.metadata, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn trimming_keeps_what_the_snapshot_reads() {
        let mut p: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"},
                         "annotations": {"big": "x"}, "resourceVersion": "7",
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                                     "resources": {"requests": {"cpu": "250m"}}}],
                     "volumes": [{"name": "v", "emptyDir": {}}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
        }))
        .unwrap_or_default();
        pod(&mut p);
        assert_eq!(p.metadata.resource_version.as_deref(), Some("7"));
        assert!(p.metadata.annotations.is_none() && p.metadata.managed_fields.is_none());
        assert_eq!(
            p.metadata.labels,
            Some(BTreeMap::from([("app".to_string(), "web".to_string())]))
        );
        let spec = p
            .spec
            .as_ref()
            .map(|s| (s.containers.len(), s.volumes.is_none()));
        assert_eq!(spec, Some((1, true)));
        let c = &p
            .spec
            .as_ref()
            .map(|s| s.containers[0].clone())
            .unwrap_or_default();
        assert!(c.image.is_none() && c.env.is_none() && c.resources.is_some());
        let status = p.status.unwrap_or_default();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.conditions.map(|c| c.len()), Some(1));
        assert!(status.pod_ip.is_none());
    }
}
