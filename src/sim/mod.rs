//! The simulator wing. The embedded simulated cluster (`--demo`): deployments whose demand
//! follows workload traces, pods with start-up delay, metrics like metrics-server's and HPAs that
//! follow the real autoscaling/v2 controller; and `serve`, the same world behind a Kubernetes API
//! front for kubectl and kube-rs.

mod cluster;
pub mod hpa;
pub mod nodes;
pub mod scenario;
pub mod serve;
pub mod world;

pub use cluster::SimCluster;
pub use world::SimWorld;
