//! Acting on the cluster: every write from any face (TUI keys, autopilot, undo) goes through
//! `Actions::execute`, which re-reads the deployment, runs the guard, journals the intent,
//! applies the plan's changes in order (rolling back the earlier ones if a later one fails, so
//! nothing is half applied), and journals the outcome. An intent without an outcome is a write
//! that may have happened: `Journal::unfinished` finds them at start.

pub mod gate;
pub mod gitops;
pub mod guard;
pub mod journal;
pub mod owners;
pub mod plan;

use std::sync::{Arc, Mutex};

use crate::cluster::{Cluster, ClusterError};
use crate::model::{DeploymentKey, DeploymentState, Recommendation, UnixSeconds};

/// A change lives with the `Cluster` trait that takes it (`cluster::change`); plans, the guard
/// and the journal are made of it.
pub use crate::cluster::Change;
pub use gate::{Autopilot, AutopilotOptions, Skip};
pub use guard::{Limits, Refusal};
pub use journal::{Entry, EntryKind, Journal, Outcome, RecommendationNote};
pub use plan::{Intent, NothingToApply, Plan};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error("read-only: writes are disabled (--read-only or read_only in the config)")]
    ReadOnly,
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The object changed under us (409); the fresh state is attached so the caller can ask
    /// again with a plan made from it.
    #[error("conflict: {reason}")]
    Conflict {
        reason: String,
        fresh: Option<Box<DeploymentState>>,
    },
    #[error("{0}")]
    Cluster(ClusterError),
    /// A later change failed and undoing the earlier ones failed too: the deployment is left
    /// half changed, and the user must know which parts.
    #[error(
        "{error}; rolling back failed, so the deployment is half changed: {}; check it with kubectl",
        rollback.join("; ")
    )]
    PartlyApplied {
        error: ClusterError,
        rollback: Vec<String>,
    },
    #[error("nothing to undo")]
    NothingToUndo,
    #[error("journal: {0}")]
    Journal(String),
}

/// A write that went through.
#[derive(Clone, Debug, PartialEq)]
pub struct Executed {
    pub plan: Plan,
    pub dry_run: bool,
    /// What went wrong after the write (the journal could not record its outcome).
    pub note: Option<String>,
}

/// The one door to cluster writes.
pub struct Actions {
    cluster: Arc<dyn Cluster>,
    journal: Arc<Journal>,
    limits: Limits,
    read_only: bool,
    /// Plans applied in this session, newest last (for `u`).
    undo: Mutex<Vec<Plan>>,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actions")
            .field("context", &self.cluster.context())
            .field("limits", &self.limits)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl Actions {
    pub fn new(
        cluster: Arc<dyn Cluster>,
        journal: Arc<Journal>,
        limits: Limits,
        read_only: bool,
    ) -> Self {
        Self {
            cluster,
            journal,
            limits,
            read_only,
            undo: Mutex::new(Vec::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The deployment as the cluster shows it now.
    pub async fn fresh_state(
        &self,
        key: &DeploymentKey,
    ) -> Result<(DeploymentState, UnixSeconds), ActionError> {
        let snap = self
            .cluster
            .snapshot()
            .await
            .map_err(ActionError::Cluster)?;
        let state = snap
            .deployments
            .into_iter()
            .find(|d| &d.key == key)
            .ok_or_else(|| {
                ActionError::Cluster(ClusterError::NotFound(format!("deployment {key}")))
            })?;
        Ok((state, snap.time))
    }

    /// Check and carry out `plan`; with `dry_run` only check and journal it.
    pub async fn execute(&self, plan: Plan, dry_run: bool) -> Result<Executed, ActionError> {
        if self.read_only && !dry_run {
            return Err(ActionError::ReadOnly);
        }
        let (state, now) = self.fresh_state(&plan.key).await?;
        if let Err(refusal) = guard::check(&plan, &state, self.limits) {
            self.record(&plan, now, Err(refusal.to_string()), dry_run)?;
            return Err(match refusal {
                Refusal::Stale(reason) => ActionError::Conflict {
                    reason,
                    fresh: Some(Box::new(state)),
                },
                other => ActionError::Refused(other),
            });
        }
        if dry_run {
            self.record(&plan, now, Ok(()), true)?;
            return Ok(Executed {
                plan,
                dry_run,
                note: None,
            });
        }
        // The intent first: a crash during the write leaves a line saying it may have happened.
        // Without it nothing is written.
        let id = journal::new_id();
        self.write_entry(
            &plan,
            plan.intent.into(),
            now,
            Outcome::pending(),
            Some(&id),
        )
        .map_err(|e| ActionError::Journal(format!("{e}: nothing was written")))?;
        let result = self.apply_all(&plan).await;
        if result.is_ok() && plan.intent != Intent::Undo && plan.inverse().is_some() {
            // Undoable even if the outcome line below cannot be written.
            self.undo
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(plan.clone());
        }
        let outcome = match &result {
            Ok(()) => Outcome::done(),
            Err(e) => Outcome::failed(e.to_string()),
        };
        let journalled = self.write_entry(&plan, plan.intent.into(), now, outcome, Some(&id));
        if let (Err(_), Err(e)) = (&result, &journalled) {
            // The user sees the write's error; the journal keeps the intent, told at next start.
            tracing::error!(
                "journal: the outcome of a failed write to {} was not recorded: {e}",
                plan.key
            );
        }
        match result {
            Ok(()) => Ok(Executed {
                plan,
                dry_run,
                note: journalled
                    .err()
                    .map(|e| format!("written, but the journal could not record it ({e})")),
            }),
            Err(ActionError::Cluster(ClusterError::Conflict(reason))) => {
                Err(ActionError::Conflict {
                    reason,
                    fresh: self
                        .fresh_state(&plan.key)
                        .await
                        .ok()
                        .map(|(s, _)| Box::new(s)),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Apply the plan's changes in order; if one fails, undo those that went through, newest
    /// first, so nothing is left half applied, or say exactly what is.
    async fn apply_all(&self, plan: &Plan) -> Result<(), ActionError> {
        let mut done: Vec<&Change> = Vec::new();
        for change in &plan.changes {
            if let Err(e) = self.cluster.write(&plan.key, change).await {
                let mut rollback = Vec::new();
                for applied in done.iter().rev() {
                    let Some(inv) = applied.inverse() else {
                        rollback.push(format!("{} cannot be undone", applied.describe(&plan.key)));
                        continue;
                    };
                    if let Err(re) = self.cluster.write(&plan.key, &inv).await {
                        tracing::error!("rollback of {} failed: {re}", plan.key);
                        rollback.push(format!("{} stays ({re})", applied.describe(&plan.key)));
                    }
                }
                return Err(if rollback.is_empty() {
                    ActionError::Cluster(e)
                } else {
                    ActionError::PartlyApplied { error: e, rollback }
                });
            }
            done.push(change);
        }
        Ok(())
    }

    /// Restore what the last change made from this app replaced.
    pub async fn undo_last(&self) -> Result<Executed, ActionError> {
        let last = self.undo.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some(last) = last else {
            return Err(ActionError::NothingToUndo);
        };
        let Some(inverse) = last.inverse() else {
            return Err(ActionError::NothingToUndo);
        };
        match self.execute(inverse, false).await {
            Ok(e) => Ok(e),
            Err(err) => {
                // Keep it undoable after e.g. a passing network error.
                self.undo
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(last);
                Err(err)
            }
        }
    }

    /// How many changes `u` can undo.
    pub fn undo_depth(&self) -> usize {
        self.undo.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Journal a dismissed recommendation (no cluster write).
    pub fn dismiss(
        &self,
        rec: &Recommendation,
        cluster_time: UnixSeconds,
    ) -> Result<(), ActionError> {
        let plan = Plan {
            key: rec.key(),
            intent: Intent::Apply,
            changes: Vec::new(),
            reason: "dismissed".into(),
            recommendation: Some(Box::new(rec.clone())),
            warning: None,
            ownership: Default::default(),
        };
        self.write_entry(
            &plan,
            EntryKind::Dismiss,
            cluster_time,
            Outcome::done(),
            None,
        )
        .map_err(|e| ActionError::Journal(e.to_string()))
    }

    /// Journal a plan that was refused or only checked (one line: nothing was written).
    fn record(
        &self,
        plan: &Plan,
        now: UnixSeconds,
        outcome: Result<(), String>,
        dry_run: bool,
    ) -> Result<(), ActionError> {
        let outcome = match outcome {
            Ok(()) => Outcome::done(),
            Err(e) => Outcome::failed(e),
        };
        let outcome = Outcome { dry_run, ..outcome };
        self.write_entry(plan, plan.intent.into(), now, outcome, None)
            .map_err(|e| ActionError::Journal(e.to_string()))
    }

    fn write_entry(
        &self,
        plan: &Plan,
        kind: EntryKind,
        now: UnixSeconds,
        outcome: Outcome,
        id: Option<&str>,
    ) -> std::io::Result<()> {
        let entry = Entry {
            id: id.map(str::to_string),
            time: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            cluster_time: now,
            user: journal::current_user(),
            context: self.cluster.context(),
            namespace: plan.key.namespace.clone(),
            name: plan.key.name.clone(),
            kind,
            changes: plan.changes.clone(),
            reason: plan.reason.clone(),
            recommendation: plan.recommendation.as_deref().map(|r| RecommendationNote {
                action: r.decision.action,
                target_replicas: r.decision.target_replicas,
                confidence: r.decision.confidence,
                source: r.source,
                model: r.model.clone(),
                reasoning: r.decision.reasoning.clone(),
                created_at: r.created_at.clone(),
            }),
            outcome,
        };
        self.journal.append(&entry)
    }
}
