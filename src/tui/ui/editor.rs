//! The inline editor popup: one text field per value, the error of the first bad field in
//! red (validated on every keystroke), and what Enter would write.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{centered, theme};
use crate::tui::app::App;
use crate::tui::form::Form;

pub fn render(frame: &mut Frame, area: Rect, app: &App, form: &Form) {
    let verdict = form.validate(app.session.limits);
    let n = form.fields.len() as u16;
    let popup = centered(area, 64, n * 3 + 7);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(form.title())
        .border_style(Style::new().fg(Color::Yellow));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);

    let mut rows: Vec<Constraint> = form.fields.iter().map(|_| Constraint::Length(3)).collect();
    rows.push(Constraint::Min(1));
    let areas = Layout::vertical(rows).split(inner);
    for (i, field) in form.fields.iter().enumerate() {
        let bad = matches!(&verdict, Err((f, _)) if *f == i);
        let border = if bad {
            theme::error()
        } else if i == form.focus {
            theme::border(true)
        } else {
            theme::dim()
        };
        let mut field = field.clone();
        field.set_block(Block::bordered().title(form.labels[i]).border_style(border));
        field.set_cursor_line_style(Style::new());
        if i != form.focus {
            field.set_cursor_style(Style::new());
        }
        frame.render_widget(&field, areas[i]);
    }
    let mut lines = Vec::new();
    match &verdict {
        Err((_, msg)) => lines.push(Line::from(Span::styled(msg.clone(), theme::error()))),
        Ok(plan) => {
            for d in plan.describe() {
                lines.push(Line::from(d));
            }
            if let Some(w) = &plan.warning {
                lines.push(Line::from(Span::styled(
                    format!("⚠ {w}"),
                    Style::new().fg(Color::Yellow),
                )));
            }
        }
    }
    lines.push(Line::from(Span::styled(
        "enter save · esc cancel · tab next field",
        theme::dim(),
    )));
    if let Some(last) = areas.last() {
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), *last);
    }
}
