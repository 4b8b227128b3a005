//! The autopilot's gate: whether a recommendation is applied by itself. Only deployments that
//! opted in with the seed's predictive-autoscaling annotation, through the same actions (guard,
//! journal) as the keys, plus a per-deployment cooldown and a minimum confidence. The loop
//! that feeds it from the engine is `crate::autopilot`; the backtest replays through it too.

use std::collections::HashMap;

use super::{ActionError, Actions, Intent, Plan, plan};
use crate::model::{DeploymentKey, DeploymentState, Recommendation, UnixSeconds, rfc3339};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutopilotOptions {
    /// Cluster seconds after a change before one that takes capacity away.
    pub cooldown_seconds: i64,
    pub min_confidence: f64,
    /// Journal what would be done, write nothing.
    pub dry_run: bool,
    /// Act on deployments a GitOps controller tracks (it may put the change back; only worth
    /// it where its sync ignores these fields).
    pub apply_gitops: bool,
}

impl AutopilotOptions {
    /// The `[actions]` autopilot settings.
    pub fn from_config(actions: &crate::config::ActionsConfig, dry_run: bool) -> Self {
        Self {
            cooldown_seconds: actions.autopilot_cooldown_seconds as i64,
            min_confidence: actions.autopilot_min_confidence,
            dry_run,
            apply_gitops: actions.autopilot_apply_gitops,
        }
    }
}

/// Why the autopilot left a recommendation alone.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Skip {
    #[error("predictive autoscaling not enabled")]
    NotEnabled,
    /// Missing inputs or a deployment scaled to zero: nothing is applied whatever the advice.
    #[error("{0}: no action")]
    NoAction(crate::advisor::policy::NoAction),
    #[error("confidence {0:.2} below the minimum")]
    LowConfidence(f64),
    #[error("cooling down for {0} s")]
    Cooldown(i64),
    #[error("{0}")]
    Nothing(String),
    /// A GitOps controller tracks it: a change would be put back at its next sync.
    #[error("{0} would revert it (set actions.autopilot_apply_gitops to act anyway)")]
    GitOps(String),
}

/// The autopilot's memory: when it last changed each deployment. The cooldown only holds back
/// changes that take capacity away: a floor raised ahead of a forecast peak never waits.
#[derive(Clone, Debug)]
pub struct Autopilot {
    opts: AutopilotOptions,
    last_change: HashMap<DeploymentKey, UnixSeconds>,
}

impl Autopilot {
    pub fn new(opts: AutopilotOptions) -> Self {
        Self {
            opts,
            last_change: HashMap::new(),
        }
    }

    pub fn options(&self) -> AutopilotOptions {
        self.opts
    }

    /// The plan to carry out for `rec`, or why not.
    pub fn decide(
        &self,
        state: &DeploymentState,
        rec: &Recommendation,
        now: UnixSeconds,
    ) -> Result<Plan, Skip> {
        if !state.predictive_enabled {
            return Err(Skip::NotEnabled);
        }
        if let Some(g) = &state.ownership.gitops
            && !self.opts.apply_gitops
        {
            return Err(Skip::GitOps(format!("{} ({})", g.tool, g.detail)));
        }
        // From the deployment as it is now, not only as the recommendation saw it.
        let now_inputs = crate::model::AdvisorInputs {
            current_replicas: state.desired_replicas,
            ..rec.inputs.clone()
        };
        if let Some(why) = crate::advisor::policy::no_action_reason(&now_inputs) {
            return Err(Skip::NoAction(why));
        }
        if rec.decision.confidence < self.opts.min_confidence {
            return Err(Skip::LowConfidence(rec.decision.confidence));
        }
        if rec.change.reduces_capacity()
            && let Some(&t) = self.last_change.get(&state.key)
        {
            let left = self.opts.cooldown_seconds - (now - t);
            if left > 0 {
                return Err(Skip::Cooldown(left));
            }
        }
        let p = plan::plan_apply(state, rec).map_err(|e| Skip::Nothing(e.to_string()))?;
        Ok(Plan {
            intent: Intent::Autopilot,
            ..p
        })
    }

    /// Remember a change made at `now` (starts the cooldown).
    pub fn changed(&mut self, key: &DeploymentKey, now: UnixSeconds) {
        self.last_change.insert(key.clone(), now);
    }

    /// Decide and, if there is something to do, do it through `actions`. Returns a line for the
    /// log when something was done (or would be, in a dry run).
    pub async fn act(
        &mut self,
        actions: &Actions,
        state: &DeploymentState,
        rec: &Recommendation,
        now: UnixSeconds,
    ) -> Option<String> {
        let plan = match self.decide(state, rec, now) {
            Ok(p) => p,
            Err(skip) => {
                tracing::debug!("autopilot: {}: {skip}", state.key);
                return None;
            }
        };
        let what = plan.describe().join("; ");
        let dry_run = self.opts.dry_run;
        match actions.execute(plan, dry_run).await {
            Ok(_) => {
                self.changed(&state.key, now);
                Some(format!(
                    "{} {}{}: {what} ({} {:.0}%)",
                    rfc3339(now),
                    state.key,
                    if dry_run { " [dry run]" } else { "" },
                    rec.source.as_str(),
                    rec.decision.confidence * 100.0
                ))
            }
            Err(ActionError::Conflict { reason, .. }) => {
                // The next recommendation will be made from the new state.
                tracing::info!("autopilot: {}: changed meanwhile: {reason}", state.key);
                None
            }
            Err(e) => Some(format!("{} {}: failed: {e}", rfc3339(now), state.key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::Advisor;
    use crate::advisor::policy::NoAction;
    use crate::config::AdvisorConfig;
    use crate::model::{AdvisorInputs, PolicyChange};

    fn state(replicas: u32, cpu: Option<f64>) -> DeploymentState {
        DeploymentState::fixture("ns", "app")
            .with_replicas(replicas)
            .with_bounds(1, 8)
            .with_usage(cpu, cpu)
            .with_predictive(true)
    }

    /// A confident scale-up to `to`, as a (cached, or LLM) recommendation might carry.
    async fn confident(s: &DeploymentState, to: u32) -> Recommendation {
        let inputs = AdvisorInputs::from_state(s, None, None, 1_700_000_000);
        let mut r = Advisor::rules_only(AdvisorConfig::default(), "test")
            .recommend(&inputs)
            .await;
        r.change = PolicyChange::Replicas {
            from: s.desired_replicas,
            to,
        };
        r.decision.confidence = 0.99;
        r
    }

    #[tokio::test]
    async fn no_metrics_or_zero_replicas_mean_no_action_at_any_confidence() {
        let pilot = Autopilot::new(AutopilotOptions {
            cooldown_seconds: 300,
            min_confidence: 0.7,
            dry_run: false,
            apply_gitops: false,
        });
        let blind = state(3, None);
        let r = confident(&blind, 5).await;
        assert_eq!(
            pilot.decide(&blind, &r, 1_700_000_000),
            Err(Skip::NoAction(NoAction::NoMetrics))
        );
        let zero = state(0, None);
        let r = confident(&zero, 1).await;
        assert_eq!(
            pilot.decide(&zero, &r, 1_700_000_000),
            Err(Skip::NoAction(NoAction::ScaledToZero))
        );
        // With metrics the same confident change goes through.
        let seen = state(3, Some(90.0));
        let r = confident(&seen, 5).await;
        assert!(pilot.decide(&seen, &r, 1_700_000_000).is_ok());
    }

    #[tokio::test]
    async fn a_gitops_tracked_deployment_is_left_alone_unless_configured() {
        use crate::model::ownership::{GitOps, GitOpsTool, Ownership};
        let tracked = state(3, Some(95.0)).with_ownership(Ownership {
            gitops: Some(GitOps {
                tool: GitOpsTool::ArgoCd,
                detail: "application shop".into(),
            }),
            ..Ownership::default()
        });
        let r = confident(&tracked, 5).await;
        let opts = AutopilotOptions {
            cooldown_seconds: 300,
            min_confidence: 0.7,
            dry_run: false,
            apply_gitops: false,
        };
        let skip = Autopilot::new(opts)
            .decide(&tracked, &r, 1_700_000_000)
            .expect_err("skipped");
        assert_eq!(skip, Skip::GitOps("Argo CD (application shop)".into()));
        assert!(skip.to_string().contains("would revert it"), "{skip}");
        let plan = Autopilot::new(AutopilotOptions {
            apply_gitops: true,
            ..opts
        })
        .decide(&tracked, &r, 1_700_000_000)
        .expect("applied when configured");
        assert!(!plan.changes.is_empty());
    }
}
