//! Per-deployment metric history: 15-second observations averaged into 1-minute samples, kept
//! in bounded ring buffers. The engine keeps the long history forecasts are made from; the TUI
//! keeps a short one for its charts. Both use `History`.

pub mod history;

pub use history::{History, MINUTE};
