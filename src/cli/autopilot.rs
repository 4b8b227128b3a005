//! `ai4k8s autopilot [--dry-run]`: the autopilot loop (`crate::autopilot`) run headless over the
//! cluster until SIGINT or SIGTERM, each change printed and journalled.

use std::sync::Arc;

use super::connect::connect;
use super::output::Failure;
use super::setup::Setup;
use super::wiring::{build_advisor, engine_options, flush_history, history_backend};
use crate::actions::AutopilotOptions;
use crate::actions::{Actions, Journal};
use crate::autopilot;

/// A read-only context without `--dry-run` is bad input.
#[allow(
    clippy::print_stdout,
    reason = "the headless face: its log lines are its output"
)]
pub async fn run(setup: &Setup, dry_run: bool) -> Result<(), Failure> {
    let cfg = &setup.cfg;
    let cluster = connect(setup, true).await?;
    let read_only = setup.read_only(&cluster.context());
    if read_only && !dry_run {
        return Err(Failure::bad_input(
            "autopilot: this context is read-only; use --dry-run",
        ));
    }
    let journal = Arc::new(Journal::open(&setup.data_dir)?);
    let actions = Arc::new(Actions::new(
        cluster.clone(),
        journal.clone(),
        cfg.limits(),
        read_only,
    ));
    let history = history_backend(setup, cluster.as_ref());
    if let Some(problem) = history.store_notice() {
        println!("warning: {problem}");
    }
    let engine_opts = engine_options(setup, history.clone());
    let opts = AutopilotOptions::from_config(&cfg.actions, dry_run);
    println!(
        "ai4k8s autopilot on {}{}: journal {}; stop with ctrl-c",
        cluster.context(),
        if dry_run { " (dry run)" } else { "" },
        journal.path().display()
    );
    let advisor = build_advisor(setup);
    let done = autopilot::run(
        cluster,
        advisor,
        actions,
        engine_opts,
        opts,
        shutdown_signal(),
        |line| println!("{line}"),
    )
    .await;
    println!("autopilot stopped after {done} change(s)");
    flush_history(&history).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
