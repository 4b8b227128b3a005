//! A Prometheus behind the simulated cluster's service proxy: `monitoring/prometheus-k8s`
//! answers the Prometheus HTTP API (`query`, `query_range`, `series`, `labels`, buildinfo) over
//! the world's history (`series.rs`), evaluated with a small PromQL subset (`query.rs`,
//! `eval.rs`) that follows Prometheus 2.x's semantics; `proxy.rs` routes
//! `/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/...` as the apiserver does.

mod api;
pub mod eval;
pub(crate) mod proxy;
pub mod query;
pub mod series;

pub use api::answer;
pub use series::{HistorySource, openmetrics};
