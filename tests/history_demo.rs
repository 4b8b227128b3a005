//! History at fleet scale: the demo's 14 days at launch (the weeks before its warm-up, handed
//! to the engine in the background), the engine's compact 14-day histories, and a TUI that
//! keeps only the selected deployment's history.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::Duration;

use ai4k8s::advisor::Advisor;
use ai4k8s::config::{AdvisorConfig, UI_HISTORY_MINUTES};
use ai4k8s::engine::{self, Command, EngineOptions, Update};
use ai4k8s::metrics::{HISTORY_MINUTES, History};
use ai4k8s::model::Sample;
use ai4k8s::sim::world::EPOCH;
use ai4k8s::sim::{SimCluster, SimWorld, scenario};
use ai4k8s::tui::app::{App, SessionInfo};

#[tokio::test]
async fn the_demo_has_two_weeks_at_launch_and_the_engine_sends_the_drawn_history_as_it_grows() {
    // A 2-hour warm-up: everything older comes from the backdated weeks.
    let sim = SimCluster::new(SimWorld::demo(7, 2)).with_backdated_history();
    let warm_up = sim.world().history();
    let key = warm_up[0].0.clone();
    let now = warm_up[0].1.last().map(|s| s.timestamp).expect("warm-up");
    let opts = EngineOptions {
        poll_every: Duration::from_millis(50),
        forecast_every: i64::MAX / 4,
        recommend_every: i64::MAX / 4,
        calibrate_every: i64::MAX / 4,
        ..EngineOptions::default()
    };
    let (cmd, mut rx) = engine::spawn(
        Arc::new(sim.clone()),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        opts,
    );
    // The TUI's first frame needs nothing from the engine; it asks for the selected history.
    cmd.send(Command::History(key.clone()))
        .expect("engine alive");
    let started = std::time::Instant::now();
    let mut answers: Vec<Vec<Sample>> = Vec::new();
    let full = loop {
        let u = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("updates keep coming")
            .expect("engine alive");
        match u {
            Update::Backfill(b) => {
                // Nothing by default: the faces ask for what they draw.
                assert!(b.iter().all(|(_, s)| s.is_empty()));
            }
            Update::History(k, samples) => {
                assert_eq!(k, key);
                if samples.len() >= UI_HISTORY_MINUTES {
                    break samples;
                }
                answers.push(samples);
            }
            _ => {}
        }
    };
    eprintln!(
        "36 h of the selected deployment after {:?} (answers before: {:?})",
        started.elapsed(),
        answers.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(full.len(), UI_HISTORY_MINUTES);
    assert!(
        full.windows(2)
            .all(|w| w[1].timestamp - w[0].timestamp == 60)
    );
    assert!(full.last().map(|s| s.timestamp) >= Some(now));
    assert!(
        full.iter().any(|s| s.timestamp < EPOCH),
        "backdated minutes"
    );
    assert!(full.iter().all(|s| s.cpu_pct.is_finite()));
    drop(cmd);
}

#[test]
fn the_backdated_weeks_join_the_warm_up_into_fourteen_compact_days() {
    let world = SimWorld::demo(7, 2);
    let weeks = world.backdate();
    let mut total_bytes = 0;
    for (key, warm) in world.history() {
        let mut h = History::with_capacity(HISTORY_MINUTES);
        h.extend(warm.clone());
        use ai4k8s::metrics::feed::HistoryFeed;
        h.extend(weeks.samples(&key));
        assert_eq!(h.len(), HISTORY_MINUTES, "{key}");
        let (start, cpu) = h.regular(ai4k8s::metrics::history::Metric::Cpu, HISTORY_MINUTES);
        assert_eq!(cpu.len(), HISTORY_MINUTES, "{key}: one regular series");
        assert_eq!(
            start + (HISTORY_MINUTES as i64 - 1) * 60,
            warm.last().map(|s| s.timestamp).unwrap_or(0)
        );
        // The warm-up's minutes are the newest and are kept as observed.
        let tail = h.tail(warm.len());
        for (got, want) in tail.iter().zip(&warm) {
            assert_eq!(got.timestamp, want.timestamp);
            assert!(
                (got.cpu_pct - want.cpu_pct).abs() <= 0.05
                    || (got.cpu_pct.is_nan() && want.cpu_pct.is_nan()),
                "{key}: {got:?} vs {want:?}"
            );
        }
        total_bytes += h.heap_bytes();
    }
    let n = scenario::demo().len();
    eprintln!("{n} deployments x 14 days: {total_bytes} bytes of history");
    assert!(total_bytes < n * 20_000, "{total_bytes} bytes");
}

#[test]
fn the_tui_keeps_only_the_selected_deployments_history() {
    let world = SimWorld::demo(7, 2);
    let snapshot = world.snapshot();
    let mut app = App::new(SessionInfo::default());
    app.on_update(Update::Snapshot(Arc::new(snapshot.clone())));
    let first = app.selected_key().cloned().expect("a selection");
    // The loop's first turn: ask for the selected one.
    assert_eq!(app.history_request(), Some(Command::History(first.clone())));
    assert_eq!(app.history_request(), None, "asked once");
    let sample = |t: i64| Sample {
        timestamp: t,
        cpu_pct: 40.0,
        mem_pct: 20.0,
        replicas: 2,
        ready: 2,
    };
    // Minutes for every deployment arrive; only the selected one's are kept.
    let closed: Vec<_> = snapshot
        .deployments
        .iter()
        .map(|d| (d.key.clone(), sample(snapshot.time)))
        .collect();
    app.on_update(Update::Samples(closed));
    app.on_update(Update::History(
        first.clone(),
        (1..=600)
            .map(|i| sample(snapshot.time - 36_000 + i * 60))
            .collect(),
    ));
    let held = |app: &App| {
        app.deployments
            .iter()
            .filter(|(_, v)| !v.history.is_empty())
            .map(|(k, v)| (k.clone(), v.history.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(held(&app), vec![(first.clone(), 600)]);
    // Moving the selection drops that history and asks for the next one's.
    app.move_selection(1);
    let second = app.selected_key().cloned().expect("a second row");
    assert_ne!(first, second);
    assert_eq!(
        app.history_request(),
        Some(Command::History(second.clone()))
    );
    assert!(held(&app).is_empty());
    // An answer for a deployment no longer selected is not kept.
    app.on_update(Update::History(first, vec![sample(snapshot.time)]));
    assert!(held(&app).is_empty());
}
