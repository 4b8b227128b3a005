//! `ai4k8s recommend NS/NAME | --all [-o json]`: the pipeline run once over the cluster, its
//! recommendations printed. A bad name or an unknown deployment exits 2 with one line.

use super::connect::connect;
use super::output::{Failure, Output, print_stdout};
use super::setup::Setup;
use super::text;
use super::wiring::{build_advisor, history_backend};
use crate::model::DeploymentKey;
use crate::pipeline;

/// `deployment`: `NAMESPACE/NAME`, or None for every deployment.
#[allow(
    clippy::print_stderr,
    reason = "warnings go to stderr so `-o json` stays parseable"
)]
pub async fn run(setup: &Setup, deployment: Option<&str>, output: Output) -> Result<(), Failure> {
    let bad = |e: String| Failure::bad_input(format!("recommend: {e}"));
    let wanted = deployment
        .map(str::parse::<DeploymentKey>)
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let cluster = connect(setup, false).await?;
    let advisor = build_advisor(setup);
    let history = history_backend(setup, cluster.as_ref());
    let recs = pipeline::recommend(cluster.as_ref(), &history, &advisor, wanted.as_ref())
        .await
        .map_err(|e| bad(e.to_string()))?;
    // Missing or stale data (no metrics-server, RBAC) weakens the answer: say so.
    if let Some(problems) = cluster.status().summary() {
        eprintln!("ai4k8s: warning: {problems}");
    }
    if let Some(problem) = history.store_notice() {
        eprintln!("ai4k8s: warning: {problem}");
    }
    let text = match (output, wanted.is_some()) {
        // One deployment asked for: one object, not a list of one.
        (Output::Json, true) => serde_json::to_string_pretty(&recs.first())?,
        (Output::Json, false) => serde_json::to_string_pretty(&recs)?,
        (Output::Text, _) => recs
            .iter()
            .map(|r| text::recommendation(&r.recommendation))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    print_stdout(&text)
}
