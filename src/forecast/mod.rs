//! Forecasts of one metric series over the next hours (the seed's Predictive Monitoring System).
//!
//! `forecast` is the one entry point every face uses. It is pure and CPU-bound: the engine runs
//! it on the blocking pool, never on the render loop.

use crate::model::{Forecast, ForecastPoint, Peak, Trend, UnixSeconds};

/// Six hours, the seed's horizon.
pub const DEFAULT_HORIZON_SECONDS: u32 = 6 * 3600;
const DAY: i64 = 86_400;
/// Below this slope (percentage points per hour) a series is "stable".
pub const STABLE_SLOPE_PCT_PER_HOUR: f64 = 1.0;

/// A regular series: `values[i]` observed at `start + i * step_seconds`; NaN marks a gap.
#[derive(Clone, Copy, Debug)]
pub struct SeriesInput<'a> {
    pub start: UnixSeconds,
    pub step_seconds: u32,
    pub values: &'a [f64],
}

impl SeriesInput<'_> {
    fn end(&self) -> UnixSeconds {
        self.start + self.values.len() as i64 * self.step_seconds as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastOptions {
    pub horizon_seconds: u32,
}

impl Default for ForecastOptions {
    fn default() -> Self {
        Self {
            horizon_seconds: DEFAULT_HORIZON_SECONDS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("too little history: {have} points, at least {need} needed")]
    TooShort { have: usize, need: usize },
    #[error("step must be positive")]
    BadStep,
}

/// Fewest observed points a forecast is made from.
pub const MIN_POINTS: usize = 10;

/// Forecast the series `opts.horizon_seconds` ahead at its own step.
///
/// With a day of history or more: "same time yesterday" (seasonal naive), shifted by the gap
/// between today's and yesterday's level over the last hour. With less: the last hour's linear
/// trend, damped, marked low-confidence.
pub fn forecast(input: SeriesInput<'_>, opts: ForecastOptions) -> Result<Forecast, ForecastError> {
    if input.step_seconds == 0 {
        return Err(ForecastError::BadStep);
    }
    let observed = input.values.iter().filter(|v| v.is_finite()).count();
    let values = fill_gaps(input.values);
    if observed < MIN_POINTS {
        return Err(ForecastError::TooShort {
            have: observed,
            need: MIN_POINTS,
        });
    }
    let step = input.step_seconds as i64;
    let horizon = (opts.horizon_seconds as i64 / step).max(1) as usize;
    let season = (DAY / step) as usize;
    let hour = (3600 / step).max(1) as usize;
    let n = values.len();
    let current = values[n - 1];

    let (model, mean, low_confidence, residuals) = if n >= season + hour {
        let level_shift =
            mean_of(&values[n - hour..]) - mean_of(&values[n - hour - season..n - season]);
        let mean: Vec<f64> = (0..horizon)
            .map(|h| {
                // Index of the same instant one (or more) days back.
                let mut back = n + h;
                while back >= n {
                    back -= season;
                }
                values[back] + level_shift
            })
            .collect();
        let residuals: Vec<f64> = (season..n)
            .map(|i| values[i] - values[i - season])
            .collect();
        ("seasonal-naive", mean, false, residuals)
    } else {
        let window = &values[n.saturating_sub(hour)..];
        let (slope, _) = linear_fit(window);
        // Damped: the slope fades over the horizon so a short rise does not run away.
        let phi: f64 = 0.98;
        let mut acc = 0.0;
        let mean: Vec<f64> = (0..horizon)
            .map(|h| {
                acc += phi.powi(h as i32 + 1);
                current + slope * acc
            })
            .collect();
        let residuals: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
        ("linear-trend", mean, true, residuals)
    };

    let spread =
        crate::traces::quantile(&residuals.iter().map(|r| r.abs()).collect::<Vec<_>>(), 0.9);
    let start = input.end();
    let points: Vec<ForecastPoint> = mean
        .iter()
        .enumerate()
        .map(|(h, &v)| {
            let v = v.max(0.0);
            // The band widens with the square root of the distance for the trend model.
            let width = if low_confidence {
                spread * ((h + 1) as f64).sqrt()
            } else {
                spread
            };
            ForecastPoint {
                timestamp: start + h as i64 * step,
                value: v,
                lower: (v - width).max(0.0),
                upper: v + width,
            }
        })
        .collect();
    let peak = points
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .map(|p| Peak {
            timestamp: p.timestamp,
            value: p.value,
        })
        .unwrap_or(Peak {
            timestamp: start,
            value: current,
        });
    let recent = &values[n.saturating_sub(3 * hour)..];
    let (slope_per_step, _) = linear_fit(recent);
    let trend_pct_per_hour = slope_per_step * hour as f64;
    Ok(Forecast {
        model: model.to_string(),
        step_seconds: input.step_seconds,
        hourly: hourly_means(&points, hour),
        points,
        peak,
        trend: classify_trend(trend_pct_per_hour),
        trend_pct_per_hour,
        current,
        anomalies: Vec::new(),
        low_confidence,
    })
}

/// Trend label from a slope in percentage points per hour.
pub fn classify_trend(pct_per_hour: f64) -> Trend {
    if pct_per_hour > STABLE_SLOPE_PCT_PER_HOUR {
        Trend::Increasing
    } else if pct_per_hour < -STABLE_SLOPE_PCT_PER_HOUR {
        Trend::Decreasing
    } else {
        Trend::Stable
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

/// Carry the last observed value into gaps; leading gaps take the first observed value.
fn fill_gaps(values: &[f64]) -> Vec<f64> {
    let first = values.iter().copied().find(|v| v.is_finite());
    let mut last = first.unwrap_or(f64::NAN);
    values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                last = v;
            }
            last
        })
        .collect()
}

fn mean_of(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Least-squares line through `v` against its index: (slope per step, intercept).
fn linear_fit(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.len() < 2 {
        return (0.0, v.first().copied().unwrap_or(0.0));
    }
    let mx = (n - 1.0) / 2.0;
    let my = mean_of(v);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (y - my);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (slope, my - slope * mx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily_wave(days: usize, step: u32) -> Vec<f64> {
        let per_day = 86_400 / step as usize;
        (0..days * per_day)
            .map(|i| {
                let phase = (i % per_day) as f64 / per_day as f64 * std::f64::consts::TAU;
                50.0 + 30.0 * phase.sin()
            })
            .collect()
    }

    #[test]
    fn seasonal_naive_repeats_yesterday() {
        let v = daily_wave(3, 60);
        let f = forecast(
            SeriesInput {
                start: 0,
                step_seconds: 60,
                values: &v,
            },
            ForecastOptions::default(),
        )
        .expect("forecast");
        assert_eq!(f.model, "seasonal-naive");
        assert_eq!(f.points.len(), 360);
        assert_eq!(f.hourly.len(), 6);
        // The series is exactly periodic, so the forecast equals the next day's wave.
        for (h, p) in f.points.iter().enumerate() {
            let expected = v[(v.len() + h) % 1440];
            assert!(
                (p.value - expected).abs() < 1e-9,
                "h={h}: {} vs {expected}",
                p.value
            );
        }
        assert_eq!(f.points[0].timestamp, 3 * 86_400);
        assert!(!f.low_confidence);
        // 6 hours after midnight the wave is rising towards its 6 am maximum of 80.
        assert!((f.peak.value - 80.0).abs() < 0.1, "peak {}", f.peak.value);
        assert_eq!(f.trend, Trend::Increasing);
    }

    #[test]
    fn short_history_uses_a_damped_trend_marked_low_confidence() {
        let v: Vec<f64> = (0..120).map(|i| 10.0 + i as f64 * 0.1).collect();
        let f = forecast(
            SeriesInput {
                start: 0,
                step_seconds: 60,
                values: &v,
            },
            ForecastOptions::default(),
        )
        .expect("forecast");
        assert_eq!(f.model, "linear-trend");
        assert!(f.low_confidence);
        assert!(f.points[0].value > 21.9 && f.points[0].value < 22.1);
        // Damping: far less than the undamped 21.9 + 36.
        assert!(f.peak.value < 30.0, "peak {}", f.peak.value);
        assert!((f.trend_pct_per_hour - 6.0).abs() < 1e-6);
        assert!(
            f.points
                .iter()
                .all(|p| p.lower <= p.value && p.value <= p.upper)
        );
    }

    #[test]
    fn too_little_history_is_an_error_not_a_guess() {
        let v = [1.0, f64::NAN, 2.0];
        let r = forecast(
            SeriesInput {
                start: 0,
                step_seconds: 60,
                values: &v,
            },
            ForecastOptions::default(),
        );
        assert_eq!(
            r,
            Err(ForecastError::TooShort {
                have: 2,
                need: MIN_POINTS
            })
        );
    }
}
