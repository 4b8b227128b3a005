//! `ai4k8s autopilot [--dry-run] [--leader-elect …] [--metrics-addr ADDR]`: the autopilot loop
//! (`crate::autopilot`) run headless over the cluster until SIGINT or SIGTERM, each change
//! printed, journalled and recorded as an Event. With `--leader-elect` replicas elect one
//! writer through a Lease; `--metrics-addr` serves /healthz, /readyz and /metrics.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::connect::connect;
use super::output::Failure;
use super::setup::Setup;
use super::wiring::{build_advisor, engine_options, flush_history, history_backend};
use crate::actions::AutopilotOptions;
use crate::actions::{Actions, Journal};
use crate::autopilot::{self, Elector, GatedCluster, Leadership, LeaseOptions, Metrics, Observed};
use crate::cluster::Cluster;
use crate::cluster::kube::kubeconfig;

/// Where a pod's service account says which namespace it runs in.
const POD_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

#[derive(Debug, Clone, Args)]
pub struct AutopilotArgs {
    /// Journal what would be done without writing to the cluster.
    #[arg(long)]
    pub dry_run: bool,
    /// Elect one writer among replicas through a coordination.k8s.io/v1 Lease; only the
    /// leader decides and writes.
    #[arg(long)]
    pub leader_elect: bool,
    #[arg(long, default_value = "ai4k8s-autopilot", value_name = "NAME")]
    pub lease_name: String,
    /// Default: the pod's namespace in a cluster (service account, or $POD_NAMESPACE), else
    /// `default`.
    #[arg(long, value_name = "NS")]
    pub lease_namespace: Option<String>,
    /// This replica's name on the Lease. Default: $POD_NAME or the hostname, plus the pid.
    #[arg(long, value_name = "ID")]
    pub identity: Option<String>,
    /// Seconds a leader's record stands without renewal; a standby takes over after it.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub lease_duration: u64,
    /// Seconds between renewals (and a standby's retries); below 3/4 of --lease-duration.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub renew_every: f64,
    /// Serve /healthz, /readyz and /metrics (Prometheus text) on this address, e.g. 0.0.0.0:8080.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

/// The pod's namespace in a cluster, else `default`.
fn default_lease_namespace() -> String {
    std::fs::read_to_string(POD_NAMESPACE_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "default".into())
}

/// $POD_NAME or the hostname, plus the pid (two processes on one host stay apart).
fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string(Path::new("/etc/hostname")).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ai4k8s".into());
    format!("{host}_{}", std::process::id())
}

fn lease_options(args: &AutopilotArgs) -> Result<LeaseOptions, Failure> {
    if !(args.renew_every.is_finite() && args.renew_every > 0.0) {
        return Err(Failure::bad_input(format!(
            "--renew-every {} must be a positive number of seconds",
            args.renew_every
        )));
    }
    let opts = LeaseOptions {
        name: args.lease_name.clone(),
        namespace: args
            .lease_namespace
            .clone()
            .unwrap_or_else(default_lease_namespace),
        identity: args.identity.clone().unwrap_or_else(default_identity),
        duration: Duration::from_secs(args.lease_duration),
        renew_every: Duration::from_secs_f64(args.renew_every),
        scope: None,
    };
    opts.check().map_err(Failure::bad_input)?;
    Ok(opts)
}

/// A read-only context without `--dry-run` is bad input.
#[allow(
    clippy::print_stdout,
    reason = "the headless face: its log lines are its output"
)]
pub async fn run(setup: &Setup, args: &AutopilotArgs) -> Result<(), Failure> {
    let cfg = &setup.cfg;
    let dry_run = args.dry_run;
    let lease = args
        .leader_elect
        .then(|| lease_options(args))
        .transpose()?
        .map(|l| LeaseOptions {
            scope: setup.flags.namespace.clone(),
            ..l
        });
    let cluster = connect(setup, true).await?;
    let read_only = setup.read_only(&cluster.context());
    if read_only && !dry_run {
        return Err(Failure::bad_input(
            "autopilot: this context is read-only; use --dry-run",
        ));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (leadership, elector) = match &lease {
        Some(opts) => {
            if setup.demo_speed().is_some() {
                return Err(Failure::bad_input(
                    "autopilot: --leader-elect needs a cluster with Leases, not --demo",
                ));
            }
            let conn = kubeconfig::connect(
                setup.flags.kubeconfig.as_deref(),
                setup.flags.context.as_deref(),
            )
            .await
            .map_err(Failure::bad_input)?;
            let elector = Elector::new(conn.client, opts.clone());
            let leadership = elector.leadership();
            let mut stop = stop_rx.clone();
            let task = tokio::spawn(elector.run(async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
            (leadership, Some(task))
        }
        None => (Leadership::sole(), None),
    };
    let cluster: Arc<dyn Cluster> = Arc::new(GatedCluster::new(cluster, leadership.clone()));
    let metrics = Metrics::new(leadership.clone());
    let observer = match args.metrics_addr {
        Some(addr) => {
            let (local, task) = autopilot::observe::serve(addr, metrics.clone())
                .await
                .map_err(|e| Failure::bad_input(format!("--metrics-addr {addr}: {e}")))?;
            println!("metrics on http://{local}/metrics (health: /healthz, /readyz)");
            Some(task)
        }
        None => None,
    };
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
    if let Some(l) = &lease {
        println!(
            "leader election: lease {}/{} as {} (duration {} s, renew every {:?})",
            l.namespace,
            l.name,
            l.identity,
            l.duration.as_secs(),
            l.renew_every
        );
    }
    let advisor = build_advisor(setup);
    let observed = Observed {
        leadership: leadership.clone(),
        metrics,
    };
    let done = autopilot::run(
        cluster,
        advisor,
        actions,
        engine_opts,
        opts,
        observed,
        shutdown_signal(),
        |line| println!("{line}"),
    )
    .await;
    // Stop writing first, then hand the Lease over.
    leadership.step_down();
    let _ = stop_tx.send(true);
    if let Some(task) = elector {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Some(task) = observer {
        task.abort();
    }
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
