//! Level shifts and the trend label.
//!
//! Both work on block medians of the deseasonalised series (15-minute blocks), which ignore
//! single spikes. A level shift is a boundary where the hour after sits clearly and entirely
//! apart from the hour before. The trend is the slope over the last six hours, cut at the last
//! level shift (a step is not a trend), as a percentage of the recent level per hour so that the
//! label means the same for CPU % and for requests per minute.

use super::stats::{blocks_from_end, linear_fit, mean, median, robust_sigma};
use crate::model::Trend;

/// Below this slope (% of the recent level per hour) a series is "stable": 12 % over six hours.
pub const STABLE_SLOPE_PCT_PER_HOUR: f64 = 2.0;
/// Blocks compared on each side of a candidate shift (an hour of 15-minute blocks).
const SIDE_BLOCKS: usize = 4;
/// A shift must exceed this many noise deviations of the block medians…
const SHIFT_SIGMAS: f64 = 5.0;
/// …and this fraction of the level, so that quiet series do not shift on every wobble.
const SHIFT_MIN_FRACTION: f64 = 0.05;
/// How far back the trend slope looks.
const TREND_WINDOW_SECONDS: i64 = 6 * 3600;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LevelShift {
    /// First sample at the new level.
    pub index: usize,
    /// New level − old level.
    pub size: f64,
}

/// Level shifts in `des` (deseasonalised, gap-free), oldest first.
pub(crate) fn level_shifts(des: &[f64], block: usize) -> Vec<LevelShift> {
    let block = block.max(1);
    let skip = des.len() % block;
    let b = blocks_from_end(des, block, median);
    if b.len() < 2 * SIDE_BLOCKS + 1 {
        return Vec::new();
    }
    let diffs: Vec<f64> = b.windows(2).map(|w| w[1] - w[0]).collect();
    let level = mean(&b.iter().map(|v| v.abs()).collect::<Vec<_>>());
    let noise = robust_sigma(&diffs) / std::f64::consts::SQRT_2;
    let threshold = (SHIFT_SIGMAS * noise).max(SHIFT_MIN_FRACTION * level);
    if threshold.is_nan() || threshold <= 0.0 {
        return Vec::new();
    }

    // Hour-to-hour changes at every boundary. A shift must also stand out among these: a series
    // whose level wanders by the hour (a daily shape the seasonal component does not fully
    // capture) needs a larger step than a flat one.
    let changes: Vec<(usize, f64, f64, f64)> = (SIDE_BLOCKS..=b.len() - SIDE_BLOCKS)
        .map(|j| {
            // Means of the block medians: robust already, and unlike a median they peak exactly
            // at the step, not one block either side.
            let (mb, ma) = (mean(&b[j - SIDE_BLOCKS..j]), mean(&b[j..j + SIDE_BLOCKS]));
            (j, ma - mb, mb, ma)
        })
        .collect();
    let typical_change = robust_sigma(&changes.iter().map(|c| c.1).collect::<Vec<_>>());
    let threshold = threshold.max(SHIFT_SIGMAS * typical_change);
    let mut candidates: Vec<(usize, f64)> = Vec::new();
    for &(j, d, mb, ma) in &changes {
        if d.abs() <= threshold {
            continue;
        }
        let before = &b[j - SIDE_BLOCKS..j];
        let after = &b[j..j + SIDE_BLOCKS];
        // Blocks on their own side of the midpoint: a lasting step, not a burst. One block per
        // side may stray (a spike the 15-minute median did not remove).
        let mid = (ma + mb) / 2.0;
        let sign = d.signum();
        let stray_before = before.iter().filter(|v| (*v - mid) * sign >= 0.0).count();
        let stray_after = after.iter().filter(|v| (*v - mid) * sign <= 0.0).count();
        let lasting = stray_before <= 1 && stray_after <= 1;
        if lasting {
            candidates.push((j, d));
        }
    }
    // One shift per cluster of neighbouring candidates (within two hours): the largest.
    let mut shifts: Vec<(usize, f64)> = Vec::new();
    for (j, d) in candidates {
        match shifts.last_mut() {
            Some(last) if j - last.0 <= 2 * SIDE_BLOCKS => {
                if d.abs() > last.1.abs() {
                    *last = (j, d);
                }
            }
            _ => shifts.push((j, d)),
        }
    }
    shifts
        .into_iter()
        .map(|(j, size)| LevelShift {
            index: skip + j * block,
            size,
        })
        .collect()
}

/// Slope of the level in % of the recent level per hour, over the last six hours of `des` but
/// not before `since`. `values` (the raw series) sets the level; 0 when it is about zero.
pub(crate) fn slope_pct_per_hour(
    des: &[f64],
    values: &[f64],
    block: usize,
    step_seconds: u32,
    since: usize,
) -> f64 {
    let n = des.len();
    let window = (TREND_WINDOW_SECONDS / step_seconds.max(1) as i64).max(1) as usize;
    let from = since.max(n.saturating_sub(window)).min(n);
    let block = block.max(1);
    let b = blocks_from_end(&des[from..], block, median);
    if b.len() < 3 {
        return 0.0;
    }
    let (per_block, _) = linear_fit(&b);
    let per_hour = per_block * 3600.0 / (block as f64 * step_seconds.max(1) as f64);
    let day = (86_400 / step_seconds.max(1) as i64).max(1) as usize;
    let recent = &values[n.saturating_sub(day)..];
    let level = mean(&recent.iter().map(|v| v.abs()).collect::<Vec<_>>());
    if level.is_nan() || level <= 1e-12 || !per_hour.is_finite() {
        return 0.0;
    }
    per_hour / level * 100.0
}

/// Trend label from a slope in % per hour.
pub fn classify_trend(pct_per_hour: f64) -> Trend {
    if pct_per_hour > STABLE_SLOPE_PCT_PER_HOUR {
        Trend::Increasing
    } else if pct_per_hour < -STABLE_SLOPE_PCT_PER_HOUR {
        Trend::Decreasing
    } else {
        Trend::Stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: usize) -> f64 {
        crate::forecast::stats::test_noise(i, 1)
    }

    #[test]
    fn trend_label_follows_synthetic_slopes() {
        // 1-minute data around 100 for a day; the last six hours rise (or fall) at a set rate.
        for (rate_pct, expected) in [
            (5.0, Trend::Increasing),
            (-5.0, Trend::Decreasing),
            (0.5, Trend::Stable),
            (0.0, Trend::Stable),
        ] {
            let v: Vec<f64> = (0..1440)
                .map(|i| {
                    let hours_in = (i as f64 - 1080.0).max(0.0) / 60.0;
                    100.0 + rate_pct * hours_in + 0.5 * noise(i)
                })
                .collect();
            let pct = slope_pct_per_hour(&v, &v, 15, 60, 0);
            assert_eq!(classify_trend(pct), expected, "rate {rate_pct}: got {pct}");
            if rate_pct != 0.0 {
                assert!(
                    (pct - rate_pct).abs() < 0.5 * rate_pct.abs().max(1.0),
                    "{pct}"
                );
            }
        }
    }

    #[test]
    fn a_level_shift_is_found_and_the_trend_is_cut_there() {
        // Flat at 50, steps to 80 two hours before the end: the last six hours see a step,
        // which must not read as a rising trend.
        let v: Vec<f64> = (0..1440)
            .map(|i| if i < 1320 { 50.0 } else { 80.0 } + noise(i))
            .collect();
        let shifts = level_shifts(&v, 15);
        assert_eq!(shifts.len(), 1, "{shifts:?}");
        assert!((shifts[0].index as i64 - 1320).abs() <= 15, "{shifts:?}");
        assert!((shifts[0].size - 30.0).abs() < 2.0);
        let uncut = slope_pct_per_hour(&v, &v, 15, 60, 0);
        assert_eq!(classify_trend(uncut), Trend::Increasing, "without the cut");
        let cut = slope_pct_per_hour(&v, &v, 15, 60, shifts[0].index);
        assert_eq!(
            classify_trend(cut),
            Trend::Stable,
            "cut at the shift: {cut}"
        );
    }

    #[test]
    fn spikes_and_noise_are_not_level_shifts() {
        let mut v: Vec<f64> = (0..1440).map(|i| 50.0 + 3.0 * noise(i)).collect();
        for x in &mut v[600..605] {
            *x = 200.0;
        }
        assert!(level_shifts(&v, 15).is_empty());
        assert!(level_shifts(&[0.0; 500], 15).is_empty(), "constant");
        assert!(level_shifts(&[1.0; 3], 15).is_empty(), "short");
        assert_eq!(slope_pct_per_hour(&[0.0; 500], &[0.0; 500], 15, 60, 0), 0.0);
    }
}
