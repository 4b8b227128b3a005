//! What work is due for each deployment at a poll: forecasts, calibrations, recommendations;
//! and each deployment's share of the cluster's spare room.

use std::collections::{HashMap, HashSet};

use super::messages::EngineOptions;
use super::queue::{JobKind, WorkQueue};
use super::state::Known;
use crate::advisor::Advisor;
use crate::model::{AdvisorInputs, ClusterSnapshot, DeploymentKey, UnixSeconds};
use crate::pipeline;

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

/// Queue whatever work is due for one deployment: a forecast when the last one is old, a
/// calibration when due (both run on the worker pool, in the queue's order), and a
/// recommendation when the last one is old (or `now` is asked for).
#[allow(clippy::too_many_arguments)]
pub(super) fn schedule(
    queue: &mut WorkQueue,
    in_flight: &mut HashSet<(DeploymentKey, bool)>,
    due_recommendations: &mut Vec<AdvisorInputs>,
    snap: &ClusterSnapshot,
    key: &DeploymentKey,
    k: &mut Known,
    opts: &EngineOptions,
    now: bool,
) {
    let t = snap.time;
    let due = |at: Option<UnixSeconds>, every: i64| at.is_none_or(|a| t - a >= every);
    // `now` (a forecast just landed, or the user asked) goes straight to the recommendation:
    // with a fast clock a new forecast may already be due, and recommending only when none is
    // would starve the cards.
    if !now && due(k.forecast_at, opts.forecast_every) && in_flight.insert((key.clone(), false)) {
        // The stalest forecast goes first; never forecast before all.
        queue.push(
            key.clone(),
            JobKind::Forecast,
            k.forecast_at.unwrap_or(UnixSeconds::MIN),
        );
        k.forecast_at = Some(t);
        return;
    }
    if let Some(at) = k.calibrate_at.filter(|at| t >= *at) {
        // A day's calibration is a second of CPU: on the pool, never in the loop. It waits
        // behind the forecasts staler than its deployment's.
        k.calibrate_at = None;
        let stale_since = at.max(k.forecast_at.unwrap_or(UnixSeconds::MIN));
        queue.push(key.clone(), JobKind::Calibration, stale_since);
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
