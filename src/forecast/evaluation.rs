//! Rolling-origin evaluation of `forecast` against seasonal naive (same time yesterday) on
//! recorded traces: the benchmark in `examples/forecast_eval.rs` and `docs/benchmarks.md`.
//!
//! From each origin the forecaster sees at most 14 days of history before it and forecasts the
//! horizon; errors are measured on the observed values that follow. Rows missing from a trace are
//! gaps (NaN) to the forecaster, as a metrics outage would be, and are not scored.

use std::path::Path;
use std::time::Instant;

use super::{ForecastOptions, SeriesInput, forecast};
use crate::model::UnixSeconds;
use crate::traces::{self, Gaps};

const DAY: i64 = 86_400;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub horizon_seconds: u32,
    /// Origins per trace, evenly spread from `first_origin_fraction` of the trace to its end.
    pub origins: usize,
    pub first_origin_fraction: f64,
    /// No origin with less history than this before it.
    pub min_history_days: i64,
    /// The forecaster sees at most this much history.
    pub max_history_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            horizon_seconds: 6 * 3600,
            origins: 24,
            first_origin_fraction: 0.5,
            min_history_days: 3,
            max_history_days: 14,
        }
    }
}

/// A trace on a regular grid: `values` has NaN for missing rows, `filled` carries the last value
/// into them (what seasonal naive repeats).
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub start: UnixSeconds,
    pub step_seconds: u32,
    pub values: Vec<f64>,
    pub filled: Vec<f64>,
}

impl Series {
    pub fn from_values(
        name: &str,
        start: UnixSeconds,
        step_seconds: u32,
        values: Vec<f64>,
    ) -> Self {
        let mut last = values
            .iter()
            .copied()
            .find(|v| v.is_finite())
            .unwrap_or(0.0);
        let filled = values
            .iter()
            .map(|v| {
                if v.is_finite() {
                    last = *v;
                }
                last
            })
            .collect();
        Self {
            name: name.to_string(),
            start,
            step_seconds,
            values,
            filled,
        }
    }
}

/// Load a trace CSV (validated by `traces::load`), keeping missing rows as NaN.
pub fn load_series(path: &Path) -> Result<Series, String> {
    let trace = traces::load(path, Gaps::FillWithLast).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let step = trace.step_seconds as i64;
    let mut present = vec![false; trace.values.len()];
    // traces::load accepted the file, so every data row has a timestamp on the grid.
    for line in text.lines().filter(|l| !l.trim().is_empty()).skip(1) {
        let ts = line.split(',').next().map(str::trim).unwrap_or("");
        let t = ts
            .parse::<i64>()
            .ok()
            .or_else(|| ts.parse::<f64>().ok().map(|f| f as i64))
            .or_else(|| {
                chrono::DateTime::parse_from_rfc3339(ts)
                    .ok()
                    .map(|d| d.timestamp())
            });
        if let Some(t) = t {
            let i = (t - trace.start) / step;
            if let Some(p) = usize::try_from(i).ok().and_then(|i| present.get_mut(i)) {
                *p = true;
            }
        }
    }
    let values = trace
        .values
        .iter()
        .zip(&present)
        .map(|(v, p)| if *p { *v } else { f64::NAN })
        .collect();
    Ok(Series {
        name: trace.name,
        start: trace.start,
        step_seconds: trace.step_seconds,
        values,
        filled: trace.values,
    })
}

/// One forecast from one origin, scored.
#[derive(Clone, Debug)]
pub struct OriginScore {
    pub origin: usize,
    pub mae: f64,
    pub naive_mae: f64,
    /// In-sample MAE of seasonal naive over the history (the MASE scale).
    pub scale: f64,
    pub actual_peak: f64,
    pub peak: f64,
    pub naive_peak: f64,
    pub inside_band: usize,
    pub scored: usize,
    pub model: String,
    pub low_confidence: bool,
    /// Wall-clock time of the `forecast` call (fit + predict).
    pub seconds: f64,
    /// CPU time of the call on its thread, where the platform reports it.
    pub cpu_seconds: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct TraceReport {
    pub name: String,
    pub step_seconds: u32,
    pub days: f64,
    pub origins: Vec<OriginScore>,
}

impl TraceReport {
    /// Total MAE over total seasonal-naive MAE (below 1: better than naive).
    pub fn relative_mae(&self) -> f64 {
        let m: f64 = self.origins.iter().map(|o| o.mae).sum();
        let n: f64 = self.origins.iter().map(|o| o.naive_mae).sum();
        if n > 0.0 { m / n } else { f64::NAN }
    }

    /// Mean over origins of MAE / in-sample seasonal-naive MAE.
    pub fn mase(&self) -> f64 {
        mean_of(
            self.origins
                .iter()
                .filter(|o| o.scale > 0.0)
                .map(|o| o.mae / o.scale),
        )
    }

    pub fn naive_mase(&self) -> f64 {
        mean_of(
            self.origins
                .iter()
                .filter(|o| o.scale > 0.0)
                .map(|o| o.naive_mae / o.scale),
        )
    }

    /// Mean |forecast peak − actual peak| / actual peak, in %, over origins whose actual peak is
    /// positive.
    pub fn peak_error_pct(&self) -> f64 {
        peak_error(self.origins.iter().map(|o| (o.peak, o.actual_peak)))
    }

    /// Median of the same relative peak errors: one outage or burst moves the mean, not this.
    pub fn median_peak_error_pct(&self) -> f64 {
        median_of(
            self.origins
                .iter()
                .filter(|o| o.actual_peak > 0.0)
                .map(|o| (o.peak - o.actual_peak).abs() / o.actual_peak * 100.0)
                .collect(),
        )
    }

    pub fn naive_peak_error_pct(&self) -> f64 {
        peak_error(self.origins.iter().map(|o| (o.naive_peak, o.actual_peak)))
    }

    /// Share of observed values inside the forecast's band.
    pub fn band_coverage(&self) -> f64 {
        let inside: usize = self.origins.iter().map(|o| o.inside_band).sum();
        let scored: usize = self.origins.iter().map(|o| o.scored).sum();
        if scored == 0 {
            f64::NAN
        } else {
            inside as f64 / scored as f64
        }
    }

    /// Median wall-clock milliseconds per forecast.
    pub fn median_ms(&self) -> f64 {
        median_of(self.origins.iter().map(|o| o.seconds * 1000.0).collect())
    }

    /// Median CPU milliseconds per forecast (NaN where CPU time is not available).
    pub fn median_cpu_ms(&self) -> f64 {
        median_of(
            self.origins
                .iter()
                .filter_map(|o| o.cpu_seconds.map(|s| s * 1000.0))
                .collect(),
        )
    }

    /// How often each model was chosen, most frequent first.
    pub fn model_mix(&self) -> Vec<(String, usize)> {
        let mut mix: Vec<(String, usize)> = Vec::new();
        for o in &self.origins {
            let name = short_model_name(&o.model);
            match mix.iter_mut().find(|(m, _)| *m == name) {
                Some((_, c)) => *c += 1,
                None => mix.push((name, 1)),
            }
        }
        mix.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        mix
    }
}

/// "mstl+ets 75% + seasonal-naive 25%" → "blend 75%".
fn short_model_name(model: &str) -> String {
    match model.split_once('%') {
        Some((head, _)) if model.contains('+') && model.contains("naive") => {
            format!("blend {}%", head.rsplit(' ').next().unwrap_or(head))
        }
        _ => model.to_string(),
    }
}

fn mean_of(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

fn median_of(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

fn peak_error(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    mean_of(
        pairs
            .filter(|(_, actual)| *actual > 0.0)
            .map(|(p, a)| (p - a).abs() / a * 100.0),
    )
}

/// Geometric mean of positive finite values (NaN if none).
pub fn geometric_mean(values: &[f64]) -> f64 {
    let logs: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| v.ln())
        .collect();
    if logs.is_empty() {
        f64::NAN
    } else {
        (logs.iter().sum::<f64>() / logs.len() as f64).exp()
    }
}

/// Origins (indices into the series) for this trace.
pub fn origins(series: &Series, settings: &Settings) -> Vec<usize> {
    let step = series.step_seconds.max(1) as i64;
    let n = series.values.len();
    let h = (settings.horizon_seconds as i64 / step).max(1) as usize;
    let per_day = (DAY / step).max(1) as usize;
    let lo = ((n as f64 * settings.first_origin_fraction) as usize)
        .max(settings.min_history_days.max(0) as usize * per_day);
    let Some(hi) = n.checked_sub(h) else {
        return Vec::new();
    };
    if lo > hi || settings.origins == 0 {
        return Vec::new();
    }
    let k = settings.origins;
    if k == 1 {
        return vec![hi];
    }
    (0..k).map(|j| lo + (hi - lo) * j / (k - 1)).collect()
}

/// Evaluate `forecast` on one trace.
pub fn evaluate(series: &Series, settings: &Settings) -> TraceReport {
    let step = series.step_seconds.max(1) as i64;
    let per_day = (DAY / step).max(1) as usize;
    let h = (settings.horizon_seconds as i64 / step).max(1) as usize;
    let max_history = (settings.max_history_days.max(1) * DAY / step) as usize;
    let opts = ForecastOptions {
        horizon_seconds: settings.horizon_seconds,
    };
    let mut scores = Vec::new();
    for origin in origins(series, settings) {
        let from = origin.saturating_sub(max_history);
        let history = &series.values[from..origin];
        let actual = &series.values[origin..origin + h];
        let observed = actual.iter().filter(|v| v.is_finite()).count();
        // A horizon that is mostly a recording hole says nothing about the forecaster.
        if observed * 2 < h || origin < per_day {
            continue;
        }
        let input = SeriesInput {
            start: series.start + from as i64 * step,
            step_seconds: series.step_seconds,
            values: history,
        };
        let clock = Clock::start();
        let Ok(f) = forecast(input, opts) else {
            continue;
        };
        let (seconds, cpu_seconds) = clock.stop();

        let naive: Vec<f64> = (0..h)
            .map(|i| series.filled[origin + i - per_day])
            .collect();
        let (mut err, mut naive_err, mut inside) = (0.0, 0.0, 0usize);
        let mut actual_peak = f64::NEG_INFINITY;
        let mut naive_peak = f64::NEG_INFINITY;
        for (i, a) in actual.iter().enumerate() {
            naive_peak = naive_peak.max(naive[i]);
            if !a.is_finite() {
                continue;
            }
            let Some(p) = f.points.get(i) else { continue };
            err += (p.value - a).abs();
            naive_err += (naive[i] - a).abs();
            inside += usize::from(p.lower <= *a && *a <= p.upper);
            actual_peak = actual_peak.max(*a);
        }
        let scale = naive_scale(series, from, origin, per_day);
        scores.push(OriginScore {
            origin,
            mae: err / observed as f64,
            naive_mae: naive_err / observed as f64,
            scale,
            actual_peak,
            peak: f.peak.value,
            naive_peak,
            inside_band: inside,
            scored: observed,
            model: f.model,
            low_confidence: f.low_confidence,
            seconds,
            cpu_seconds,
        });
    }
    TraceReport {
        name: series.name.clone(),
        step_seconds: series.step_seconds,
        days: series.values.len() as f64 * step as f64 / DAY as f64,
        origins: scores,
    }
}

/// In-sample MAE of seasonal naive over `from..to` (pairs with both values observed).
fn naive_scale(series: &Series, from: usize, to: usize, per_day: usize) -> f64 {
    let v = &series.values;
    mean_of(
        (from.max(per_day)..to)
            .filter(|&t| v[t].is_finite() && v[t - per_day].is_finite())
            .map(|t| (v[t] - v[t - per_day]).abs()),
    )
}

/// Milliseconds per call, wall clock and (where available) CPU time of the thread.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub wall_ms: f64,
    pub cpu_ms: Option<f64>,
}

/// Time `forecast` on `repeats` windows of `days` days taken from the end of `series`
/// (each window a step earlier than the previous).
pub fn time_windows(series: &Series, days: i64, repeats: usize) -> Vec<Timing> {
    let step = series.step_seconds.max(1) as i64;
    let len = (days * DAY / step) as usize;
    let n = series.filled.len();
    if n < len + repeats {
        return Vec::new();
    }
    (0..repeats)
        .map(|r| {
            let from = n - len - r;
            let input = SeriesInput {
                start: series.start + from as i64 * step,
                step_seconds: series.step_seconds,
                values: &series.filled[from..from + len],
            };
            let clock = Clock::start();
            let _ = std::hint::black_box(forecast(input, ForecastOptions::default()));
            let (wall, cpu) = clock.stop();
            Timing {
                wall_ms: wall * 1000.0,
                cpu_ms: cpu.map(|c| c * 1000.0),
            }
        })
        .collect()
}

/// Wall clock and thread CPU clock together: on a shared machine the wall clock also counts
/// time other processes held the core, the CPU clock only this thread's work.
struct Clock {
    wall: Instant,
    cpu: Option<f64>,
}

impl Clock {
    fn start() -> Self {
        Self {
            cpu: thread_cpu_seconds(),
            wall: Instant::now(),
        }
    }

    /// (wall seconds, CPU seconds).
    fn stop(self) -> (f64, Option<f64>) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = self
            .cpu
            .zip(thread_cpu_seconds())
            .map(|(a, b)| (b - a).max(0.0));
        (wall, cpu)
    }
}

#[cfg(unix)]
fn thread_cpu_seconds() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `ts`, a valid timespec on this stack frame.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_spread_over_the_later_part() {
        let s = Series::from_values("t", 0, 300, vec![1.0; 10 * 288]);
        let o = origins(&s, &Settings::default());
        assert_eq!(o.len(), 24);
        assert_eq!(o[0], 5 * 288);
        assert_eq!(*o.last().expect("origins"), 10 * 288 - 72);
        let short = Series::from_values("t", 0, 300, vec![1.0; 2 * 288]);
        assert!(origins(&short, &Settings::default()).is_empty());
    }

    #[test]
    fn evaluation_scores_a_periodic_trace_better_than_naive() {
        // A daily wave with noise: MSTL's many-day average beats yesterday's noisy copy.
        let per_day = 288;
        let v: Vec<f64> = (0..8 * per_day)
            .map(|i| {
                let phase = i as f64 / per_day as f64 * std::f64::consts::TAU;
                let noise = crate::forecast::stats::test_noise(i, 1) / 2.0;
                50.0 + 20.0 * phase.sin() + 10.0 * noise
            })
            .collect();
        let s = Series::from_values("wave", 0, 300, v);
        let settings = Settings {
            origins: 4,
            ..Settings::default()
        };
        let r = evaluate(&s, &settings);
        assert_eq!(r.origins.len(), 4);
        assert!(r.relative_mae() < 0.9, "{}", r.relative_mae());
        assert!(r.mase() < r.naive_mase());
        assert!(r.peak_error_pct().is_finite());
        assert!(r.median_peak_error_pct() <= r.peak_error_pct() * 3.0);
        assert!(r.band_coverage() > 0.5);
        assert!(!r.model_mix().is_empty());
        assert!(r.median_ms() > 0.0);
        #[cfg(target_os = "linux")]
        assert!(r.median_cpu_ms() > 0.0);
        assert!((geometric_mean(&[1.0, 4.0]) - 2.0).abs() < 1e-12);
        assert_eq!(
            short_model_name("mstl+ets 75% + seasonal-naive 25%"),
            "blend 75%"
        );
        assert_eq!(short_model_name("mstl+ets"), "mstl+ets");
    }

    #[test]
    fn missing_rows_become_gaps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.csv");
        std::fs::write(&path, "timestamp,value\n0,1\n60,2\n240,5\n300,6\n").expect("write");
        let s = load_series(&path).expect("loads");
        assert_eq!(s.values.len(), 6);
        assert!(s.values[2].is_nan() && s.values[3].is_nan());
        assert_eq!(s.filled[2], 2.0);
        assert_eq!(s.values[4], 5.0);
    }
}
