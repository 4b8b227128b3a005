//! The level of a (deseasonalised) series over the horizon: augurs' AutoETS restricted to an
//! additive damped trend, fitted on block means.
//!
//! Fitting on 15-minute means of the last 48 hours instead of every minute of the history costs
//! about a millisecond instead of tens, and measured no worse on the benchmark traces: the level
//! over the next hours is a slow quantity, minute noise only slows the optimiser down.

use augurs::ets::AutoETS;
use augurs::{Fit, Predict};

use super::stats::{blocks_from_end, mean};

/// Width of the blocks the level is fitted on.
pub(crate) const BLOCK_SECONDS: i64 = 15 * 60;
/// How much history the level model sees: 48 hours were as accurate as 72 on the benchmark
/// traces at two thirds of the time; 36 were too, but lagged a steady trend on a synthetic
/// series (`mstl_recovers_a_daily_pattern_plus_trend_better_than_naive`).
const WINDOW_SECONDS: i64 = 48 * 3600;
/// Fewest blocks worth fitting a model to.
const MIN_BLOCKS: usize = 8;

/// A level forecast, sample by sample at the working step, with an optional band.
#[derive(Clone, Debug)]
pub(crate) struct LevelForecast {
    pub point: Vec<f64>,
    /// Half-widths of the model's 90 % interval for the block means, when it gave one.
    pub half_width: Option<Vec<f64>>,
    /// False when the model could not be fitted and the recent mean was used instead.
    pub fitted: bool,
}

/// Samples per block at this step.
pub(crate) fn block_len(step_seconds: u32) -> usize {
    (BLOCK_SECONDS / step_seconds.max(1) as i64).max(1) as usize
}

/// Forecast the level of `values` `ahead` samples on, from block means of `block` samples over
/// the last 48 hours.
pub(crate) fn damped_level(
    values: &[f64],
    step_seconds: u32,
    block: usize,
    ahead: usize,
    with_band: bool,
) -> LevelForecast {
    let block = block.max(1);
    let window = ((WINDOW_SECONDS / step_seconds.max(1) as i64).max(1) as usize).min(values.len());
    let blocks = blocks_from_end(&values[values.len() - window..], block, mean);
    let steps = ahead.div_ceil(block);
    let expand = |v: &[f64]| -> Vec<f64> { (0..ahead).map(|i| v[i / block]).collect() };
    if blocks.len() >= MIN_BLOCKS
        && let Some((point, hw)) = fit_damped(&blocks, steps, with_band)
    {
        return LevelForecast {
            point: expand(&point),
            half_width: hw.map(|h| expand(&h)),
            fitted: true,
        };
    }
    // Too little to fit, or the optimiser failed: hold the most recent block's mean.
    let last = blocks
        .last()
        .copied()
        .unwrap_or_else(|| values.last().copied().unwrap_or(0.0));
    LevelForecast {
        point: vec![last; ahead],
        half_width: None,
        fitted: false,
    }
}

fn fit_damped(
    blocks: &[f64],
    steps: usize,
    with_band: bool,
) -> Option<(Vec<f64>, Option<Vec<f64>>)> {
    let model = AutoETS::new(1, "AAN").ok()?.damped(true).ok()?;
    let fitted = model.fit(blocks).ok()?;
    let level = with_band.then_some(0.9);
    let f = fitted.predict(steps, level).ok()?;
    if f.point.len() != steps || f.point.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let hw = f.intervals.and_then(|iv| {
        let hw: Vec<f64> = iv
            .upper
            .iter()
            .zip(&iv.lower)
            .map(|(u, l)| (u - l) / 2.0)
            .collect();
        (hw.len() == steps && hw.iter().all(|v| v.is_finite())).then_some(hw)
    });
    Some((f.point, hw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_rising_level_but_damps_it() {
        // 1-minute data rising 0.01 per minute for two days.
        let v: Vec<f64> = (0..2880).map(|i| 10.0 + 0.01 * i as f64).collect();
        let f = damped_level(&v, 60, block_len(60), 360, true);
        assert!(f.fitted);
        assert_eq!(f.point.len(), 360);
        let last = *v.last().expect("non-empty");
        assert!(f.point[0] > last - 0.5, "{} vs {last}", f.point[0]);
        // Undamped, six hours on would be 3.6 higher; damped it rises, but less.
        assert!(f.point[359] > f.point[0] && f.point[359] < last + 3.7);
        assert!(f.half_width.is_some());
    }

    #[test]
    fn too_little_data_holds_the_recent_mean() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let f = damped_level(&v, 60, 2, 5, false);
        assert!(!f.fitted);
        assert_eq!(f.point, vec![3.5; 5]);
        let f = damped_level(&[5.0; 600], 60, 15, 30, true);
        assert!(
            f.point.iter().all(|v| (v - 5.0).abs() < 1e-6),
            "{:?}",
            f.point
        );
    }
}
