//! The simulated cluster as Kubernetes objects (k8s-openapi types, so they serialize as the API
//! server writes them), one file per kind: Deployments with their ReplicaSet and `/scale`, Pods
//! and metrics.k8s.io PodMetrics, HPAs (autoscaling/v2, and the v1 view), scaling Events,
//! Namespaces and Nodes.
//!
//! Rendering is a pure function of the world plus a little server-side memory (HPA metadata
//! the world does not model, condition transition times); resourceVersion and generation are
//! added by the store.

mod deployments;
mod events;
mod hpa_v1;
mod hpas;
mod leases;
mod meta;
mod namespaces;
mod nodes;
mod pods;
mod scaledobjects;
mod services;
#[cfg(test)]
mod tests;
mod vpas;

pub use deployments::{deployment, deployment_clock, replica_set, scale};
pub use events::events;
pub use hpa_v1::{hpa_to_v1, is_v1_conversion_annotation};
pub use hpas::{HpaMeta, behavior, hpa, hpa_spec};
pub use leases::{event_errors, lease_errors, new_event, new_lease, updated_lease};
pub use meta::{
    Clocks, Ctx, REVISION_ANNOTATION, deployment_uid, fnv, pod_name, replica_set_name, suffix, unix,
};
pub use namespaces::namespace;
pub use nodes::node;
pub use pods::{pod, pod_metrics};
pub use scaledobjects::scaled_object;
pub use services::{SERVICES, ServiceBackend, find_service, service, service_namespaces};
pub use vpas::vpa;
