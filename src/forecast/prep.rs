//! Turning a raw series into the regular, gap-free working series the models need: samples finer
//! than a minute are averaged to one minute, history is cut to a bounded window, and gaps are
//! filled (short ones by interpolation, long ones from the same time a day earlier).

use super::input::{DAY_SECONDS, ForecastError, MIN_POINTS, SeriesInput};
use crate::model::UnixSeconds;

/// The models never look further back than this (the engine keeps 14 days per series too).
pub const MAX_HISTORY_DAYS: i64 = 14;
/// Gaps up to this long are bridged by a straight line; longer ones repeat the previous day.
const SHORT_GAP_SECONDS: i64 = 3600;

/// The regular, gap-free series the models work on.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// Time of `values[0]`.
    pub start: UnixSeconds,
    /// Working step: the input's, or one minute when the input was finer.
    pub step: u32,
    /// Input samples per working sample (1 unless the input was finer than a minute).
    pub factor: u32,
    pub values: Vec<f64>,
    /// Which working samples were observed rather than filled.
    pub observed: Vec<bool>,
    /// No observed value was negative, so forecasts are clamped at zero.
    pub nonnegative: bool,
    /// The last observed value (in input units, not averaged).
    pub last_observed: f64,
}

impl Prepared {
    /// Samples per day at the working step (at least 1).
    pub fn per_day(&self) -> usize {
        (DAY_SECONDS / self.step as i64).max(1) as usize
    }

    /// Samples per hour at the working step (at least 1).
    pub fn per_hour(&self) -> usize {
        (3600 / self.step as i64).max(1) as usize
    }

    pub fn timestamp(&self, i: usize) -> UnixSeconds {
        self.start + i as i64 * self.step as i64
    }
}

pub(crate) fn prepare(input: SeriesInput<'_>) -> Result<Prepared, ForecastError> {
    if input.step_seconds == 0 {
        return Err(ForecastError::BadStep);
    }
    let last_observed = input
        .values
        .iter()
        .rev()
        .copied()
        .find(|v| v.is_finite())
        .unwrap_or(f64::NAN);

    // Average sub-minute samples to one minute, in blocks aligned to the end of the series.
    let factor = if input.step_seconds < 60 {
        (60 / input.step_seconds).max(1)
    } else {
        1
    };
    let step = input.step_seconds * factor;
    let k = factor as usize;
    let skip = input.values.len() % k;
    let mut values: Vec<f64> = input.values[skip..]
        .chunks(k)
        .map(|c| {
            let (sum, count) = c
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if count == 0 {
                f64::NAN
            } else {
                sum / count as f64
            }
        })
        .collect();
    let mut start = input.start + skip as i64 * input.step_seconds as i64;

    // Keep a bounded window, and drop leading gaps: nothing to learn from them.
    let max_len = (MAX_HISTORY_DAYS * DAY_SECONDS / step as i64).max(1) as usize;
    let mut first = values.len().saturating_sub(max_len);
    while first < values.len() && !values[first].is_finite() {
        first += 1;
    }
    if first > 0 {
        values.drain(..first);
        start += first as i64 * step as i64;
    }

    let observed: Vec<bool> = values.iter().map(|v| v.is_finite()).collect();
    let have = observed.iter().filter(|o| **o).count();
    if have < MIN_POINTS {
        return Err(ForecastError::TooShort {
            have,
            need: MIN_POINTS,
        });
    }
    let nonnegative = values.iter().filter(|v| v.is_finite()).all(|v| *v >= 0.0);
    let mut prepared = Prepared {
        start,
        step,
        factor,
        values,
        observed,
        nonnegative,
        last_observed,
    };
    fill_gaps(&mut prepared);
    Ok(prepared)
}

/// Fill every non-finite value: a short gap with the straight line between its neighbours, a
/// long one with the value a day earlier (a workload repeats daily far better than it stays
/// flat), and anything without a usable neighbour with the last value.
fn fill_gaps(p: &mut Prepared) {
    let n = p.values.len();
    let per_day = p.per_day();
    let short = (SHORT_GAP_SECONDS / p.step as i64).max(1) as usize;
    let mut i = 0;
    while i < n {
        if p.observed[i] {
            i += 1;
            continue;
        }
        let gap_start = i;
        while i < n && !p.observed[i] {
            i += 1;
        }
        let gap_end = i; // exclusive
        // prepare() dropped leading gaps, so a value precedes every gap.
        let before = if gap_start > 0 {
            p.values[gap_start - 1]
        } else {
            0.0
        };
        let after = (gap_end < n).then(|| p.values[gap_end]);
        let len = gap_end - gap_start;
        for j in gap_start..gap_end {
            p.values[j] = match after {
                Some(a) if len <= short => {
                    let t = (j - gap_start + 1) as f64 / (len + 1) as f64;
                    before + (a - before) * t
                }
                _ if len > short && j >= per_day => p.values[j - per_day],
                _ => before,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(step: u32, values: &[f64]) -> SeriesInput<'_> {
        SeriesInput {
            start: 1_000,
            step_seconds: step,
            values,
        }
    }

    #[test]
    fn sub_minute_samples_are_averaged_to_a_minute_aligned_to_the_end() {
        // 15 s samples: 4 per minute; 9 leading points leave one partial block to drop.
        let v: Vec<f64> = (0..41).map(|i| i as f64).collect();
        let p = prepare(input(15, &v)).expect("prepared");
        assert_eq!((p.step, p.factor), (60, 4));
        assert_eq!(p.values.len(), 10);
        assert_eq!(p.values[0], (1.0 + 2.0 + 3.0 + 4.0) / 4.0);
        assert_eq!(p.start, 1_000 + 15);
        assert_eq!(p.last_observed, 40.0);
    }

    #[test]
    fn gaps_are_filled_and_leading_gaps_dropped() {
        let mut v = vec![f64::NAN, f64::NAN];
        v.extend((0..20).map(|i| i as f64));
        v[10] = f64::NAN;
        v[11] = f64::INFINITY;
        let p = prepare(input(60, &v)).expect("prepared");
        assert_eq!(p.start, 1_000 + 120);
        assert_eq!(p.values.len(), 20);
        // Interpolated across the two-point gap: a straight line.
        assert!((p.values[8] - 8.0).abs() < 1e-12 && (p.values[9] - 9.0).abs() < 1e-12);
        assert!(!p.observed[8] && p.observed[7]);
        assert!(p.values.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn long_gaps_repeat_the_previous_day() {
        // 5-minute steps: 288 per day; a 3-hour gap on day two copies day one.
        let mut v: Vec<f64> = (0..600).map(|i| (i % 288) as f64).collect();
        for x in &mut v[300..336] {
            *x = f64::NAN;
        }
        let p = prepare(input(300, &v)).expect("prepared");
        assert_eq!(p.values[310], (310 % 288) as f64);
    }

    #[test]
    fn too_few_observed_points_is_an_error() {
        let v = [1.0, f64::NAN, 2.0];
        assert_eq!(
            prepare(input(60, &v)).err(),
            Some(ForecastError::TooShort {
                have: 2,
                need: MIN_POINTS
            })
        );
        assert_eq!(
            prepare(input(0, &[1.0; 20])).err(),
            Some(ForecastError::BadStep)
        );
        assert!(prepare(input(60, &[])).is_err());
        assert!(prepare(input(60, &[f64::NAN; 50])).is_err());
    }
}
