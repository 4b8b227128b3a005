//! What the kube client and the simulator's API front share about Kubernetes itself: resource
//! quantities and label selectors. Depends on nothing but std and k8s-openapi.

pub mod quantity;
pub mod selector;
