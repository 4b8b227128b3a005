//! ai4k8s: a terminal autoscaling advisor for Kubernetes.
//!
//! One pipeline (cluster → metrics → forecast → advisor → actions) shared by three faces: the
//! TUI, the headless commands and the backtest. See `docs/architecture.md`.

pub mod actions;
pub mod advisor;
pub mod autopilot;
pub mod backtest;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod fleet;
pub mod forecast;
pub mod k8s;
pub mod metrics;
pub mod model;
#[cfg(test)]
pub(crate) mod mutate;
pub mod pipeline;
pub mod private_files;
pub mod redact;
pub mod sim;
pub mod traces;
pub mod tui;
