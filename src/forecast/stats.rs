//! Small numeric helpers shared by the forecaster's stages. All of them tolerate empty input
//! and never panic; callers pass finite values (gaps are filled before these run).

pub(crate) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Median of finite values (upper median for even counts); 0 for none.
pub(crate) fn median(v: &[f64]) -> f64 {
    let mut w: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if w.is_empty() {
        return 0.0;
    }
    let mid = w.len() / 2;
    let (_, m, _) = w.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// Quantile (0..=1) by linear interpolation between closest ranks, ignoring non-finite values.
pub(crate) fn quantile(v: &[f64], q: f64) -> f64 {
    crate::traces::quantile(v, q)
}

/// Largest value, or `f64::NEG_INFINITY` for none.
pub(crate) fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Index of the largest value (first on ties); 0 for an empty slice.
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Robust standard deviation: 1.4826 × the median absolute deviation from the median.
pub(crate) fn robust_sigma(v: &[f64]) -> f64 {
    let m = median(v);
    let dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    1.4826 * median(&dev)
}

/// Centred moving average over `k` points; the window is truncated at the ends.
pub(crate) fn moving_average(v: &[f64], k: usize) -> Vec<f64> {
    let n = v.len();
    let half = k / 2;
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for x in v {
        acc += x;
        prefix.push(acc);
    }
    (0..n)
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + half + 1).min(n);
            (prefix[b] - prefix[a]) / (b - a) as f64
        })
        .collect()
}

/// Split `v` into blocks of `k` aligned to its end (a partial block at the start is dropped) and
/// reduce each block with `f`. Aligning to the end keeps the most recent block whole.
pub(crate) fn blocks_from_end(v: &[f64], k: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let k = k.max(1);
    let skip = v.len() % k;
    v[skip..].chunks(k).map(f).collect()
}

/// Least-squares line through `v` against its index: (slope per step, intercept).
pub(crate) fn linear_fit(v: &[f64]) -> (f64, f64) {
    if v.len() < 2 {
        return (0.0, v.first().copied().unwrap_or(0.0));
    }
    let n = v.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = mean(v);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (y - my);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (slope, my - slope * mx)
}

/// Deterministic noise for tests: uniform in [-1, 1], independent across `i` and `seed`
/// (splitmix64; a bare multiplicative sequence repeats with a shift from day to day, which a
/// seasonal model would "predict").
#[cfg(test)]
pub(crate) fn test_noise(i: usize, seed: u64) -> f64 {
    let mut z = (i as u64)
        .wrapping_add(seed.wrapping_mul(0x632B_E59B_D9B4_E019))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_handle_empty_and_simple_input() {
        assert_eq!(mean(&[]), 0.0);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(max(&[]), f64::NEG_INFINITY);
        assert_eq!(argmax(&[1.0, 5.0, 5.0, 2.0]), 1);
        assert_eq!(argmax(&[]), 0);
        assert_eq!(robust_sigma(&[1.0, 1.0, 1.0]), 0.0);
        assert_eq!(moving_average(&[1.0, 2.0, 3.0], 3), vec![1.5, 2.0, 2.5]);
        assert_eq!(
            blocks_from_end(&[9.0, 1.0, 3.0, 5.0, 7.0], 2, mean),
            vec![2.0, 6.0]
        );
        let (slope, icpt) = linear_fit(&[1.0, 3.0, 5.0]);
        assert!((slope - 2.0).abs() < 1e-12 && (icpt - 1.0).abs() < 1e-12);
        assert_eq!(linear_fit(&[]), (0.0, 0.0));
    }
}
