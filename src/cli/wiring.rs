//! The pipeline's parts a face assembles: the advisor, the history backend and the engine's
//! clock, each built one way for every face.

use std::sync::Arc;
use std::time::Duration;

use super::setup::Setup;
use crate::advisor::Advisor;
use crate::advisor::llm::{LlmAdvisor, LlmSetupError, no_llm_reason};
use crate::advisor::scheduled::Schedule;
use crate::cluster::Cluster;
use crate::engine::EngineOptions;
use crate::fleet::kube_probe::KubeProbe;
use crate::metrics::prometheus::{PrometheusOptions, PrometheusSource};
use crate::metrics::{HistoryBackend, store};

/// The configured LLM; None when no key is set.
pub fn llm_advisor(setup: &Setup) -> Result<Option<LlmAdvisor>, LlmSetupError> {
    LlmAdvisor::from_config(
        &setup.cfg.llm,
        &setup.cfg.advisor,
        setup.config_dir.as_deref(),
        &setup.data_dir,
    )
}

/// The LLM advisor when a key is configured, else the rules with the reason why.
pub fn build_advisor(setup: &Setup) -> Advisor {
    let cfg = &setup.cfg;
    // Schedules were checked when the config was loaded.
    let schedule = Schedule::compile(&cfg.schedules).unwrap_or_default();
    let advisor = match llm_advisor(setup) {
        Ok(Some(llm)) => Advisor::with_llm(cfg.advisor.clone(), Arc::new(llm)),
        Ok(None) => Advisor::rules_only(cfg.advisor.clone(), no_llm_reason(&cfg.llm)),
        Err(e) => {
            tracing::warn!("LLM disabled: {e}");
            Advisor::rules_only(cfg.advisor.clone(), format!("LLM off: {e}"))
        }
    };
    advisor.with_schedule(schedule)
}

/// Live clusters keep their history in the data dir, keyed by kube context, and may backfill
/// from Prometheus. The demo stores nothing: its virtual clock restarts at the same instant
/// every run, so a previous run's minutes would sit in the new run's future, and its warm-up
/// (per seed) is the authoritative history anyway.
pub fn history_backend(setup: &Setup, cluster: &dyn Cluster) -> HistoryBackend {
    if setup.flags.demo {
        return HistoryBackend::default();
    }
    let path = setup.data_dir.join(store::FILE_NAME);
    // A store that cannot be opened is shown by the engine; the history stays in memory.
    let backend = HistoryBackend::open_store(&path, &cluster.context());
    let (prometheus, prometheus_error) = prometheus_source(setup, cluster);
    HistoryBackend {
        prometheus,
        prometheus_error,
        ..backend
    }
}

/// `--prometheus-url`, else `[prometheus] url`, else the cluster's own way to Prometheus (the
/// API server's proxy, discovered at the first backfill); none with `[prometheus] enabled =
/// false`. A bad URL is no source and the reason.
fn prometheus_source(
    setup: &Setup,
    cluster: &dyn Cluster,
) -> (Option<Arc<PrometheusSource>>, Option<String>) {
    let cfg = &setup.cfg.prometheus;
    if !cfg.enabled {
        return (None, None);
    }
    let opts = PrometheusOptions::from_config(cfg);
    let url = setup
        .flags
        .prometheus_url
        .as_deref()
        .or(cfg.url.as_deref())
        .map(str::trim)
        .filter(|u| !u.is_empty());
    match url {
        Some(url) => match PrometheusSource::new(url, opts) {
            Ok(p) => (Some(Arc::new(p)), None),
            Err(e) => {
                tracing::warn!("no prometheus backfill: {e}");
                (None, Some(e.to_string()))
            }
        },
        None => (
            cluster
                .prometheus_transport(opts.timeout)
                .map(|t| Arc::new(PrometheusSource::with_transport(t, opts))),
            None,
        ),
    }
}

/// The last poll's minutes reach the disk before exit.
pub async fn flush_history(history: &HistoryBackend) {
    if let Some(s) = &history.store
        && let Err(e) = s.flush().await
    {
        tracing::warn!("history store: {e}");
    }
}

/// The engine over `history`: a poll per 15 s of cluster time, recommendations as
/// `[advisor] refresh_seconds` says.
pub fn engine_options(setup: &Setup, history: HistoryBackend) -> EngineOptions {
    EngineOptions {
        poll_every: Duration::from_secs_f64(15.0 / setup.demo_speed().unwrap_or(1.0))
            .max(Duration::from_millis(100)),
        recommend_every: setup.cfg.advisor.refresh_seconds as i64,
        history,
        ..EngineOptions::default()
    }
}

/// The fleet's probe of a kube context (`:fleet`, `ai4k8s fleet`): the flags' kubeconfig and
/// namespace, each deployment decided by the policy alone (rules and schedules, never an LLM
/// call), and the configured LLM's status line for its state.
pub fn fleet_probe(setup: &Setup, timeout: Duration) -> KubeProbe {
    let cfg = &setup.cfg;
    let schedule = Schedule::compile(&cfg.schedules).unwrap_or_default();
    let rules = Advisor::rules_only(cfg.advisor.clone(), "fleet summary").with_schedule(schedule);
    let llm = build_advisor(setup);
    KubeProbe {
        kubeconfig: setup.flags.kubeconfig.clone(),
        namespace: setup.flags.namespace.clone(),
        timeout,
        rules,
        llm_status: Arc::new(move || llm.llm_status()),
    }
}
