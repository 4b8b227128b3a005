//! The namespace picker (`n` or `:ns`) and the context picker (`:ctx`): a list, the choice
//! moved with j/k and taken with Enter.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, List, ListItem, ListState};

use super::outcome::Outcome;
use crate::tui::action::PickerAction;
use crate::tui::keymap::Keymap;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

#[derive(Clone, Debug, PartialEq)]
enum Choices {
    /// None is "all namespaces"; each with its number of deployments.
    Namespaces(Vec<(Option<String>, usize)>),
    /// The kube contexts and the current one.
    Contexts { names: Vec<String>, current: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Picker {
    choices: Choices,
    pub selected: usize,
}

impl Picker {
    /// Namespaces as the app counts them when the picker opens, `selected` highlighted.
    pub fn namespaces(choices: Vec<(Option<String>, usize)>, selected: usize) -> Self {
        Self {
            choices: Choices::Namespaces(choices),
            selected,
        }
    }

    pub fn contexts(names: Vec<String>, current: &str, selected: usize) -> Self {
        Self {
            choices: Choices::Contexts {
                names,
                current: current.to_string(),
            },
            selected,
        }
    }

    fn len(&self) -> usize {
        match &self.choices {
            Choices::Namespaces(c) => c.len(),
            Choices::Contexts { names, .. } => names.len(),
        }
    }

    pub fn handle(&mut self, action: PickerAction) -> Outcome {
        let last = self.len().saturating_sub(1);
        match action {
            PickerAction::Down => self.selected = (self.selected + 1).min(last),
            PickerAction::Up => self.selected = self.selected.saturating_sub(1).min(last),
            PickerAction::Close => return Outcome::Close,
            PickerAction::Pick => {
                return match &self.choices {
                    Choices::Namespaces(c) => {
                        Outcome::Namespace(c.get(self.selected).and_then(|(ns, _)| ns.clone()))
                    }
                    Choices::Contexts { names, .. } => match names.get(self.selected) {
                        Some(name) => Outcome::Context(name.clone()),
                        None => Outcome::Close,
                    },
                };
            }
        }
        Outcome::Stay
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let pick = keys.picker.first_key(PickerAction::Pick);
        let (items, title): (Vec<ListItem>, String) = match &self.choices {
            Choices::Namespaces(c) => (
                c.iter()
                    .map(|(ns, count)| {
                        let name = ns.as_deref().unwrap_or("all namespaces");
                        ListItem::new(format!("{name} ({count})"))
                    })
                    .collect(),
                format!(" Namespace · {pick} picks "),
            ),
            Choices::Contexts { names, current } => (
                names
                    .iter()
                    .map(|c| {
                        if c == current {
                            ListItem::new(format!("{c} (current)"))
                        } else {
                            ListItem::new(c.clone())
                        }
                    })
                    .collect(),
                format!(" Context · {pick} switches "),
            ),
        };
        let popup = centered(area, 40, items.len() as u16 + 2);
        frame.render_widget(Clear, popup);
        let list = List::new(items)
            .highlight_style(theme.selected_row())
            .highlight_symbol("› ")
            .block(
                Block::bordered()
                    .title(title)
                    .border_style(theme.border(true)),
            );
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(list, popup, &mut state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_stays_in_the_list() {
        let mut p = Picker::namespaces(vec![(None, 2), (Some("shop".into()), 2)], 0);
        assert_eq!(p.handle(PickerAction::Up), Outcome::Stay);
        assert_eq!(p.selected, 0);
        p.handle(PickerAction::Down);
        p.handle(PickerAction::Down);
        assert_eq!(p.selected, 1);
        assert_eq!(
            p.handle(PickerAction::Pick),
            Outcome::Namespace(Some("shop".into()))
        );
        let mut empty = Picker::contexts(Vec::new(), "", 0);
        empty.handle(PickerAction::Down);
        assert_eq!(empty.handle(PickerAction::Pick), Outcome::Close);
    }
}
