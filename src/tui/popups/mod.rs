//! Everything that takes the keyboard from normal mode, one room each: its state, its keys (an
//! action in, an `Outcome` out) and its drawing from `&self`. The app holds at most one
//! (`App::popup`); the prompts draw into the status bar, the rest over the panes.

pub mod backtest;
pub mod confirm;
pub mod detail;
pub mod editor;
pub mod help;
pub mod journal;
pub mod outcome;
pub mod picker;
pub mod prompt;

pub use backtest::Backtest;
pub use confirm::Confirm;
pub use detail::Detail;
pub use editor::Editor;
pub use help::Help;
pub use journal::Journal;
pub use outcome::Outcome;
pub use picker::Picker;
pub use prompt::Prompt;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::keymap::{Context, Keymap};
use crate::tui::theme::Theme;

#[derive(Clone, Debug)]
pub enum Popup {
    /// The filter or the command line.
    Prompt(prompt::Prompt),
    Help(help::Help),
    /// The namespace or the context picker.
    Picker(picker::Picker),
    /// A write waiting for yes or no.
    Confirm(confirm::Confirm),
    /// An inline editor (min/max, scale, new HPA).
    Editor(Box<editor::Editor>),
    Journal(journal::Journal),
    Backtest(backtest::Backtest),
    /// The deployment opened: pods, HPA conditions, events.
    Detail(detail::Detail),
}

impl Popup {
    /// Whose key table applies.
    pub fn context(&self) -> Context {
        match self {
            Popup::Prompt(p) => p.context(),
            Popup::Help(_) => Context::Help,
            Popup::Picker(_) => Context::Picker,
            Popup::Confirm(_) => Context::Confirm,
            Popup::Editor(_) => Context::Editor,
            Popup::Journal(_) => Context::Journal,
            Popup::Backtest(_) => Context::Backtest,
            Popup::Detail(_) => Context::Detail,
        }
    }

    /// One key: the popup's table turns it into an action; in the editor and the prompts a
    /// key bound to nothing types.
    pub fn handle_key(&mut self, keys: &Keymap, key: KeyEvent) -> Outcome {
        match self {
            Popup::Prompt(p) => {
                let table = match p.context() {
                    Context::Command => &keys.command,
                    _ => &keys.filter,
                };
                match table.action_for(&key) {
                    Some(a) => p.handle(a),
                    None => p.type_key(key),
                }
            }
            Popup::Editor(e) => match keys.editor.action_for(&key) {
                Some(a) => Editor::outcome(e.handle(a)),
                None => {
                    e.type_key(key);
                    Outcome::Stay
                }
            },
            Popup::Picker(p) => keys
                .picker
                .action_for(&key)
                .map_or(Outcome::Stay, |a| p.handle(a)),
            Popup::Confirm(c) => keys
                .confirm
                .action_for(&key)
                .map_or(Outcome::Stay, |a| c.handle(a)),
            // The read-only overlays only close.
            Popup::Help(_) => close_on(keys.help.action_for(&key)),
            Popup::Journal(_) => close_on(keys.journal.action_for(&key)),
            Popup::Backtest(_) => close_on(keys.backtest.action_for(&key)),
            Popup::Detail(_) => close_on(keys.detail.action_for(&key)),
        }
    }

    /// Draw over the panes (the prompts are drawn by the status bar).
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        match self {
            Popup::Prompt(_) => {}
            Popup::Help(h) => h.render(frame, area, theme, keys),
            Popup::Picker(p) => p.render(frame, area, theme, keys),
            Popup::Confirm(c) => c.render(frame, area, theme, keys),
            Popup::Editor(e) => e.render(frame, area, theme, keys),
            Popup::Journal(j) => j.render(frame, area, theme, keys),
            Popup::Backtest(b) => b.render(frame, area, theme, keys),
            Popup::Detail(d) => d.render(frame, area, theme, keys),
        }
    }
}

fn close_on<A>(action: Option<A>) -> Outcome {
    match action {
        Some(_) => Outcome::Close,
        None => Outcome::Stay,
    }
}
