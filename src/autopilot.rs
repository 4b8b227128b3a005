//! The autopilot loop: recommendations from the engine, applied by the gate
//! ([`crate::actions::gate`]) headless until shut down.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::actions::{Actions, Autopilot, AutopilotOptions};
use crate::advisor::Advisor;
use crate::cluster::Cluster;
use crate::engine::{self, EngineOptions, Update};
use crate::model::{DeploymentKey, DeploymentState, UnixSeconds};

/// Run headless until `shutdown` resolves: recommendations from the engine, applied by the
/// autopilot. Each action is printed through `log` and journalled.
pub async fn run(
    cluster: Arc<dyn Cluster>,
    advisor: Advisor,
    actions: Arc<Actions>,
    engine_opts: EngineOptions,
    opts: AutopilotOptions,
    shutdown: impl Future<Output = ()>,
    mut log: impl FnMut(&str),
) -> usize {
    let (_commands, mut updates) = engine::spawn(cluster, advisor, engine_opts);
    let mut pilot = Autopilot::new(opts);
    let mut states: HashMap<DeploymentKey, DeploymentState> = HashMap::new();
    let mut now: UnixSeconds = 0;
    let mut done = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            u = updates.recv() => match u {
                None => break,
                Some(Update::Snapshot(s)) => {
                    now = s.time;
                    states = s.deployments.iter().map(|d| (d.key.clone(), d.clone())).collect();
                }
                Some(Update::Recommendation(r)) => {
                    if let Some(state) = states.get(&r.key())
                        && let Some(line) = pilot.act(&actions, state, &r, now).await
                    {
                        done += 1;
                        log(&line);
                    }
                }
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
