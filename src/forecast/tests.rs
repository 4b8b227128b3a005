//! End-to-end tests of `forecast` on synthetic series with known answers.

use super::*;
use crate::model::{AnomalyKind, Trend};

const DAY5: usize = 288; // 5-minute samples per day

fn uniform(i: usize, seed: u64) -> f64 {
    stats::test_noise(i, seed)
}

/// Roughly normal noise with unit variance (sum of three uniforms).
fn gauss(i: usize, seed: u64) -> f64 {
    uniform(i, seed) + uniform(i, seed + 100) + uniform(i, seed + 200)
}

fn daily(i: usize, per_day: usize) -> f64 {
    let phase = (i % per_day) as f64 / per_day as f64 * std::f64::consts::TAU;
    // A sharp morning peak and a flatter evening: not a pure sine.
    30.0 * phase.sin().max(0.0).powf(1.5) - 10.0 * (2.0 * phase).cos()
}

fn run(values: &[f64], step: u32) -> Forecast {
    forecast(
        SeriesInput {
            start: 1_700_000_000,
            step_seconds: step,
            values,
        },
        ForecastOptions::default(),
    )
    .expect("forecast")
}

fn mae(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn mstl_recovers_a_daily_pattern_plus_trend_better_than_naive() {
    // Eight days of 5-minute data: daily shape + slow upward trend + noise, then the truth.
    let series: Vec<f64> = (0..8 * DAY5 + 72)
        .map(|i| 100.0 + daily(i, DAY5) + 0.01 * i as f64 + 6.0 * gauss(i, 1))
        .collect();
    let (history, truth) = series.split_at(8 * DAY5);
    let f = run(history, 300);
    assert!(f.model.contains("mstl"), "model {}", f.model);
    assert!(!f.low_confidence);
    assert_eq!(f.points.len(), 72);
    assert_eq!(f.hourly.len(), 6);
    let predicted: Vec<f64> = f.points.iter().map(|p| p.value).collect();
    let naive = &history[history.len() - DAY5..history.len() - DAY5 + 72];
    let (m, n) = (mae(&predicted, truth), mae(naive, truth));
    assert!(
        m < 0.8 * n,
        "forecast MAE {m:.2} vs seasonal naive {n:.2} ({})",
        f.model
    );
    // The noise-free truth is tracked closely.
    let clean: Vec<f64> = (8 * DAY5..8 * DAY5 + 72)
        .map(|i| 100.0 + daily(i, DAY5) + 0.01 * i as f64)
        .collect();
    assert!(mae(&predicted, &clean) < 3.0, "{}", mae(&predicted, &clean));
    assert_eq!(
        f.points.get(0).expect("point").timestamp,
        1_700_000_000 + 8 * 86_400
    );
}

#[test]
fn band_contains_most_held_out_points_on_a_noisy_series() {
    let mut inside = 0;
    let mut total = 0;
    // Several origins so that one lucky day does not decide.
    for seed in 0..4u64 {
        let series: Vec<f64> = (0..6 * DAY5 + 72)
            .map(|i| 60.0 + daily(i, DAY5) + 8.0 * gauss(i, 10 + seed))
            .collect();
        let (history, truth) = series.split_at(6 * DAY5);
        let f = run(history, 300);
        for (p, t) in f.points.iter().zip(truth) {
            assert!(p.lower <= p.value && p.value <= p.upper);
            inside += usize::from(p.lower <= *t && *t <= p.upper);
            total += 1;
        }
    }
    let coverage = inside as f64 / total as f64;
    assert!(coverage >= 0.75, "90 % band covered {coverage:.2}");
    assert!(
        coverage < 0.999,
        "band too wide to be useful: {coverage:.3}"
    );
}

#[test]
fn under_two_days_falls_back_to_damped_ets_marked_low_confidence() {
    let v: Vec<f64> = (0..1440)
        .map(|i| 40.0 + 0.01 * i as f64 + gauss(i, 3))
        .collect();
    let f = run(&v, 60);
    assert!(f.low_confidence);
    assert_eq!(f.model, "ets-damped");
    assert_eq!(f.points.len(), 360);
    let first = f.points.get(0).expect("point").value;
    assert!(
        (first - 54.4).abs() < 2.0,
        "starts near the current level: {first}"
    );
    // Rising, but damped: well below the undamped 54.4 + 3.6.
    let last = f.points.get(359).expect("point").value;
    assert!(last >= first - 0.5 && last < 58.5, "{first} → {last}");
    assert!(
        f.points
            .iter()
            .all(|p| p.lower <= p.value && p.value <= p.upper)
    );
    assert!(
        f.points.get(359).expect("point").upper - f.points.get(359).expect("point").lower
            >= f.points.get(0).expect("point").upper - f.points.get(0).expect("point").lower,
        "band widens"
    );
}

#[test]
fn exactly_periodic_series_is_forecast_almost_exactly() {
    let v: Vec<f64> = (0..4 * DAY5).map(|i| 50.0 + daily(i, DAY5)).collect();
    let f = run(&v, 300);
    for (h, p) in f.points.iter().enumerate() {
        let expected = 50.0 + daily(v.len() + h, DAY5);
        assert!(
            (p.value - expected).abs() < 1.0,
            "h={h}: {} vs {expected}",
            p.value
        );
    }
    assert_eq!(f.trend, Trend::Stable);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
}

#[test]
fn rising_and_falling_series_get_their_trend_label() {
    for (slope, expected) in [(0.05, Trend::Increasing), (-0.05, Trend::Decreasing)] {
        // 3 days of 5-minute data around 100, drifting 0.05 per step = 0.6 per hour.
        let v: Vec<f64> = (0..3 * DAY5)
            .map(|i| 100.0 + daily(i, DAY5) + slope * (i as f64 - 2.0 * DAY5 as f64).max(0.0) * 5.0)
            .collect();
        let f = run(&v, 300);
        assert_eq!(
            f.trend, expected,
            "slope {slope}: {} %/h",
            f.trend_pct_per_hour
        );
    }
}

#[test]
fn anomalies_find_an_injected_spike_and_a_level_shift() {
    let mut v: Vec<f64> = (0..4 * DAY5)
        .map(|i| {
            let shift = if i >= 3 * DAY5 + 100 { 40.0 } else { 0.0 };
            100.0 + daily(i, DAY5) + shift + 2.0 * gauss(i, 5)
        })
        .collect();
    v[2 * DAY5 + 50] += 80.0;
    let f = run(&v, 300);
    let spike_at = 1_700_000_000 + (2 * DAY5 as i64 + 50) * 300;
    let shift_at = 1_700_000_000 + (3 * DAY5 as i64 + 100) * 300;
    assert!(
        f.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::Outlier && a.timestamp == spike_at),
        "{:?}",
        f.anomalies
    );
    assert!(
        f.anomalies.iter().any(|a| a.kind == AnomalyKind::LevelShift
            && (a.timestamp - shift_at).abs() <= 4 * 300),
        "{:?}",
        f.anomalies
    );
}

#[test]
fn peak_is_the_highest_point_plus_typical_noise() {
    let v: Vec<f64> = (0..5 * DAY5)
        .map(|i| 100.0 + daily(i, DAY5) + 5.0 * gauss(i, 7))
        .collect();
    let f = run(&v, 300);
    let top = f
        .points
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .expect("points");
    assert_eq!(f.peak.timestamp, top.timestamp);
    assert!(f.peak.value >= top.value && f.peak.value < top.value + 25.0);
}

#[test]
fn sub_minute_input_is_forecast_at_its_own_step() {
    // 15-second samples for three days.
    let per_day = 4 * 1440;
    let v: Vec<f64> = (0..3 * per_day)
        .map(|i| 50.0 + daily(i, per_day) + gauss(i, 9))
        .collect();
    let f = run(&v, 15);
    assert_eq!(f.step_seconds, 15);
    assert_eq!(f.points.len(), 6 * 3600 / 15);
    assert_eq!(
        f.points.get(1).expect("point").timestamp - f.points.get(0).expect("point").timestamp,
        15
    );
    assert!(
        f.model.contains("mstl") || f.model.contains("naive"),
        "{}",
        f.model
    );
}

#[test]
fn nan_empty_and_constant_series_never_panic() {
    for v in [
        vec![],
        vec![f64::NAN; 100],
        vec![f64::INFINITY; 100],
        vec![1.0, f64::NAN, 2.0],
    ] {
        assert!(
            forecast(
                SeriesInput {
                    start: 0,
                    step_seconds: 60,
                    values: &v
                },
                ForecastOptions::default()
            )
            .is_err()
        );
    }
    for (len, step) in [(10, 60), (500, 60), (3 * DAY5, 300), (15 * DAY5, 300)] {
        let f = run(&vec![42.0; len], step);
        assert!(
            f.points.iter().all(|p| (p.value - 42.0).abs() < 1e-6),
            "{len}: {}",
            f.points.get(0).expect("point").value
        );
        assert_eq!(f.trend, Trend::Stable);
        assert!(f.anomalies.is_empty());
        assert!((f.peak.value - 42.0).abs() < 1e-6);
    }
    // Mostly gaps, some values, zero step, and a zero horizon.
    let mut v = vec![f64::NAN; 3 * DAY5];
    for i in (0..v.len()).step_by(7) {
        v[i] = (i % 13) as f64;
    }
    let f = run(&v, 300);
    assert!(
        f.points
            .iter()
            .all(|p| p.value.is_finite() && p.value >= 0.0)
    );
    assert_eq!(
        forecast(
            SeriesInput {
                start: 0,
                step_seconds: 0,
                values: &[1.0; 20]
            },
            ForecastOptions::default()
        ),
        Err(ForecastError::BadStep)
    );
    let f = forecast(
        SeriesInput {
            start: 0,
            step_seconds: 60,
            values: &[1.0; 20],
        },
        ForecastOptions { horizon_seconds: 0 },
    )
    .expect("zero horizon still gives one point");
    assert_eq!(f.points.len(), 1);
}

#[test]
fn too_little_history_is_an_error_not_a_guess() {
    let v = [1.0, f64::NAN, 2.0];
    let r = forecast(
        SeriesInput {
            start: 0,
            step_seconds: 60,
            values: &v,
        },
        ForecastOptions::default(),
    );
    assert_eq!(
        r,
        Err(ForecastError::TooShort {
            have: 2,
            need: MIN_POINTS
        })
    );
}

#[test]
fn horizons_from_one_step_to_a_week() {
    let v: Vec<f64> = (0..4 * DAY5)
        .map(|i| 50.0 + daily(i, DAY5) + gauss(i, 11))
        .collect();
    for horizon in [300, 5_400, 86_400, 7 * 86_400] {
        let f = forecast(
            SeriesInput {
                start: 0,
                step_seconds: 300,
                values: &v,
            },
            ForecastOptions {
                horizon_seconds: horizon,
            },
        )
        .expect("forecast");
        assert_eq!(f.points.len(), horizon as usize / 300);
        assert_eq!(f.hourly.len(), horizon as usize / 3600);
        assert!(
            f.points
                .iter()
                .all(|p| p.value.is_finite() && p.lower <= p.value && p.value <= p.upper)
        );
        let last = f.points.last().expect("points");
        assert_eq!(
            last.timestamp,
            (4 * DAY5) as i64 * 300 + horizon as i64 - 300
        );
    }
}
