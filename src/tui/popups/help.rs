//! The help overlay, generated from the normal-mode keymap and the fleet screen's so it always
//! tells the truth. Two columns when one does not fit the terminal's height (80x24 shows every
//! key).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Clear, Row, Table};

use crate::tui::action::OverlayAction;
use crate::tui::keymap::{self, Keymap};
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

#[derive(Clone, Debug, PartialEq)]
pub struct Help {
    /// Keys and what they do, write keys left out when read-only.
    rows: Vec<(String, &'static str)>,
}

impl Help {
    pub fn new(keys: &Keymap, read_only: bool) -> Self {
        let mut rows: Vec<(String, &'static str)> = keys
            .normal
            .visible(read_only)
            .map(|b| (keymap::labels(&b.keys).join(" "), b.help))
            .collect();
        rows.push((":fleet".into(), "every context on one screen:"));
        rows.extend(
            keys.fleet
                .bindings()
                .iter()
                .map(|b| (format!(" {}", keymap::labels(&b.keys).join(" ")), b.help)),
        );
        Self { rows }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let rows = &self.rows;
        let one_column = rows.len() as u16 + 3 <= area.height;
        let (w, per_column) = if one_column {
            (48, rows.len())
        } else {
            (area.width.min(78), rows.len().div_ceil(2))
        };
        let popup = centered(area, w, per_column as u16 + 3);
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(format!(
                " Help · {} closes ",
                keys.help.first_key(OverlayAction::Close)
            ))
            .border_style(theme.border(true));
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        let columns = if one_column { 1 } else { 2 };
        let areas =
            Layout::horizontal(vec![Constraint::Ratio(1, columns); columns as usize]).split(inner);
        for (i, chunk) in rows.chunks(per_column.max(1)).enumerate() {
            let Some(area) = areas.get(i) else { break };
            let table = Table::new(
                chunk
                    .iter()
                    .map(|(k, h)| Row::new(vec![k.clone(), h.to_string()])),
                [Constraint::Length(10), Constraint::Min(10)],
            )
            .header(Row::new(vec!["KEY", "ACTION"]).style(theme.header()));
            frame.render_widget(table, *area);
        }
    }
}
