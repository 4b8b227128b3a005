//! Where the engine's history comes from besides the cluster, and where it goes: the store
//! (read at start, written every poll) and Prometheus (read once, after the first snapshot).
//!
//! Merge order at start: the store, then the cluster's own history (the simulator's warm-up),
//! then Prometheus. `History::extend` keeps every series sorted whatever order samples come
//! in, and on equal timestamps the source merged first wins: what ai4k8s itself observed beats
//! what Prometheus reconstructs.

use std::path::Path;
use std::sync::Arc;

use super::persist::HistoryStore;
use super::prometheus::{Backfill, PrometheusSource};
use super::{HISTORY_MINUTES, History};
use crate::model::{ClusterSnapshot, DeploymentKey, Sample};

/// Nothing by default (tests, the demo).
#[derive(Clone, Debug, Default)]
pub struct HistoryBackend {
    pub store: Option<HistoryStore>,
    pub prometheus: Option<Arc<PrometheusSource>>,
    /// Why there is no store (it could not be opened): the engine shows it, and runs on the
    /// history in memory.
    pub store_error: Option<String>,
    /// Why Prometheus is configured but unusable (a bad URL): shown as the history notice.
    pub prometheus_error: Option<String>,
}

impl HistoryBackend {
    /// The store at `path` for `context`, or, when it cannot be opened (a corrupt file, a
    /// newer schema, no permission), no store and the reason.
    pub fn open_store(path: &Path, context: &str) -> Self {
        match HistoryStore::open(path, context) {
            Ok(store) => Self {
                store: Some(store),
                ..Self::default()
            },
            Err(e) => {
                tracing::warn!("history not persisted: {e}");
                Self {
                    store_error: Some(e.to_string()),
                    ..Self::default()
                }
            }
        }
    }

    /// What the status bar says about persistence: None while it works.
    pub fn store_notice(&self) -> Option<String> {
        let problem = self
            .store_error
            .clone()
            .or_else(|| self.store.as_ref().and_then(HistoryStore::problem))?;
        Some(format!("history not saved: {problem}; kept in memory only"))
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_none() && self.prometheus.is_none()
    }

    /// Each stored deployment's last `HISTORY_MINUTES`; empty without a store.
    pub async fn stored(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, String> {
        match &self.store {
            Some(s) => s
                .load_recent(HISTORY_MINUTES as i64 * super::MINUTE)
                .await
                .map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    }

    /// Each stored deployment's last `HISTORY_MINUTES`, already folded (what the engine starts
    /// from); empty without a store.
    pub async fn stored_histories(&self) -> Result<Vec<(DeploymentKey, History)>, String> {
        match &self.store {
            Some(s) => s
                .load_histories(HISTORY_MINUTES as i64 * super::MINUTE, HISTORY_MINUTES)
                .await
                .map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    }

    /// Persist one poll's closed minutes (queued; never blocks).
    pub fn record(&self, closed: &[(DeploymentKey, Sample)]) {
        if let Some(s) = &self.store {
            s.record(closed.to_vec());
        }
    }

    /// Prometheus' history for the snapshot's deployments; nothing without Prometheus.
    pub async fn prometheus(&self, snapshot: &ClusterSnapshot) -> Result<Backfill, String> {
        match &self.prometheus {
            Some(p) => p.backfill(snapshot).await.map_err(|e| e.to_string()),
            None => Ok(Backfill::default()),
        }
    }
}
