//! One forecast of 7 days of 1-minute data (the performance goal: ≤ 20 ms on one core).
//!
//!     cargo bench --bench forecast
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::hint::black_box;

use ai4k8s::forecast::{ForecastOptions, SeriesInput, forecast};
use ai4k8s::traces;
use criterion::{Criterion, criterion_group, criterion_main};

fn seven_days_of_minutes(c: &mut Criterion) {
    let Some(trace) = traces::embedded::load("crane_input9_1m") else {
        panic!("embedded trace crane_input9_1m is missing");
    };
    let len = 7 * 1440;
    let from = trace.values.len() - len;
    let input = SeriesInput {
        start: trace.timestamp(from),
        step_seconds: trace.step_seconds,
        values: &trace.values[from..],
    };
    c.bench_function("forecast 7 days of 1-minute data, 6 h ahead", |b| {
        b.iter(|| forecast(black_box(input), ForecastOptions::default()))
    });
    // Under two days: the damped-ETS fallback.
    let short = SeriesInput {
        start: trace.timestamp(trace.values.len() - 1440),
        step_seconds: trace.step_seconds,
        values: &trace.values[trace.values.len() - 1440..],
    };
    c.bench_function("forecast 1 day of 1-minute data, 6 h ahead", |b| {
        b.iter(|| forecast(black_box(short), ForecastOptions::default()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = seven_days_of_minutes
}
criterion_main!(benches);
