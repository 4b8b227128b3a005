//! What the screen shows while the table's first frame waits for the selected deployment's
//! backfilled forecast (`App::first_view`): where history comes from, how many deployments
//! are in, and that any key opens the table now.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App, why: &str) {
    let theme = &app.theme;
    let lines = vec![
        Line::from(Span::styled("ai4k8s", theme.header())),
        Line::from(""),
        Line::from(format!(
            "{} · {} deployments · {why}…",
            app.session.context,
            app.deployments.len()
        )),
        Line::from(""),
        Line::from(Span::styled(
            format!(
                "The table opens with the selected deployment's forecast (at most {} s); any \
                 key opens it now.",
                app.first_view_wait.as_secs()
            ),
            theme.dim(),
        )),
    ];
    let height = (lines.len() as u16 + 4).min(area.height);
    let [_, middle, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(area);
    let paragraph = Paragraph::new(lines)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border(false)),
        );
    frame.render_widget(paragraph, middle);
}
