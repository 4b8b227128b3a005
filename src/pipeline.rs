//! The pipeline's steps as plain functions: history → forecasts → advisor inputs →
//! recommendation. The engine (TUI), the headless commands and the backtest all call these, so
//! the three faces cannot disagree about what a recommendation is made of.

use std::collections::HashMap;
use std::sync::Arc;

use crate::advisor::Advisor;
use crate::advisor::policy::demand;
use crate::cluster::{Cluster, ClusterError};
use crate::forecast::{self, ForecastOptions, SeriesInput};
use crate::metrics::backend::HistoryBackend;
use crate::metrics::history::Metric;
use crate::metrics::{HISTORY_MINUTES, History};
use crate::model::{
    AdvisorInputs, Calibration, ClusterSnapshot, DeploymentKey, DeploymentState, Forecast,
    Recommendation, Room, Sample,
};

/// The CPU and memory forecasts of one deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Forecasts {
    pub cpu: Option<Forecast>,
    pub mem: Option<Forecast>,
    /// CPU demand (pods' worth of requests, 5-minute peaks): what the policy sizes from.
    pub demand: Option<Arc<Forecast>>,
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
    let minutes = (demand::HISTORY_SECONDS / crate::metrics::MINUTE) as usize;
    let (start, values) = history.regular(Metric::Demand, minutes);
    Forecasts {
        cpu: cpu.ok(),
        mem: mem.ok(),
        demand: demand::forecast(start, crate::metrics::MINUTE, &values).map(Arc::new),
        error,
    }
}

/// The advisor's inputs for one deployment: the seed's fields, plus what the policy needs —
/// the recent peak of demand (from the history, and now), the demand forecast and the
/// deployment's calibration (defaults until it has one).
pub fn inputs(
    state: &DeploymentState,
    forecasts: &Forecasts,
    history: Option<&History>,
    calibration: Option<&Calibration>,
    now: i64,
) -> AdvisorInputs {
    let mut i =
        AdvisorInputs::from_state(state, forecasts.cpu.as_ref(), forecasts.mem.as_ref(), now);
    let params = calibration.map(|c| c.params).unwrap_or_default();
    let now_demand = crate::advisor::policy::demand_now(&i);
    let recent = history.and_then(|h| {
        let minutes = (params.recent_seconds / crate::metrics::MINUTE).max(0) as usize + 1;
        let (_, v) = h.regular(Metric::Demand, minutes);
        demand::recent_peak(crate::metrics::MINUTE, &v, params.recent_seconds)
    });
    i.policy.recent_peak = match (recent, now_demand) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    i.policy.demand_forecast = forecasts.demand.clone();
    i.policy.params = params;
    i.policy.calibration = calibration.cloned();
    i
}

/// Each deployment's share of the cluster's spare capacity when the fleet's scale-ups (the
/// policy's own decisions from these inputs) do not fit together; empty when they fit or the
/// capacity is unknown. Every face sets `policy.room` from it before deciding.
pub fn fleet_rooms<'a>(
    snapshot: &ClusterSnapshot,
    fleet: impl IntoIterator<Item = &'a AdvisorInputs>,
    cfg: &crate::config::AdvisorConfig,
) -> HashMap<DeploymentKey, Room> {
    use crate::advisor::policy::capacity;
    let Some(cap) = snapshot.capacity.as_ref() else {
        return HashMap::new();
    };
    let sizes: HashMap<&DeploymentKey, (u32, u32)> = snapshot
        .deployments
        .iter()
        .map(|d| (&d.key, (d.cpu_request_millis, d.mem_request_mib)))
        .collect();
    let wants: Vec<capacity::Want> = fleet
        .into_iter()
        .filter_map(|i| {
            let (cpu, mem) = sizes.get(&i.key()).copied()?;
            capacity::want(i, cfg, cpu, mem)
        })
        .collect();
    capacity::rooms(Some(cap), &wants)
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

/// One change a recommendation's apply would write (`recommend -o json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PlannedChange {
    pub object: String,
    pub field: String,
    pub from: String,
    pub to: String,
    pub kubectl: String,
}

/// A recommendation with the changes `a` would write for it now (the same `plan_apply`), or
/// why there is nothing to apply.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Recommended {
    #[serde(flatten)]
    pub recommendation: Recommendation,
    pub changes: Vec<PlannedChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nothing_to_apply: Option<String>,
}

impl Recommended {
    pub fn new(recommendation: Recommendation, state: &DeploymentState) -> Self {
        let key = state.key.clone();
        let (changes, nothing_to_apply) =
            match crate::actions::plan::plan_apply(state, &recommendation) {
                Ok(plan) => (
                    plan.changes
                        .iter()
                        .map(|c| {
                            let (object, field, from, to) = c.fields(&key);
                            PlannedChange {
                                object,
                                field,
                                from,
                                to,
                                kubectl: c.kubectl(&key),
                            }
                        })
                        .collect(),
                    None,
                ),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
        Self {
            recommendation,
            changes,
            nothing_to_apply,
        }
    }
}

/// One-shot recommendations for the deployments `wanted` selects (all when None), each with
/// the changes applying it would write.
pub async fn recommend(
    cluster: &dyn Cluster,
    backend: &HistoryBackend,
    advisor: &Advisor,
    wanted: Option<&DeploymentKey>,
) -> Result<Vec<Recommended>, ClusterError> {
    let (snapshot, histories) = load_histories(cluster, backend).await?;
    if let Some(k) = wanted
        && !snapshot.deployments.iter().any(|d| &d.key == k)
    {
        return Err(ClusterError::NotFound(format!("deployment {k} not found")));
    }
    // With the nodes known, every deployment's inputs first: the room one gets depends on what
    // the others want, so `recommend NS/NAME` sees the same room as `--all` and the TUI.
    let whole_fleet = snapshot.capacity.as_ref().is_some_and(|c| {
        crate::advisor::policy::capacity::can_overflow(
            c,
            &snapshot.deployments,
            advisor.config().max_step,
        )
    });
    let mut fleet = Vec::with_capacity(snapshot.deployments.len());
    for state in snapshot
        .deployments
        .iter()
        .filter(|d| whole_fleet || wanted.is_none_or(|k| &d.key == k))
    {
        let history = histories.get(&state.key);
        let forecasts = history
            .map(|h| forecast_history(h, ForecastOptions::default()))
            .unwrap_or_default();
        let calibration = history.and_then(|h| calibration_of(h, state, advisor.config()).ok());
        fleet.push((
            state,
            inputs(
                state,
                &forecasts,
                history,
                calibration.as_ref(),
                snapshot.time,
            ),
        ));
    }
    let rooms = fleet_rooms(&snapshot, fleet.iter().map(|(_, i)| i), advisor.config());
    let (states, asked): (Vec<&DeploymentState>, Vec<AdvisorInputs>) = fleet
        .into_iter()
        .filter(|(d, _)| wanted.is_none_or(|k| &d.key == k))
        .map(|(state, mut inputs)| {
            inputs.policy.room = rooms.get(&state.key).cloned();
            (state, inputs)
        })
        .unzip();
    // All at once: the LLM carries several deployments in one request.
    let recs = advisor.recommend_many(&asked).await;
    Ok(recs
        .into_iter()
        .zip(states)
        .map(|(rec, state)| Recommended::new(rec, state))
        .collect())
}

/// A deployment's calibration from its history, or why there is none (too little history).
/// CPU-bound (about a second): run it off the async threads.
pub fn calibration_of(
    history: &History,
    state: &DeploymentState,
    cfg: &crate::config::AdvisorConfig,
) -> Result<Calibration, String> {
    let samples: Vec<Sample> = history.iter().collect();
    crate::backtest::calibrate::calibrate(&samples, state, cfg)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::AdvisorConfig;
    use crate::model::Resources;
    use crate::sim::nodes;
    use crate::sim::scenario::{DemandSpec, DeploymentSpec};
    use crate::sim::{SimCluster, SimWorld};

    /// A deployment without an HPA at 2 replicas under ~6 pods' worth of load.
    pub(crate) fn busy(name: &'static str) -> DeploymentSpec {
        DeploymentSpec {
            namespace: "shop",
            name,
            cpu_request_millis: 500,
            mem_request_mib: 256,
            mem_base_mib: 100.0,
            mem_per_core_mib: 50.0,
            min_replicas: 1,
            max_replicas: 40,
            initial_replicas: 2,
            hpa: None,
            startup_seconds: 60,
            demand: DemandSpec {
                trace: "crane_input0_1m",
                p99_cores: 3.0,
                phase_hours: 0.0,
                growth_per_day: 0.0,
                noise: 0.0,
            },
            predictive: false,
        }
    }

    async fn targets(sim: &SimCluster) -> Vec<(u32, String)> {
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        recommend(sim, &HistoryBackend::default(), &advisor, None)
            .await
            .expect("recommend")
            .into_iter()
            .map(|r| {
                (
                    r.recommendation.decision.target_replicas,
                    r.recommendation.decision.reasoning,
                )
            })
            .collect()
    }

    /// Two busy deployments on one node with two pods' worth (1000 m) spare.
    pub(crate) fn full_cluster() -> SimCluster {
        let sim = SimCluster::new(SimWorld::warmed_up(3, vec![busy("a"), busy("b")], 2));
        squeeze(&sim);
        sim
    }

    fn squeeze(sim: &SimCluster) {
        let mut w = sim.world();
        let requested = w.capacity().requested;
        let mut n = nodes::node(0);
        n.allocatable = Resources {
            cpu_millis: requested.cpu_millis + 1000,
            ..n.allocatable
        };
        w.set_nodes(vec![n], false);
    }

    #[tokio::test]
    async fn recommend_caps_the_fleets_scale_ups_to_what_the_nodes_have_spare() {
        let sim = SimCluster::new(SimWorld::warmed_up(3, vec![busy("a"), busy("b")], 2));
        let roomy = targets(&sim).await;
        let wanted: u32 = roomy.iter().map(|(t, _)| t.saturating_sub(2)).sum();
        assert!(wanted > 2, "the fleet wants more than 2 pods: {roomy:?}");
        assert!(roomy.iter().all(|(_, r)| !r.contains("room for")));
        squeeze(&sim);
        let tight = targets(&sim).await;
        let added: u32 = tight.iter().map(|(t, _)| t.saturating_sub(2)).sum();
        assert_eq!(added, 2, "both fit in the room, no more: {tight:?}");
        assert!(
            tight
                .iter()
                .all(|(_, r)| r.contains("more pods of this size (1000 m CPU spare")),
            "{tight:?}"
        );
        // With an autoscaler the plan stands, and says how many nodes it needs.
        {
            let mut w = sim.world();
            let n = w.nodes().to_vec();
            w.set_nodes(n, true);
        }
        let scaled = targets(&sim).await;
        assert_eq!(
            scaled.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            roomy.iter().map(|(t, _)| *t).collect::<Vec<_>>()
        );
        assert!(
            scaled
                .iter()
                // 9 × 500 m wanted, 1000 m spare: 3500 m short on 3000 m nodes.
                .all(|(_, r)| r.contains("need about 2 more nodes of m5.4xlarge")),
            "{scaled:?}"
        );
    }
}
