//! The autopilot loop: recommendations from the engine, applied by the gate
//! ([`crate::actions::gate`]) headless until shut down. Under leader election only the replica
//! whose [`Leadership`] gate is open acts; every change is counted ([`Metrics`]) and recorded
//! as a Kubernetes Event on the deployment.

pub mod gated;
pub mod leader;
pub mod metrics;
pub mod observe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::actions::{Actions, Autopilot, AutopilotOptions, Plan, Skip};
use crate::advisor::Advisor;
use crate::cluster::{ChangeEvent, Cluster};
use crate::engine::{self, EngineOptions, Update};
use crate::model::{
    DeploymentKey, DeploymentState, PolicyChange, RecommendationSource, UnixSeconds,
};

pub use gated::GatedCluster;
pub use leader::{Elector, Leadership, LeaseOptions};
pub use metrics::Metrics;

/// The component named on the Events the autopilot records.
pub const EVENT_COMPONENT: &str = "ai4k8s-autopilot";
/// Event messages are capped like the apiserver caps them (1 kB).
const EVENT_MESSAGE_MAX: usize = 1024;

/// Who is acting and what is watched: the gate every decision waits on, and the counters.
#[derive(Clone, Debug)]
pub struct Observed {
    pub leadership: Leadership,
    pub metrics: Metrics,
}

impl Observed {
    /// No election: this process is the only writer.
    pub fn sole() -> Self {
        let leadership = Leadership::sole();
        Self {
            metrics: Metrics::new(leadership.clone()),
            leadership,
        }
    }
}

fn change_kind(c: &PolicyChange) -> &'static str {
    match c {
        PolicyChange::Floor { .. } => "floor",
        PolicyChange::Release { .. } => "release",
        PolicyChange::Target { .. } => "target",
        PolicyChange::Replicas { .. } => "replicas",
        PolicyChange::Maintain => "maintain",
        PolicyChange::AtMax => "at_max",
    }
}

fn skip_reason(s: &Skip) -> &'static str {
    match s {
        Skip::NotEnabled => "not_enabled",
        Skip::NoAction(_) => "no_action",
        Skip::LowConfidence(_) => "low_confidence",
        Skip::Cooldown(_) => "cooldown",
        Skip::Nothing(_) => "nothing_to_apply",
        Skip::GitOps(_) => "gitops",
    }
}

/// The Event for a plan: its reason names the kind of change, its message says before →
/// after and why.
pub fn change_event(plan: &Plan, instance: &str) -> ChangeEvent {
    let reason = match plan.recommendation.as_deref().map(|r| &r.change) {
        Some(PolicyChange::Floor { .. }) => "AutopilotRaisedFloor",
        Some(PolicyChange::Release { .. }) => "AutopilotReleasedFloor",
        Some(PolicyChange::Target { .. }) => "AutopilotMovedTarget",
        _ => "AutopilotScaled",
    };
    let mut message = format!("{}: {}", plan.describe().join("; "), plan.reason.trim());
    if message.len() > EVENT_MESSAGE_MAX {
        let mut cut = EVENT_MESSAGE_MAX - 1;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    ChangeEvent {
        reason: reason.into(),
        message,
        component: EVENT_COMPONENT.into(),
        instance: instance.to_string(),
    }
}

/// Run headless until `shutdown` resolves: recommendations from the engine, applied by the
/// autopilot while `observed.leadership` lets this replica write. Each action is printed
/// through `log`, journalled, and recorded as an Event on its deployment.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cluster: Arc<dyn Cluster>,
    advisor: Advisor,
    actions: Arc<Actions>,
    engine_opts: EngineOptions,
    opts: AutopilotOptions,
    observed: Observed,
    shutdown: impl Future<Output = ()>,
    mut log: impl FnMut(&str),
) -> usize {
    let (_commands, mut updates) = engine::spawn(cluster.clone(), advisor, engine_opts);
    let mut pilot = Autopilot::new(opts);
    let mut states: HashMap<DeploymentKey, DeploymentState> = HashMap::new();
    let mut now: UnixSeconds = 0;
    let mut done = 0;
    let Observed {
        leadership,
        metrics,
    } = observed;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            u = updates.recv() => match u {
                None => break,
                Some(Update::Snapshot(s)) => {
                    now = s.time;
                    states = s.deployments.iter().map(|d| (d.key.clone(), d.clone())).collect();
                    metrics.synced();
                }
                Some(Update::Recommendation(r)) => {
                    metrics.decision(change_kind(&r.change), r.source == RecommendationSource::Llm);
                    let Some(state) = states.get(&r.key()) else { continue };
                    // Only the leader decides; a standby keeps its history warm and waits.
                    if !leadership.may_write() {
                        metrics.refusal("not_leader");
                        continue;
                    }
                    let plan = match pilot.decide(state, &r, now) {
                        Ok(p) => p,
                        Err(skip) => {
                            metrics.refusal(skip_reason(&skip));
                            continue;
                        }
                    };
                    let event = change_event(&plan, leadership.identity());
                    match pilot.act(&actions, state, &r, now).await {
                        // The gate words a failed write so (a refusal of the guard included).
                        Some(line) if line.contains(": failed: ") => {
                            metrics.refusal("failed");
                            log(&line);
                        }
                        Some(line) => {
                            done += 1;
                            log(&line);
                            if opts.dry_run {
                                metrics.write("dry_run");
                            } else {
                                metrics.write("applied");
                                if let Err(e) = cluster.record_event(&state.key, &event).await {
                                    log(&format!("{}: event not recorded: {e}", state.key));
                                }
                            }
                        }
                        None => metrics.refusal("conflict"),
                    }
                }
                Some(Update::LlmStatus(line)) => metrics.llm_status(&line),
                Some(Update::ClusterError(e)) => log(&format!("cluster: {e}")),
                // E.g. a write a crash interrupted: the operator must hear of it.
                Some(Update::Notice(source, Some(text))) => log(&format!("{source}: {text}")),
                Some(Update::RecommendationFailed(key, why)) => {
                    log(&format!("{key}: no recommendation: {why}"));
                }
                Some(_) => {}
            }
        }
    }
    done
}
