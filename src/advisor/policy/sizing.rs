//! Sizing: how many replicas carry a demand at a utilization, and the highest demand a
//! forecast expects over a window (with its band). Demand is in units of one replica's CPU
//! request.

use crate::model::{Forecast, ForecastPoint, UnixSeconds};

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

/// A forecast point sized at `band` within its band (0 = the point forecast, 1 = its upper
/// bound), never negative.
pub fn sized(p: &ForecastPoint, band: f64) -> f64 {
    (p.value + band * (p.upper - p.value).max(0.0)).max(0.0)
}

/// The forecast points overlapping `[from, to)`: a point covers `[timestamp, timestamp + step)`.
pub fn window(
    f: &Forecast,
    from: UnixSeconds,
    to: UnixSeconds,
) -> impl Iterator<Item = ForecastPoint> + '_ {
    let step = f.step_seconds.max(1) as i64;
    f.points
        .iter()
        .filter(move |p| p.timestamp + step > from && p.timestamp < to)
}

/// The highest demand the forecast expects over `[from, to)`, sized at `band`, and its time.
/// None when no forecast point falls in the window.
pub fn peak_at(
    f: &Forecast,
    from: UnixSeconds,
    to: UnixSeconds,
    band: f64,
) -> Option<(f64, UnixSeconds)> {
    window(f, from, to)
        .map(|p| (sized(&p, band), p.timestamp))
        .reduce(|a, b| if b.0 > a.0 { b } else { a })
}

/// A forecast of `values` from `start` at `step`, band [value - 1, value + 2] (tests).
#[cfg(test)]
pub(crate) fn test_forecast(start: i64, step: u32, values: &[f64]) -> Forecast {
    use crate::model::{Peak, Trend};
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
    let peak = points
        .iter()
        .copied()
        .reduce(|a, b| if b.value > a.value { b } else { a });
    Forecast {
        model: "test".into(),
        step_seconds: step,
        peak: Peak {
            timestamp: peak.map_or(start, |p| p.timestamp),
            value: peak.map_or(0.0, |p| p.value),
        },
        points: crate::model::ForecastPoints::from_points(step, &points),
        trend: Trend::Stable,
        trend_pct_per_hour: 0.0,
        current: values.first().copied().unwrap_or(0.0),
        hourly: vec![],
        anomalies: vec![],
        low_confidence: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_for_rounds_up_but_not_on_float_noise() {
        assert_eq!(replicas_for(14.0, 1.0, 0.7), 20);
        assert_eq!(replicas_for(14.000001, 1.0, 0.7), 21);
        assert_eq!(replicas_for(0.0, 1.0, 0.7), 0);
        assert_eq!(replicas_for(f64::NAN, 1.0, 0.7), 0);
    }

    #[test]
    fn peak_covers_points_overlapping_the_window_and_the_band() {
        let f = test_forecast(1000, 300, &[1.0, 5.0, 3.0, 9.0]);
        // [1000, 1300) → the first point; [1299, 1301) overlaps the first two.
        assert_eq!(peak_at(&f, 1000, 1300, 0.0), Some((1.0, 1000)));
        assert_eq!(peak_at(&f, 1299, 1301, 0.0), Some((5.0, 1300)));
        // Half way to the upper bound (value + 2): 9 + 1 at 1900.
        assert_eq!(peak_at(&f, 1000, 1901, 0.5), Some((10.0, 1900)));
        assert_eq!(peak_at(&f, 5000, 6000, 0.0), None);
    }
}
