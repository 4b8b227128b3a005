//! The command-line faces (DESIGN.md "CLI contract"): every clap definition, the wiring they
//! share, and one file per face.
//!
//! - `args` (the subcommands), `global` (the global flags), `output` (text or JSON, exit
//!   statuses);
//! - the wiring: `setup` (config, data dir, log file), `connect` (the demo or a kube context),
//!   `wiring` (advisor, history backend, engine clock);
//! - the faces: `tui` (no subcommand), `recommend`, `forecast`, `autopilot`, `backtest`,
//!   `sim_serve`, `completions`, `fleet`; `text` renders recommendations as text.

pub mod args;
pub mod autopilot;
pub mod backtest;
pub mod completions;
pub mod connect;
pub mod fleet;
pub mod forecast;
pub mod global;
pub mod output;
pub mod recommend;
pub mod setup;
pub mod sim_serve;
pub mod text;
pub mod tui;
pub mod wiring;

use clap::CommandFactory;

pub use args::{Cli, Commands};
pub use output::Failure;

/// Tokio's blocking threads at most (file reads, the journal, DNS look-ups).
const MAX_BLOCKING_THREADS: usize = 4;

/// Runs the face the command line names. Errors other than bad input are logged in full.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let Cli {
        global,
        command,
        all_contexts,
    } = cli;
    // Needs no config and writes no log: it works before anything is set up.
    if let Some(Commands::Completions { shell }) = command {
        return completions::print(shell, Cli::command());
    }
    let setup = setup::Setup::load(global)?;
    let _log_guard = setup::init_logging(&setup.data_dir).map_err(|e| {
        Failure::Error(color_eyre::eyre::eyre!(
            "cannot log to {}: {e}",
            setup.data_dir.display()
        ))
    })?;
    // CPU work runs on the engine's worker pool (one thread per core); the blocking pool only
    // serves short file and DNS calls, so a handful of threads bounds it (tokio's default of
    // 512 let a fleet's forecasts start a thread each).
    // The TUI's frames are drawn on this thread (`block_on`); the runtime's threads run the
    // engine and yield to it. Headless commands have no frames to favour.
    let tui = command.is_none();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .on_thread_start(move || {
            if tui {
                crate::engine::priority::lower_this_threads_priority(
                    crate::engine::priority::RUNTIME_NICER_BY,
                )
            }
        })
        .enable_all()
        .build()?;
    runtime
        .block_on(dispatch(command, &setup, all_contexts))
        .inspect_err(|f| {
            if let Failure::Error(e) = f {
                tracing::error!("{e:#}");
            }
        })
}

async fn dispatch(
    command: Option<Commands>,
    setup: &setup::Setup,
    all_contexts: bool,
) -> Result<(), Failure> {
    match command {
        None => tui::run(setup, all_contexts).await,
        Some(Commands::Recommend {
            deployment,
            all: _,
            output,
        }) => recommend::run(setup, deployment.as_deref(), output).await,
        Some(Commands::Forecast {
            input,
            horizon,
            output,
        }) => forecast::print(&input, &horizon, output),
        Some(Commands::Autopilot(args)) => autopilot::run(setup, &args).await,
        Some(Commands::Backtest(args)) => backtest::run(setup, &args).await,
        Some(Commands::Sim { command }) => sim_serve::run(setup, command).await,
        // `run` answers it before the setup; the same answer here.
        Some(Commands::Completions { shell }) => completions::print(shell, Cli::command()),
        Some(Commands::Fleet { output }) => fleet::run(setup, output).await,
    }
}
