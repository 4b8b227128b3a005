//! How a face answers: text or JSON on stdout, and how it fails. DESIGN.md's CLI contract: bad
//! input exits 2 with a one-line reason; any other error exits 1.

use std::fmt::Display;
use std::io::Write;

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Exit status for bad input.
pub const BAD_INPUT: u8 = 2;

/// Why a face stopped short. `main` prints `ai4k8s: ` and the reason, and exits with `status()`.
#[derive(Debug)]
pub enum Failure {
    /// A one-line reason and its exit status (`BAD_INPUT` for bad input).
    Reason { status: u8, reason: String },
    /// Anything else: exit status 1; the whole chain goes to the log.
    Error(color_eyre::Report),
}

impl Failure {
    /// Bad input: exit status 2 with `reason`.
    pub fn bad_input(reason: impl Display) -> Self {
        Self::Reason {
            status: BAD_INPUT,
            reason: reason.to_string(),
        }
    }

    pub fn status(&self) -> u8 {
        match self {
            Self::Reason { status, .. } => *status,
            Self::Error(_) => 1,
        }
    }
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Reason { reason, .. } => f.write_str(reason),
            Self::Error(e) => write!(f, "{e}"),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

/// Print `text` and a newline to stdout.
pub fn print_stdout(text: &str) -> Result<(), Failure> {
    write_stdout(format!("{text}\n").as_bytes())
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_exits_2_and_other_errors_1_each_with_its_one_line() {
        let bad = Failure::bad_input("recommend: expected NAMESPACE/NAME");
        assert_eq!(
            (bad.status(), bad.to_string().as_str()),
            (2, "recommend: expected NAMESPACE/NAME")
        );
        let io = std::io::Error::other("disk full");
        let err = Failure::from(io);
        assert_eq!((err.status(), err.to_string().as_str()), (1, "disk full"));
    }
}
