//! History that arrives after the start: a cluster's `HistoryFeed` (the simulator's weeks
//! before its warm-up) computed on a thread of its own, a few deployments per message, and the
//! one deployment's history a face draws (`Command::History`), sent again when it grows.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::messages::Update;
use super::state::{Known, new_known};
use crate::config::UI_HISTORY_MINUTES;
use crate::metrics::feed::HistoryFeed;
use crate::metrics::{HISTORY_MINUTES, History};
use crate::model::{DeploymentKey, Sample, UnixSeconds};

/// Deployments per message: each 14-day series is about 645 KB until it is folded, and the
/// channel holds two messages, so at most a few MB are in flight.
const PER_BATCH: usize = 4;

pub(super) type Batch = Vec<(DeploymentKey, Vec<Sample>)>;

/// Compute the feed's histories in the background; the channel's bound holds the producer
/// back while the engine folds. The thread ends with the feed (or when the engine stops).
pub(super) fn start(feed: Arc<dyn HistoryFeed>) -> Option<mpsc::Receiver<Batch>> {
    let (tx, rx) = mpsc::channel(2);
    let spawned = std::thread::Builder::new()
        .name("history-feed".into())
        .spawn(move || {
            // Weeks of a fleet's history are background work, as the pool's forecasts are.
            super::priority::lower_this_threads_priority(super::priority::WORKER_NICER_BY);
            for chunk in feed.keys().chunks(PER_BATCH) {
                let batch: Batch = chunk.iter().map(|k| (k.clone(), feed.samples(k))).collect();
                if tx.blocking_send(batch).is_err() {
                    return;
                }
            }
        });
    match spawned {
        Ok(_) => Some(rx),
        Err(e) => {
            tracing::warn!("no history feed: {e}");
            None
        }
    }
}

/// The next batch; once the feed is done it is forgotten and this waits forever (its
/// `select!` branch is off by then).
pub(super) async fn next(rx: &mut Option<mpsc::Receiver<Batch>>) -> Batch {
    if let Some(r) = rx
        && let Some(b) = r.recv().await
    {
        return b;
    }
    *rx = None;
    std::future::pending().await
}

/// Fold a batch in: those deployments are forecast and calibrated again from the longer
/// history. Returns whether `watched` was among them.
pub(super) fn merge(
    batch: Batch,
    known: &mut HashMap<DeploymentKey, Known>,
    watched: Option<&DeploymentKey>,
) -> bool {
    let mut touched = false;
    for (key, samples) in batch {
        if samples.is_empty() {
            continue;
        }
        touched |= watched == Some(&key);
        let k = known
            .entry(key)
            .or_insert_with(|| new_known(History::with_capacity(HISTORY_MINUTES)));
        k.history.extend(samples);
        k.forecast_at = None;
        // None: a calibration runs now and will be redone at its next turn.
        if k.calibrate_at.is_some() {
            k.calibrate_at = Some(UnixSeconds::MIN);
        }
    }
    touched
}

/// The deployment whose history a face draws (`Command::History`).
#[derive(Debug)]
pub(super) struct Watched {
    pub(super) key: DeploymentKey,
    /// Whether what was sent had any history; until then it is sent again after each poll.
    sent_some: bool,
}

impl Watched {
    pub(super) fn new(key: DeploymentKey) -> Self {
        Self {
            key,
            sent_some: false,
        }
    }

    /// Send its newest `UI_HISTORY_MINUTES` (empty while the engine has none).
    pub(super) fn send(
        &mut self,
        known: &HashMap<DeploymentKey, Known>,
        updates: &mpsc::UnboundedSender<Update>,
    ) {
        let samples = known
            .get(&self.key)
            .map(|k| k.history.tail(UI_HISTORY_MINUTES))
            .unwrap_or_default();
        self.sent_some = !samples.is_empty();
        let _ = updates.send(Update::History(self.key.clone(), samples));
    }

    /// After a poll: the first history it has is sent (the face asked before there was any).
    pub(super) fn after_poll(
        &mut self,
        known: &HashMap<DeploymentKey, Known>,
        updates: &mpsc::UnboundedSender<Update>,
    ) {
        if !self.sent_some {
            self.send(known, updates);
        }
    }
}
