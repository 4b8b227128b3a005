//! The demand series the policy sizes from, made the same way for every face: CPU demand in
//! units of one pod's request (CPU % × ready pods / 100, so it does not move when the replica
//! count does), aggregated into 5-minute peaks (sizing for a bucket's peak covers the bursts
//! inside it), the last three days of it forecast six hours ahead.

use crate::forecast::{self, ForecastOptions, SeriesInput};
use crate::model::{Forecast, UnixSeconds};

/// Bucket of the forecast series.
pub const STEP_SECONDS: u32 = 300;
/// History handed to the forecaster.
pub const HISTORY_SECONDS: i64 = 3 * 86_400;
/// How far the demand forecast looks.
pub const HORIZON_SECONDS: u32 = 6 * 3600;

/// Peaks of `values` (a regular series from `start` at `step` seconds; NaN unknown) per
/// bucket of `STEP_SECONDS` aligned to the epoch; a bucket with no known value repeats the one
/// before it (leading unknown buckets are dropped). Returns the first bucket's start.
pub fn buckets(start: UnixSeconds, step: i64, values: &[f64]) -> (UnixSeconds, Vec<f64>) {
    let bucket = STEP_SECONDS as i64;
    let step = step.max(1);
    let mut out: Vec<f64> = Vec::new();
    let mut first: Option<UnixSeconds> = None;
    let mut current: Option<(UnixSeconds, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        let t = start + i as i64 * step;
        let b = t.div_euclid(bucket) * bucket;
        if let Some((cb, peak)) = current
            && cb != b
        {
            push(&mut out, &mut first, cb, peak, bucket);
            current = None;
        }
        let (_, peak) = current.get_or_insert((b, f64::NAN));
        if v.is_finite() {
            *peak = if peak.is_nan() { v } else { peak.max(v) };
        }
    }
    if let Some((cb, peak)) = current {
        push(&mut out, &mut first, cb, peak, bucket);
    }
    (first.unwrap_or(start), out)
}

fn push(out: &mut Vec<f64>, first: &mut Option<UnixSeconds>, b: UnixSeconds, v: f64, step: i64) {
    let Some(f) = *first else {
        if v.is_finite() {
            *first = Some(b);
            out.push(v);
        }
        return;
    };
    // Fill skipped buckets (and unknown ones) with the last value.
    let idx = ((b - f) / step) as usize;
    let last = out.last().copied().unwrap_or(0.0);
    while out.len() < idx {
        out.push(last);
    }
    out.push(if v.is_finite() { v } else { last });
}

/// The demand forecast from 5-minute peak buckets (the last `HISTORY_SECONDS` of them); None
/// while there is too little history.
pub fn forecast_buckets(start: UnixSeconds, buckets: &[f64]) -> Option<Forecast> {
    let keep = (HISTORY_SECONDS / STEP_SECONDS as i64) as usize;
    let skip = buckets.len().saturating_sub(keep);
    forecast::forecast(
        SeriesInput {
            start: start + skip as i64 * STEP_SECONDS as i64,
            step_seconds: STEP_SECONDS,
            values: &buckets[skip..],
        },
        ForecastOptions {
            horizon_seconds: HORIZON_SECONDS,
        },
    )
    .ok()
}

/// The demand forecast of a regular series of demand values.
pub fn forecast(start: UnixSeconds, step: i64, values: &[f64]) -> Option<Forecast> {
    let (b0, b) = buckets(start, step, values);
    forecast_buckets(b0, &b)
}

/// The highest known value of a regular series over its last `seconds`.
pub fn recent_peak(step: i64, values: &[f64], seconds: i64) -> Option<f64> {
    let n = (seconds / step.max(1)).max(0) as usize + 1;
    values
        .iter()
        .rev()
        .take(n)
        .copied()
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_take_peaks_align_to_the_epoch_and_fill_gaps() {
        // 60 s steps from t = 240: bucket [0, 300) holds one value, [300, 600) five.
        let v = [1.0, 2.0, 5.0, f64::NAN, 3.0, 4.0, 0.5];
        let (start, b) = buckets(240, 60, &v);
        assert_eq!(start, 0);
        assert_eq!(b, vec![1.0, 5.0, 0.5]);
        // A bucket of NaN only repeats the last value; leading NaN buckets are dropped.
        let v = [f64::NAN; 5]
            .into_iter()
            .chain([2.0; 5])
            .chain([f64::NAN; 5])
            .chain([7.0])
            .collect::<Vec<_>>();
        let (start, b) = buckets(0, 60, &v);
        assert_eq!(start, 300);
        assert_eq!(b, vec![2.0, 2.0, 7.0]);
    }

    #[test]
    fn recent_peak_looks_back_the_window_only() {
        let v = [9.0, 1.0, 3.0, f64::NAN, 2.0];
        assert_eq!(recent_peak(60, &v, 120), Some(3.0));
        assert_eq!(recent_peak(60, &v, 0), Some(2.0));
        assert_eq!(recent_peak(60, &v, 600), Some(9.0));
        assert_eq!(recent_peak(60, &[f64::NAN], 600), None);
    }

    #[test]
    fn two_days_of_a_daily_shape_forecast_its_next_peak() {
        let day = 86_400;
        let values: Vec<f64> = (0..3 * day / 60)
            .map(|i| {
                let h = (i * 60 % day) as f64 / 3600.0;
                4.0 + 3.0 * (std::f64::consts::TAU * h / 24.0).sin()
            })
            .collect();
        let f = forecast(0, 60, &values).expect("three days are enough");
        assert_eq!(f.step_seconds, STEP_SECONDS);
        let peak = f.points.iter().map(|p| p.value).fold(0.0, f64::max);
        // Hours 0–6 of the sine: rising from 4 towards 7.
        assert!(peak > 5.5 && peak < 7.6, "{peak}");
    }
}
