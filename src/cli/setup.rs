//! What every face needs besides its own flags: the config, the directories beside it, the
//! global flags, and the log file in the data dir.

use std::path::{Path, PathBuf};

use super::global::Global;
use super::output::Failure;
use crate::config::{self, Config};
use crate::private_files;

#[derive(Clone, Debug)]
pub struct Setup {
    pub cfg: Config,
    /// Prompt overrides and a relative key file live beside the config file.
    pub config_dir: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub flags: Global,
}

impl Setup {
    /// Loads the config the flags name (a bad one is bad input) and finds the data dir.
    pub fn load(flags: Global) -> Result<Self, Failure> {
        let (cfg, config_file) = Config::load(flags.config.as_deref())
            .map_err(|e| Failure::bad_input(format!("config: {e}")))?;
        let data_dir = config::data_dir(flags.data_dir.as_deref());
        let config_dir = config_file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .or_else(|| {
                config::default_config_path().and_then(|p| p.parent().map(Path::to_path_buf))
            });
        Ok(Self {
            cfg,
            config_dir,
            data_dir,
            flags,
        })
    }

    /// The demo clock's speed (`--speed`, else `[demo] speed`); None on a live cluster.
    pub fn demo_speed(&self) -> Option<f64> {
        self.flags
            .demo
            .then(|| self.flags.speed.unwrap_or(self.cfg.demo.speed))
    }

    /// The simulated cluster's seed (`--seed`, else `[demo] seed`).
    pub fn seed(&self) -> u64 {
        self.flags.seed.unwrap_or(self.cfg.demo.seed)
    }

    /// `--read-only`, or `[contexts.NAME] read_only` for `context`.
    pub fn read_only(&self, context: &str) -> bool {
        self.flags.read_only || self.cfg.context_read_only(context)
    }
}

/// Log lines queued for the writer thread before new ones are dropped.
const LOG_QUEUE_LINES: usize = 4096;

/// Logs go to `DATA_DIR/logs/ai4k8s.log`, never to the terminal the TUI draws on.
pub fn init_logging(
    data_dir: &Path,
) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    // The log names clusters and quotes LLM replies: 0600 in 0700 dirs, opened here because
    // tracing_appender's own file would be created 0644.
    private_files::ensure_dir(data_dir)?;
    let dir = data_dir.join("logs");
    private_files::ensure_dir(&dir)?;
    let file = private_files::open(
        &dir.join("ai4k8s.log"),
        std::fs::OpenOptions::new().append(true).create(true),
    )?;
    // The default queue of 128,000 lines is 4 MB allocated and touched up front; the app logs a
    // few lines a second at most, and a full queue drops lines rather than block.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .finish(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("AI4K8S_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}
