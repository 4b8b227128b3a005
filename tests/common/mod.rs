//! What several test binaries share: the servers they start and the fakes they talk to. Each
//! binary uses only some of it.
#![allow(dead_code)]

pub mod intercepted;
pub mod kmock;
pub mod kube;
pub mod llm;
pub mod prometheus;
pub mod sim_serve;
pub mod tmux;
pub mod tui;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ai4k8s");
