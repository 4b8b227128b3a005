//! Why Prometheus gave no history, shared by the client (`prometheus.rs`) and its transports.

/// Why no backfill was made. Every variant says what to look at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    #[error("prometheus url {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach Prometheus at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Prometheus at {url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("Prometheus at {url} sent an answer that is not a query result: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    /// Discovery found no Prometheus that answers: each candidate and why, or why none.
    #[error("no Prometheus found: {0}")]
    NotFound(String),
}
