//! The engine: background tasks that poll the cluster, keep histories, forecast and advise, and
//! report everything as `Update` messages. The TUI only consumes updates and sends commands; it
//! never waits on the cluster, a forecast or the LLM.

mod backfill;
mod dispatch;
mod first_view;
pub mod heap;
mod jobs;
mod late_history;
mod messages;
mod pool;
pub mod priority;
mod queue;
mod recommend;
mod schedule;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::actions::journal;
use crate::advisor::Advisor;
use crate::cluster::Cluster;
use crate::metrics::{HISTORY_MINUTES, History};
use crate::model::{AdvisorInputs, ClusterSnapshot, DeploymentKey};

pub use messages::{ActionReport, Command, EngineOptions, Update};

use backfill::{Streaming, backfill_tails, forecast_again, forecast_backfilled};
use dispatch::Dispatch;
use first_view::FirstView;
use jobs::{ActionJob, JOURNAL_VIEW_ENTRIES, start_action};
use late_history::Watched;
use queue::JobKind;
use recommend::{gather_deadline, land, start_recommendations};
use schedule::{schedule, set_rooms};
use state::{Done, Known, new_known};

/// Start the engine; updates arrive on the returned receiver until the command sender drops.
pub fn spawn(
    cluster: Arc<dyn Cluster>,
    advisor: Advisor,
    opts: EngineOptions,
) -> (
    mpsc::UnboundedSender<Command>,
    mpsc::UnboundedReceiver<Update>,
) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (up_tx, up_rx) = mpsc::unbounded_channel();
    tokio::spawn(run(cluster, advisor, opts, cmd_rx, up_tx));
    (cmd_tx, up_rx)
}

async fn run(
    cluster: Arc<dyn Cluster>,
    advisor: Advisor,
    opts: EngineOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
    updates: mpsc::UnboundedSender<Update>,
) {
    let mut known: HashMap<DeploymentKey, Known> = HashMap::new();
    let mut snapshot: Option<Arc<ClusterSnapshot>> = None;
    let mut cluster_notice: Option<String> = None;
    let mut work: JoinSet<Done> = JoinSet::new();
    let mut in_flight: HashSet<(DeploymentKey, bool)> = HashSet::new();
    // Forecasts, calibrations and backtests: queued by priority, run on the worker pool.
    let mut pooled = Dispatch::new();
    // Recommendations due, asked together (the LLM batches them): those of a poll at once,
    // those a landing forecast or the user asks for after a short gather.
    let mut due: Vec<AdvisorInputs> = Vec::new();
    let mut flush_at: Option<tokio::time::Instant> = None;
    // Forecasts in flight when the backfill landed, made from the history before it.
    let mut stale_forecasts: HashSet<DeploymentKey> = HashSet::new();
    // Cards as each LLM request answers (the loop holds a sender, so this never closes).
    let (landed_tx, mut landed) = mpsc::unbounded_channel();
    // First of all (the TUI draws at once): the table's first frame waits for the selected
    // deployment's backfilled forecast.
    let mut first_view = FirstView::new(
        opts.history.prometheus.as_ref().map(|p| {
            format!(
                "reading {} d of history via {}",
                p.options().lookback_seconds / 86_400,
                p.describe()
            )
        }),
        &updates,
    );
    let _ = updates.send(Update::LlmStatus(advisor.llm_status()));
    if let Some(actions) = &opts.actions {
        if let Some(text) = journal::interrupted_writes(actions.journal()) {
            let _ = updates.send(Update::Notice("journal", Some(text)));
        }
        let dismissed = journal::dismissed(actions.journal());
        if !dismissed.is_empty() {
            let _ = updates.send(Update::Dismissed(dismissed));
        }
    }

    // The store first (folded as it is read), then the cluster's own history;
    // `History::extend` merges by time and the first source wins ties.
    for (key, history) in opts.history.stored_histories().await.unwrap_or_else(|e| {
        tracing::warn!("{e}");
        Vec::new()
    }) {
        known.insert(key, new_known(history));
    }
    let mut start = Vec::new();
    // A store that cannot be opened or read: said on screen, with its path; the history then
    // lives in memory only. Checked again after every poll (writes may fail later).
    let mut store_notice = opts.history.store_notice();
    if store_notice.is_some() {
        let _ = updates.send(Update::Notice("store", store_notice.clone()));
    }
    match cluster.history().await {
        Ok(history) => start.extend(history),
        Err(e) => {
            let _ = updates.send(Update::Notice("history", Some(format!("history: {e}"))));
        }
    }
    for (key, samples) in start {
        known
            .entry(key)
            .or_insert_with(|| new_known(History::with_capacity(HISTORY_MINUTES)))
            .history
            .extend(samples);
    }
    let _ = updates.send(Update::Backfill(backfill_tails(&known, None, &opts)));
    // More history the cluster computes per deployment, taken in the background.
    let mut late = cluster.history_feed().and_then(late_history::start);
    let mut watched: Option<Watched> = None;
    let mut prometheus_asked = false;
    let mut streaming: Option<Streaming> = None;
    // What the user sees (the last `Command::Focus`): backfilled first.
    let mut focus: Vec<DeploymentKey> = Vec::new();
    if let Some(e) = &opts.history.prometheus_error {
        let _ = updates.send(Update::Notice(
            "history",
            Some(format!("no prometheus backfill: {e}")),
        ));
    }

    // A zero period panics in tokio.
    let mut poll = tokio::time::interval(opts.poll_every.max(Duration::from_millis(1)));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut trim = tokio::time::interval(heap::TRIM_EVERY);
    trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut force = false;
    loop {
        // Whatever the last turn queued starts before the loop waits again.
        pooled.start(
            &mut work,
            &known,
            &mut in_flight,
            snapshot.as_deref(),
            &advisor,
        );
        tokio::select! {
            _ = poll.tick() => {}
            _ = trim.tick() => {
                let started = std::time::Instant::now();
                if let Some((before, after)) = heap::return_freed_memory() {
                    tracing::debug!(
                        "freed memory returned in {:?}: RSS {} → {} MiB",
                        started.elapsed(),
                        before >> 20,
                        after >> 20
                    );
                }
                continue;
            }
            _ = tokio::time::sleep_until(flush_at.unwrap_or_else(tokio::time::Instant::now)),
                if flush_at.is_some() => {
                flush_at = None;
                start_recommendations(&mut work, &advisor, std::mem::take(&mut due), &landed_tx);
                continue;
            }
            Some(cards) = landed.recv() => {
                land(cards, &mut in_flight, &updates, &advisor, &mut first_view);
                continue;
            }
            batch = late_history::next(&mut late), if late.is_some() => {
                if late_history::merge(batch, &mut known, watched.as_ref().map(|w| &w.key))
                    && let Some(w) = watched.as_mut()
                {
                    w.send(&known, &updates);
                }
                continue;
            }
            event = backfill::next(&mut streaming), if streaming.is_some() => {
                if let Some(s) = streaming.as_mut() {
                    let merged = s.on_event(event, &mut known, &opts, &updates);
                    if !first_view.is_open() {
                        first_view.merged(&merged, selected(&focus, snapshot.as_deref()));
                    }
                    let seen = watched.as_ref().is_some_and(|w| merged.contains(&w.key));
                    if let Some(snap) = &snapshot {
                        forecast_backfilled(merged, &mut stale_forecasts, &mut pooled.queue, &mut in_flight, &mut due, snap, &mut known, &opts);
                    }
                    if seen && let Some(w) = watched.as_mut() {
                        w.send(&known, &updates);
                    }
                    if s.finished() {
                        streaming = None;
                        first_view.backfill_ended(&updates);
                    }
                }
                continue;
            }
            cmd = commands.recv() => match cmd {
                None => return,
                Some(Command::History(key)) => {
                    let w = watched.insert(Watched::new(key));
                    w.send(&known, &updates);
                    continue;
                }
                Some(Command::Refresh) => {
                    force = true;
                }
                Some(Command::Execute(plan)) => {
                    start_action(&mut work, &opts, ActionJob::Execute(plan));
                    continue;
                }
                Some(Command::Undo) => {
                    start_action(&mut work, &opts, ActionJob::Undo);
                    continue;
                }
                Some(Command::Dismiss(rec)) => {
                    if let Some(actions) = &opts.actions {
                        let t = snapshot.as_ref().map_or(0, |s| s.time);
                        if let Err(e) = actions.dismiss(&rec, t) {
                            let _ = updates.send(Update::ActionDone(ActionReport {
                                ok: false,
                                message: e.to_string(),
                            }));
                        }
                    }
                    continue;
                }
                Some(Command::LoadJournal) => {
                    if let Some(actions) = opts.actions.clone() {
                        work.spawn(async move {
                            let entries = tokio::task::spawn_blocking(move || {
                                actions.journal().recent(JOURNAL_VIEW_ENTRIES).unwrap_or_default()
                            })
                            .await
                            .unwrap_or_default();
                            Done::Journal(entries)
                        });
                    }
                    continue;
                }
                Some(Command::Backtest(key)) => {
                    pooled.queue.push(key, JobKind::Backtest, 0);
                    continue;
                }
                Some(Command::Describe(key)) => {
                    // Its own task: a slow API server delays the answer, never a poll.
                    let (cluster, updates) = (cluster.clone(), updates.clone());
                    tokio::spawn(async move {
                        let detail = cluster.describe(&key).await;
                        let _ = updates.send(Update::Detail(
                            key,
                            detail.map(Arc::new).map_err(|e| e.to_string()),
                        ));
                    });
                    continue;
                }
                Some(Command::Reconsider(key)) => {
                    if let (Some(snap), Some(k)) = (&snapshot, known.get_mut(&key)) {
                        k.recommended_at = None;
                        schedule(&mut pooled.queue, &mut in_flight, &mut due, snap, &key, k, &opts, true);
                        flush_at.get_or_insert_with(gather_deadline);
                    }
                    continue;
                }
                Some(Command::Focus(keys)) => {
                    pooled.queue.set_focus(&keys);
                    if let Some(s) = &streaming {
                        s.prioritize(&keys);
                    }
                    focus = keys;
                    continue;
                }
            },
            Some(done) = work.join_next(), if !work.is_empty() => {
                let done = match done {
                    Ok(Done::Pooled(kind, done)) => {
                        pooled.finished(kind);
                        Ok(*done)
                    }
                    other => other,
                };
                match done {
                    Ok(Done::Forecast(key, at, f)) => {
                        in_flight.remove(&(key.clone(), false));
                        if let Some(k) = known.get_mut(&key) {
                            k.forecasts = Arc::new(*f);
                            k.forecast_at = Some(at);
                            // A new forecast deserves a new recommendation.
                            k.recommended_at = None;
                            let _ = updates.send(Update::Forecasts(key.clone(), k.forecasts.clone()));
                            let again = snapshot.as_ref().is_some_and(|snap| {
                                forecast_again(&key, &mut stale_forecasts, &mut pooled.queue, &mut in_flight, &mut due, snap, k, &opts)
                            });
                            let cpu = k.forecasts.cpu.as_ref().map(crate::model::ForecastSummary::from_forecast);
                            first_view.forecast(&key, again, cpu);
                            if let Some(snap) = &snapshot
                                && !again
                            {
                                schedule(&mut pooled.queue, &mut in_flight, &mut due, snap, &key, k, &opts, true);
                                flush_at.get_or_insert_with(gather_deadline);
                            }
                        }
                        continue;
                    }
                    Ok(Done::Calibration(key, at, result)) => {
                        if let Some(k) = known.get_mut(&key) {
                            match result {
                                Ok(c) => {
                                    k.calibration = Some(Arc::new(*c));
                                    k.calibrate_at = Some(at + opts.calibrate_every);
                                    k.recommended_at = None;
                                }
                                Err(e) => {
                                    tracing::debug!("calibration of {key}: {e}");
                                    k.calibrate_at = Some(at + 3600);
                                }
                            }
                        }
                        continue;
                    }
                    Ok(Done::Recommendations(recs, failed)) => {
                        land((recs, failed), &mut in_flight, &updates, &advisor, &mut first_view);
                        continue;
                    }
                    Ok(Done::Action(report, again)) => {
                        let _ = updates.send(Update::ActionDone(report));
                        if let Some(plan) = again {
                            let _ = updates.send(Update::ConfirmAgain(plan));
                        }
                        // Show the write's effect now rather than at the next poll.
                        force = true;
                        // Fall through to poll.
                    }
                    Ok(Done::Journal(entries)) => {
                        let _ = updates.send(Update::Journal(entries));
                        continue;
                    }
                    Ok(Done::Backtest(key, result)) => {
                        let _ = updates.send(Update::Backtest(key, result.map(Arc::from)));
                        continue;
                    }
                    Ok(Done::Pooled(..)) => continue,
                    Err(e) => {
                        tracing::error!("engine task failed: {e}");
                        continue;
                    }
                }
            }
        }

        match cluster.snapshot().await {
            Ok(snap) => {
                let snap = Arc::new(snap);
                let mut closed = Vec::new();
                for d in &snap.deployments {
                    let k = known
                        .entry(d.key.clone())
                        .or_insert_with(|| new_known(History::with_capacity(HISTORY_MINUTES)));
                    if let Some(s) = k.history.observe(
                        snap.time,
                        d.cpu_pct,
                        d.mem_pct,
                        d.desired_replicas,
                        d.ready_replicas,
                    ) {
                        closed.push((d.key.clone(), s));
                    }
                }
                // Deployments deleted from the cluster leave the engine too (a set: a scan of
                // the snapshot per key was quadratic, 25 M comparisons a poll at 5,000).
                let present: HashSet<&DeploymentKey> =
                    snap.deployments.iter().map(|d| &d.key).collect();
                known.retain(|key, _| present.contains(key));
                if !closed.is_empty() {
                    opts.history.record(&closed);
                    let _ = updates.send(Update::Samples(closed));
                }
                // The writer reports the previous poll's writes (it runs on its own thread).
                let notice = opts.history.store_notice();
                if notice != store_notice {
                    store_notice = notice;
                    let _ = updates.send(Update::Notice("store", store_notice.clone()));
                }
                if !prometheus_asked && opts.history.prometheus.is_some() {
                    prometheus_asked = true;
                    streaming = Streaming::start(&opts.history, &snap, &focus);
                    if streaming.is_none() {
                        first_view.open(&updates);
                    }
                }
                let _ = updates.send(Update::Snapshot(snap.clone()));
                if let Some(w) = watched.as_mut() {
                    w.after_poll(&known, &updates);
                }
                // Which data is missing or stale, said once per change.
                let status = cluster.status().summary();
                if status != cluster_notice {
                    cluster_notice = status.clone();
                    let _ = updates.send(Update::Notice("cluster", status));
                }
                if force {
                    for k in known.values_mut() {
                        k.forecast_at = None;
                        k.recommended_at = None;
                    }
                    force = false;
                }
                set_rooms(&mut known, &snap, &advisor);
                for d in &snap.deployments {
                    if let Some(k) = known.get_mut(&d.key) {
                        schedule(
                            &mut pooled.queue,
                            &mut in_flight,
                            &mut due,
                            &snap,
                            &d.key,
                            k,
                            &opts,
                            false,
                        );
                    }
                }
                flush_at = None;
                start_recommendations(&mut work, &advisor, std::mem::take(&mut due), &landed_tx);
                snapshot = Some(snap);
            }
            Err(e) => {
                tracing::warn!("snapshot failed: {e}");
                let _ = updates.send(Update::ClusterError(e.to_string()));
            }
        }
    }
}

/// The deployment on screen: the first the TUI said it shows, or before it said anything, the
/// table's first row (namespace, name), which is also the backfill's first.
fn selected<'a>(
    focus: &'a [DeploymentKey],
    snapshot: Option<&'a ClusterSnapshot>,
) -> Option<&'a DeploymentKey> {
    focus
        .first()
        .or_else(|| snapshot?.deployments.iter().map(|d| &d.key).min())
}
