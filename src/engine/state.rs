//! What the engine keeps per deployment, and what its background tasks hand back.

use std::sync::Arc;

use crate::actions::{Plan, journal};
use crate::backtest;
use crate::metrics::History;
use crate::model::{Calibration, DeploymentKey, Recommendation, Room, UnixSeconds};
use crate::pipeline::Forecasts;

use super::messages::ActionReport;

pub(super) struct Known {
    pub(super) history: History,
    pub(super) forecasts: Arc<Forecasts>,
    pub(super) forecast_at: Option<UnixSeconds>,
    pub(super) recommended_at: Option<UnixSeconds>,
    pub(super) calibration: Option<Arc<Calibration>>,
    /// When the next calibration is due; None while one runs.
    pub(super) calibrate_at: Option<UnixSeconds>,
    /// Its share of the cluster's spare capacity at the last poll (None: not constrained).
    pub(super) room: Option<Room>,
}

pub(super) enum Done {
    Forecast(DeploymentKey, UnixSeconds, Box<Forecasts>),
    /// How a recommendation task ended: the cards made one by one after a panic, and the
    /// deployments whose recommendation panicked (the others landed as they answered).
    Recommendations(Vec<Recommendation>, Vec<(DeploymentKey, String)>),
    Action(ActionReport, Option<Box<Plan>>),
    Journal(Vec<journal::Entry>),
    Backtest(DeploymentKey, Result<Box<backtest::Report>, String>),
    Calibration(DeploymentKey, UnixSeconds, Result<Box<Calibration>, String>),
    /// One of the above, run on the worker pool: its worker is free again.
    Pooled(super::queue::JobKind, Box<Done>),
}

pub(super) fn new_known(history: History) -> Known {
    Known {
        history,
        forecasts: Arc::new(Forecasts::default()),
        forecast_at: None,
        recommended_at: None,
        calibration: None,
        calibrate_at: Some(UnixSeconds::MIN),
        room: None,
    }
}
