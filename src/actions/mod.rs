//! Acting on the cluster: every write from any face (TUI keys, autopilot, undo) goes through
//! `Actions::execute`, which re-reads the deployment, runs the guard, applies the plan's
//! changes in order (rolling back the earlier ones if a later one fails, so nothing is half
//! applied), and journals the outcome.

pub mod guard;
pub mod journal;
pub mod plan;

use std::sync::{Arc, Mutex};

use crate::cluster::{Cluster, ClusterError, annotations};
use crate::model::{DeploymentKey, DeploymentState, Recommendation, UnixSeconds};

pub use guard::{Limits, Refusal};
pub use journal::{Entry, EntryKind, Journal, Outcome, RecommendationNote};
pub use plan::{Change, Intent, NothingToApply, Plan};

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
        if !dry_run {
            let mut done: Vec<&Change> = Vec::new();
            for change in &plan.changes {
                if let Err(e) = self.apply_change(&plan.key, change).await {
                    // Undo what went through, newest first: nothing is left half applied.
                    for applied in done.iter().rev() {
                        if let Some(inv) = applied.inverse()
                            && let Err(re) = self.apply_change(&plan.key, &inv).await
                        {
                            tracing::error!("rollback of {} failed: {re}", plan.key);
                        }
                    }
                    self.record(&plan, now, Err(e.to_string()), false)?;
                    return Err(match e {
                        ClusterError::Conflict(reason) => ActionError::Conflict {
                            reason,
                            fresh: self
                                .fresh_state(&plan.key)
                                .await
                                .ok()
                                .map(|(s, _)| Box::new(s)),
                        },
                        other => ActionError::Cluster(other),
                    });
                }
                done.push(change);
            }
        }
        self.record(&plan, now, Ok(()), dry_run)?;
        if !dry_run && plan.intent != Intent::Undo && plan.inverse().is_some() {
            self.undo
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(plan.clone());
        }
        Ok(Executed { plan, dry_run })
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
        };
        self.write_entry(&plan, EntryKind::Dismiss, cluster_time, Ok(()), false)
    }

    async fn apply_change(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        let c = &self.cluster;
        match change {
            Change::Scale { to, .. } => c.scale(key, *to).await,
            Change::HpaMin { to, .. } => c.patch_hpa(key, Some(*to), None).await,
            Change::HpaBounds { to, .. } => c.patch_hpa(key, Some(to.0), Some(to.1)).await,
            Change::HpaTarget { to, .. } => c.patch_hpa_target(key, *to).await,
            Change::FloorMark { to, .. } => {
                c.annotate(
                    key,
                    &[(
                        annotations::FLOOR.to_string(),
                        to.map(|m| m.to_annotation()),
                    )],
                )
                .await
            }
            Change::BoundsAnnotations { to, .. } => {
                c.annotate(
                    key,
                    &[
                        (
                            annotations::MIN_REPLICAS.to_string(),
                            to.0.map(|v| v.to_string()),
                        ),
                        (
                            annotations::MAX_REPLICAS.to_string(),
                            to.1.map(|v| v.to_string()),
                        ),
                    ],
                )
                .await
            }
            Change::Predictive { to, .. } => {
                c.annotate(
                    key,
                    &[(
                        annotations::PREDICTIVE.to_string(),
                        to.then(|| "true".to_string()),
                    )],
                )
                .await
            }
            Change::CreateHpa { spec } => c.create_hpa(key, spec).await,
        }
    }

    fn record(
        &self,
        plan: &Plan,
        now: UnixSeconds,
        outcome: Result<(), String>,
        dry_run: bool,
    ) -> Result<(), ActionError> {
        self.write_entry(plan, plan.intent.into(), now, outcome, dry_run)
    }

    fn write_entry(
        &self,
        plan: &Plan,
        kind: EntryKind,
        now: UnixSeconds,
        outcome: Result<(), String>,
        dry_run: bool,
    ) -> Result<(), ActionError> {
        let entry = Entry {
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
            outcome: Outcome {
                ok: outcome.is_ok(),
                error: outcome.err(),
                dry_run,
            },
        };
        self.journal
            .append(&entry)
            .map_err(|e| ActionError::Journal(e.to_string()))
    }
}
