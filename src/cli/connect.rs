//! The cluster a face works on: the simulated one (`--demo`) or the kube context the flags name.

use std::sync::Arc;

use super::output::Failure;
use super::setup::Setup;
use crate::cluster::Cluster;
use crate::cluster::kube::{self, KubeCluster, KubeOptions};
use crate::sim::{SimCluster, SimWorld, scenario};

/// The most deployments `--demo --deployments N` builds.
pub const MAX_FLEET: usize = 100_000;
/// Hours of history a fleet is warmed up with (in the background; the table fills when it is
/// done): stepping every pod of thousands of deployments through days takes minutes.
pub const FLEET_WARM_UP_HOURS: u32 = 1;

/// Connects, or says why not (bad input). `live`: the demo clock runs.
pub async fn connect(setup: &Setup, live: bool) -> Result<Arc<dyn Cluster>, Failure> {
    let flags = &setup.flags;
    if let Some(speed) = setup.demo_speed() {
        check_speed(speed)?;
        let sim = match flags.demo_deployments {
            Some(n) => fleet(setup, n)?,
            None => SimCluster::new(SimWorld::demo(setup.seed(), setup.cfg.demo.history_hours)),
        }
        // 14 days at launch: the weeks before the warm-up, computed in the background.
        .with_backdated_history();
        if live {
            sim.spawn_clock(speed);
        }
        return Ok(Arc::new(sim));
    }
    // The context decides `[contexts.NAME] read_only` before anything is watched.
    let context = match &flags.context {
        Some(c) => Some(c.clone()),
        None => kube::contexts(flags.kubeconfig.as_deref())
            .ok()
            .and_then(|(_, current)| current),
    };
    let read_only = flags.read_only
        || context
            .as_deref()
            .is_some_and(|c| setup.cfg.context_read_only(c));
    let opts = KubeOptions {
        kubeconfig: flags.kubeconfig.clone(),
        context: flags.context.clone(),
        namespace: flags.namespace.clone(),
        read_only,
        ..KubeOptions::default()
    };
    let cluster = KubeCluster::connect(opts)
        .await
        .map_err(Failure::bad_input)?;
    tracing::info!("watching context {}", cluster.context());
    Ok(Arc::new(cluster))
}

/// A simulated clock runs at a speed within (0, 10000] cluster seconds per real second.
pub fn check_speed(speed: f64) -> Result<(), Failure> {
    if speed > 0.0 && speed <= 10_000.0 {
        Ok(())
    } else {
        Err(Failure::bad_input(format!(
            "--speed {speed} must be within (0, 10000]"
        )))
    }
}

/// `--demo --deployments N`: the synthetic fleet (`scenario::fleet`), warmed up in the
/// background so the first frame does not wait for it.
fn fleet(setup: &Setup, n: usize) -> Result<SimCluster, Failure> {
    if !(1..=MAX_FLEET).contains(&n) {
        return Err(Failure::bad_input(format!(
            "--deployments {n} must be within 1..={MAX_FLEET}"
        )));
    }
    let hours = setup.cfg.demo.history_hours.min(FLEET_WARM_UP_HOURS);
    Ok(SimCluster::warming_up(
        SimWorld::new(setup.seed(), scenario::fleet(n)),
        hours,
    ))
}
