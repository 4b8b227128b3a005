//! The demand a replay runs on: per tick, in units of one replica's capacity, from a trace
//! (rescaled or not) or from a deployment's own stored history.

use crate::model::{Sample, UnixSeconds};
use crate::traces::{self, Trace};

use super::options::{BacktestError, ModelOptions};

/// Demand per tick, in units of one replica's capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct Demand {
    pub name: String,
    pub start: UnixSeconds,
    pub tick_seconds: i64,
    pub values: Vec<f64>,
    /// Trace units per unit of demand (1 when the series is already in request units).
    pub trace_units_per_replica: f64,
}

impl Demand {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn time(&self, k: usize) -> UnixSeconds {
        self.start + k as i64 * self.tick_seconds
    }
}

/// Per-tick demand from a trace under the model: rescaled (or not) and held per sample.
pub fn demand(trace: &Trace, model: &ModelOptions) -> Result<Demand, BacktestError> {
    if model.tick_seconds <= 0 {
        return Err(BacktestError::Options("tick must be positive".into()));
    }
    if trace.values.is_empty() || trace.step_seconds == 0 {
        return Err(BacktestError::Trace(format!("{}: empty trace", trace.name)));
    }
    let units = match model.p99_replicas {
        Some(r) => {
            let p99 = trace.quantile(0.99);
            if p99.is_nan() || p99 <= 0.0 {
                return Err(BacktestError::Trace(format!(
                    "{}: the trace's 99th percentile is {p99}, cannot rescale",
                    trace.name
                )));
            }
            p99 / (r as f64 * model.target_utilization())
        }
        None => 1.0,
    };
    Ok(hold_per_tick(trace, model.tick_seconds, units))
}

/// A trace held per sample at `tick` seconds, divided by `units`.
pub fn hold_per_tick(trace: &Trace, tick: i64, units: f64) -> Demand {
    let model_tick = tick.max(1);
    let step = trace.step_seconds.max(1) as i64;
    let ticks = (trace.len() as i64 * step / model_tick) as usize;
    let values = (0..ticks)
        .map(|k| {
            let i = (k as i64 * model_tick / step) as usize;
            (trace.values[i.min(trace.len().saturating_sub(1))] / units).max(0.0)
        })
        .collect();
    Demand {
        name: trace.name.clone(),
        start: trace.start,
        tick_seconds: model_tick,
        values,
        trace_units_per_replica: units,
    }
}

/// First scored tick: after the warm-up, at most half the replay.
pub fn scored_from(demand: &Demand, model: &ModelOptions) -> usize {
    let warm = (model.warmup_seconds.max(0) / demand.tick_seconds) as usize;
    warm.min(demand.len() / 2)
}

/// Minute samples on a regular grid of demand values (missing minutes repeat the last known).
pub fn history_trace(samples: &[Sample], name: &str) -> Result<Trace, BacktestError> {
    let minute = crate::metrics::MINUTE;
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err(BacktestError::Trace(format!("{name}: no history")));
    };
    let start = first.timestamp.div_euclid(minute) * minute;
    let n = ((last.timestamp - start) / minute + 1).max(0) as usize;
    let mut values = vec![f64::NAN; n];
    for s in samples {
        let i = (s.timestamp - start).div_euclid(minute);
        if let Some(v) = usize::try_from(i).ok().and_then(|i| values.get_mut(i)) {
            *v = crate::metrics::history::Metric::Demand.of(s);
        }
    }
    let first_known = values.iter().copied().find(|v| v.is_finite());
    let Some(mut last_known) = first_known else {
        return Err(BacktestError::Trace(format!(
            "{name}: no CPU samples in the history"
        )));
    };
    for v in &mut values {
        if v.is_finite() {
            last_known = *v;
        } else {
            *v = last_known;
        }
    }
    if values.len() < traces::MIN_ROWS {
        return Err(BacktestError::Trace(format!(
            "{name}: {} minutes of history, too few",
            values.len()
        )));
    }
    Ok(Trace {
        name: name.to_string(),
        start,
        step_seconds: minute as u32,
        values,
    })
}
