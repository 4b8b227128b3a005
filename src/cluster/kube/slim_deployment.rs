//! The deployment as the deployment watch keeps it: metadata, replicas, selector, its pod
//! template's containers (names and parsed requests, as `SlimPod` keeps them) and the status
//! counts. A `k8s_openapi` `Deployment` holds its template's `PodSpec` and each `Container`
//! inline (probes, lifecycle, security contexts: kilobytes each even when empty) and its
//! requests as maps of strings; a fleet of a thousand kept 5 MB of them. The field paths are the
//! `Deployment`'s (`spec.template.spec.containers`, `status.readyReplicas`), so code reads it
//! the same way.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;

use super::slim_pod::SlimPodSpec;
use super::utilization;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimDeployment {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<SlimDeploymentSpec>,
    #[serde(default)]
    pub status: Option<SlimDeploymentStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimDeploymentSpec {
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: SlimPodTemplate,
}

/// The template's spec only: its metadata (labels, annotations) is not read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimPodTemplate {
    #[serde(default)]
    pub spec: Option<SlimPodSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimDeploymentStatus {
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub ready_replicas: Option<i32>,
}

impl SlimDeployment {
    /// What one pod of its template requests, as the HPA counts it.
    pub fn template_requests(&self) -> utilization::PodRequests {
        self.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map_or_else(|| SlimPodSpec::default().requests(), SlimPodSpec::requests)
    }
}

// Watched and listed as the `Deployment` it is read from.
super::watched_as::watched_as!(SlimDeployment, Deployment);

#[cfg(test)]
mod tests {
    use super::*;

    fn full_deployment() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                         "annotations": {"ai4k8s.io/min-replicas": "2"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [
                                      {"name": "app", "image": "nginx",
                                       "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                                       "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                                      {"name": "sidecar", "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}}}],
                                           "volumes": [{"name": "v", "emptyDir": {}}]}}},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                       "conditions": [{"type": "Available", "status": "True"}]}
        })
    }

    #[test]
    fn it_reads_what_the_snapshot_needs_from_a_full_deployment() {
        let d: SlimDeployment = serde_json::from_value(full_deployment()).expect("a deployment");
        assert_eq!(d.metadata.name.as_deref(), Some("web"));
        let spec = d.spec.clone().unwrap_or_default();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(
            spec.selector
                .match_labels
                .and_then(|l| l.get("app").cloned()),
            Some("web".to_string())
        );
        let status = d.status.clone().unwrap_or_default();
        assert_eq!((status.replicas, status.ready_replicas), (Some(3), Some(2)));
        // The sidecar's requests are its limits, as the API server defaults them.
        let r = d.template_requests();
        assert_eq!(
            (r.cpu_millis, r.mem_bytes),
            (Some(350.0), Some(96.0 * 1_048_576.0))
        );
    }

    #[test]
    fn its_template_requests_are_what_a_pod_of_it_gives() {
        let full = full_deployment();
        let slim: SlimDeployment = serde_json::from_value(full.clone()).expect("slim");
        // A pod made from the template: its requests are counted the same way.
        let pod: super::super::slim_pod::SlimPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1"}, "spec": full["spec"]["template"]["spec"]
        }))
        .expect("a pod");
        let (a, b) = (pod.requests(), slim.template_requests());
        assert_eq!((a.cpu_millis, a.mem_bytes), (b.cpu_millis, b.mem_bytes));
        assert_eq!(a.cpu_millis, Some(350.0));
        let empty: SlimDeployment =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}})).expect("bare");
        let e = empty.template_requests();
        assert_eq!((e.cpu_millis, e.mem_bytes), (None, None));
    }

    #[test]
    fn it_is_far_smaller_than_the_full_deployment() {
        use super::super::slim_pod::SlimContainer;
        use k8s_openapi::api::core::v1::Container;
        let full = std::mem::size_of::<Deployment>() + 2 * std::mem::size_of::<Container>();
        let slim = std::mem::size_of::<SlimDeployment>() + 2 * std::mem::size_of::<SlimContainer>();
        println!("inline bytes of a two-container deployment: full {full}, slim {slim}");
        assert!(slim * 4 < full, "full {full}, slim {slim}");
    }
}
