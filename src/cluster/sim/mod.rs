//! The embedded simulated cluster (`--demo`): deployments whose demand follows workload traces,
//! pods with start-up delay, metrics like metrics-server's and HPAs that follow the real
//! autoscaling/v2 controller.

pub mod hpa;
