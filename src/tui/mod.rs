//! The terminal UI: a view over the engine. The event loop selects over terminal events, engine
//! updates and a tick; it never awaits the network or a forecast. It is generic over the
//! backend and the event stream, so tests drive the real loop with `TestBackend`.
//!
//! The rooms: `app` (the state), `rows` (the table's sort and quick filters), `input` (where a
//! key goes), `normal` and `command_line` (what keys do in normal mode and on the `:` line),
//! `fleet_screen` and `fleet_keys` (the fleet screen's state and keys),
//! `popups/` (one file per dialog), `panes/` (one file per pane), `ui` (a frame: panes, then the popup), `keymap` and `keys_config` (the key
//! tables and their `[keys]` rebinding), `theme` and `layout`.

pub mod action;
pub mod app;
pub mod command_line;
pub mod first_forecasts;
pub mod fleet_keys;
pub mod fleet_screen;
pub mod frames;
pub mod input;
pub mod keymap;
pub mod keys_config;
pub mod layout;
pub mod normal;
pub mod panes;
pub mod popups;
pub mod preview;
pub mod rows;
pub mod session;
pub mod theme;
pub mod ui;

pub use input::handle_key;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::Update;
use app::App;
use session::{Connector, Session};
use theme::Theme;

/// Run the TUI on the real terminal until the user quits. The terminal is restored on return,
/// on error, and (through ratatui's hook) on panic. `NO_COLOR` is read here, once.
pub async fn run_terminal(
    mut app: App,
    session: Session,
    connector: Option<Arc<dyn Connector>>,
    tick: Duration,
) -> color_eyre::Result<()> {
    if !Theme::from_no_color(std::env::var_os("NO_COLOR").as_deref()).has_color() {
        app.theme = Theme::no_color();
    }
    let mut terminal = ratatui::init();
    let events = crossterm::event::EventStream::new();
    let result = run_loop(&mut terminal, app, events, session, connector, tick).await;
    ratatui::restore();
    result.map(|_| ())
}

/// The event loop. Returns the final state (tests inspect it).
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    mut app: App,
    mut events: S,
    session: Session,
    connector: Option<Arc<dyn Connector>>,
    tick: Duration,
) -> color_eyre::Result<App>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    let Session {
        mut commands,
        mut updates,
        ..
    } = session;
    if let Some(c) = &connector {
        app.contexts = c.contexts();
    }
    // A `:ctx` connection in progress; the old session runs until it is up.
    let mut switching: Option<JoinHandle<Result<Session, String>>> = None;
    // The fleet screen's probes: one round at a time, its answers on `fleet_rx`.
    let prober = connector.as_ref().and_then(|c| c.prober());
    let (fleet_tx, mut fleet_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut fleet_round: Option<crate::fleet::Round> = None;
    // A zero period panics in tokio; the config refuses it, library callers get 1 ms.
    let mut ticker = tokio::time::interval(tick.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_data = Instant::now();
    let mut dirty = true;
    // When what the next frame shows first arrived (`app.frames` keeps it with the draw).
    let mut due = std::time::Instant::now();
    let mut engine_alive = true;
    let mut focus = session::FocusReport::default();
    loop {
        match app.fleet.as_mut() {
            // Closing the screen stops its probes.
            None => fleet_round = None,
            Some(screen) => {
                if let Some(p) = &prober
                    && let Some((round, contexts)) = screen.due_round(std::time::Instant::now())
                {
                    fleet_round = Some(crate::fleet::Round::start(
                        p.clone(),
                        round,
                        contexts,
                        fleet_screen::PROBE_TIMEOUT,
                        fleet_tx.clone(),
                    ));
                }
            }
        }
        // The selected deployment's history comes from the engine; the others' stay there.
        if let Some(cmd) = app.history_request() {
            let _ = commands.send(cmd);
        }
        if dirty {
            let start = std::time::Instant::now();
            let size = terminal.size()?;
            ui::prepare(
                &mut app,
                ratatui::layout::Rect::new(0, 0, size.width, size.height),
            );
            terminal.draw(|f| ui::render(f, &app))?;
            dirty = false;
            app.frames.record(frames::FrameTime {
                due,
                start,
                end: std::time::Instant::now(),
            });
        }
        // After the draw: the table's window is the one on screen.
        if let Some(keys) = focus.due(app.focus_keys(), std::time::Instant::now()) {
            let _ = commands.send(crate::engine::Command::Focus(keys));
        }
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    // A key while the first frame waits: the table now, and the key acts on it.
                    app.open_first_view();
                    if let Some(cmd) = handle_key(&mut app, key) {
                        let _ = commands.send(cmd);
                    }
                    if let (Some(name), Some(c)) = (app.switch_context.take(), &connector) {
                        if let Some(old) = switching.take() {
                            old.abort();
                        }
                        switching = Some(tokio::spawn(c.connect(name)));
                    }
                    dirty = true;
                }
                Some(Ok(Event::Resize(_, _))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(app),
            },
            up = updates.recv(), if engine_alive => match up {
                Some(u) => {
                    let mut fold = |u: Update| {
                        if matches!(u, Update::Snapshot(_)) {
                            last_data = Instant::now();
                        }
                        app.on_update(u);
                    };
                    fold(u);
                    // Drain what else is queued so a burst costs one frame.
                    while let Ok(u) = updates.try_recv() {
                        fold(u);
                    }
                    dirty = true;
                }
                None => {
                    engine_alive = false;
                    app.cluster_error = Some("engine stopped".into());
                    dirty = true;
                }
            },
            done = async {
                match switching.as_mut() {
                    Some(h) => h.await,
                    None => std::future::pending().await,
                }
            }, if switching.is_some() => {
                switching = None;
                match done.unwrap_or_else(|e| Err(e.to_string())) {
                    Ok(new) => {
                        // Dropping the old sender stops the old engine (and its watches).
                        commands = new.commands;
                        updates = new.updates;
                        engine_alive = true;
                        focus.reset();
                        last_data = Instant::now();
                        app.switch_session(new.info);
                    }
                    Err(e) => {
                        app.message = Some((format!("cannot switch context: {e}"), app::Severity::Error));
                    }
                }
                dirty = true;
            },
            Some(answer) = fleet_rx.recv() => {
                if let Some(screen) = app.fleet.as_mut() {
                    dirty |= screen.on_probed(answer, std::time::Instant::now());
                }
            },
            _ = ticker.tick() => {
                if fleet_round.as_ref().is_some_and(crate::fleet::Round::is_done) {
                    fleet_round = None;
                }
                let age = last_data.elapsed().as_secs();
                if age != app.data_age_secs {
                    app.on_tick(age);
                    dirty = true;
                }
                // The held first frame ends at its bound (checked as the frame is prepared).
                dirty |= app.first_view.is_some();
            }
        }
        if dirty {
            due = std::time::Instant::now();
        }
        if app.should_quit {
            return Ok(app);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;

    #[tokio::test]
    async fn a_zero_tick_does_not_panic_the_loop() {
        let (commands, _cmd_rx) = tokio::sync::mpsc::unbounded_channel();
        let (_up_tx, updates) = tokio::sync::mpsc::unbounded_channel();
        let session = Session {
            info: app::SessionInfo::default(),
            commands,
            updates,
        };
        let quit = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let events = futures::stream::iter(vec![Ok(Event::Key(quit))]);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
        let app = App::new(app::SessionInfo::default());
        // tokio's interval panics on Duration::ZERO; the loop must not.
        let done = run_loop(&mut terminal, app, events, session, None, Duration::ZERO)
            .await
            .expect("loop ends cleanly");
        assert!(done.should_quit);
    }
}
