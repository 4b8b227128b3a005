//! History handed to the faces at start, and Prometheus' history merged in after the first
//! snapshot, deployment by deployment, each forecast as soon as it lands.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::heap::return_freed_memory;
use super::messages::{EngineOptions, Update};
use super::queue::WorkQueue;
use super::schedule::schedule;
use super::state::Known;
use crate::metrics::HistoryBackend;
use crate::metrics::prometheus::{BackfillOrder, Item, PrometheusSource, Tally};
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

/// How often what the backfill merged is told to the faces: a fleet's deployments land a few
/// a second, and each message would be a redraw.
const TELL_EVERY: Duration = Duration::from_millis(250);

/// Prometheus' history arriving deployment by deployment (after the first snapshot).
pub(super) struct Streaming {
    source: Arc<PrometheusSource>,
    rx: mpsc::Receiver<Item>,
    order: BackfillOrder,
    tally: Tally,
    /// Merged since the faces were last told, and when they will be.
    untold: Vec<DeploymentKey>,
    tell_at: Option<Instant>,
    finished: bool,
}

/// What the backfill did since the loop last looked.
pub(super) enum Event {
    /// A deployment, the failure that ended it, or its end (None).
    Item(Option<Item>),
    /// Time to tell the faces what was merged.
    Tell,
}

impl Streaming {
    /// Start the backfill of the snapshot's deployments: `focus` (the selected one first), then
    /// the rest in the table's order (namespace, name). None without Prometheus.
    pub(super) fn start(
        history: &HistoryBackend,
        snap: &ClusterSnapshot,
        focus: &[DeploymentKey],
    ) -> Option<Self> {
        let source = history.prometheus.clone()?;
        let mut deployments = snap.deployments.clone();
        deployments.sort_by(|a, b| a.key.cmp(&b.key));
        let total = deployments.len();
        let order = BackfillOrder::new(deployments);
        order.prioritize(focus);
        // Room for one deployment per slot: a slow loop holds the queries back.
        let (tx, rx) = mpsc::channel(source.options().concurrency);
        let (start, end) = source.window(snap);
        let (fetch, fetching) = (source.clone(), order.clone());
        tokio::spawn(async move { fetch.stream_range(fetching, start, end, tx).await });
        let tally = Tally {
            source: source.describe(),
            lookback_seconds: source.options().lookback_seconds,
            total,
            ..Tally::default()
        };
        Some(Self {
            source,
            rx,
            order,
            tally,
            untold: Vec::new(),
            tell_at: None,
            finished: false,
        })
    }

    /// What the user sees now goes first of what is not fetched yet.
    pub(super) fn prioritize(&self, focus: &[DeploymentKey]) {
        self.order.prioritize(focus);
    }

    /// True once it ended and the faces were told.
    pub(super) fn finished(&self) -> bool {
        self.finished
    }

    /// Fold an event in: a deployment's minutes go into its tiered history at once (the
    /// full-resolution vector is dropped here). Returns the deployments merged, whose
    /// forecasts are due again (`forecast_at` cleared).
    pub(super) fn on_event(
        &mut self,
        event: Event,
        known: &mut HashMap<DeploymentKey, Known>,
        opts: &EngineOptions,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Vec<DeploymentKey> {
        match event {
            Event::Item(Some(Ok((key, result)))) => {
                self.tally.add(&key, &result);
                self.tell_at
                    .get_or_insert_with(|| Instant::now() + TELL_EVERY);
                match result {
                    Ok(samples) => match known.get_mut(&key) {
                        Some(k) => {
                            k.history.extend(samples);
                            k.forecast_at = None;
                            self.untold.push(key.clone());
                            vec![key]
                        }
                        None => Vec::new(),
                    },
                    Err(why) => {
                        tracing::debug!("no prometheus backfill for {key}: {why}");
                        Vec::new()
                    }
                }
            }
            Event::Item(Some(Err(e))) => {
                tracing::warn!("prometheus backfill failed: {e}");
                let _ = updates.send(Update::Notice(
                    "history",
                    Some(format!("no prometheus backfill: {e}")),
                ));
                self.end(known, opts, updates, self.tally.answered() > 0);
                Vec::new()
            }
            Event::Item(None) => {
                self.end(known, opts, updates, true);
                Vec::new()
            }
            Event::Tell => {
                self.tell(known, opts, updates, self.tally.progress());
                Vec::new()
            }
        }
    }

    /// The last word: the log's summary, and where history came from (nothing when a failure
    /// ended it before any deployment answered).
    fn end(
        &mut self,
        known: &HashMap<DeploymentKey, Known>,
        opts: &EngineOptions,
        updates: &mpsc::UnboundedSender<Update>,
        headline: bool,
    ) {
        self.finished = true;
        tracing::info!("{}", self.tally.summary());
        // The answers are folded and freed: hand their memory back instead of keeping the
        // burst's size for the rest of the session.
        if let Some((before, after)) = return_freed_memory() {
            tracing::info!(
                "after the backfill: RSS {} → {} MiB",
                before >> 20,
                after >> 20
            );
        }
        if headline {
            self.tell(known, opts, updates, self.tally.headline());
        } else {
            let _ = updates.send(Update::Notice("prometheus", None));
        }
    }

    /// The merged deployments' tails and the status line, in two messages.
    fn tell(
        &mut self,
        known: &HashMap<DeploymentKey, Known>,
        opts: &EngineOptions,
        updates: &mpsc::UnboundedSender<Update>,
        status: String,
    ) {
        self.tell_at = None;
        self.tally.source = self.source.describe();
        let untold = std::mem::take(&mut self.untold);
        if !untold.is_empty() {
            let _ = updates.send(Update::Backfill(backfill_tails(known, Some(&untold), opts)));
        }
        let _ = updates.send(Update::Notice("prometheus", Some(status)));
    }
}

/// The backfill's next event; waits forever without one (its `select!` branch is off then).
pub(super) async fn next(streaming: &mut Option<Streaming>) -> Event {
    let Some(s) = streaming.as_mut() else {
        return std::future::pending().await;
    };
    let tell_at = s.tell_at;
    tokio::select! {
        item = s.rx.recv(), if !s.finished => Event::Item(item),
        _ = tokio::time::sleep_until(tell_at.unwrap_or_else(Instant::now)), if tell_at.is_some() => Event::Tell,
        else => std::future::pending().await,
    }
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
