//! Forecasts of one metric series over the next hours (the seed's Predictive Monitoring System).
//!
//! `forecast` is the one entry point every face uses. It is pure and CPU-bound: the engine runs
//! it on the blocking pool, never on the render loop.
//!
//! The model, per series (see `docs/benchmarks.md` for how each choice was measured):
//! - history finer than a minute is averaged to one minute and cut to the last 14 days;
//! - with two days or more: augurs' MSTL (daily period, plus weekly from two weeks), a damped
//!   AutoETS on 15-minute means of the deseasonalised series, blended with seasonal naive by a
//!   weight chosen in a backtest on the most recent day;
//! - with less: a damped AutoETS alone, marked low-confidence.
//!
//! Stages, one file each: `input` (the series asked about, options, errors), `prep` (regular gap-free series), `decompose` (MSTL), `level` (ETS),
//! `select` (backtest and blend), `band`, `peak`, `trend` (label, level shifts), `anomalies`,
//! `evaluation` (rolling-origin benchmark). `ai4k8s forecast` is `cli/forecast.rs`.

mod anomalies;
mod band;
mod decompose;
pub mod evaluation;
mod input;
mod level;
mod peak;
mod prep;
mod select;
mod stats;
mod trend;

use crate::model::{Forecast, ForecastPoint, ForecastPoints, Peak};

pub use input::{DEFAULT_HORIZON_SECONDS, ForecastError, ForecastOptions, MIN_POINTS, SeriesInput};
pub use prep::MAX_HISTORY_DAYS;
pub use trend::{STABLE_SLOPE_PCT_PER_HOUR, classify_trend};

/// What a model produced at the working step, before it is laid out as a `Forecast`.
struct Fitted {
    model: String,
    point: Vec<f64>,
    /// (lower, upper) offsets from the point, per sample.
    band: band::Offsets,
    /// Added to the forecast's maximum to give the expected peak.
    peak_excess: f64,
    /// In-sample daily component, for trend and anomalies.
    seasonal: Option<Vec<f64>>,
    low_confidence: bool,
}

/// Forecast the series `opts.horizon_seconds` ahead at its own step.
///
/// Gaps (NaN) in the input are filled; errors only when fewer than `MIN_POINTS` values are
/// observed or the step is zero. Never panics on NaN, empty or constant input.
pub fn forecast(input: SeriesInput<'_>, opts: ForecastOptions) -> Result<Forecast, ForecastError> {
    let p = prep::prepare(input)?;
    let ahead = (opts.horizon_seconds as usize)
        .div_ceil(p.step as usize)
        .max(1);
    let n = p.values.len();
    let per_day = p.per_day();
    let block = level::block_len(p.step);

    let fitted = if per_day >= 2 && n >= 2 * per_day {
        seasonal_model(&p, ahead, block)
    } else {
        None
    }
    .unwrap_or_else(|| short_history_model(&p, ahead, block));

    // Trend and level shifts on the deseasonalised history.
    let des: Vec<f64> = match &fitted.seasonal {
        Some(s) => p.values.iter().zip(s).map(|(v, s)| v - s).collect(),
        None => p.values.clone(),
    };
    let shifts = trend::level_shifts(&des, block);
    // From the first whole block after the last shift: the block it falls in is mixed.
    let since = shifts.last().map_or(0, |s| s.index + block);
    let trend_pct_per_hour = trend::slope_pct_per_hour(&des, &p.values, block, p.step, since);
    let anomalies = anomalies::find(&p, fitted.seasonal.as_deref(), &shifts);

    Ok(lay_out(
        input,
        opts,
        &p,
        fitted,
        trend_pct_per_hour,
        anomalies,
    ))
}

/// MSTL + damped ETS, blended with seasonal naive as the backtest says. None if MSTL fails.
fn seasonal_model(p: &prep::Prepared, ahead: usize, block: usize) -> Option<Fitted> {
    let per_day = p.per_day();
    let decomposition = decompose::mstl(&p.values, per_day, p.step, ahead)?;
    let des = decomposition.deseasonalise(&p.values);
    let level = level::damped_level(&des, p.step, block, ahead, false);
    let naive = select::seasonal_naive(&p.values, per_day, ahead);
    let selection = select::backtest(&p.values, &p.observed, per_day, p.step, block, ahead);
    let w = selection.as_ref().map_or(1.0, |s| s.weight);
    let point: Vec<f64> = (0..ahead)
        .map(|i| w * (decomposition.future[i] + level.point[i]) + (1.0 - w) * naive[i])
        .collect();

    // The smooth in-sample fit: seasonal plus an hour's moving average of the rest.
    let smooth = stats::moving_average(&des, p.per_hour());
    let fit: Vec<f64> = decomposition
        .seasonal
        .iter()
        .zip(&smooth)
        .map(|(s, l)| s + l)
        .collect();
    let band = selection
        .as_ref()
        .and_then(|s| band::from_errors(&s.errors, ahead, p.per_hour()))
        .unwrap_or_else(|| {
            let residuals = recent_residuals(p, &fit);
            band::from_residuals(&residuals, ahead, None)
        });
    // Seasonal naive already carries yesterday's noise; only the smooth part needs the excess.
    let peak_excess = w * peak::typical_excess(&p.values, &fit, ahead, per_day);
    let model = match w {
        w if w >= 1.0 => "mstl+ets".to_string(),
        w if w <= 0.0 => "seasonal-naive".to_string(),
        w => format!(
            "mstl+ets {:.0}% + seasonal-naive {:.0}%",
            w * 100.0,
            (1.0 - w) * 100.0
        ),
    };
    Some(Fitted {
        model,
        point,
        band,
        peak_excess,
        seasonal: Some(decomposition.daily),
        low_confidence: false,
    })
}

/// Under two days of history: damped ETS on block means (smaller blocks for very short
/// history), low-confidence.
fn short_history_model(p: &prep::Prepared, ahead: usize, block: usize) -> Fitted {
    let n = p.values.len();
    // At least 16 blocks to fit, even if they must be shorter than 15 minutes.
    let block = block.min(n / 16).max(1);
    let level = level::damped_level(&p.values, p.step, block, ahead, true);
    let smooth = stats::moving_average(&p.values, block.max(p.per_hour().min(n / 4).max(1)));
    let band = band::from_residuals(
        &recent_residuals(p, &smooth),
        ahead,
        level.half_width.as_deref(),
    );
    let peak_excess = peak::typical_excess(&p.values, &smooth, ahead.min(n / 2), p.per_day());
    Fitted {
        model: if level.fitted {
            "ets-damped"
        } else {
            "recent-mean"
        }
        .to_string(),
        point: level.point,
        band,
        peak_excess,
        seasonal: None,
        low_confidence: true,
    }
}

/// Observed values minus the fit over the last three days.
fn recent_residuals(p: &prep::Prepared, fit: &[f64]) -> Vec<f64> {
    let n = p.values.len();
    let from = n.saturating_sub(3 * p.per_day());
    (from..n)
        .filter(|&i| p.observed[i])
        .map(|i| p.values[i] - fit[i])
        .collect()
}

/// Turn a working-step forecast into the shared `Forecast` at the input's step.
fn lay_out(
    input: SeriesInput<'_>,
    opts: ForecastOptions,
    p: &prep::Prepared,
    fitted: Fitted,
    trend_pct_per_hour: f64,
    anomalies: Vec<crate::model::Anomaly>,
) -> Forecast {
    let step = input.step_seconds as i64;
    let count = (opts.horizon_seconds as i64 / step).max(1) as usize;
    let start = input.end();
    let factor = p.factor.max(1) as usize;
    let clamp = |v: f64| if p.nonnegative { v.max(0.0) } else { v };
    let points: Vec<ForecastPoint> = (0..count)
        .map(|j| {
            // Sub-minute input was averaged: each working sample covers `factor` input steps.
            let i = (j / factor).min(fitted.point.len().saturating_sub(1));
            let v = fitted.point.get(i).copied().unwrap_or(0.0);
            let (lo, hi) = fitted.band.get(i).copied().unwrap_or((0.0, 0.0));
            ForecastPoint {
                timestamp: start + j as i64 * step,
                value: clamp(v),
                lower: clamp(v + lo),
                upper: clamp(v + hi).max(clamp(v)),
            }
        })
        .collect();
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let top = stats::argmax(&values);
    let peak = Peak {
        timestamp: points.get(top).map_or(start, |p| p.timestamp),
        value: values.get(top).copied().unwrap_or(0.0) + fitted.peak_excess.max(0.0),
    };
    let per_hour = (3600 / step).max(1) as usize;
    let current = if p.last_observed.is_finite() {
        p.last_observed
    } else {
        p.values.last().copied().unwrap_or(0.0)
    };
    Forecast {
        model: fitted.model,
        step_seconds: input.step_seconds,
        hourly: hourly_means(&points, per_hour),
        points: ForecastPoints::from_points(input.step_seconds, &points),
        peak,
        trend: classify_trend(trend_pct_per_hour),
        trend_pct_per_hour,
        current,
        anomalies,
        low_confidence: fitted.low_confidence,
    }
}

/// The mean of each whole hour of the forecast (the seed's six hourly predictions).
fn hourly_means(points: &[ForecastPoint], per_hour: usize) -> Vec<f64> {
    points
        .chunks(per_hour)
        .filter(|c| c.len() == per_hour)
        .map(|c| c.iter().map(|p| p.value).sum::<f64>() / c.len() as f64)
        .collect()
}

#[cfg(test)]
mod tests;
