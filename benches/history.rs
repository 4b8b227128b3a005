//! What a deployment's 14-day history costs to build and to read: the backfill pushes its
//! minutes one by one (tiers spill and seal chunks as they fill), and every forecast reads the
//! whole window back as minute samples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use ai4k8s::metrics::{HISTORY_MINUTES, History};
use ai4k8s::model::Sample;
use criterion::{Criterion, criterion_group, criterion_main};

fn minute(m: i64) -> Sample {
    let day = (m % 1440) as f64 / 1440.0 * std::f64::consts::TAU;
    Sample {
        timestamp: m * 60,
        cpu_pct: 50.0 + 30.0 * day.sin() + ((m * 7919) % 17) as f64 / 4.0,
        mem_pct: 40.0 + (m % 13) as f64 / 10.0,
        replicas: 3 + (m / 720 % 3) as u32,
        ready: 3,
    }
}

fn history(c: &mut Criterion) {
    let minutes = HISTORY_MINUTES as i64;
    c.bench_function("history: push 14 days of minutes", |b| {
        b.iter(|| {
            let mut h = History::with_capacity(HISTORY_MINUTES);
            for m in 0..minutes {
                h.push(minute(m));
            }
            black_box(h)
        })
    });
    let mut h = History::with_capacity(HISTORY_MINUTES);
    for m in 0..minutes {
        h.push(minute(m));
    }
    c.bench_function("history: read 14 days back", |b| {
        b.iter(|| black_box(h.iter().len()))
    });
    c.bench_function("history: push one minute into a full window", |b| {
        let mut m = minutes;
        b.iter(|| {
            m += 1;
            black_box(h.push(minute(m)))
        })
    });
}

criterion_group!(benches, history);
criterion_main!(benches);
