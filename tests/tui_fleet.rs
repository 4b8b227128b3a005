//! Finding the one that matters in a fleet: sort by any column (shift + its letter, again
//! reverses, the header marks it), the savings column (from calibration; hidden at 80x24), and
//! the quick filters (`:filter`, `f`), through the real key handling and drawing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;

use ai4k8s::model::{Calibration, DeploymentKey, PolicyParams, Recommendation};
use ai4k8s::tui::app::App;
use ai4k8s::tui::popups::Popup;
use ai4k8s::tui::rows::{self, QuickFilter, SortColumn};
use ai4k8s::tui::{handle_key, ui};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use common::tui::{demo_app, text};

fn press(app: &mut App, code: KeyCode) {
    let mods = match code {
        KeyCode::Char(c) if c.is_uppercase() || c == ':' => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    let _ = handle_key(app, KeyEvent::new(code, mods));
}

fn type_command(app: &mut App, cmd: &str) {
    press(app, KeyCode::Char(':'));
    for c in cmd.chars() {
        press(app, KeyCode::Char(c));
    }
    press(app, KeyCode::Enter);
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    ui::prepare(app, Rect::new(0, 0, w, h));
    term.draw(|f| ui::render(f, app)).expect("draw");
    text(term.backend().buffer())
}

fn cpu_of(app: &App, k: &DeploymentKey) -> Option<f64> {
    app.deployments[k].state.cpu_pct
}

#[test]
fn shift_letters_sort_by_their_column_and_again_reverses() {
    let mut app = demo_app(None);
    let n = app.visible.len();
    assert!(n >= 12);
    // Name order first, as the map keeps it.
    let by_name = app.visible.clone();
    let mut sorted = by_name.clone();
    sorted.sort();
    assert_eq!(by_name, sorted);

    press(&mut app, KeyCode::Char('C'));
    assert_eq!(app.sort.column, SortColumn::Cpu);
    assert!(app.sort.descending);
    let cpus: Vec<Option<f64>> = app.visible.iter().map(|k| cpu_of(&app, k)).collect();
    let known: Vec<f64> = cpus.iter().flatten().copied().collect();
    assert!(known.len() >= 2, "{cpus:?}");
    assert!(known.windows(2).all(|w| w[0] >= w[1]), "{cpus:?}");
    // Rows without metrics go last.
    assert!(cpus.iter().skip_while(|c| c.is_some()).all(|c| c.is_none()));
    let s = screen(&mut app, 160, 48);
    assert!(s.contains("CPU↓"), "{s}");

    press(&mut app, KeyCode::Char('C'));
    assert!(!app.sort.descending);
    let known: Vec<f64> = app.visible.iter().filter_map(|k| cpu_of(&app, k)).collect();
    assert!(known.windows(2).all(|w| w[0] <= w[1]), "{known:?}");
    assert!(screen(&mut app, 160, 48).contains("CPU↑"));

    press(&mut app, KeyCode::Char('R'));
    let reps: Vec<u32> = app
        .visible
        .iter()
        .map(|k| app.deployments[k].state.desired_replicas)
        .collect();
    assert!(reps.windows(2).all(|w| w[0] >= w[1]), "{reps:?}");
    assert!(screen(&mut app, 160, 48).contains("READY↓"));

    press(&mut app, KeyCode::Char('M'));
    let mems: Vec<f64> = app
        .visible
        .iter()
        .filter_map(|k| app.deployments[k].state.mem_pct)
        .collect();
    assert!(mems.windows(2).all(|w| w[0] >= w[1]), "{mems:?}");

    // Pending change: the rows that would change something first, the biggest move on top.
    press(&mut app, KeyCode::Char('P'));
    let sizes: Vec<Option<f64>> = app
        .visible
        .iter()
        .map(|k| rows::pending_size(app.row_facts(&app.deployments[k]).shown))
        .collect();
    assert!(sizes.iter().any(Option::is_some), "{sizes:?}");
    let known: Vec<f64> = sizes.iter().flatten().copied().collect();
    assert!(known.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert!(
        sizes
            .iter()
            .skip_while(|s| s.is_some())
            .all(|s| s.is_none())
    );
    assert!(screen(&mut app, 160, 48).contains("RECOMMEND↓"));

    // N: names again; N again reverses them. The selection stays on its deployment.
    press(&mut app, KeyCode::Char('j'));
    let selected = app.selected_key().cloned();
    press(&mut app, KeyCode::Char('N'));
    assert_eq!(app.visible, by_name);
    assert_eq!(app.selected_key().cloned(), selected);
    press(&mut app, KeyCode::Char('N'));
    let mut rev = by_name.clone();
    rev.reverse();
    assert_eq!(app.visible, rev);
    assert_eq!(app.visible.len(), n);
    // The lowercase keys keep their old meaning.
    press(&mut app, KeyCode::Char('m'));
    assert_eq!(app.sort.column, SortColumn::Name);
}

/// A calibration saying the policy used `policy` replica-hours where the HPA used `hpa`, over
/// `held_out` hours.
fn calibrate(app: &mut App, key: &DeploymentKey, policy: f64, hpa: f64, held_out: f64) {
    let v = app.deployments.get_mut(key).expect("deployment");
    let rec = Arc::make_mut(v.recommendation.as_mut().expect("a recommendation"));
    rec.inputs.policy.calibration = Some(Calibration {
        params: PolicyParams::default(),
        history_hours: 72.0,
        held_out_hours: held_out,
        policy_replica_hours: policy,
        hpa_replica_hours: hpa,
        policy_under_minutes: 0.0,
        hpa_under_minutes: 0.0,
        made_at: 0,
        candidates: 10,
    });
}

#[test]
fn savings_come_from_calibration_and_hide_on_a_narrow_terminal() {
    let mut app = demo_app(None);
    let first = app.visible[0].clone();
    let second = app.visible[1].clone();
    // 24 h held out: 100 replica-h by the HPA, 88 by the policy: 12 a day saved.
    calibrate(&mut app, &first, 88.0, 100.0, 24.0);
    // 48 h held out: 10 more replica-h: −5 a day.
    calibrate(&mut app, &second, 110.0, 100.0, 48.0);
    assert_eq!(
        app.deployments[&first]
            .recommendation
            .as_deref()
            .and_then(Recommendation::savings_per_day),
        Some(12.0)
    );
    assert_eq!(
        app.deployments[&second]
            .recommendation
            .as_deref()
            .and_then(Recommendation::savings_per_day),
        Some(-5.0)
    );

    let wide = screen(&mut app, 120, 40);
    assert!(wide.contains("SAVE/D"), "{wide}");
    let row = |s: &str, name: &str| {
        s.lines()
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row(&wide, &first.name).contains("+12.0"), "{wide}");
    assert!(row(&wide, &second.name).contains("-5.0"), "{wide}");
    let third = &app.visible[2];
    assert!(
        row(&wide, &third.name).contains('–'),
        "uncalibrated: {wide}"
    );

    // 80x24: no room; the column goes, the name and the recommendation stay.
    let narrow = screen(&mut app, 80, 24);
    assert!(!narrow.contains("SAVE/D"), "{narrow}");
    assert!(narrow.contains("RECOMMEND"), "{narrow}");
    assert!(!row(&narrow, &first.name).contains("+12.0"), "{narrow}");

    // S sorts the biggest saving first, unknown last.
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(app.visible[0], first);
    assert_eq!(app.visible[1], second);
    assert!(screen(&mut app, 120, 40).contains("SAVE/D↓"));
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(app.visible[0], second, "reversed: the loss first");
}

#[test]
fn quick_filters_show_n_of_m_and_clear() {
    let mut app = demo_app(None);
    let total = app.deployments.len();
    let at_max: Vec<DeploymentKey> = app
        .deployments
        .values()
        .filter(|v| v.state.at_max())
        .map(|v| v.state.key.clone())
        .collect();
    assert!(!at_max.is_empty() && at_max.len() < total, "{at_max:?}");

    type_command(&mut app, "filter atmax");
    assert!(app.popup.is_none());
    assert_eq!(app.quick_filter, Some(QuickFilter::AtMax));
    assert_eq!(app.visible, at_max);
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains(&format!("atmax: {} of {total}", at_max.len())),
        "{s}"
    );

    type_command(&mut app, "filter pending");
    assert!(!app.visible.is_empty());
    assert!(
        app.visible
            .iter()
            .all(|k| rows::pending_size(app.row_facts(&app.deployments[k]).shown).is_some())
    );

    // A deployment without metrics shows up under nometrics only.
    let k = app.deployments.keys().next().cloned().expect("a key");
    app.deployments.get_mut(&k).expect("row").state.cpu_pct = None;
    type_command(&mut app, "filter nometrics");
    assert!(app.visible.contains(&k));
    assert!(
        app.visible
            .iter()
            .all(|k| app.deployments[k].state.cpu_pct.is_none()
                || app.deployments[k].state.mem_pct.is_none())
    );

    // A filter that does not exist is named, and the one in force stays.
    type_command(&mut app, "filter bogus");
    assert_eq!(app.quick_filter, Some(QuickFilter::NoMetrics));
    let msg = app.message.clone().expect("a message").0;
    assert!(msg.contains("bogus") && msg.contains("atmax"), "{msg}");

    type_command(&mut app, "filter off");
    assert_eq!(app.quick_filter, None);
    assert_eq!(app.visible.len(), total);

    // f cycles: pending, atmax, nometrics, off; Esc clears it too.
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.quick_filter, Some(QuickFilter::Pending));
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.quick_filter, Some(QuickFilter::AtMax));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.quick_filter, None);
    assert_eq!(app.visible.len(), total);
    assert!(!matches!(app.popup, Some(Popup::Prompt(_))));
}

/// `--deployments` is the demo's: out of range or without `--demo` it is bad input (exit 2),
/// said before anything starts.
#[test]
fn deployments_out_of_range_or_without_demo_is_bad_input() {
    let data = tempfile::tempdir().expect("tempdir");
    for (args, says) in [
        (
            vec!["--demo", "--deployments", "0"],
            "--deployments 0 must be within 1..=100000",
        ),
        (vec!["--deployments", "5"], "--demo"),
    ] {
        let out = std::process::Command::new(common::BIN)
            .args(&args)
            .arg("--data-dir")
            .arg(data.path())
            .env_remove("AI4K8S_CONFIG")
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
