//! The probe of a kube context: connect with it (read-only), take one snapshot, summarise,
//! and drop the connection (its watches stop with it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::probe::Probe;
use super::reason::classify;
use super::row::{Answer, LlmState, Unreachable};
use super::summary::summarise;
use crate::advisor::Advisor;
use crate::cluster::kube::{KubeCluster, KubeOptions};
use crate::cluster::{Cluster, SourceState};

/// The advisor's status line now (the LLM's state as the open sessions' advisors see it).
pub type LlmStatus = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
pub struct KubeProbe {
    pub kubeconfig: Option<PathBuf>,
    /// Watch one namespace (`--namespace`), as the sessions do.
    pub namespace: Option<String>,
    /// The longest the first lists may take.
    pub timeout: Duration,
    /// Decides each deployment: rules only, never an LLM call.
    pub rules: Advisor,
    pub llm_status: LlmStatus,
}

impl Probe for KubeProbe {
    fn probe(&self, context: String) -> BoxFuture<'static, Result<Answer, Unreachable>> {
        let this = self.clone();
        Box::pin(async move {
            let opts = KubeOptions {
                kubeconfig: this.kubeconfig.clone(),
                context: Some(context),
                namespace: this.namespace.clone(),
                read_only: true,
                first_sync_timeout: this.timeout,
                request_timeout: this.timeout,
                ..KubeOptions::default()
            };
            let cluster = KubeCluster::connect(opts).await.map_err(|e| classify(&e))?;
            let snapshot = cluster.snapshot().await.map_err(|e| classify(&e))?;
            let no_metrics = cluster
                .status()
                .sources
                .into_iter()
                .find(|s| s.source == "pod metrics" && s.state != SourceState::Ok)
                .map(|s| {
                    s.detail
                        .unwrap_or_else(|| "pod metrics not available".to_string())
                });
            let llm = LlmState::from_status(&(this.llm_status)());
            let summary = summarise(&snapshot, &this.rules, llm).await;
            Ok(Answer {
                summary,
                no_metrics,
            })
        })
    }
}
