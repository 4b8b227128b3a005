//! `ai4k8s` without a subcommand: the TUI's start. `TuiSessions` is the `Connector` the binary
//! gives `tui::session`: the first session on the cluster the flags name, later ones on other
//! kube contexts (`:ctx`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use super::connect::connect;
use super::output::Failure;
use super::setup::Setup;
use super::wiring::{build_advisor, engine_options, fleet_probe, flush_history, history_backend};
use crate::actions::{Actions, Journal};
use crate::cluster::Cluster;
use crate::cluster::kube::{self, KubeCluster, KubeOptions};
use crate::engine;
use crate::fleet::Probe;
use crate::fleet::kube_probe::KubeProbe;
use crate::metrics::HistoryBackend;
use crate::tui::app::{App, SessionInfo};
use crate::tui::session::{Connector, Session};

/// Runs the TUI until the user quits; every history is flushed at exit. `all_contexts`
/// (`--all-contexts`) opens on the fleet screen.
pub async fn run(setup: &Setup, all_contexts: bool) -> Result<(), Failure> {
    let cfg = &setup.cfg;
    // A bad [keys] binding is bad input, told before anything connects.
    let keymap = crate::tui::keys_config::keymap(&cfg.keys)
        .map_err(|e| Failure::bad_input(format!("config: {e}")))?;
    let cluster = connect(setup, true).await?;
    let probe =
        (!setup.flags.demo).then(|| Arc::new(fleet_probe(setup, crate::fleet::PROBE_TIMEOUT)));
    let sessions = TuiSessions {
        setup: setup.clone(),
        histories: Arc::default(),
        probe,
    };
    let session = sessions
        .start(cluster)
        .map_err(|e| Failure::Error(color_eyre::eyre::eyre!(e)))?;
    let mut app = App::new(session.info.clone());
    app.chart_history_hours = cfg.ui.chart_history_hours;
    app.first_view_wait = Duration::from_millis(cfg.ui.first_view_wait_ms);
    app.keymap = keymap;
    if all_contexts {
        app.contexts = sessions.contexts();
        app.open_fleet();
    }
    let connector: Option<Arc<dyn Connector>> =
        (!setup.flags.demo).then(|| Arc::new(sessions.clone()) as Arc<dyn Connector>);
    let result = crate::tui::run_terminal(
        app,
        session,
        connector,
        Duration::from_millis(cfg.ui.tick_ms),
    )
    .await;
    sessions.flush().await;
    result.map_err(Failure::Error)
}

/// Builds the TUI's sessions. Every history backend made is kept, to be flushed at exit.
#[derive(Clone)]
struct TuiSessions {
    setup: Setup,
    histories: Arc<Mutex<Vec<HistoryBackend>>>,
    /// Probes the contexts the fleet screen lists (None on the demo: one cluster).
    probe: Option<Arc<KubeProbe>>,
}

impl TuiSessions {
    /// The pipeline over `cluster`: history, advisor, guarded actions, engine.
    fn start(&self, cluster: Arc<dyn Cluster>) -> Result<Session, String> {
        let setup = &self.setup;
        let cfg = &setup.cfg;
        let history = history_backend(setup, cluster.as_ref());
        if let Ok(mut all) = self.histories.lock() {
            all.push(history.clone());
        }
        let context = cluster.context();
        let read_only = setup.read_only(&context);
        let journal = Journal::open(&setup.data_dir).map_err(|e| e.to_string())?;
        let actions = Actions::new(cluster.clone(), Arc::new(journal), cfg.limits(), read_only);
        let opts = engine::EngineOptions {
            actions: Some(Arc::new(actions)),
            ..engine_options(setup, history)
        };
        let (commands, updates) = engine::spawn(cluster, build_advisor(setup), opts);
        Ok(Session {
            info: SessionInfo {
                context,
                speed: setup.demo_speed(),
                read_only,
                limits: cfg.limits(),
                stale_after_seconds: cfg.advisor.stale_after_seconds as i64,
                data_dir: Some(setup.data_dir.clone()),
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
        if self.setup.flags.demo {
            return Vec::new();
        }
        kube::contexts(self.setup.flags.kubeconfig.as_deref())
            .map(|(names, _)| names)
            .unwrap_or_default()
    }

    fn connect(&self, context: String) -> BoxFuture<'static, Result<Session, String>> {
        let this = self.clone();
        Box::pin(async move {
            let flags = &this.setup.flags;
            let opts = KubeOptions {
                kubeconfig: flags.kubeconfig.clone(),
                context: Some(context.clone()),
                namespace: flags.namespace.clone(),
                read_only: this.setup.read_only(&context),
                ..KubeOptions::default()
            };
            let cluster = KubeCluster::connect(opts)
                .await
                .map_err(|e| format!("{context}: {e}"))?;
            tracing::info!("switched to context {context}");
            this.start(Arc::new(cluster))
        })
    }

    fn prober(&self) -> Option<Arc<dyn Probe>> {
        self.probe.clone().map(|p| p as Arc<dyn Probe>)
    }
}
