//! `ai4k8s completions SHELL`: a completion script generated from the clap definitions, so it
//! always knows every subcommand and flag.

use clap_complete::Shell;

use super::output::{Failure, write_stdout};

/// Prints the script for `shell` that completes `command`.
pub fn print(shell: Shell, mut command: clap::Command) -> Result<(), Failure> {
    let name = command.get_name().to_string();
    // Into a buffer first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    write_stdout(&script)
}
