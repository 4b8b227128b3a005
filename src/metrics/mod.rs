//! Per-deployment metric history: 15-second observations averaged into 1-minute samples, kept
//! in bounded ring buffers. The engine keeps the long history forecasts are made from; the TUI
//! keeps a short one for its charts. Both use `History`.
//!
//! The engine's history also survives restarts (`store`, `persist`: SQLite in the data dir, per
//! kube context) and can be backfilled from Prometheus (`prometheus`); `backend` ties both to
//! the engine.

pub mod backend;
mod bucket;
mod chunk;
pub mod feed;
pub mod history;
pub mod persist;
pub mod prom_error;
mod prom_fold;
mod prom_point;
pub mod prom_stream;
pub mod prom_transport;
pub mod prometheus;
pub mod store;
mod tiers;

pub use backend::HistoryBackend;
pub use history::{History, MINUTE};
pub use persist::HistoryStore;

/// Two weeks of minutes: the longest history a forecast is made from (the engine's history).
pub const HISTORY_MINUTES: usize = 14 * 24 * 60;
