//! The two prompts of the status bar: the filter (`/`, applied as it is typed) and the command
//! line (`:ns`, `:ctx NAME`, `:q`). They draw into the status bar rather than over the panes.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::Span;

use super::outcome::Outcome;
use crate::tui::action::PromptAction;
use crate::tui::keymap::Context;
use crate::tui::theme::Theme;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Command,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

impl Prompt {
    /// The filter prompt, continuing the filter in force.
    pub fn filter(text: &str) -> Self {
        Self {
            kind: PromptKind::Filter,
            text: text.to_string(),
        }
    }

    pub fn command(text: &str) -> Self {
        Self {
            kind: PromptKind::Command,
            text: text.to_string(),
        }
    }

    pub fn context(&self) -> Context {
        match self.kind {
            PromptKind::Filter => Context::Filter,
            PromptKind::Command => Context::Command,
        }
    }

    pub fn handle(&mut self, action: PromptAction) -> Outcome {
        match (action, self.kind) {
            (PromptAction::Done, PromptKind::Filter) => Outcome::Close,
            (PromptAction::Done, PromptKind::Command) => Outcome::Command(self.text.clone()),
            (PromptAction::Cancel, PromptKind::Filter) => Outcome::ClearFilter,
            (PromptAction::Cancel, PromptKind::Command) => Outcome::Close,
            (PromptAction::DeleteChar, _) => {
                self.text.pop();
                self.edited()
            }
        }
    }

    /// A key bound to no prompt action: a character is typed, anything else ignored.
    pub fn type_key(&mut self, key: KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Char(c) => {
                self.text.push(c);
                self.edited()
            }
            _ => Outcome::Stay,
        }
    }

    fn edited(&self) -> Outcome {
        match self.kind {
            PromptKind::Filter => Outcome::Filter(self.text.clone()),
            PromptKind::Command => Outcome::Stay,
        }
    }

    /// "/text▏" or ":text▏" for the status bar.
    pub fn spans(&self, theme: &Theme) -> Vec<Span<'static>> {
        let prompt = match self.kind {
            PromptKind::Filter => "/",
            PromptKind::Command => ":",
        };
        vec![
            Span::styled(prompt, theme.prompt()),
            Span::raw(self.text.clone()),
            Span::styled("▏", theme.prompt()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn the_filter_applies_as_it_is_typed_and_the_command_on_enter() {
        let mut f = Prompt::filter("le");
        let d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(f.type_key(d), Outcome::Filter("led".into()));
        assert_eq!(
            f.handle(PromptAction::DeleteChar),
            Outcome::Filter("le".into())
        );
        assert_eq!(f.handle(PromptAction::Cancel), Outcome::ClearFilter);
        let mut c = Prompt::command("ns");
        assert_eq!(c.type_key(d), Outcome::Stay);
        assert_eq!(c.handle(PromptAction::Done), Outcome::Command("nsd".into()));
    }
}
