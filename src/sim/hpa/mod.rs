//! The HorizontalPodAutoscaler controller (autoscaling/v2) of the simulated cluster: a port of
//! kubernetes `pkg/controller/podautoscaler` (`replica_calculator.go`, `horizontal.go` and the
//! metrics client's `GetResourceUtilizationRatio`), limited to Resource metrics with Utilization
//! targets for CPU and memory, which is all an HPA of this project can express.
//!
//! Pure and deterministic: the caller passes the time and the pods, nothing else is read.
//! Quantities are converted to the API's integer milli-units so that the controller's integer
//! truncations (utilization percent, fallback usage of missing pods, raw average) happen exactly
//! where they happen in Go; replica arithmetic uses the same `f64` expressions as Go, so even
//! its float edge cases are reproduced (usage at exactly 110 % of target is outside the 0.1
//! tolerance, at 90 % inside).
//!
//! As upstream: `calculator` proposes replicas for one metric, `controller` syncs an HPA
//! (stabilization, the `behavior` policies, bounds, the reason), `behavior` is the spec's part.

mod behavior;
mod calculator;
mod controller;

pub use behavior::{
    Behavior, DEFAULT_DOWNSCALE_STABILIZATION_SECONDS, PolicyKind, ScalingPolicy, ScalingRules,
    SelectPolicy,
};
pub use calculator::{HpaError, PodSample, ReplicaCalculator, Resource, ResourceReplicas};
pub use controller::{DEFAULT_CPU_UTILIZATION, HpaConfig, HpaController, Reconcile};
