//! Seasonal decomposition with augurs' MSTL: a daily component, plus a weekly one once two
//! weeks of history exist.

use augurs::mstl::stlrs;

use super::stats::moving_average;

/// Width of the seasonal smoother in cycles (odd). Wide windows average many days, which beat
/// narrow ones on the benchmark traces (21 > 15 > 11 > 7 in relative MAE); a shift in the daily
/// pattern is left to the blend with seasonal naive to follow.
const DAILY_SEASONAL_LENGTH: usize = 21;
const WEEKLY_SEASONAL_LENGTH: usize = 25;
/// The weekly component is smoothed over this long: with two cycles it is otherwise mostly the
/// noise of two single weeks, which made forecasts worse on traces without a weekly rhythm.
const WEEKLY_SMOOTHING_SECONDS: i64 = 3 * 3600;
/// Evaluations of STL's trend and low-pass loess per window length (stlrs' default: 10).
const SMOOTHER_EVALUATIONS_PER_WINDOW: f32 = 4.0;

#[derive(Clone, Debug)]
pub(crate) struct Decomposition {
    /// Sum of the seasonal components over the history.
    pub seasonal: Vec<f64>,
    /// The daily component alone over the history. Trend and anomalies use it: with two weekly
    /// cycles the weekly component absorbs half of any change in the last days, which hid a
    /// 60 → 14 collapse in the NAB ASG trace from level-shift detection.
    pub daily: Vec<f64>,
    /// The seasonal components continued `ahead` samples past the history.
    pub future: Vec<f64>,
}

impl Decomposition {
    /// The series without its seasonal part (trend + remainder).
    pub fn deseasonalise(&self, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .zip(&self.seasonal)
            .map(|(v, s)| v - s)
            .collect()
    }
}

/// MSTL of `values` (gap-free) with a daily period of `per_day` samples. None when there is
/// less than two days of history or augurs rejects the series.
pub(crate) fn mstl(
    values: &[f64],
    per_day: usize,
    step_seconds: u32,
    ahead: usize,
) -> Option<Decomposition> {
    let n = values.len();
    if per_day < 2 || n < 2 * per_day {
        return None;
    }
    let weekly = n >= 14 * per_day;
    let mut periods = vec![per_day];
    let mut lengths = vec![DAILY_SEASONAL_LENGTH];
    if weekly {
        periods.push(7 * per_day);
        lengths.push(WEEKLY_SEASONAL_LENGTH);
    }
    // stlrs works in f32; values are centred first so large magnitudes keep their precision.
    let centre = values.iter().sum::<f64>() / n as f64;
    let y: Vec<f32> = values.iter().map(|v| (v - centre) as f32).collect();
    let components = mstl_components(&y, &periods, &lengths)?;
    let mut seasonal = vec![0.0; n];
    let mut daily = Vec::new();
    let mut future = vec![0.0; ahead];
    for (c, (component, &period)) in components.iter().zip(&periods).enumerate() {
        let mut s: Vec<f64> = component.iter().map(|v| *v as f64).collect();
        if c == 1 {
            let k = (WEEKLY_SMOOTHING_SECONDS / step_seconds as i64).max(1) as usize;
            s = moving_average(&s, k);
        }
        for (acc, v) in seasonal.iter_mut().zip(&s) {
            *acc += v;
        }
        if c == 0 {
            daily = s.clone();
        }
        // The next cycle repeats the last one.
        for (i, acc) in future.iter_mut().enumerate() {
            *acc += s[n - period + i % period];
        }
    }
    if seasonal.iter().chain(&future).any(|v| !v.is_finite()) {
        return None;
    }
    Some(Decomposition {
        seasonal,
        daily,
        future,
    })
}

/// MSTL (Bandara, Hyndman & Bergmeir 2021) as stlrs runs it: STL per period, shortest first,
/// each on the series minus the other components, twice when there are several periods. Done
/// here rather than through `stlrs::MstlParams` so each period gets its own smoother spacing:
/// STL's trend and low-pass loess are evaluated every quarter window instead of every tenth and
/// interpolated between, which cut the time by a third with no change in accuracy on the
/// benchmark (one shared spacing would make the weekly smoothers far slower instead).
fn mstl_components(y: &[f32], periods: &[usize], lengths: &[usize]) -> Option<Vec<Vec<f32>>> {
    let n = y.len();
    let mut deseasonalised = y.to_vec();
    let mut components = vec![vec![0.0f32; n]; periods.len()];
    let iterations = if periods.len() > 1 { 2 } else { 1 };
    for iteration in 0..iterations {
        for ((&period, &length), component) in periods.iter().zip(lengths).zip(&mut components) {
            if iteration > 0 {
                for (d, s) in deseasonalised.iter_mut().zip(component.iter()) {
                    *d += s;
                }
            }
            let np = period as f32;
            // stlrs' default trend window for this period and seasonal length.
            let trend_window = (1.5 * np / (1.0 - 1.5 / length as f32)).ceil();
            let mut params = stlrs::params();
            params
                .seasonal_length(length)
                .trend_jump(
                    (trend_window / SMOOTHER_EVALUATIONS_PER_WINDOW)
                        .ceil()
                        .max(1.0) as usize,
                )
                .low_pass_jump((np / SMOOTHER_EVALUATIONS_PER_WINDOW).ceil().max(1.0) as usize);
            let fit = params.fit(&deseasonalised, period).ok()?;
            *component = fit.seasonal().to_vec();
            for (d, s) in deseasonalised.iter_mut().zip(component.iter()) {
                *d -= s;
            }
        }
    }
    Some(components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_daily_wave_and_continues_it() {
        let per_day = 288;
        let wave = |i: usize| 10.0 * (i as f64 / per_day as f64 * std::f64::consts::TAU).sin();
        let v: Vec<f64> = (0..4 * per_day).map(|i| 50.0 + wave(i)).collect();
        let d = mstl(&v, per_day, 300, 72).expect("decomposes");
        for (i, f) in d.future.iter().enumerate() {
            assert!((f - wave(v.len() + i)).abs() < 0.5, "i={i}: {f}");
        }
        let des = d.deseasonalise(&v);
        assert!(des.iter().all(|x| (x - 50.0).abs() < 0.5));
    }

    #[test]
    fn needs_two_days_and_adds_a_weekly_component_from_two_weeks() {
        assert!(mstl(&[1.0; 100], 288, 300, 10).is_none());
        let d = mstl(&vec![3.0; 14 * 24], 24, 3600, 5).expect("decomposes");
        assert!(
            d.future.iter().all(|v| v.abs() < 1e-6),
            "constant: no season"
        );
        // A weekly rhythm (weekends at half load) is carried into the forecast from two weeks:
        // the series ends on a Sunday, so the next day is a weekday, above the weekly mean.
        let v: Vec<f64> = (0..14 * 24)
            .map(|i| if (i / 24) % 7 >= 5 { 50.0 } else { 100.0 })
            .collect();
        let d = mstl(&v, 24, 3600, 48).expect("decomposes");
        let next_day = d.future[..24].iter().sum::<f64>() / 24.0;
        assert!(next_day > 5.0, "{next_day}");
    }
}
