//! The pipeline's steps as plain functions: history → forecasts → advisor inputs →
//! recommendation. The engine (TUI), the headless commands and the backtest all call these, so
//! the three faces cannot disagree about what a recommendation is made of.

use std::collections::HashMap;

use crate::advisor::Advisor;
use crate::cluster::{Cluster, ClusterError};
use crate::forecast::{self, ForecastOptions, SeriesInput};
use crate::metrics::History;
use crate::metrics::backend::HistoryBackend;
use crate::metrics::history::Metric;
use crate::model::{
    AdvisorInputs, ClusterSnapshot, DeploymentKey, DeploymentState, Forecast, Recommendation,
    Sample,
};

/// Two weeks of minutes: the longest history a forecast is made from.
pub const HISTORY_MINUTES: usize = 14 * 24 * 60;

/// The CPU and memory forecasts of one deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Forecasts {
    pub cpu: Option<Forecast>,
    pub mem: Option<Forecast>,
    /// Why a forecast is missing (too little history, …).
    pub error: Option<String>,
}

/// Forecast both metrics from a history. CPU-bound: run it off the async threads.
pub fn forecast_history(history: &History, opts: ForecastOptions) -> Forecasts {
    let one = |metric| {
        let (start, values) = history.regular(metric, HISTORY_MINUTES);
        forecast::forecast(
            SeriesInput {
                start,
                step_seconds: crate::metrics::MINUTE as u32,
                values: &values,
            },
            opts,
        )
    };
    let cpu = one(Metric::Cpu);
    let mem = one(Metric::Memory);
    let error = cpu.as_ref().err().map(|e| e.to_string());
    Forecasts {
        cpu: cpu.ok(),
        mem: mem.ok(),
        error,
    }
}

/// The advisor's inputs for one deployment.
pub fn inputs(state: &DeploymentState, forecasts: &Forecasts, now: i64) -> AdvisorInputs {
    AdvisorInputs::from_state(state, forecasts.cpu.as_ref(), forecasts.mem.as_ref(), now)
}

/// Build histories the way the engine does at start — the store, then the cluster's own
/// history, then Prometheus — for the headless commands' one-shot view. A history source that
/// fails is logged and skipped: the recommendation is still made, from less history.
pub async fn load_histories(
    cluster: &dyn Cluster,
    backend: &HistoryBackend,
) -> Result<(ClusterSnapshot, HashMap<DeploymentKey, History>), ClusterError> {
    let snapshot = cluster.snapshot().await?;
    let mut histories: HashMap<DeploymentKey, History> = HashMap::new();
    let mut add = |series: Vec<(DeploymentKey, Vec<Sample>)>| {
        for (key, samples) in series {
            histories
                .entry(key)
                .or_insert_with(|| History::with_capacity(HISTORY_MINUTES))
                .extend(samples);
        }
    };
    match backend.stored().await {
        Ok(s) => add(s),
        Err(e) => tracing::warn!("history store: {e}"),
    }
    add(cluster.history().await?);
    match backend.prometheus(&snapshot).await {
        Ok(b) => add(b.series),
        Err(e) => tracing::warn!("prometheus backfill: {e}"),
    }
    Ok((snapshot, histories))
}

/// One-shot recommendations for the deployments `wanted` selects (all when None).
pub async fn recommend(
    cluster: &dyn Cluster,
    backend: &HistoryBackend,
    advisor: &Advisor,
    wanted: Option<&DeploymentKey>,
) -> Result<Vec<Recommendation>, ClusterError> {
    let (snapshot, histories) = load_histories(cluster, backend).await?;
    if let Some(k) = wanted
        && !snapshot.deployments.iter().any(|d| &d.key == k)
    {
        return Err(ClusterError::NotFound(format!("deployment {k} not found")));
    }
    let mut out = Vec::new();
    for state in snapshot
        .deployments
        .iter()
        .filter(|d| wanted.is_none_or(|k| &d.key == k))
    {
        let forecasts = histories
            .get(&state.key)
            .map(|h| forecast_history(h, ForecastOptions::default()))
            .unwrap_or_default();
        out.push(
            advisor
                .recommend(&inputs(state, &forecasts, snapshot.time))
                .await,
        );
    }
    Ok(out)
}
