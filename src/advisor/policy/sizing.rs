//! Sizing: how many replicas carry a demand at a utilization, and the highest demand a
//! forecast expects over a window (with its band). Demand is in units of one replica's CPU
//! request.

use crate::model::{Forecast, UnixSeconds};

/// Replicas that carry `demand` (in units of one replica's capacity × `capacity`) at
/// `utilization`. A hair of slack keeps 20.000000001 from becoming 21.
pub fn replicas_for(demand: f64, capacity: f64, utilization: f64) -> u32 {
    let per_replica = capacity * utilization;
    // Written to be false for NaN as well.
    if demand.is_nan() || per_replica.is_nan() || demand <= 0.0 || per_replica <= 0.0 {
        return 0;
    }
    let r = (demand / per_replica - 1e-9).ceil();
    if r >= u32::MAX as f64 {
        u32::MAX
    } else {
        r as u32
    }
}

/// The highest forecast demand over `[from, to)`, sized at `band` within the forecast's band;
/// `scale` turns forecast values into demand (1 for a demand series; replicas / 100 for a CPU %
/// series). None when no forecast point falls in the window.
pub fn forecast_peak(
    f: &Forecast,
    from: UnixSeconds,
    to: UnixSeconds,
    band: f64,
    scale: f64,
) -> Option<f64> {
    let step = f.step_seconds.max(1) as i64;
    f.points
        .iter()
        // A point covers [timestamp, timestamp + step).
        .filter(|p| p.timestamp + step > from && p.timestamp < to)
        .map(|p| {
            let hi = p.value + band * (p.upper - p.value).max(0.0);
            hi.max(0.0) * scale
        })
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ForecastPoint, Peak, Trend};

    fn forecast(start: i64, step: u32, values: &[f64]) -> Forecast {
        let points: Vec<ForecastPoint> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| ForecastPoint {
                timestamp: start + i as i64 * step as i64,
                value: v,
                lower: v - 1.0,
                upper: v + 2.0,
            })
            .collect();
        Forecast {
            model: "test".into(),
            step_seconds: step,
            peak: Peak {
                timestamp: start,
                value: values.iter().copied().fold(0.0, f64::max),
            },
            points,
            trend: Trend::Stable,
            trend_pct_per_hour: 0.0,
            current: values[0],
            hourly: vec![],
            anomalies: vec![],
            low_confidence: false,
        }
    }

    #[test]
    fn replicas_for_rounds_up_but_not_on_float_noise() {
        assert_eq!(replicas_for(14.0, 1.0, 0.7), 20);
        assert_eq!(replicas_for(14.000001, 1.0, 0.7), 21);
        assert_eq!(replicas_for(0.0, 1.0, 0.7), 0);
        assert_eq!(replicas_for(f64::NAN, 1.0, 0.7), 0);
    }

    #[test]
    fn peak_covers_points_overlapping_the_window_and_the_band() {
        let f = forecast(1000, 300, &[1.0, 5.0, 3.0, 9.0]);
        // [1000, 1300) → 1; [1299, 1301) overlaps the first two points.
        assert_eq!(forecast_peak(&f, 1000, 1300, 0.0, 1.0), Some(1.0));
        assert_eq!(forecast_peak(&f, 1299, 1301, 0.0, 1.0), Some(5.0));
        assert_eq!(forecast_peak(&f, 1000, 1900, 0.5, 2.0), Some(12.0));
        assert_eq!(forecast_peak(&f, 5000, 6000, 0.0, 1.0), None);
    }
}
