//! `ai4k8s sim serve`: the simulated cluster as a Kubernetes API on 127.0.0.1.

use super::args::SimCommand;
use super::connect::check_speed;
use super::output::Failure;
use super::setup::Setup;
use crate::sim::serve::{self, ServeArgs};

/// Serves until Ctrl-C; a speed out of range is bad input.
pub async fn run(setup: &Setup, command: SimCommand) -> Result<(), Failure> {
    let SimCommand::Serve {
        port,
        speed,
        deployments,
        write_kubeconfig,
        faults,
        owners,
    } = command;
    check_speed(speed)?;
    serve::run(ServeArgs {
        seed: setup.seed(),
        port,
        speed,
        deployments,
        history_hours: setup.cfg.demo.history_hours,
        kubeconfig: write_kubeconfig,
        read_only: setup.flags.read_only,
        faults,
        owners,
    })
    .await?;
    Ok(())
}
