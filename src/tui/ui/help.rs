//! The help overlay, generated from the keymap so it always tells the truth.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Clear, Row, Table};

use super::{centered, theme};
use crate::tui::app::App;
use crate::tui::keymap;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let rows: Vec<Row> = keymap::visible(app.session.read_only)
        .map(|b| {
            let keys: Vec<String> = b.keys.iter().map(keymap::label).collect();
            Row::new(vec![keys.join(" "), b.help.to_string()])
        })
        .collect();
    let h = rows.len() as u16 + 3;
    let popup = centered(area, 60, h);
    frame.render_widget(Clear, popup);
    let table = Table::new(rows, [Constraint::Length(14), Constraint::Min(10)])
        .header(Row::new(vec!["KEY", "ACTION"]).style(theme::header()))
        .block(
            Block::bordered()
                .title(" Help · esc closes ")
                .border_style(theme::border(true)),
        );
    frame.render_widget(table, popup);
}
