//! What work is due for each deployment at a poll: forecasts, calibrations, recommendations;
//! and each deployment's share of the cluster's spare room.

use std::collections::{HashMap, HashSet};

use tokio::task::JoinSet;

use super::messages::EngineOptions;
use super::state::{Done, Known};
use crate::advisor::Advisor;
use crate::forecast::ForecastOptions;
use crate::model::{AdvisorInputs, ClusterSnapshot, DeploymentKey, UnixSeconds};
use crate::pipeline::{self, Forecasts};

/// Calibrations run one at a time, process-wide (each replays its candidates on every core).
static CALIBRATING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Each deployment's room in the cluster for this poll, from the fleet's decisions on the
/// latest forecasts (`pipeline::fleet_rooms`): the same rule `recommend` applies.
pub(super) fn set_rooms(
    known: &mut HashMap<DeploymentKey, Known>,
    snap: &ClusterSnapshot,
    advisor: &Advisor,
) {
    let tight = snap.capacity.as_ref().is_some_and(|c| {
        crate::advisor::policy::capacity::can_overflow(
            c,
            &snap.deployments,
            advisor.config().max_step,
        )
    });
    let fleet: Vec<AdvisorInputs> = if !tight {
        Vec::new()
    } else {
        snap.deployments
            .iter()
            .filter_map(|d| {
                let k = known.get(&d.key)?;
                Some(pipeline::inputs(
                    d,
                    &k.forecasts,
                    Some(&k.history),
                    k.calibration.as_deref(),
                    snap.time,
                ))
            })
            .collect()
    };
    let mut rooms = pipeline::fleet_rooms(snap, &fleet, advisor.config());
    for (key, k) in known.iter_mut() {
        k.room = rooms.remove(key);
    }
}

/// Start whatever work is due for one deployment: a forecast when the last one is old, a
/// recommendation when the last one is old (or `now` is asked for).
#[allow(clippy::too_many_arguments)]
pub(super) fn schedule(
    work: &mut JoinSet<Done>,
    in_flight: &mut HashSet<(DeploymentKey, bool)>,
    due_recommendations: &mut Vec<AdvisorInputs>,
    snap: &ClusterSnapshot,
    key: &DeploymentKey,
    k: &mut Known,
    advisor: &Advisor,
    opts: &EngineOptions,
    now: bool,
) {
    let t = snap.time;
    let due = |at: Option<UnixSeconds>, every: i64| at.is_none_or(|a| t - a >= every);
    // `now` (a forecast just landed, or the user asked) goes straight to the recommendation:
    // with a fast clock a new forecast may already be due, and recommending only when none is
    // would starve the cards.
    if !now && due(k.forecast_at, opts.forecast_every) && in_flight.insert((key.clone(), false)) {
        let history = k.history.clone();
        let key = key.clone();
        k.forecast_at = Some(t);
        work.spawn(async move {
            let f = tokio::task::spawn_blocking(move || {
                pipeline::forecast_history(&history, ForecastOptions::default())
            })
            .await
            .unwrap_or_else(|e| Forecasts {
                error: Some(format!("forecast task failed: {e}")),
                ..Forecasts::default()
            });
            Done::Forecast(key, t, Box::new(f))
        });
        return;
    }
    if k.calibrate_at.is_some_and(|at| t >= at)
        && let Some(state) = snap.deployments.iter().find(|d| &d.key == key)
    {
        // A day's calibration is a second of CPU: on the blocking pool, never in the loop.
        k.calibrate_at = None;
        let history = k.history.clone();
        let state = state.clone();
        let cfg = advisor.config().clone();
        let key = key.clone();
        work.spawn(async move {
            // One calibration at a time (it already uses every core): a fleet's first day of
            // calibrations queues instead of filling the blocking pool.
            let _turn = CALIBRATING.acquire().await;
            let result = tokio::task::spawn_blocking(move || {
                pipeline::calibration_of(&history, &state, &cfg).map(Box::new)
            })
            .await
            .unwrap_or_else(|e| Err(format!("calibration task failed: {e}")));
            Done::Calibration(key, t, result)
        });
    }
    if in_flight.contains(&(key.clone(), false)) {
        // The recommendation follows the forecast in flight.
        return;
    }
    if (now || due(k.recommended_at, opts.recommend_every))
        && let Some(state) = snap.deployments.iter().find(|d| &d.key == key)
        && in_flight.insert((key.clone(), true))
    {
        k.recommended_at = Some(t);
        let mut inputs = pipeline::inputs(
            state,
            &k.forecasts,
            Some(&k.history),
            k.calibration.as_deref(),
            t,
        );
        inputs.policy.room = k.room.clone();
        due_recommendations.push(inputs);
    }
}
