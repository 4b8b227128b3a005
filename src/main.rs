//! `ai4k8s`: parses the command line and hands it to its face (`src/cli/`), then turns how the
//! face ended into the exit status: 2 with a one-line reason for bad input (DESIGN.md), 1 for
//! any other error.

use std::process::ExitCode;

use clap::Parser;

use ai4k8s::cli::{self, Cli};

#[allow(
    clippy::print_stderr,
    reason = "the one place a failure is told: after the face has given the terminal back"
)]
fn main() -> ExitCode {
    ai4k8s::engine::heap::tune_allocator();
    // A panic report that names where; the TUI restores the terminal first (ratatui's hook).
    if let Err(e) = color_eyre::install() {
        eprintln!("ai4k8s: {e}");
    }
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("ai4k8s: {failure}");
            ExitCode::from(failure.status())
        }
    }
}
