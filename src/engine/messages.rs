//! What the engine and its faces say to each other: updates out, commands in, and the
//! engine's options.

use std::sync::Arc;
use std::time::Duration;

use crate::actions::{Actions, Plan, journal};
use crate::backtest;
use crate::metrics::HistoryBackend;
use crate::model::{ClusterSnapshot, DeploymentKey, Recommendation, Sample, ScalingAction};
use crate::pipeline::Forecasts;

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
    /// Answer to `Command::History`, and again whenever more of that deployment's history
    /// arrives (Prometheus, the simulator's weeks before its warm-up): its newest minutes, as
    /// many as the TUI charts.
    History(DeploymentKey, Vec<Sample>),
    /// Hold the table's first frame while this happens ("reading 14 d of history via …"), or
    /// (None) draw it: the selected deployment has its backfilled forecast and card.
    FirstView(Option<String>),
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
    /// Send this deployment's recent history (the one the TUI draws), now and whenever it
    /// grows by more than a poll; replaces the deployment asked for before.
    History(DeploymentKey),
    /// What the user sees: the selected deployment first, then the other rows on screen.
    /// Their forecasts and calibrations go first on the worker pool.
    Focus(Vec<DeploymentKey>),
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
    /// Minute samples of history sent to the faces in the backfill (none by default: the TUI
    /// asks for the one deployment it draws with `Command::History`).
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
            backfill_minutes: 0,
            actions: None,
            history: HistoryBackend::default(),
        }
    }
}
