//! The engine: background tasks that poll the cluster, keep histories, forecast and advise, and
//! report everything as `Update` messages. The TUI only consumes updates and sends commands; it
//! never waits on the cluster, a forecast or the LLM.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::actions::{ActionError, Actions, Intent, Plan, journal, plan};
use crate::advisor::Advisor;
use crate::backtest;
use crate::cluster::Cluster;
use crate::forecast::ForecastOptions;
use crate::metrics::{HISTORY_MINUTES, History, HistoryBackend};
use crate::model::{
    AdvisorInputs, Calibration, ClusterSnapshot, DeploymentKey, Recommendation, Room, Sample,
    ScalingAction, UnixSeconds,
};
use crate::pipeline::{self, Forecasts};

/// Calibrations run one at a time, process-wide (each replays its candidates on every core).
static CALIBRATING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// What the engine tells its faces.
#[derive(Clone, Debug)]
pub enum Update {
    /// History known before the first poll (simulator warm-up, Prometheus backfill).
    Backfill(Vec<(DeploymentKey, Vec<Sample>)>),
    Snapshot(Arc<ClusterSnapshot>),
    /// Minute samples closed by the last poll.
    Samples(Vec<(DeploymentKey, Sample)>),
    Forecasts(DeploymentKey, Arc<Forecasts>),
    Recommendation(Arc<Recommendation>),
    /// Making a deployment's recommendation failed (the task panicked): why. Its last
    /// recommendation, if any, stays; the next cycle tries again.
    RecommendationFailed(DeploymentKey, String),
    /// LLM side of the status bar.
    LlmStatus(String),
    /// A cluster call failed; data shown is from the last good poll.
    ClusterError(String),
    /// A lasting problem with one data source ("cluster": missing metrics, RBAC; "history":
    /// the cluster's history or Prometheus; "store": the history file), or None when it
    /// cleared. Unlike `ClusterError`, a good
    /// snapshot does not clear it.
    Notice(&'static str, Option<String>),
    /// A write finished (or was refused): what to tell the user.
    ActionDone(ActionReport),
    /// A write met a conflict (409): the same request made from a fresh read, to confirm again.
    ConfirmAgain(Box<Plan>),
    /// Recent journal entries, oldest first (answer to `Command::LoadJournal`).
    Journal(Vec<journal::Entry>),
    /// Recommendations dismissed earlier (from the journal): key → (action, target).
    Dismissed(Vec<(DeploymentKey, ScalingAction, u32)>),
    /// Answer to `Command::Backtest`: the replay's report, or why there is none.
    Backtest(DeploymentKey, Result<Arc<backtest::Report>, String>),
    /// Answer to `Command::Describe`: the deployment's pods, HPA conditions and events.
    Detail(
        DeploymentKey,
        Result<Arc<crate::model::DeploymentDetail>, String>,
    ),
}

/// The result of a write for the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionReport {
    pub ok: bool,
    pub message: String,
}

/// What faces ask of the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Poll now and recompute every forecast and recommendation.
    Refresh,
    /// Recompute one deployment's recommendation now.
    Reconsider(DeploymentKey),
    /// Carry out a confirmed plan through the guard and the journal.
    Execute(Box<Plan>),
    /// Undo the last change made from this app.
    Undo,
    /// Journal a dismissed recommendation.
    Dismiss(Arc<Recommendation>),
    /// Read the journal's recent entries.
    LoadJournal,
    /// Replay one deployment's history through the backtest's policies (`b`).
    Backtest(DeploymentKey),
    /// Read one deployment's pods, HPA conditions and events (Enter).
    Describe(DeploymentKey),
}

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Real time between polls.
    pub poll_every: Duration,
    /// Cluster seconds between forecasts of one deployment.
    pub forecast_every: i64,
    /// Cluster seconds between recommendations of one deployment.
    pub recommend_every: i64,
    /// Cluster seconds between calibrations of one deployment on its own history (a failed
    /// one, e.g. too little history yet, is retried after an hour).
    pub calibrate_every: i64,
    /// Minute samples of history sent to the faces in the backfill.
    pub backfill_minutes: usize,
    /// Where writes go; None: the engine only reads.
    pub actions: Option<Arc<Actions>>,
    /// Persisted history and Prometheus backfill (none by default).
    pub history: HistoryBackend,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(15),
            forecast_every: 300,
            recommend_every: 60,
            calibrate_every: 86_400,
            backfill_minutes: 36 * 60,
            actions: None,
            history: HistoryBackend::default(),
        }
    }
}

struct Known {
    history: History,
    forecasts: Arc<Forecasts>,
    forecast_at: Option<UnixSeconds>,
    recommended_at: Option<UnixSeconds>,
    calibration: Option<Arc<Calibration>>,
    /// When the next calibration is due; None while one runs.
    calibrate_at: Option<UnixSeconds>,
    /// Its share of the cluster's spare capacity at the last poll (None: not constrained).
    room: Option<Room>,
}

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

enum Done {
    Forecast(DeploymentKey, UnixSeconds, Box<Forecasts>),
    /// A batch's recommendations, and the deployments whose recommendation panicked.
    Recommendations(Vec<Recommendation>, Vec<(DeploymentKey, String)>),
    Action(ActionReport, Option<Box<Plan>>),
    Journal(Vec<journal::Entry>),
    Backfill(Result<crate::metrics::prometheus::Backfill, String>),
    Backtest(DeploymentKey, Result<Box<backtest::Report>, String>),
    Calibration(DeploymentKey, UnixSeconds, Result<Box<Calibration>, String>),
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
    // Recommendations due, asked together (the LLM batches them): those of a poll at once,
    // those a landing forecast or the user asks for after a short gather.
    let mut due: Vec<AdvisorInputs> = Vec::new();
    let mut flush_at: Option<tokio::time::Instant> = None;
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

    // The store first, then the cluster's own history; `History::extend` merges by time.
    let mut start = opts.history.stored().await.unwrap_or_else(|e| {
        tracing::warn!("{e}");
        Vec::new()
    });
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
    let mut prometheus_asked = false;
    if let Some(e) = &opts.history.prometheus_error {
        let _ = updates.send(Update::Notice(
            "history",
            Some(format!("no prometheus backfill: {e}")),
        ));
    }

    // A zero period panics in tokio.
    let mut poll = tokio::time::interval(opts.poll_every.max(Duration::from_millis(1)));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut force = false;
    loop {
        tokio::select! {
            _ = poll.tick() => {}
            _ = tokio::time::sleep_until(flush_at.unwrap_or_else(tokio::time::Instant::now)),
                if flush_at.is_some() => {
                flush_at = None;
                start_recommendations(&mut work, &advisor, std::mem::take(&mut due));
                continue;
            }
            cmd = commands.recv() => match cmd {
                None => return,
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
                    start_backtest(&mut work, &known, snapshot.as_deref(), key, &advisor);
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
                        schedule(&mut work, &mut in_flight, &mut due, snap, &key, k, &advisor, &opts, true);
                        flush_at.get_or_insert_with(gather_deadline);
                    }
                    continue;
                }
            },
            Some(done) = work.join_next(), if !work.is_empty() => {
                match done {
                    Ok(Done::Forecast(key, at, f)) => {
                        in_flight.remove(&(key.clone(), false));
                        if let Some(k) = known.get_mut(&key) {
                            k.forecasts = Arc::new(*f);
                            k.forecast_at = Some(at);
                            // A new forecast deserves a new recommendation.
                            k.recommended_at = None;
                            let _ = updates.send(Update::Forecasts(key.clone(), k.forecasts.clone()));
                            if let Some(snap) = &snapshot {
                                schedule(&mut work, &mut in_flight, &mut due, snap, &key, k, &advisor, &opts, true);
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
                        for r in recs {
                            in_flight.remove(&(r.key(), true));
                            let _ = updates.send(Update::Recommendation(Arc::new(r)));
                        }
                        for (key, why) in failed {
                            // Free the slot, or this deployment would never be recommended
                            // again; `recommended_at` stays, so the retry comes next cycle.
                            in_flight.remove(&(key.clone(), true));
                            tracing::error!("recommendation for {key} failed: {why}");
                            let _ = updates.send(Update::RecommendationFailed(key, why));
                        }
                        let _ = updates.send(Update::LlmStatus(advisor.llm_status()));
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
                    Ok(Done::Backfill(result)) => {
                        merge_backfill(result, &mut known, &opts, &updates);
                        continue;
                    }
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
                // Deployments deleted from the cluster leave the engine too.
                known.retain(|key, _| snap.deployments.iter().any(|d| &d.key == key));
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
                    let history = opts.history.clone();
                    let snap = snap.clone();
                    work.spawn(async move { Done::Backfill(history.prometheus(&snap).await) });
                }
                let _ = updates.send(Update::Snapshot(snap.clone()));
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
                            &mut work,
                            &mut in_flight,
                            &mut due,
                            &snap,
                            &d.key,
                            k,
                            &advisor,
                            &opts,
                            false,
                        );
                    }
                }
                flush_at = None;
                start_recommendations(&mut work, &advisor, std::mem::take(&mut due));
                snapshot = Some(snap);
            }
            Err(e) => {
                tracing::warn!("snapshot failed: {e}");
                let _ = updates.send(Update::ClusterError(e.to_string()));
            }
        }
    }
}

/// Journal entries the journal pane shows.
const JOURNAL_VIEW_ENTRIES: usize = 200;

enum ActionJob {
    Execute(Box<Plan>),
    Undo,
}

/// Run a write off the loop; its report (and a re-asked plan after a 409) comes back as `Done`.
fn start_action(work: &mut JoinSet<Done>, opts: &EngineOptions, job: ActionJob) {
    let Some(actions) = opts.actions.clone() else {
        work.spawn(async {
            Done::Action(
                ActionReport {
                    ok: false,
                    message: "this session cannot write to the cluster".into(),
                },
                None,
            )
        });
        return;
    };
    work.spawn(async move {
        let (result, original) = match job {
            ActionJob::Execute(plan) => {
                let original = (*plan).clone();
                (actions.execute(*plan, false).await, Some(original))
            }
            ActionJob::Undo => (actions.undo_last().await, None),
        };
        match result {
            Ok(done) => {
                let what = done.plan.describe().join("; ");
                let verb = if done.plan.intent == Intent::Undo {
                    "undone"
                } else {
                    "done"
                };
                let note = done.note.map_or(String::new(), |n| format!(" ({n})"));
                Done::Action(
                    ActionReport {
                        ok: note.is_empty(),
                        message: format!("{verb}: {what}{note}"),
                    },
                    None,
                )
            }
            Err(ActionError::Conflict { reason, fresh }) => {
                let again = original
                    .as_ref()
                    .zip(fresh.as_deref())
                    .and_then(|(p, f)| plan::replan(p, f));
                let message = plan::conflict_message(&reason, original.as_ref(), again.as_ref());
                Done::Action(ActionReport { ok: false, message }, again.map(Box::new))
            }
            Err(e) => Done::Action(
                ActionReport {
                    ok: false,
                    message: e.to_string(),
                },
                None,
            ),
        }
    });
}

/// What the faces get of the engine's histories: the newest `backfill_minutes` of each
/// deployment (of `only` when given).
fn backfill_tails(
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
fn merge_backfill(
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

/// Replay the deployment's history on the blocking pool: a replay is seconds of CPU.
fn start_backtest(
    work: &mut JoinSet<Done>,
    known: &HashMap<DeploymentKey, Known>,
    snapshot: Option<&ClusterSnapshot>,
    key: DeploymentKey,
    advisor: &Advisor,
) {
    let state = snapshot.and_then(|s| s.deployments.iter().find(|d| d.key == key));
    let (Some(k), Some(state)) = (known.get(&key), state) else {
        work.spawn(async move { Done::Backtest(key, Err("no history for it yet".into())) });
        return;
    };
    let samples: Vec<Sample> = k.history.iter().copied().collect();
    let opts = backtest::HistoryReplayOptions {
        advisor: advisor.config().clone(),
        ..backtest::HistoryReplayOptions::for_deployment(state)
    };
    work.spawn(async move {
        let result = tokio::task::spawn_blocking(move || {
            backtest::replay_history(&samples, &opts)
                .map(Box::new)
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("the replay failed: {e}")));
        Done::Backtest(key, result)
    });
}

/// What a failed task says: its panic message when it panicked.
fn join_error_reason(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return format!("the task stopped: {e}");
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("the advisor panicked: {message}")
}

/// Each deployment's room in the cluster for this poll, from the fleet's decisions on the
/// latest forecasts (`pipeline::fleet_rooms`): the same rule `recommend` applies.
fn set_rooms(known: &mut HashMap<DeploymentKey, Known>, snap: &ClusterSnapshot, advisor: &Advisor) {
    let tight = snap.capacity.as_ref().is_some_and(|c| {
        crate::advisor::policy::capacity::can_overflow(
            c,
            &snap.deployments,
            advisor.config().max_step,
        )
    });
    let fleet: Vec<AdvisorInputs> = if !tight {
        Vec::new()
    } else {
        snap.deployments
            .iter()
            .filter_map(|d| {
                let k = known.get(&d.key)?;
                Some(pipeline::inputs(
                    d,
                    &k.forecasts,
                    Some(&k.history),
                    k.calibration.as_deref(),
                    snap.time,
                ))
            })
            .collect()
    };
    let mut rooms = pipeline::fleet_rooms(snap, &fleet, advisor.config());
    for (key, k) in known.iter_mut() {
        k.room = rooms.remove(key);
    }
}

fn new_known(history: History) -> Known {
    Known {
        history,
        forecasts: Arc::new(Forecasts::default()),
        forecast_at: None,
        recommended_at: None,
        calibration: None,
        calibrate_at: Some(UnixSeconds::MIN),
        room: None,
    }
}

/// Start whatever work is due for one deployment: a forecast when the last one is old, a
/// recommendation when the last one is old (or `now` is asked for).
#[allow(clippy::too_many_arguments)]
fn schedule(
    work: &mut JoinSet<Done>,
    in_flight: &mut HashSet<(DeploymentKey, bool)>,
    due_recommendations: &mut Vec<AdvisorInputs>,
    snap: &ClusterSnapshot,
    key: &DeploymentKey,
    k: &mut Known,
    advisor: &Advisor,
    opts: &EngineOptions,
    now: bool,
) {
    let t = snap.time;
    let due = |at: Option<UnixSeconds>, every: i64| at.is_none_or(|a| t - a >= every);
    // `now` (a forecast just landed, or the user asked) goes straight to the recommendation:
    // with a fast clock a new forecast may already be due, and recommending only when none is
    // would starve the cards.
    if !now && due(k.forecast_at, opts.forecast_every) && in_flight.insert((key.clone(), false)) {
        let history = k.history.clone();
        let key = key.clone();
        k.forecast_at = Some(t);
        work.spawn(async move {
            let f = tokio::task::spawn_blocking(move || {
                pipeline::forecast_history(&history, ForecastOptions::default())
            })
            .await
            .unwrap_or_else(|e| Forecasts {
                error: Some(format!("forecast task failed: {e}")),
                ..Forecasts::default()
            });
            Done::Forecast(key, t, Box::new(f))
        });
        return;
    }
    if k.calibrate_at.is_some_and(|at| t >= at)
        && let Some(state) = snap.deployments.iter().find(|d| &d.key == key)
    {
        // A day's calibration is a second of CPU: on the blocking pool, never in the loop.
        k.calibrate_at = None;
        let history = k.history.clone();
        let state = state.clone();
        let cfg = advisor.config().clone();
        let key = key.clone();
        work.spawn(async move {
            // One calibration at a time (it already uses every core): a fleet's first day of
            // calibrations queues instead of filling the blocking pool.
            let _turn = CALIBRATING.acquire().await;
            let result = tokio::task::spawn_blocking(move || {
                pipeline::calibration_of(&history, &state, &cfg).map(Box::new)
            })
            .await
            .unwrap_or_else(|e| Err(format!("calibration task failed: {e}")));
            Done::Calibration(key, t, result)
        });
    }
    if in_flight.contains(&(key.clone(), false)) {
        // The recommendation follows the forecast in flight.
        return;
    }
    if (now || due(k.recommended_at, opts.recommend_every))
        && let Some(state) = snap.deployments.iter().find(|d| &d.key == key)
        && in_flight.insert((key.clone(), true))
    {
        k.recommended_at = Some(t);
        let mut inputs = pipeline::inputs(
            state,
            &k.forecasts,
            Some(&k.history),
            k.calibration.as_deref(),
            t,
        );
        inputs.policy.room = k.room.clone();
        due_recommendations.push(inputs);
    }
}

/// How long recommendations asked for between polls gather before they go out together
/// (forecasts land one by one; the LLM carries several deployments per request).
const GATHER: Duration = Duration::from_millis(200);

fn gather_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + GATHER
}

/// Recommend `due` together (one `recommend_many`: the LLM batches them), off the loop.
fn start_recommendations(work: &mut JoinSet<Done>, advisor: &Advisor, due: Vec<AdvisorInputs>) {
    if due.is_empty() {
        return;
    }
    let advisor = advisor.clone();
    work.spawn(async move {
        // In a task of its own, so a panic comes back as a JoinError (the JoinSet's own error
        // would not say which deployment it was).
        let batch = due.clone();
        let all = advisor.clone();
        match tokio::spawn(async move { all.recommend_many(&batch).await }).await {
            Ok(recs) => Done::Recommendations(recs, Vec::new()),
            Err(e) if due.len() == 1 => {
                let key = due[0].key();
                Done::Recommendations(Vec::new(), vec![(key, join_error_reason(e))])
            }
            Err(_) => {
                // One of them panicked: each alone now, so the card says which.
                let (mut recs, mut failed) = (Vec::new(), Vec::new());
                for inputs in due {
                    let key = inputs.key();
                    let advisor = advisor.clone();
                    match tokio::spawn(async move { advisor.recommend(&inputs).await }).await {
                        Ok(r) => recs.push(r),
                        Err(e) => failed.push((key, join_error_reason(e))),
                    }
                }
                Done::Recommendations(recs, failed)
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AdvisorConfig;
    use crate::sim::{SimCluster, SimWorld};

    #[tokio::test]
    async fn engine_backfills_polls_forecasts_and_recommends_every_deployment() {
        let sim = SimCluster::new(SimWorld::demo(42, 48));
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let opts = EngineOptions {
            poll_every: Duration::from_millis(20),
            ..EngineOptions::default()
        };
        let n = sim.world().snapshot().deployments.len();
        let (_cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
        let mut backfilled = 0;
        let mut snapshots = 0;
        let mut forecasts = HashSet::new();
        let mut recs = HashSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while recs.len() < n {
            let u = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("updates keep coming")
                .expect("engine alive");
            match u {
                Update::Backfill(b) => backfilled = b.len(),
                Update::Snapshot(_) => {
                    snapshots += 1;
                    sim.advance(15);
                }
                Update::Forecasts(k, f) => {
                    let cpu = f.cpu.as_ref().expect("48 h of history forecast");
                    assert_eq!(cpu.points.len(), 360, "{k}");
                    forecasts.insert(k);
                }
                Update::Recommendation(r) => {
                    assert!(
                        forecasts.contains(&r.key()),
                        "recommended after its forecast"
                    );
                    assert!(r.inputs.cpu_forecast.is_some());
                    recs.insert(r.key());
                }
                _ => {}
            }
        }
        assert_eq!(backfilled, n);
        assert!(snapshots >= 1);
        assert_eq!(forecasts.len(), n);
    }

    #[tokio::test]
    async fn the_engines_cards_share_the_clusters_room_between_deployments() {
        let sim = crate::pipeline::tests::full_cluster();
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let opts = EngineOptions {
            poll_every: Duration::from_millis(20),
            ..EngineOptions::default()
        };
        let (_cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
        let mut cards: HashMap<DeploymentKey, Arc<Recommendation>> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while cards.len() < 2 {
            let u = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("updates keep coming")
                .expect("engine alive");
            if let Update::Recommendation(r) = u {
                cards.insert(r.key(), r);
            }
        }
        // Each at 2 replicas; the node has room for 2 more pods between them.
        let added: u32 = cards
            .values()
            .map(|r| r.decision.target_replicas.saturating_sub(2))
            .sum();
        assert_eq!(added, 2, "{cards:?}");
        for r in cards.values() {
            assert!(r.inputs.policy.room.is_some(), "{r:?}");
            assert!(
                r.decision.reasoning.contains("(1000 m CPU spare"),
                "{}",
                r.decision.reasoning
            );
        }
    }

    /// A cluster of fixed deployments whose clock moves 15 s per snapshot; it refuses writes.
    struct Fixed {
        deployments: Vec<crate::model::DeploymentState>,
        time: std::sync::atomic::AtomicI64,
    }

    #[async_trait::async_trait]
    impl Cluster for Fixed {
        fn context(&self) -> String {
            "fixed".into()
        }
        async fn snapshot(&self) -> Result<ClusterSnapshot, crate::cluster::ClusterError> {
            let time = self.time.fetch_add(15, std::sync::atomic::Ordering::SeqCst);
            Ok(ClusterSnapshot {
                context: "fixed".into(),
                time,
                deployments: self.deployments.clone(),
                capacity: None,
            })
        }
        async fn history(
            &self,
        ) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, crate::cluster::ClusterError> {
            Ok(Vec::new())
        }
        async fn write(
            &self,
            _: &DeploymentKey,
            _: &crate::cluster::Change,
        ) -> Result<(), crate::cluster::ClusterError> {
            Err(crate::cluster::ClusterError::ReadOnly("fixed".into()))
        }
        async fn dry_run(
            &self,
            _: &DeploymentKey,
            _: &crate::cluster::Change,
        ) -> Result<(), crate::cluster::ClusterError> {
            Ok(())
        }
    }

    fn state(ns: &str, name: &str) -> crate::model::DeploymentState {
        crate::model::DeploymentState::fixture(ns, name)
            .with_replicas(3)
            .with_bounds(1, 12)
            .with_requests(100, 128)
            .with_usage(Some(50.0), Some(40.0))
    }

    #[tokio::test]
    async fn a_panicking_recommendation_is_shown_and_retried_next_cycle() {
        use crate::advisor::test_panic::{PANIC_NAMESPACE, REMAINING};
        use crate::tui::app::{App, SessionInfo};
        use std::sync::atomic::Ordering;

        // Two panics: the batch's, then the deployment's own when each is recommended alone.
        REMAINING.store(2, Ordering::SeqCst);
        let boom = DeploymentKey::new(PANIC_NAMESPACE, "web");
        let cluster = Fixed {
            deployments: vec![state(PANIC_NAMESPACE, "web"), state("shop", "web")],
            time: std::sync::atomic::AtomicI64::new(1_700_000_000),
        };
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let opts = EngineOptions {
            poll_every: Duration::from_millis(20),
            ..EngineOptions::default()
        };
        let (_cmd, mut rx) = spawn(Arc::new(cluster), advisor, opts);
        let mut app = App::new(SessionInfo::default());
        let mut failed = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let u = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("the panicking deployment is recommended again")
                .expect("engine alive");
            match &u {
                Update::RecommendationFailed(k, why) => {
                    assert_eq!(k, &boom);
                    assert!(why.contains("injected advisor panic for web"), "{why}");
                    app.on_update(u);
                    failed = true;
                    // The card and the status bar say so.
                    let v = &app.deployments[&boom];
                    assert!(v.recommendation_error.is_some());
                    assert!(
                        app.notices["advisor"].contains("no recommendation for panic-test/web"),
                        "{:?}",
                        app.notices
                    );
                    let mut term =
                        ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40))
                            .expect("terminal");
                    crate::tui::ui::prepare(&mut app, ratatui::layout::Rect::new(0, 0, 120, 40));
                    term.draw(|f| crate::tui::ui::render(f, &app))
                        .expect("draws");
                    let screen: String = term
                        .backend()
                        .buffer()
                        .content()
                        .iter()
                        .map(|c| c.symbol())
                        .collect();
                    assert!(screen.contains("Recommendation failed"), "{screen}");
                }
                Update::Recommendation(r) if r.key() == boom => {
                    assert!(failed, "the first attempt panicked");
                    app.on_update(u);
                    assert!(app.deployments[&boom].recommendation_error.is_none());
                    assert!(!app.notices.contains_key("advisor"), "{:?}", app.notices);
                    break;
                }
                _ => app.on_update(u),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recommendations_carry_the_deployments_calibration_once_it_has_run() {
        // 72 h of history: enough to calibrate (48 h) on the earlier part and judge on a day.
        let sim = SimCluster::new(SimWorld::demo(42, 72));
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let opts = EngineOptions {
            poll_every: Duration::from_millis(20),
            ..EngineOptions::default()
        };
        let (_cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let u = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("a calibrated recommendation arrives")
                .expect("engine alive");
            match u {
                Update::Snapshot(_) => sim.advance(15),
                Update::Recommendation(r) => {
                    if let Some(c) = &r.inputs.policy.calibration {
                        assert_eq!(c.held_out_hours, 24.0, "{c:?}");
                        assert!(c.history_hours >= 72.0, "{c:?}");
                        assert_eq!(r.inputs.policy.params, c.params, "it decides with them");
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}
