//! The help overlay, generated from the keymap so it always tells the truth. Two columns when
//! one does not fit the terminal's height (80x24 shows every key).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Clear, Row, Table};

use super::{centered, theme};
use crate::tui::app::App;
use crate::tui::keymap;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let rows: Vec<(String, &str)> = keymap::visible(app.session.read_only)
        .map(|b| {
            let keys: Vec<String> = b.keys.iter().map(keymap::label).collect();
            (keys.join(" "), b.help)
        })
        .collect();
    let one_column = rows.len() as u16 + 3 <= area.height;
    let (w, per_column) = if one_column {
        (48, rows.len())
    } else {
        (area.width.min(78), rows.len().div_ceil(2))
    };
    let popup = centered(area, w, per_column as u16 + 3);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(" Help · esc closes ")
        .border_style(theme::border(true));
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
        .header(Row::new(vec!["KEY", "ACTION"]).style(theme::header()));
        frame.render_widget(table, *area);
    }
}
