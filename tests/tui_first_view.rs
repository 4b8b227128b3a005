//! The held first frame: while the engine reads the selected deployment's history from
//! Prometheus, the screen says so instead of drawing a table of "forecast pending"; the table
//! comes when the engine says it is ready, when the wait's bound passes, or at the first key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::io;
use std::time::{Duration, Instant};

use ai4k8s::engine::Update;
use ai4k8s::tui::app::App;
use ai4k8s::tui::session::Session;
use ai4k8s::tui::{run_loop, ui};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use common::tui::{demo_app, text};

const WHY: &str = "reading 14 d of history via prometheus-k8s via API proxy";

fn draw(app: &mut App) -> String {
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
    ui::prepare(app, Rect::new(0, 0, 120, 40));
    term.draw(|f| ui::render(f, app)).expect("draw");
    text(term.backend().buffer())
}

#[test]
fn the_first_frame_says_what_it_waits_for_until_the_engine_says_ready() {
    let mut app = demo_app(None);
    app.first_view_wait = Duration::from_secs(60);
    app.on_update(Update::FirstView(Some(WHY.into())));
    let held = draw(&mut app);
    assert!(held.contains(WHY), "{held}");
    assert!(held.contains("any key opens it now"), "{held}");
    assert!(held.contains("at most 60 s"), "{held}");
    assert!(!held.contains("Deployments ["), "{held}");
    // The status bar stays: context and the keys.
    assert!(held.lines().last().unwrap().contains("demo"), "{held}");

    app.on_update(Update::FirstView(None));
    let table = draw(&mut app);
    assert!(table.contains("Deployments ["), "{table}");
    assert!(!table.contains(WHY), "{table}");
}

#[test]
fn the_wait_ends_at_its_bound_and_a_zero_bound_never_holds() {
    let mut app = demo_app(None);
    app.first_view_wait = Duration::from_secs(3);
    app.on_update(Update::FirstView(Some(WHY.into())));
    let since = app.first_view.as_ref().unwrap().1;
    app.expire_first_view(since + Duration::from_millis(2999));
    assert!(app.first_view.is_some(), "within the bound");
    app.expire_first_view(since + Duration::from_secs(3));
    assert!(app.first_view.is_none(), "at the bound");
    assert!(draw(&mut app).contains("Deployments ["));

    let mut app = demo_app(None);
    app.first_view_wait = Duration::ZERO;
    app.on_update(Update::FirstView(Some(WHY.into())));
    assert!(app.first_view.is_none());
    assert!(draw(&mut app).contains("Deployments ["));
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, modifiers)))
}

/// The real loop with the engine's "hold" queued, fed `keys` 150 ms apart; the last frame.
async fn run(keys: Vec<io::Result<Event>>) -> (App, String) {
    let mut app = demo_app(None);
    app.first_view_wait = Duration::from_secs(60);
    let (commands, _commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let (updates_tx, updates) = tokio::sync::mpsc::unbounded_channel();
    updates_tx
        .send(Update::FirstView(Some(WHY.into())))
        .unwrap();
    let session = Session {
        info: app.session.clone(),
        commands,
        updates,
    };
    let events = futures::stream::iter(keys).then(|k| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        k
    });
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
    let app = run_loop(
        &mut terminal,
        app,
        Box::pin(events),
        session,
        None,
        Duration::from_millis(20),
    )
    .await
    .expect("the loop ends with its keys");
    drop(updates_tx);
    (app, text(terminal.backend().buffer()))
}

#[tokio::test]
async fn a_key_opens_the_table_at_once_and_acts_on_it() {
    let quit = || key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    // No key but the one that quits (which is not drawn): the frame stayed held.
    let started = Instant::now();
    let (app, frame) = run(vec![quit()]).await;
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(frame.contains(WHY), "{frame}");
    assert!(!frame.contains("Deployments ["), "{frame}");
    assert!(app.should_quit);

    // j: the table, with j's move made on it.
    let (app, frame) = run(vec![key(KeyCode::Char('j'), KeyModifiers::NONE), quit()]).await;
    assert!(app.first_view.is_none());
    assert!(frame.contains("Deployments ["), "{frame}");
    assert_eq!(app.selected, 1, "j moved the selection");
}
