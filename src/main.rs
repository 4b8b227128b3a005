//! `ai4k8s`: CLI dispatch, logging to a file, and the wiring of cluster → engine → face.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use ai4k8s::actions::{Actions, Journal};
use ai4k8s::advisor::Advisor;
use ai4k8s::advisor::llm::{LlmAdvisor, no_llm_reason};
use ai4k8s::advisor::scheduled::Schedule;
use ai4k8s::autopilot::{self, AutopilotOptions};
use ai4k8s::cli::{Cli, Commands, Output, SimCommand};
use ai4k8s::cluster::Cluster;
use ai4k8s::cluster::kube::{KubeCluster, KubeOptions};
use ai4k8s::cluster::sim::{SimCluster, SimWorld};
use ai4k8s::config::{self, Config};
use ai4k8s::engine::{self, EngineOptions};
use ai4k8s::metrics::prometheus::PrometheusSource;
use ai4k8s::metrics::{HistoryBackend, store};
use ai4k8s::model::DeploymentKey;
use ai4k8s::tui::session::{Connector, Session};
use ai4k8s::tui::{self, app::App, app::SessionInfo};
use ai4k8s::{forecast, pipeline, render_text};
use futures::future::BoxFuture;

/// Exit status for bad input (DESIGN.md: 2 with a one-line reason).
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("ai4k8s: {e}");
    }
    let cli = Cli::parse();
    let (cfg, config_file) = match Config::load(cli.global.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ai4k8s: config: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let data_dir = config::data_dir(cli.global.data_dir.as_deref());
    let _log_guard = match init_logging(&data_dir) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("ai4k8s: cannot log to {}: {e}", data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ai4k8s: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Prompt overrides and a relative key file live beside the config file.
    let config_dir = config_file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(|| config::default_config_path().and_then(|p| p.parent().map(Path::to_path_buf)));
    let setup = Setup {
        cfg,
        config_dir,
        data_dir,
    };
    match runtime.block_on(run(cli, setup)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("ai4k8s: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What every command needs besides its flags.
#[derive(Clone)]
struct Setup {
    cfg: Config,
    config_dir: Option<PathBuf>,
    data_dir: PathBuf,
}

async fn run(mut cli: Cli, setup: Setup) -> color_eyre::Result<ExitCode> {
    let cfg = &setup.cfg;
    match cli.command.take() {
        Some(Commands::Sim {
            command:
                SimCommand::Serve {
                    port,
                    speed,
                    deployments,
                    write_kubeconfig,
                    faults,
                },
        }) => {
            if !(speed > 0.0 && speed <= 10_000.0) {
                eprintln!("ai4k8s: --speed {speed} must be within (0, 10000]");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            ai4k8s::simserve::run(ai4k8s::simserve::ServeArgs {
                seed: cli.global.seed.unwrap_or(cfg.demo.seed),
                port,
                speed,
                deployments,
                history_hours: cfg.demo.history_hours,
                kubeconfig: write_kubeconfig,
                read_only: cli.global.read_only,
                faults,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Commands::Forecast {
            input,
            horizon,
            output,
        }) => {
            let horizon = match forecast::command::parse_horizon(&horizon) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("ai4k8s: forecast: --horizon {horizon}: {e}");
                    return Ok(ExitCode::from(BAD_INPUT));
                }
            };
            match forecast::command::run(&input, horizon, output == Output::Json) {
                Ok(text) => print_stdout(text.trim_end()),
                Err(e) => {
                    eprintln!("ai4k8s: forecast: {e}");
                    Ok(ExitCode::from(e.exit_code().clamp(1, 255) as u8))
                }
            }
        }
        Some(Commands::Autopilot { dry_run }) => {
            let Some(cluster) = connect(&cli, cfg, true).await? else {
                return Ok(ExitCode::from(BAD_INPUT));
            };
            let read_only = cli.global.read_only || cfg.context_read_only(&cluster.context());
            if read_only && !dry_run {
                eprintln!("ai4k8s: autopilot: this context is read-only; use --dry-run");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            let journal = Arc::new(Journal::open(&setup.data_dir)?);
            let actions = Arc::new(Actions::new(
                cluster.clone(),
                journal.clone(),
                cfg.limits(),
                read_only,
            ));
            let speed = cli.demo.then(|| cli.speed.unwrap_or(cfg.demo.speed));
            let history = history_backend(cli.demo, &setup, cluster.as_ref());
            if let Some(problem) = history.store_notice() {
                println!("warning: {problem}");
            }
            let engine_opts = EngineOptions {
                poll_every: Duration::from_secs_f64(15.0 / speed.unwrap_or(1.0))
                    .max(Duration::from_millis(100)),
                recommend_every: cfg.advisor.refresh_seconds as i64,
                history: history.clone(),
                ..EngineOptions::default()
            };
            let opts = AutopilotOptions::from_config(&cfg.actions, dry_run);
            println!(
                "ai4k8s autopilot on {}{}: journal {}; stop with ctrl-c",
                cluster.context(),
                if dry_run { " (dry run)" } else { "" },
                journal.path().display()
            );
            let advisor = build_advisor(&setup);
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
            Ok(ExitCode::SUCCESS)
        }
        Some(Commands::Backtest(args)) => backtest(&args, &setup).await,
        Some(Commands::Recommend {
            deployment,
            all: _,
            output,
        }) => {
            let wanted = match deployment.as_deref().map(str::parse::<DeploymentKey>) {
                Some(Ok(k)) => Some(k),
                Some(Err(e)) => {
                    eprintln!("ai4k8s: recommend: {e}");
                    return Ok(ExitCode::from(BAD_INPUT));
                }
                None => None,
            };
            let Some(cluster) = connect(&cli, cfg, false).await? else {
                return Ok(ExitCode::from(BAD_INPUT));
            };
            let advisor = build_advisor(&setup);
            let history = history_backend(cli.demo, &setup, cluster.as_ref());
            let recs =
                match pipeline::recommend(cluster.as_ref(), &history, &advisor, wanted.as_ref())
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("ai4k8s: recommend: {e}");
                        return Ok(ExitCode::from(BAD_INPUT));
                    }
                };
            // Missing or stale data (no metrics-server, RBAC) weakens the answer: say so.
            if let Some(problems) = cluster.status().summary() {
                eprintln!("ai4k8s: warning: {problems}");
            }
            if let Some(problem) = history.store_notice() {
                eprintln!("ai4k8s: warning: {problem}");
            }
            let text = match (output, wanted.is_some()) {
                (Output::Json, true) => serde_json::to_string_pretty(&recs[0])?,
                (Output::Json, false) => serde_json::to_string_pretty(&recs)?,
                (Output::Text, _) => recs
                    .iter()
                    .map(|r| render_text::recommendation(&r.recommendation))
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            print_stdout(&text)
        }
        None => {
            let keymap = match tui::keys_config::keymap(&cfg.keys) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("ai4k8s: config: {e}");
                    return Ok(ExitCode::from(BAD_INPUT));
                }
            };
            let Some(cluster) = connect(&cli, cfg, true).await? else {
                return Ok(ExitCode::from(BAD_INPUT));
            };
            let sessions = TuiSessions {
                setup: setup.clone(),
                demo: cli.demo,
                speed: cli.demo.then(|| cli.speed.unwrap_or(cfg.demo.speed)),
                read_only_flag: cli.global.read_only,
                kubeconfig: cli.global.kubeconfig.clone(),
                namespace: cli.global.namespace.clone(),
                histories: Arc::default(),
            };
            let session = sessions
                .start(cluster)
                .map_err(|e| color_eyre::eyre::eyre!(e))?;
            let mut app = App::new(session.info.clone());
            app.chart_history_hours = cfg.ui.chart_history_hours;
            app.keymap = keymap;
            let connector: Option<Arc<dyn Connector>> =
                (!cli.demo).then(|| Arc::new(sessions.clone()) as Arc<dyn Connector>);
            let result = tui::run_terminal(
                app,
                session,
                connector,
                Duration::from_millis(cfg.ui.tick_ms),
            )
            .await;
            sessions.flush().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Builds the TUI's sessions: the first on the cluster the flags name, later ones on other
/// kube contexts (`:ctx`). Every history backend made is flushed at exit.
#[derive(Clone)]
struct TuiSessions {
    setup: Setup,
    demo: bool,
    speed: Option<f64>,
    read_only_flag: bool,
    kubeconfig: Option<PathBuf>,
    namespace: Option<String>,
    histories: Arc<std::sync::Mutex<Vec<HistoryBackend>>>,
}

impl TuiSessions {
    /// The pipeline over `cluster`: history, advisor, guarded actions, engine.
    fn start(&self, cluster: Arc<dyn Cluster>) -> Result<Session, String> {
        let cfg = &self.setup.cfg;
        let history = history_backend(self.demo, &self.setup, cluster.as_ref());
        if let Ok(mut all) = self.histories.lock() {
            all.push(history.clone());
        }
        let context = cluster.context();
        let read_only = self.read_only_flag || cfg.context_read_only(&context);
        let journal = Journal::open(&self.setup.data_dir).map_err(|e| e.to_string())?;
        let actions = Actions::new(cluster.clone(), Arc::new(journal), cfg.limits(), read_only);
        let opts = EngineOptions {
            // Poll once per 15 s of cluster time.
            poll_every: Duration::from_secs_f64(15.0 / self.speed.unwrap_or(1.0))
                .max(Duration::from_millis(100)),
            recommend_every: cfg.advisor.refresh_seconds as i64,
            history,
            actions: Some(Arc::new(actions)),
            ..EngineOptions::default()
        };
        let (commands, updates) = engine::spawn(cluster, build_advisor(&self.setup), opts);
        Ok(Session {
            info: SessionInfo {
                context,
                speed: self.speed,
                read_only,
                limits: cfg.limits(),
                stale_after_seconds: cfg.advisor.stale_after_seconds as i64,
            },
            commands,
            updates,
        })
    }

    async fn flush(&self) {
        let all = self.histories.lock().map(|h| h.clone()).unwrap_or_default();
        for h in &all {
            flush_history(h).await;
        }
    }
}

impl Connector for TuiSessions {
    fn contexts(&self) -> Vec<String> {
        if self.demo {
            return Vec::new();
        }
        ai4k8s::cluster::kube::contexts(self.kubeconfig.as_deref())
            .map(|(names, _)| names)
            .unwrap_or_default()
    }

    fn connect(&self, context: String) -> BoxFuture<'static, Result<Session, String>> {
        let this = self.clone();
        Box::pin(async move {
            let read_only = this.read_only_flag || this.setup.cfg.context_read_only(&context);
            let opts = KubeOptions {
                kubeconfig: this.kubeconfig.clone(),
                context: Some(context.clone()),
                namespace: this.namespace.clone(),
                read_only,
                ..KubeOptions::default()
            };
            let cluster = KubeCluster::connect(opts)
                .await
                .map_err(|e| format!("{context}: {e}"))?;
            tracing::info!("switched to context {context}");
            this.start(Arc::new(cluster))
        })
    }
}

/// `ai4k8s backtest`: bad trace files, flags and a missing LLM key exit 2 with one line.
async fn backtest(
    args: &ai4k8s::backtest::args::BacktestArgs,
    setup: &Setup,
) -> color_eyre::Result<ExitCode> {
    use ai4k8s::backtest::{self, PolicyKind};
    use ai4k8s::traces::{self, Gaps};
    let bad = |why: String| {
        eprintln!("ai4k8s: backtest: {why}");
        Ok(ExitCode::from(BAD_INPUT))
    };
    let (policies, opts) = match (args.policies(), args.options()) {
        (Ok(p), Ok(o)) => (p, o),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let gaps = if args.fill_gaps {
        Gaps::FillWithLast
    } else {
        Gaps::Reject
    };
    let trace = match traces::load(&args.trace, gaps) {
        Ok(t) => t,
        Err(e) if e.reason.contains("irregular") && !args.fill_gaps => {
            return bad(format!("{e} (--fill-gaps fills holes with the last value)"));
        }
        Err(e) => return bad(e.to_string()),
    };
    let report = if policies.contains(&PolicyKind::Llm) {
        let advisor = match LlmAdvisor::from_config(
            &setup.cfg.llm,
            &setup.cfg.advisor,
            setup.config_dir.as_deref(),
            &setup.data_dir,
        ) {
            Ok(Some(llm)) => Advisor::with_llm(setup.cfg.advisor.clone(), Arc::new(llm)),
            Ok(None) => {
                return bad(format!(
                    "--policies llm needs an LLM key: {} (set it, or leave llm out)",
                    no_llm_reason(&setup.cfg.llm)
                ));
            }
            Err(e) => return bad(format!("--policies llm: {e}")),
        };
        backtest::run_with_advisor(&trace, &opts, &policies, &advisor).await
    } else {
        backtest::run(&trace, &opts, &policies)
    };
    match report {
        Ok(r) => print_stdout(&match args.output {
            Output::Json => r.to_json(),
            Output::Text => r.to_table(),
        }),
        Err(e) => bad(format!("{}: {e}", args.trace.display())),
    }
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

/// Print to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_stdout(text: &str) -> color_eyre::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

/// The cluster to work on; None after printing why there is none. `live`: the demo clock runs.
async fn connect(
    cli: &Cli,
    cfg: &Config,
    live: bool,
) -> color_eyre::Result<Option<Arc<dyn Cluster>>> {
    if cli.demo {
        let seed = cli.global.seed.unwrap_or(cfg.demo.seed);
        let speed = cli.speed.unwrap_or(cfg.demo.speed);
        if !(speed > 0.0 && speed <= 10_000.0) {
            eprintln!("ai4k8s: --speed {speed} must be within (0, 10000]");
            return Ok(None);
        }
        let sim = SimCluster::new(SimWorld::demo(seed, cfg.demo.history_hours));
        if live {
            sim.spawn_clock(speed);
        }
        return Ok(Some(Arc::new(sim)));
    }
    // The context decides `[contexts.NAME] read_only` before anything is watched.
    let kubeconfig = cli.global.kubeconfig.as_deref();
    let context = match &cli.global.context {
        Some(c) => Some(c.clone()),
        None => ai4k8s::cluster::kube::contexts(kubeconfig)
            .ok()
            .and_then(|(_, current)| current),
    };
    let read_only =
        cli.global.read_only || context.as_deref().is_some_and(|c| cfg.context_read_only(c));
    let opts = KubeOptions {
        kubeconfig: cli.global.kubeconfig.clone(),
        context: cli.global.context.clone(),
        namespace: cli.global.namespace.clone(),
        read_only,
        ..KubeOptions::default()
    };
    match KubeCluster::connect(opts).await {
        Ok(c) => {
            tracing::info!("watching context {}", c.context());
            Ok(Some(Arc::new(c)))
        }
        Err(e) => {
            eprintln!("ai4k8s: {e}");
            Ok(None)
        }
    }
}

/// Live clusters keep their history in the data dir, keyed by kube context, and may backfill
/// from Prometheus. The demo stores nothing: its virtual clock restarts at the same instant
/// every run, so a previous run's minutes would sit in the new run's future, and its warm-up
/// (per seed) is the authoritative history anyway.
fn history_backend(demo: bool, setup: &Setup, cluster: &dyn Cluster) -> HistoryBackend {
    if demo {
        return HistoryBackend::default();
    }
    let path = setup.data_dir.join(store::FILE_NAME);
    // A store that cannot be opened is shown by the engine; the history stays in memory.
    let backend = HistoryBackend::open_store(&path, &cluster.context());
    let prometheus = PrometheusSource::from_config(&setup.cfg.prometheus)
        .inspect_err(|e| tracing::warn!("no prometheus backfill: {e}"))
        .ok()
        .flatten()
        .map(Arc::new);
    HistoryBackend {
        prometheus,
        ..backend
    }
}

/// The last poll's minutes reach the disk before exit.
async fn flush_history(history: &HistoryBackend) {
    if let Some(s) = &history.store
        && let Err(e) = s.flush().await
    {
        tracing::warn!("history store: {e}");
    }
}

/// The LLM advisor when a key is configured, else the rules with the reason why.
fn build_advisor(setup: &Setup) -> Advisor {
    let cfg = &setup.cfg;
    // Schedules were checked when the config was loaded.
    let schedule = Schedule::compile(&cfg.schedules).unwrap_or_default();
    let advisor = match LlmAdvisor::from_config(
        &cfg.llm,
        &cfg.advisor,
        setup.config_dir.as_deref(),
        &setup.data_dir,
    ) {
        Ok(Some(llm)) => Advisor::with_llm(cfg.advisor.clone(), Arc::new(llm)),
        Ok(None) => Advisor::rules_only(cfg.advisor.clone(), no_llm_reason(&cfg.llm)),
        Err(e) => {
            tracing::warn!("LLM disabled: {e}");
            Advisor::rules_only(cfg.advisor.clone(), format!("LLM off: {e}"))
        }
    };
    advisor.with_schedule(schedule)
}

/// Logs go to `DATA_DIR/logs/ai4k8s.log`, never to the terminal the TUI draws on.
fn init_logging(data_dir: &Path) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    use ai4k8s::private_files;
    // The log names clusters and quotes LLM replies: 0600 in 0700 dirs, opened here because
    // tracing_appender's own file would be created 0644.
    private_files::ensure_dir(data_dir)?;
    let dir = data_dir.join("logs");
    private_files::ensure_dir(&dir)?;
    let file = private_files::open(
        &dir.join("ai4k8s.log"),
        std::fs::OpenOptions::new().append(true).create(true),
    )?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("AI4K8S_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}
