//! Where a key goes: ctrl-c always quits; a popup, when one is open, takes the key and says
//! what should follow (`Outcome`); otherwise the normal-mode table picks the action.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::engine::Command;

use super::action::Action;
use super::app::{App, Severity};
use super::popups::{Confirm, Outcome, Popup};

pub fn handle_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        app.should_quit = true;
        return None;
    }
    let Some(popup) = app.popup.as_mut() else {
        if app.fleet.is_some() {
            // The fleet screen has the keyboard until Esc or Enter.
            if let Some(action) = app.keymap.fleet.action_for(&key) {
                app.fleet_key(action);
            }
            return None;
        }
        let action = app.keymap.normal.action_for(&key)?;
        return app.apply(action);
    };
    let outcome = popup.handle_key(&app.keymap, key);
    follow(app, outcome)
}

/// Carry out what the popup asked for.
fn follow(app: &mut App, outcome: Outcome) -> Option<Command> {
    match outcome {
        Outcome::Stay => {}
        Outcome::Close => app.popup = None,
        Outcome::Cancelled => {
            app.popup = None;
            app.message = Some(("cancelled: nothing changed".into(), Severity::Info));
        }
        Outcome::Write { plan, message } => {
            app.popup = None;
            app.message = Some((message.into(), Severity::Info));
            return Some(Command::Execute(plan));
        }
        Outcome::Confirm(plan) => app.popup = Some(Popup::Confirm(Confirm::new(plan))),
        Outcome::Namespace(ns) => {
            app.popup = None;
            app.set_namespace(ns);
        }
        Outcome::Context(name) => {
            app.popup = None;
            app.ask_context(&name);
        }
        Outcome::Filter(text) => app.set_filter(text),
        Outcome::ClearFilter => {
            app.popup = None;
            return app.apply(Action::Back);
        }
        Outcome::Command(cmd) => {
            app.popup = None;
            app.run_command(cmd.trim());
        }
        Outcome::GitPatch { plan, apply } => {
            app.popup = None;
            return git_patch(app, plan, apply);
        }
    }
    None
}

/// Write the plan as a patch for git into the data dir, say where, and apply it too if asked.
fn git_patch(app: &mut App, plan: Box<crate::actions::Plan>, apply: bool) -> Option<Command> {
    let now = chrono::Utc::now().timestamp();
    let written = match &app.session.data_dir {
        Some(dir) => crate::actions::gitops::write_patch(dir, &plan, now)
            .map_err(|e| format!("git patch not written: {}: {e}", dir.display())),
        None => Err("git patch not written: no data dir".to_string()),
    };
    match (written, apply) {
        (Ok(path), false) => {
            app.message = Some((
                format!("git patch written: {} (nothing applied)", path.display()),
                Severity::Info,
            ));
            None
        }
        (Ok(path), true) => {
            app.message = Some((
                format!("applying…; git patch written: {}", path.display()),
                Severity::Info,
            ));
            Some(Command::Execute(plan))
        }
        // The patch is what the user asked for first: without it nothing is applied either.
        (Err(why), _) => {
            app.message = Some((format!("{why}; nothing applied"), Severity::Error));
            None
        }
    }
}
