//! Anomalies in the history: points outside the in-sample band, and level shifts.
//!
//! The in-sample fit is the seasonal component plus the level of the deseasonalised series: hourly
//! medians, interpolated between the hours' centres. The band is ±4 robust standard deviations of
//! the residuals (MAD-based, so the anomalies themselves do not widen it), or 1.5× their 99th
//! percentile when the tails are heavier than Gaussian (on the crane traces ±4σ alone flagged
//! twenty points a day). Shorter blocks made a
//! tighter fit but a band too narrow: with three 5-minute points per block the residuals
//! understate the noise and ordinary points were flagged. Consecutive points outside the band
//! are one anomaly, reported at its most extreme point.

use super::prep::Prepared;
use super::stats::{mean, median, quantile, robust_sigma};
use super::trend::LevelShift;
use crate::model::{Anomaly, AnomalyKind};

/// Half-width of the in-sample band in robust standard deviations.
pub(crate) const BAND_SIGMAS: f64 = 4.0;
/// The band is at least this many times the 99th percentile of |residual| (≈ 4σ if Gaussian).
pub(crate) const TAIL_FACTOR: f64 = 1.5;
/// At most this many outliers are reported (the most recent), so a bursty series does not
/// drown the list; level shifts are rare and all kept.
pub(crate) const MAX_OUTLIERS: usize = 20;

/// `seasonal` is the in-sample seasonal component (None when the model had none); `shifts`
/// are reported too, and points within an hour of one are not outliers (the hourly level
/// straddles the step there).
pub(crate) fn find(p: &Prepared, seasonal: Option<&[f64]>, shifts: &[LevelShift]) -> Vec<Anomaly> {
    let n = p.values.len();
    let season = |i: usize| seasonal.and_then(|s| s.get(i)).copied().unwrap_or(0.0);
    let des: Vec<f64> = (0..n).map(|i| p.values[i] - season(i)).collect();
    let block = p.per_hour().min(n).max(1);
    let level = hourly_level(&des, block);
    let residual: Vec<f64> = (0..n).map(|i| des[i] - level[i]).collect();
    let observed: Vec<f64> = (0..n)
        .filter(|&i| p.observed[i])
        .map(|i| residual[i])
        .collect();
    // A floor keeps a perfectly flat series from flagging rounding noise.
    let typical = mean(&p.values.iter().map(|v| v.abs()).collect::<Vec<_>>());
    let sigma = robust_sigma(&observed).max(1e-3 * typical + 1e-12);
    // Heavy tails (bursty series) put far more than a Gaussian share beyond 4σ; the band also
    // reaches 1.5× the 99th percentile of |residual|, so only the rare extremes are anomalies.
    let abs: Vec<f64> = observed.iter().map(|r| r.abs()).collect();
    let limit = (BAND_SIGMAS * sigma).max(TAIL_FACTOR * quantile(&abs, 0.99));

    let near_shift = |i: usize| {
        shifts
            .iter()
            .any(|s| i + block >= s.index && i < s.index + block)
    };
    let outside = |i: usize| p.observed[i] && residual[i].abs() > limit && !near_shift(i);
    let mut outliers: Vec<Anomaly> = Vec::new();
    let mut i = 0;
    while i < n {
        if !outside(i) {
            i += 1;
            continue;
        }
        let mut extreme = i;
        while i < n && outside(i) {
            if residual[i].abs() > residual[extreme].abs() {
                extreme = i;
            }
            i += 1;
        }
        outliers.push(Anomaly {
            timestamp: p.timestamp(extreme),
            value: p.values[extreme],
            kind: AnomalyKind::Outlier,
        });
    }
    let keep_from = outliers.len().saturating_sub(MAX_OUTLIERS);
    let mut anomalies: Vec<Anomaly> = outliers.split_off(keep_from);
    anomalies.extend(shifts.iter().filter(|s| s.index < n).map(|s| Anomaly {
        timestamp: p.timestamp(s.index),
        value: p.values[s.index],
        kind: AnomalyKind::LevelShift,
    }));
    anomalies.sort_by_key(|a| a.timestamp);
    anomalies
}

/// Block medians of `des` (blocks aligned to the end), linearly interpolated between block
/// centres and held flat beyond the first and last centre.
fn hourly_level(des: &[f64], block: usize) -> Vec<f64> {
    let n = des.len();
    let skip = n % block;
    let medians: Vec<f64> = des[skip..].chunks(block).map(median).collect();
    if medians.is_empty() {
        return vec![mean(des); n];
    }
    let centre = |b: usize| skip as f64 + b as f64 * block as f64 + (block as f64 - 1.0) / 2.0;
    (0..n)
        .map(|i| {
            let x = i as f64;
            let last = medians.len() - 1;
            if x <= centre(0) {
                return medians[0];
            }
            if x >= centre(last) {
                return medians[last];
            }
            let b = (((x - centre(0)) / block as f64).floor() as usize).min(last - 1);
            let t = (x - centre(b)) / block as f64;
            medians[b] + (medians[b + 1] - medians[b]) * t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::trend::level_shifts;
    use super::*;

    fn prepared(values: Vec<f64>) -> Prepared {
        Prepared {
            start: 0,
            step: 60,
            factor: 1,
            observed: vec![true; values.len()],
            nonnegative: true,
            last_observed: values.last().copied().unwrap_or(0.0),
            values,
        }
    }

    fn noise(i: usize) -> f64 {
        crate::forecast::stats::test_noise(i, 2)
    }

    #[test]
    fn finds_an_injected_spike_and_a_level_shift() {
        let mut v: Vec<f64> = (0..1440)
            .map(|i| if i < 1000 { 40.0 } else { 70.0 } + 2.0 * noise(i))
            .collect();
        v[500] = 95.0;
        let shifts = level_shifts(&v, 15);
        let p = prepared(v);
        let a = find(&p, None, &shifts);
        let outliers: Vec<_> = a
            .iter()
            .filter(|a| a.kind == AnomalyKind::Outlier)
            .collect();
        let level: Vec<_> = a
            .iter()
            .filter(|a| a.kind == AnomalyKind::LevelShift)
            .collect();
        assert_eq!(outliers.len(), 1, "{a:?}");
        assert_eq!((outliers[0].timestamp, outliers[0].value), (500 * 60, 95.0));
        assert_eq!(level.len(), 1, "{a:?}");
        assert!((level[0].timestamp / 60 - 1000).abs() <= 15);
    }

    #[test]
    fn seasonal_swings_are_not_anomalies_and_flat_series_have_none() {
        let season: Vec<f64> = (0..1440)
            .map(|i| 30.0 * (i as f64 / 1440.0 * std::f64::consts::TAU).sin())
            .collect();
        let v: Vec<f64> = season
            .iter()
            .enumerate()
            .map(|(i, s)| 50.0 + s + noise(i))
            .collect();
        assert!(find(&prepared(v), Some(&season), &[]).is_empty());
        assert!(find(&prepared(vec![7.0; 300]), None, &[]).is_empty());
        // Filled gaps are never reported.
        let mut p = prepared(vec![1.0; 100]);
        p.values[50] = 100.0;
        p.observed[50] = false;
        assert!(find(&p, None, &[]).is_empty());
    }
}
