//! History handed to the faces at start, and Prometheus' history merged in after the first
//! snapshot, forecast as soon as it lands.

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;

use super::messages::{EngineOptions, Update};
use super::queue::WorkQueue;
use super::schedule::schedule;
use super::state::Known;
use crate::model::{AdvisorInputs, ClusterSnapshot, DeploymentKey, Sample};

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

/// Merge Prometheus' history (after the first snapshot); the deployments it reached, whose
/// forecasts are due again (`forecast_at` cleared).
pub(super) fn merge_backfill(
    result: Result<crate::metrics::prometheus::Backfill, String>,
    known: &mut HashMap<DeploymentKey, Known>,
    opts: &EngineOptions,
    updates: &mpsc::UnboundedSender<Update>,
) -> Vec<DeploymentKey> {
    let backfill = match result {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("prometheus backfill failed: {e}");
            let _ = updates.send(Update::Notice(
                "history",
                Some(format!("no prometheus backfill: {e}")),
            ));
            return Vec::new();
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
    merged
}

/// Forecast the backfilled deployments now rather than at the next poll (up to 15 s away).
/// A forecast already in flight was made from the history before the backfill: it is marked
/// `stale`, and `forecast_again` starts the real one when it lands.
#[allow(clippy::too_many_arguments, reason = "the engine loop's state, lent")]
pub(super) fn forecast_backfilled(
    mut merged: Vec<DeploymentKey>,
    stale: &mut HashSet<DeploymentKey>,
    queue: &mut WorkQueue,
    in_flight: &mut HashSet<(DeploymentKey, bool)>,
    due: &mut Vec<AdvisorInputs>,
    snap: &ClusterSnapshot,
    known: &mut HashMap<DeploymentKey, Known>,
    opts: &EngineOptions,
) {
    // In the table's first order (namespace, name): with forecasts queued, the rows a user
    // sees first are forecast first.
    merged.sort();
    for key in merged {
        if in_flight.contains(&(key.clone(), false)) {
            stale.insert(key);
        } else if let Some(k) = known.get_mut(&key) {
            schedule(queue, in_flight, due, snap, &key, k, opts, false);
        }
    }
}

/// When a forecast made before the backfill lands: forget when it was made, so that the one
/// from the backfilled history starts now. True when it did (the landing forecast is then
/// not worth a recommendation).
#[allow(clippy::too_many_arguments, reason = "the engine loop's state, lent")]
pub(super) fn forecast_again(
    key: &DeploymentKey,
    stale: &mut HashSet<DeploymentKey>,
    queue: &mut WorkQueue,
    in_flight: &mut HashSet<(DeploymentKey, bool)>,
    due: &mut Vec<AdvisorInputs>,
    snap: &ClusterSnapshot,
    k: &mut Known,
    opts: &EngineOptions,
) -> bool {
    if !stale.remove(key) {
        return false;
    }
    k.forecast_at = None;
    schedule(queue, in_flight, due, snap, key, k, opts, false);
    true
}
