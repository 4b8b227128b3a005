//! Many clusters on one screen (`:fleet`, `--all-contexts`, `ai4k8s fleet`): every kubeconfig
//! context probed in its own task under a timeout, each answer one row — reachability (or why
//! not), deployments, at max, pending recommendations, savings and the LLM's state. Headless:
//! the TUI's fleet screen and the `fleet` command are views over it.
//!
//! The rooms: `row` (what a row says), `summary` (a snapshot → a row's counts, through the one
//! policy, rules only), `reason` (why a context cannot be reached), `board` (the rows as
//! answers come in), `probe` (one task per context, each under its timeout), `kube_probe`
//! (connect with a context, one snapshot, summarise).

pub mod board;
pub mod kube_probe;
pub mod probe;
pub mod reason;
pub mod row;
pub mod summary;

pub use board::Board;
pub use probe::{PROBE_TIMEOUT, Probe, Probed, Round};
pub use row::{Answer, ContextRow, LlmState, Reach, Reason, Summary, Unreachable};
