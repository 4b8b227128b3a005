//! The pod as the pod watch keeps it: metadata, the node it is bound to, its containers' names
//! and CPU and memory requests (parsed), its phase and whether it is Ready. Deserialized
//! straight from the API server's JSON (serde skips the rest without building it), so a
//! watched pod costs about a tenth of a `k8s_openapi` `Pod`, whose inline probes, lifecycle
//! hooks and security contexts take kilobytes even when empty. The field paths are the
//! `Pod`'s (`spec.containers`, `status.phase`), so code reads it the same way.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};

use super::utilization;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimPod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<SlimPodSpec>,
    #[serde(default)]
    pub status: Option<SlimPodStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodSpec {
    /// The node it is bound to: its requests count against that node's allocatable.
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub containers: Vec<SlimContainer>,
}

/// A container's name and its requests as the API server defaults them (its limit where the
/// request is unset): None when neither is set or the quantity does not parse. Parsed once
/// here: a resource list is two maps of strings, a kilobyte a container.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(from = "ContainerJson")]
pub struct SlimContainer {
    pub name: String,
    pub cpu_millis: Option<f64>,
    pub mem_bytes: Option<f64>,
}

#[derive(Deserialize)]
struct ContainerJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    resources: Option<ResourceRequirements>,
}

impl From<ContainerJson> for SlimContainer {
    fn from(c: ContainerJson) -> Self {
        let r = c.resources.as_ref();
        Self {
            cpu_millis: utilization::container_request(r, "cpu"),
            mem_bytes: utilization::container_request(r, "memory"),
            name: c.name,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimPodStatus {
    #[serde(default)]
    pub phase: Option<String>,
    /// The Ready condition is "True"; the other conditions are not kept.
    #[serde(default, rename = "conditions", deserialize_with = "ready_condition")]
    pub ready: bool,
}

impl SlimPod {
    pub fn ready(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.ready)
    }

    pub fn phase(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.phase.as_deref())
    }

    pub fn containers(&self) -> &[SlimContainer] {
        self.spec.as_ref().map_or(&[], |s| &s.containers)
    }

    /// Its requests summed over its containers, as the HPA counts them.
    pub fn requests(&self) -> utilization::PodRequests {
        summed_requests(self.containers())
    }
}

impl SlimPodSpec {
    /// Its containers' requests summed, as the HPA counts them (a deployment's template reads
    /// the same way as a pod).
    pub fn requests(&self) -> utilization::PodRequests {
        summed_requests(&self.containers)
    }
}

fn summed_requests(containers: &[SlimContainer]) -> utilization::PodRequests {
    utilization::summed(
        containers
            .iter()
            .map(|c| (c.name.as_str(), c.cpu_millis, c.mem_bytes)),
    )
}

/// `status.conditions` read down to whether Ready is "True" (null or absent: not ready).
fn ready_condition<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    struct Condition<'a> {
        #[serde(rename = "type", borrow)]
        type_: Cow<'a, str>,
        #[serde(borrow)]
        status: Cow<'a, str>,
    }
    let conditions: Option<Vec<Condition<'de>>> = Option::deserialize(d)?;
    Ok(conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True"))
}

// Watched and listed as the `Pod` it is read from.
super::watched_as::watched_as!(SlimPod, Pod);

#[cfg(test)]
mod tests {
    use super::*;

    fn full_pod() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"},
                         "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": "node-a", "containers": [
                {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                 "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                 "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "sidecar", "resources": {"limits": {"cpu": "100m"}}}],
                     "volumes": [{"name": "v", "emptyDir": {}}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "conditions": [{"type": "PodScheduled", "status": "True"},
                                      {"type": "Ready", "status": "True"}]}
        })
    }

    #[test]
    fn it_reads_what_the_snapshot_needs_from_a_full_pod() {
        let p: SlimPod = serde_json::from_value(full_pod()).expect("a pod");
        assert_eq!(p.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(p.metadata.resource_version.as_deref(), Some("7"));
        assert!(p.metadata.creation_timestamp.is_some());
        assert_eq!(p.phase(), Some("Running"));
        assert!(p.ready());
        assert_eq!(
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some("node-a")
        );
        let requests: Vec<(&str, Option<f64>, Option<f64>)> = p
            .containers()
            .iter()
            .map(|c| (c.name.as_str(), c.cpu_millis, c.mem_bytes))
            .collect();
        // The sidecar's CPU request is its limit; it has no memory request.
        assert_eq!(
            requests,
            [
                ("app", Some(250.0), Some(64.0 * 1_048_576.0)),
                ("sidecar", Some(100.0), None)
            ]
        );
        // Summed as the HPA counts them: memory unknown while a container has no request.
        let r = p.requests();
        assert_eq!((r.cpu_millis, r.mem_bytes), (Some(350.0), None));
        assert_eq!(
            r.missing.as_deref(),
            Some("container sidecar has no memory request")
        );
    }

    #[test]
    fn ready_is_the_ready_condition_being_true() {
        for (conditions, ready) in [
            (
                serde_json::json!([{"type": "Ready", "status": "False"}]),
                false,
            ),
            (
                serde_json::json!([{"type": "ContainersReady", "status": "True"}]),
                false,
            ),
            (serde_json::json!(null), false),
            (
                serde_json::json!([{"type": "Ready", "status": "True"}]),
                true,
            ),
        ] {
            let p: SlimPod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p"}, "status": {"phase": "Running", "conditions": conditions}
            }))
            .expect("a pod");
            assert_eq!(p.ready(), ready, "{conditions}");
        }
        let pending: SlimPod = serde_json::from_value(serde_json::json!({"metadata": {}}))
            .expect("a pod without spec or status");
        assert!(!pending.ready() && pending.phase().is_none() && pending.containers().is_empty());
    }

    #[test]
    fn it_is_far_smaller_than_the_full_pod() {
        // Spec and status are inline in both; containers are on the heap.
        let full = std::mem::size_of::<Pod>()
            + 2 * std::mem::size_of::<k8s_openapi::api::core::v1::Container>();
        let slim = std::mem::size_of::<SlimPod>() + 2 * std::mem::size_of::<SlimContainer>();
        println!("inline bytes of a two-container pod: full {full}, slim {slim}");
        assert!(slim * 4 < full, "full {full}, slim {slim}");
    }
}
