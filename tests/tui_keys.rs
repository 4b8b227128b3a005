//! `[keys]` and `NO_COLOR`: a key rebound in the config works in the real event loop (and the
//! hint bar names it), and the no-colour theme draws every screen without a colour.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::io;
use std::time::Duration;

use ai4k8s::config::Config;
use ai4k8s::tui::action::Action;
use ai4k8s::tui::app::App;
use ai4k8s::tui::keys_config;
use ai4k8s::tui::popups::{Confirm, Popup};
use ai4k8s::tui::session::Session;
use ai4k8s::tui::theme::Theme;
use ai4k8s::tui::{run_loop, ui};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

use common::tui::{demo_app, text};

fn key(code: KeyCode) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// The loop over `app` with no engine behind it, fed `keys`; returns the app and the last frame
/// (wide, so the whole hint bar fits).
async fn run(app: App, keys: Vec<io::Result<Event>>) -> (App, String) {
    let (commands, _commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let (_updates_tx, updates) = tokio::sync::mpsc::unbounded_channel();
    let session = Session {
        info: app.session.clone(),
        commands,
        updates,
    };
    let mut terminal = Terminal::new(TestBackend::new(250, 30)).expect("test terminal");
    let app = run_loop(
        &mut terminal,
        app,
        futures::stream::iter(keys),
        session,
        None,
        Duration::from_millis(50),
    )
    .await
    .expect("the loop ends with its keys");
    let frame = text(terminal.backend().buffer());
    (app, frame)
}

#[tokio::test]
async fn a_key_rebound_in_the_config_works_in_the_real_loop() {
    let cfg = Config::parse(
        "keys.toml",
        "[keys.normal]\nquit = \"Q\"\nhelp = \"f1\"\n[keys.help]\nclose = \"f1\"\n",
    )
    .expect("config parses");
    let mut app = demo_app(None);
    app.keymap = keys_config::keymap(&cfg.keys).expect("valid bindings");

    // q no longer quits; f1 opens help; the frame drawn then names help's own key.
    let (app, frame) = run(
        app,
        vec![
            key(KeyCode::Char('q')),
            key(KeyCode::Char('?')),
            key(KeyCode::F(1)),
            key(KeyCode::Char('x')),
        ],
    )
    .await;
    assert!(!app.should_quit, "q is not bound any more");
    assert!(matches!(app.popup, Some(Popup::Help(_))), "{:?}", app.popup);
    assert!(frame.contains("Help · f1 closes"), "{frame}");
    // Help lists the new keys.
    // (In either column: the keys take two at this height.)
    assert!(frame.contains("Q          quit "), "{frame}");
    assert!(frame.contains("f1         this help "), "{frame}");
    let bar = frame.lines().last().unwrap_or_default();
    assert!(bar.contains("│ f1 close"), "{bar}");

    // In normal mode the hint bar names the new keys; Q quits.
    let (app, frame) = run(
        app_with(&cfg),
        vec![key(KeyCode::Char('j')), key(KeyCode::Char('Q'))],
    )
    .await;
    let bar = frame.lines().last().unwrap_or_default();
    assert!(bar.contains("f1 help") && bar.contains("Q quit"), "{bar}");
    assert!(app.should_quit);
}

fn app_with(cfg: &Config) -> App {
    let mut app = demo_app(None);
    app.keymap = keys_config::keymap(&cfg.keys).expect("valid bindings");
    app
}

/// Every cell's foreground and background.
fn colours(buf: &Buffer) -> Vec<(Color, Color)> {
    buf.content().iter().map(|c| (c.fg, c.bg)).collect()
}

fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    ui::prepare(app, Rect::new(0, 0, w, h));
    term.draw(|f| ui::render(f, app)).expect("draw");
    term.backend().buffer().clone()
}

#[test]
fn no_color_draws_every_screen_without_colour_and_the_selection_reversed() {
    let mut app = demo_app(None);
    app.theme = Theme::no_color();
    let state = app
        .selected_view()
        .expect("a selected deployment")
        .state
        .clone();
    let scale = ai4k8s::actions::plan::plan_scale(&state, state.desired_replicas + 1);
    let mut screens: Vec<(String, Buffer)> = Vec::new();
    screens.push(("normal".into(), draw(&mut app, 120, 40)));
    for action in [
        Action::ToggleHelp,
        Action::PickNamespace,
        Action::EditBounds,
        Action::Journal,
        Action::Backtest,
        Action::StartFilter,
    ] {
        app.popup = None;
        app.apply(action);
        assert!(app.popup.is_some(), "{action:?} opens a popup");
        screens.push((format!("{action:?}"), draw(&mut app, 120, 40)));
    }
    app.popup = Some(Popup::Confirm(Confirm::new(Box::new(scale))));
    screens.push(("confirm".into(), draw(&mut app, 120, 40)));
    app.popup = None;
    app.message = Some(("refused: no".into(), ai4k8s::tui::app::Severity::Error));
    screens.push(("message".into(), draw(&mut app, 80, 24)));
    for (name, buf) in &screens {
        let coloured: Vec<_> = colours(buf)
            .into_iter()
            .filter(|&(fg, bg)| fg != Color::Reset || bg != Color::Reset)
            .collect();
        assert!(
            coloured.is_empty(),
            "{name}: {:?}\n{}",
            &coloured[..coloured.len().min(5)],
            text(buf)
        );
    }

    // The selected row is still visible: reversed, where the colour theme paints it grey.
    let (_, normal) = &screens[0];
    let selected = app.selected_key().expect("selected").name.clone();
    let row = (0..normal.area.height)
        .find(|&y| {
            (0..normal.area.width)
                .map(|x| normal[(x, y)].symbol())
                .collect::<String>()
                .contains(&selected)
        })
        .expect("the selected row is drawn");
    assert!(
        (0..normal.area.width).any(|x| normal[(x, row)].modifier.contains(Modifier::REVERSED)),
        "the selection is reversed"
    );

    // The colour theme does draw in colour (the test above can fail).
    let mut coloured = demo_app(None);
    assert!(
        colours(&draw(&mut coloured, 120, 40))
            .iter()
            .any(|&(fg, bg)| fg != Color::Reset || bg != Color::Reset)
    );
}
