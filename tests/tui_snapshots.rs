//! Whole-screen and per-pane snapshots of the TUI over the demo cluster (fixed seed), drawn with
//! ratatui's TestBackend exactly as the running app draws them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use ai4k8s::tui::action::Action;
use ai4k8s::tui::app::App;
use ai4k8s::tui::popups::{Popup, Prompt};
use ai4k8s::tui::ui::{self, PaneKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use common::tui::{demo_app, text};

/// The screen as text, one line per row, trailing spaces trimmed.
fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    ui::prepare(app, Rect::new(0, 0, w, h));
    term.draw(|f| ui::render(f, app)).expect("draw");
    text(term.backend().buffer())
}

fn pane(app: &App, kind: PaneKind, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| ui::render_pane(f, app, kind)).expect("draw");
    text(term.backend().buffer())
}

#[test]
fn whole_screen_80x24() {
    let mut app = demo_app(Some(20.0));
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn whole_screen_160x48() {
    let mut app = demo_app(Some(20.0));
    insta::assert_snapshot!(screen(&mut app, 160, 48));
}

#[test]
fn whole_screen_200x60_uses_the_room() {
    let mut app = demo_app(Some(20.0));
    let s = screen(&mut app, 200, 60);
    // Every deployment fits in the table and the namespace has its own column.
    for name in [
        "frontend",
        "checkout",
        "ledger",
        "feature-cache",
        "ingress-gateway",
    ] {
        assert!(s.contains(name), "{name} missing:\n{s}");
    }
    assert!(s.contains("NAMESPACE"));
    insta::assert_snapshot!(s);
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = demo_app(Some(20.0));
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (79, 23), (300, 100)] {
        let s = screen(&mut app, w, h);
        assert_eq!(s.lines().count(), h as usize);
    }
    app.apply(Action::ToggleHelp);
    screen(&mut app, 12, 4);
}

#[test]
fn help_overlay_lists_the_keymap() {
    let mut app = demo_app(Some(20.0));
    app.apply(Action::ToggleHelp);
    let s = screen(&mut app, 100, 30);
    for k in ["j ↓", "tab", "/", "^r", "esc", "q ^c", "filter by name"] {
        assert!(s.contains(k), "{k:?} missing from help:\n{s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn help_fits_80x24_with_every_key() {
    let mut app = demo_app(Some(20.0));
    app.apply(Action::ToggleHelp);
    let s = screen(&mut app, 80, 24);
    for k in [
        "j ↓",
        "q ^c",
        "esc",
        "?",
        "undo last change",
        "edit min/max",
    ] {
        assert!(s.contains(k), "{k:?} missing from help at 80x24:\n{s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn read_only_help_hides_write_keys() {
    let mut app = demo_app(Some(20.0));
    app.session.read_only = true;
    app.apply(Action::ToggleHelp);
    let s = screen(&mut app, 100, 40);
    assert!(
        !s.contains("apply (confirm first)") && !s.contains("edit min/max"),
        "{s}"
    );
    assert!(s.contains("dismiss until it changes"), "{s}");
    assert!(s.contains(" RO "), "the status bar says read-only:\n{s}");
}

#[test]
fn each_pane() {
    let mut app = demo_app(Some(20.0));
    // Select a deployment with an HPA so the chart shows the target line.
    app.selected = app
        .visible
        .iter()
        .position(|k| k.name == "frontend")
        .expect("frontend");
    insta::assert_snapshot!("pane_table", pane(&app, PaneKind::Table, 100, 18));
    insta::assert_snapshot!("pane_sparklines", pane(&app, PaneKind::Sparklines, 60, 8));
    insta::assert_snapshot!("pane_chart", pane(&app, PaneKind::Chart, 70, 16));
    insta::assert_snapshot!("pane_card", pane(&app, PaneKind::Card, 60, 20));
    insta::assert_snapshot!("pane_status", pane(&app, PaneKind::Status, 120, 1));
    insta::assert_snapshot!(
        "pane_namespace_picker",
        pane(&app, PaneKind::NamespacePicker, 50, 10)
    );
}

/// A deployment whose HPA the app cannot see says on its card that nothing will be written.
#[test]
fn the_card_says_writes_are_refused_when_the_hpa_is_unknown() {
    let mut app = demo_app(Some(20.0));
    app.selected = app
        .visible
        .iter()
        .position(|k| k.name == "frontend")
        .expect("frontend");
    let key = app.visible[app.selected].clone();
    if let Some(v) = app.deployments.get_mut(&key) {
        v.state.write_block = Some(ai4k8s::model::WriteBlock::HpaUnknown(
            "forbidden: horizontalpodautoscalers.autoscaling is forbidden".into(),
        ));
    }
    let card = pane(&app, PaneKind::Card, 60, 20);
    let flat = card.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Writes refused: its HPA is unknown (forbidden:"),
        "{card}"
    );
    // The table does not say "no HPA" (-) for an HPA it cannot see.
    let table = pane(&app, PaneKind::Table, 100, 18);
    let row = table
        .lines()
        .find(|l| l.contains("frontend"))
        .expect("frontend row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(cells.contains(&"?"), "{row}");
}

/// The answer to a key stays in view however many long notices the status bar carries.
#[test]
fn a_message_is_not_pushed_off_the_status_bar_by_notices() {
    let mut app = demo_app(Some(20.0));
    app.notices.insert(
        "cluster",
        "horizontalpodautoscalers missing: forbidden: a long reason from the server".into(),
    );
    app.notices
        .insert("history", "history store: kept in memory only".into());
    app.message = Some((
        "refused: hpa/web scales shop/web".into(),
        ai4k8s::tui::app::Severity::Error,
    ));
    let bar = pane(&app, PaneKind::Status, 80, 1);
    assert!(bar.contains("refused: hpa/web scales shop/web"), "{bar}");
}

/// `b` asks the engine for a replay of the selected deployment and shows its answer: the
/// policies' table, ai4k8s against the HPA, and the goals.
#[test]
fn backtest_overlay_shows_the_replay_of_the_selected_deployment() {
    use ai4k8s::backtest::{HistoryReplayOptions, replay_history};
    use ai4k8s::engine::{Command, Update};
    use std::sync::Arc;

    let mut app = demo_app(Some(20.0));
    let view = app
        .selected_view()
        .expect("a deployment is selected")
        .clone();
    let key = view.state.key.clone();
    assert_eq!(
        app.apply(Action::Backtest),
        Some(Command::Backtest(key.clone()))
    );
    assert!(matches!(app.popup, Some(Popup::Backtest(_))));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Replaying the history of"), "{s}");

    // An answer for another deployment (an earlier `b`) is not this one's.
    let other = app.visible[1].clone();
    app.on_update(Update::Backtest(other, Err("stale".into())));
    assert!(!screen(&mut app, 80, 24).contains("stale"));

    let samples: Vec<_> = view.history.iter().collect();
    let report = replay_history(&samples, &HistoryReplayOptions::for_deployment(&view.state))
        .expect("a demo deployment has enough history");
    app.on_update(Update::Backtest(key.clone(), Ok(Arc::new(report.clone()))));
    let wide = screen(&mut app, 160, 48);
    let hpa = report.policy("hpa").expect("hpa replayed");
    let ours = report.policy("ai4k8s").expect("ai4k8s replayed");
    for want in [
        format!("Backtest · {key}"),
        "POLICY".to_string(),
        "oracle-100".to_string(),
        "static".to_string(),
        format!(
            "ai4k8s vs your HPA: under-provisioned {:.1} vs {:.1} min, replica-hours {:.1} vs {:.1}",
            ours.under_provisioned_minutes,
            hpa.under_provisioned_minutes,
            ours.replica_hours,
            hpa.replica_hours
        ),
    ] {
        assert!(wide.contains(&want), "{want:?} missing:\n{wide}");
    }
    assert_eq!(report.goals.len(), 5, "the issue's five goals are checked");
    let calibration = report.policies.iter().find_map(|p| p.calibration.as_ref());
    let said = calibration.map_or_else(
        || "ai4k8s ran with its defaults".to_string(),
        |c| format!("ai4k8s {}", c.summary()),
    );
    assert!(wide.contains(&said), "{said:?} missing:\n{wide}");
    let small = screen(&mut app, 80, 24);
    assert!(
        small.contains("ai4k8s") && small.contains("REPLICA-H"),
        "{small}"
    );
    insta::assert_snapshot!(small);

    // Esc (Back) closes it; an error is said plainly.
    ai4k8s::tui::handle_key(&mut app, esc());
    assert!(app.popup.is_none());
    app.apply(Action::Backtest);
    app.on_update(Update::Backtest(
        key,
        Err("3 minutes of history, too few".into()),
    ));
    let s = screen(&mut app, 80, 24);
    assert!(
        s.contains("No backtest: 3 minutes of history, too few"),
        "{s}"
    );
    // The key that opened it closes it too.
    ai4k8s::tui::handle_key(
        &mut app,
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('b'),
            crossterm::event::KeyModifiers::NONE,
        ),
    );
    assert!(app.popup.is_none());
}

fn esc() -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Esc,
        crossterm::event::KeyModifiers::NONE,
    )
}

/// A long lasting notice (no metrics-server, RBAC) never hides what the user is typing, and is
/// cut rather than pushing the rest of the bar off an 80-column terminal.
#[test]
fn typed_input_stays_visible_next_to_long_notices() {
    use ai4k8s::engine::Update;
    let mut app = demo_app(Some(20.0));
    app.on_update(Update::Notice(
        "cluster",
        Some(
            "metrics: metrics.k8s.io/v1beta1 is not served (no metrics-server?); CPU and \
             memory are unknown until it is"
                .into(),
        ),
    ));
    app.popup = Some(Popup::Prompt(Prompt::filter("ledg")));
    app.filter = "ledg".into();
    let s = screen(&mut app, 80, 24);
    let bar = s.lines().nth(23).expect("status bar");
    assert!(bar.contains("/ledg▏"), "{bar}");
    assert!(bar.contains("metrics: metrics.k8s"), "{bar}");
    // On a wider bar the notice takes a third of it, cut with an ellipsis.
    let s = screen(&mut app, 120, 30);
    let bar = s.lines().nth(29).expect("status bar");
    assert!(
        bar.contains('…') && !bar.contains("until it is"),
        "the notice is cut: {bar}"
    );
    app.popup = Some(Popup::Prompt(Prompt::command("ctx pro")));
    let s = screen(&mut app, 80, 24);
    assert!(
        s.lines().nth(23).is_some_and(|l| l.contains(":ctx pro▏")),
        "{s}"
    );
}

/// Thousands of random keys (every binding, editors' digits and letters, Enter, Esc, Backspace)
/// at several terminal sizes, including tiny ones: the app never panics, the selection stays on
/// a visible row, and quitting is the only way out.
#[test]
fn key_mashing_never_panics_and_keeps_the_selection_in_range() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use rand::{Rng, SeedableRng};

    let mut app = demo_app(Some(20.0));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let chars: Vec<char> = "jkgG/:axespHuJb?ymn0123456789 -ctxns".chars().collect();
    let sizes = [(80, 24), (160, 48), (40, 12), (12, 4), (200, 60)];
    let mut quits = 0;
    for i in 0..6_000 {
        let code = match rng.random_range(0..10) {
            0 => KeyCode::Esc,
            1 => KeyCode::Enter,
            2 => KeyCode::Tab,
            3 => KeyCode::Backspace,
            4 => KeyCode::Down,
            _ => KeyCode::Char(chars[rng.random_range(0..chars.len())]),
        };
        let mods = if rng.random_ratio(1, 30) {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        let _ = ai4k8s::tui::handle_key(&mut app, KeyEvent::new(code, mods));
        if app.should_quit {
            quits += 1;
            app.should_quit = false;
        }
        assert!(
            app.visible.is_empty() || app.selected < app.visible.len(),
            "selection {} of {} after key {i}",
            app.selected,
            app.visible.len()
        );
        if i % 7 == 0 {
            let (w, h) = sizes[i % sizes.len()];
            let _ = screen(&mut app, w, h);
        }
    }
    assert!(
        quits > 0,
        "q and ctrl-c were pressed at some point and quit"
    );
}
