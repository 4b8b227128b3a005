//! The terminal UI: a view over the engine. The event loop selects over terminal events, engine
//! updates and a tick; it never awaits the network or a forecast. It is generic over the
//! backend and the event stream, so tests drive the real loop with `TestBackend`.

pub mod action;
pub mod app;
pub mod form;
pub mod keymap;
pub mod preview;
pub mod session;
pub mod ui;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::{Command, Update};
use app::{App, Mode};
use session::{Connector, Session};

/// Run the TUI on the real terminal until the user quits. The terminal is restored on return,
/// on error, and (through ratatui's hook) on panic.
pub async fn run_terminal(
    app: App,
    session: Session,
    connector: Option<Arc<dyn Connector>>,
    tick: Duration,
) -> color_eyre::Result<()> {
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
    // A zero period panics in tokio; the config refuses it, library callers get 1 ms.
    let mut ticker = tokio::time::interval(tick.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_data = Instant::now();
    let mut dirty = true;
    let mut engine_alive = true;
    loop {
        if dirty {
            let size = terminal.size()?;
            ui::prepare(
                &mut app,
                ratatui::layout::Rect::new(0, 0, size.width, size.height),
            );
            terminal.draw(|f| ui::render(f, &app))?;
            dirty = false;
        }
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => {
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
                        last_data = Instant::now();
                        app.switch_session(new.info);
                    }
                    Err(e) => {
                        app.message = Some((format!("cannot switch context: {e}"), app::Severity::Error));
                    }
                }
                dirty = true;
            },
            _ = ticker.tick() => {
                let age = last_data.elapsed().as_secs();
                if age != app.data_age_secs {
                    app.on_tick(age);
                    dirty = true;
                }
            }
        }
        if app.should_quit {
            return Ok(app);
        }
    }
}

/// Route a key by mode: text inputs take characters, overlays take their own keys, otherwise
/// the keymap decides.
pub fn handle_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        app.should_quit = true;
        return None;
    }
    match app.mode.clone() {
        Mode::Filter => {
            match key.code {
                KeyCode::Enter => app.mode = Mode::Normal,
                KeyCode::Esc => {
                    app.mode = Mode::Normal;
                    app.apply(action::Action::Back);
                }
                KeyCode::Backspace => app.input_backspace(),
                KeyCode::Char(c) => app.input_char(c),
                _ => {}
            }
            None
        }
        Mode::Command(_) => {
            match key.code {
                KeyCode::Enter => app.input_submit(),
                KeyCode::Esc => app.mode = Mode::Normal,
                KeyCode::Backspace => app.input_backspace(),
                KeyCode::Char(c) => app.input_char(c),
                _ => {}
            }
            None
        }
        Mode::NamespacePicker(_) | Mode::ContextPicker(_) => {
            match key.code {
                KeyCode::Char('j') | KeyCode::Down => app.picker_move(1),
                KeyCode::Char('k') | KeyCode::Up => app.picker_move(-1),
                KeyCode::Enter => app.input_submit(),
                KeyCode::Esc | KeyCode::Char('q') => app.mode = Mode::Normal,
                _ => {}
            }
            None
        }
        Mode::Confirm(_) => {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => return app.confirm(),
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                    app.mode = Mode::Normal;
                    app.message = Some(("cancelled: nothing changed".into(), app::Severity::Info));
                }
                _ => {}
            }
            None
        }
        Mode::Form(mut form) => {
            let limits = app.session.limits;
            match form.input(key, limits) {
                form::FormEvent::Editing | form::FormEvent::Invalid => {
                    app.mode = Mode::Form(form);
                    None
                }
                form::FormEvent::Cancel => {
                    app.mode = Mode::Normal;
                    app.message = Some(("cancelled: nothing changed".into(), app::Severity::Info));
                    None
                }
                form::FormEvent::Submit(plan) => {
                    // A new HPA is confirmed like an apply; edits and scales are confirmed by
                    // the form itself (it shows what will change).
                    if plan.intent == crate::actions::Intent::CreateHpa {
                        app.mode = Mode::Confirm(plan);
                        None
                    } else {
                        app.mode = Mode::Normal;
                        app.message = Some(("writing…".into(), app::Severity::Info));
                        Some(Command::Execute(plan))
                    }
                }
            }
        }
        // Read-only overlays close on Esc, q, or the key that opened them.
        Mode::Journal | Mode::Backtest | Mode::Help => {
            let opener = match app.mode {
                Mode::Journal => 'J',
                Mode::Backtest => 'b',
                _ => '?',
            };
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('q'))
                || key.code == KeyCode::Char(opener)
            {
                app.mode = Mode::Normal;
            }
            None
        }
        Mode::Normal => {
            let action = keymap::action_for(&key)?;
            app.apply(action)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
