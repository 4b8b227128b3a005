//! History handed to the faces at start, and Prometheus' history merged in after the first
//! snapshot.

use std::collections::HashMap;

use tokio::sync::mpsc;

use super::messages::{EngineOptions, Update};
use super::state::Known;
use crate::model::{DeploymentKey, Sample};

/// What the faces get of the engine's histories: the newest `backfill_minutes` of each
/// deployment (of `only` when given).
pub(super) fn backfill_tails(
    known: &HashMap<DeploymentKey, Known>,
    only: Option<&[DeploymentKey]>,
    opts: &EngineOptions,
) -> Vec<(DeploymentKey, Vec<Sample>)> {
    known
        .iter()
        .filter(|(k, _)| only.is_none_or(|o| o.contains(k)))
        .map(|(k, v)| (k.clone(), v.history.tail(opts.backfill_minutes)))
        .collect()
}

/// Merge Prometheus' history (after the first snapshot) and forecast again from it.
pub(super) fn merge_backfill(
    result: Result<crate::metrics::prometheus::Backfill, String>,
    known: &mut HashMap<DeploymentKey, Known>,
    opts: &EngineOptions,
    updates: &mpsc::UnboundedSender<Update>,
) {
    let backfill = match result {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("prometheus backfill failed: {e}");
            let _ = updates.send(Update::Notice(
                "history",
                Some(format!("no prometheus backfill: {e}")),
            ));
            return;
        }
    };
    tracing::info!("{}", backfill.summary());
    // Where history came from ("history: prometheus-k8s via API proxy, 14 d").
    let _ = updates.send(Update::Notice("prometheus", Some(backfill.headline())));
    let mut merged = Vec::new();
    for (key, samples) in backfill.series {
        if let Some(k) = known.get_mut(&key) {
            k.history.extend(samples);
            k.forecast_at = None;
            merged.push(key);
        }
    }
    if !merged.is_empty() {
        let _ = updates.send(Update::Backfill(backfill_tails(known, Some(&merged), opts)));
    }
}
