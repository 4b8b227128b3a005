//! Issue 13, "zero frames delayed by LLM latency, with a 2 s fake latency": the real TUI loop
//! (`tui::run_loop` on a `TestBackend`) over the real engine on the demo cluster, its clock
//! fast, the LLM a loopback fake that answers every request after 2 s, in batches of 4 on one
//! slot (a small local server), so requests are out nearly all the time. A key arrives every
//! frame period (the UI's 250 ms tick) on a timer; each key's frame is the first frame the
//! loop starts after taking the key (`app.frames`, the loop's own record).
//!
//! **Delayed** means: that frame finished drawing more than one frame period after the key was
//! due (its timer's deadline, not when the loop took it, so a loop stuck on anything counts
//! against itself). Each run is made twice, the LLM answering at once (the control) and after
//! 2 s, and both are printed: the tests assert that no frame waited for an LLM reply (every
//! key's frame within half the latency while requests were out); the strict count is the
//! figure for docs/benchmarks.md (`-- --ignored --nocapture`: two minutes each).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai4k8s::advisor::Advisor;
use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::engine::{self, EngineOptions};
use ai4k8s::model::ReviewStatus;
use ai4k8s::sim::{SimCluster, SimWorld};
use ai4k8s::tui::app::{App, SessionInfo};
use ai4k8s::tui::run_loop;
use ai4k8s::tui::session::Session;
use common::llm::FleetFake;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use secrecy::SecretString;

/// The UI's frame period: `[ui] tick_ms`'s default.
const PERIOD: Duration = Duration::from_millis(250);
const LATENCY: Duration = Duration::from_secs(2);
/// Cluster seconds per real second: a cluster minute every second, so recommendations fall
/// due again and again and the fake is asked round after round.
const SPEED: f64 = 60.0;
/// Keys start after the start-up (48 h of history folded in, 14 forecasts on two cores): what
/// is measured is the session while LLM requests are out, not its first second.
const WARM_UP: Duration = Duration::from_secs(3);

#[derive(Debug)]
struct Figures {
    keys: usize,
    frames: usize,
    delayed: usize,
    /// Key due → its frame drawn.
    latency: Vec<Duration>,
    draw: Vec<Duration>,
    /// Between consecutive frames' starts.
    gaps: Vec<Duration>,
    requests: usize,
    deployments_asked: usize,
    llm_cards: usize,
    /// Keys whose frame took more than half a period: seconds into the run, and how long.
    slow: Vec<(f64, Duration)>,
    /// Requests that were out (sent, not yet answered) while keys came.
    out_during_keys: usize,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl Figures {
    fn print(&self, run: Duration, latency: Duration) {
        println!(
            "run {} s at ×{SPEED}, LLM latency {} s, frame period {}",
            run.as_secs(),
            latency.as_secs(),
            ms(PERIOD)
        );
        println!(
            "LLM: {} requests answered, {} deployments in them, {} cards asked of the LLM on screen at the end",
            self.requests, self.deployments_asked, self.llm_cards
        );
        println!(
            "frames: {} drawn for {} keys; delayed (key's frame done > {} after the key was due): {}",
            self.frames,
            self.keys,
            ms(PERIOD),
            self.delayed
        );
        println!(
            "requests out while keys came: {}; keys over half a period: {:?}",
            self.out_during_keys,
            self.slow
                .iter()
                .map(|(at, d)| format!("{at:.1} s: {}", ms(*d)))
                .collect::<Vec<_>>()
        );
        for (what, v) in [
            ("key → frame", &self.latency),
            ("draw time", &self.draw),
            ("frame interval", &self.gaps),
        ] {
            println!(
                "{what}: p50 {}, p99 {}, max {}",
                ms(pct(v, 0.5)),
                ms(pct(v, 0.99)),
                ms(pct(v, 1.0))
            );
        }
    }
}

/// Keys on a timer, one per period, until `run` is over; then Ctrl-C. Logs each key's
/// deadline and when the loop took it.
fn keys(
    run: Duration,
    log: Arc<Mutex<Vec<(Instant, Instant)>>>,
) -> impl futures::Stream<Item = io::Result<Event>> + Unpin {
    let start = tokio::time::Instant::now() + WARM_UP;
    let end = start + run;
    let ticks = tokio::time::interval_at(start, PERIOD);
    Box::pin(futures::stream::unfold(
        (ticks, 0u64),
        move |(mut ticks, k)| {
            let log = log.clone();
            async move {
                let due = ticks.tick().await;
                if due >= end {
                    let quit = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
                    return Some((Ok(Event::Key(quit)), (ticks, k + 1)));
                }
                log.lock()
                    .expect("log")
                    .push((due.into_std(), Instant::now()));
                let code = if k % 2 == 0 { 'j' } else { 'k' };
                let key = KeyEvent::new(KeyCode::Char(code), KeyModifiers::NONE);
                Some((Ok(Event::Key(key)), (ticks, k + 1)))
            }
        },
    ))
}

async fn measure(run: Duration, latency: Duration) -> Figures {
    let mut fake = FleetFake::new(100_000, 10_000_000);
    fake.delays = vec![latency];
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let llm = LlmConfig {
        base_url: format!("{}/openai/v1", server.uri()),
        structured_output: "json_schema".into(),
        max_batch: 4,
        max_in_flight: Some(1),
        daily_budget: 100_000,
        ..LlmConfig::default()
    };
    let cfg = AdvisorConfig::default();
    let llm = LlmAdvisor::new(
        &llm,
        &cfg,
        None,
        dir.path(),
        SecretString::from("gsk_Q7vXz9TestOnlyKey".to_string()),
    )
    .expect("advisor");
    let advisor = Advisor::with_llm(cfg.clone(), Arc::new(llm));
    // The demo as `ai4k8s --demo --speed 60` builds it (48 h of history, its clock running).
    let sim = SimCluster::new(SimWorld::demo(42, 48));
    let _clock = sim.spawn_clock(SPEED);
    let opts = EngineOptions {
        poll_every: Duration::from_secs_f64(15.0 / SPEED),
        recommend_every: cfg.refresh_seconds as i64,
        ..EngineOptions::default()
    };
    let (commands, updates) = engine::spawn(Arc::new(sim), advisor, opts);
    let info = SessionInfo {
        context: "demo".into(),
        speed: Some(SPEED),
        ..SessionInfo::default()
    };
    let session = Session {
        info: info.clone(),
        commands,
        updates,
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).expect("terminal");
    let app = run_loop(
        &mut terminal,
        App::new(info),
        keys(run, log.clone()),
        session,
        None,
        PERIOD,
    )
    .await
    .expect("the loop ends at Ctrl-C");
    figures(&app, &log.lock().expect("log"), &fake, latency)
}

fn figures(
    app: &App,
    keys: &[(Instant, Instant)],
    fake: &FleetFake,
    llm_latency: Duration,
) -> Figures {
    let frames: Vec<_> = app.frames.frames().copied().collect();
    assert_eq!(
        frames.len() as u64,
        app.frames.drawn,
        "the ring kept them all"
    );
    let mut latency = Vec::new();
    let mut delayed = 0;
    let mut slow = Vec::new();
    let first = keys.first().map(|k| k.0);
    for &(due, taken) in keys {
        let frame = frames
            .iter()
            .find(|f| f.start >= taken)
            .expect("every key is drawn before the quit");
        let l = frame.end.saturating_duration_since(due);
        if l > PERIOD {
            delayed += 1;
        }
        if l > PERIOD / 2 {
            let at = first.map_or(0.0, |f| due.saturating_duration_since(f).as_secs_f64());
            slow.push((at, l));
        }
        latency.push(l);
    }
    let mut draw: Vec<Duration> = frames.iter().map(|f| f.draw_time()).collect();
    let mut gaps: Vec<Duration> = frames
        .windows(2)
        .map(|w| w[1].start.saturating_duration_since(w[0].start))
        .collect();
    latency.sort();
    draw.sort();
    gaps.sort();
    let ledger = fake.ledger();
    let llm_cards = app
        .deployments
        .values()
        .filter_map(|v| v.recommendation.as_ref()?.llm_review.as_ref())
        .filter(|r| r.status != ReviewStatus::NotAsked)
        .count();
    let (from, to) = (
        first.unwrap_or_else(Instant::now),
        keys.last().map_or_else(Instant::now, |k| k.0),
    );
    let out_during_keys = ledger
        .replied_at
        .iter()
        .filter(|&&r| r > from && r - llm_latency < to)
        .count();
    Figures {
        out_during_keys,
        slow,
        keys: keys.len(),
        frames: frames.len(),
        delayed,
        latency,
        draw,
        gaps,
        requests: ledger.names.len(),
        deployments_asked: ledger.names.iter().map(Vec::len).sum(),
        llm_cards,
    }
}

/// The same session with the LLM answering at once, then after 2 s: what the 2 s adds.
async fn both(run: Duration) -> (Figures, Figures) {
    let control = measure(run, Duration::ZERO).await;
    control.print(run, Duration::ZERO);
    let slow = measure(run, LATENCY).await;
    slow.print(run, LATENCY);
    (control, slow)
}

/// No key's frame waited for an LLM reply: every request took 2 s and requests were out
/// while the keys came, yet every key's frame was drawn well within that. The strict count
/// (frames later than one period) is printed for both runs; on a shared, loaded machine the
/// OS also delays frames, with or without the LLM (see docs/benchmarks.md).
fn assert_no_frame_waited_for_the_llm(f: &Figures) {
    assert!(
        f.out_during_keys >= 3,
        "LLM requests were out while keys came: {f:?}"
    );
    let worst = pct(&f.latency, 1.0);
    assert!(worst < LATENCY / 2, "a frame waited {worst:?}: {f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_frame_waits_for_a_two_second_llm() {
    let (control, slow) = both(Duration::from_secs(10)).await;
    assert!(control.keys >= 35 && slow.keys >= 35, "{slow:?}");
    assert_no_frame_waited_for_the_llm(&slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "four minutes; prints the figures for docs/benchmarks.md"]
async fn frames_over_two_minutes_of_a_two_second_llm() {
    let (_, slow) = both(Duration::from_secs(120)).await;
    assert_no_frame_waited_for_the_llm(&slow);
}
