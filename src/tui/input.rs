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
    }
    None
}
