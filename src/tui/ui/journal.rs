//! The journal overlay (`J`): the latest changes, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Clear, Row, Table};

use super::{centered, theme};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let popup = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, popup);
    let rows: Vec<Row> = app
        .journal
        .iter()
        .rev()
        .map(|e| {
            let what = if e.changes.is_empty() {
                e.recommendation
                    .as_ref()
                    .map(|r| format!("{} → {}", r.action.as_str(), r.target_replicas))
                    .unwrap_or_default()
            } else {
                let key = crate::model::DeploymentKey::new(&e.namespace, &e.name);
                e.changes
                    .iter()
                    .map(|c| c.describe(&key))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let outcome = match (&e.outcome.error, e.outcome.dry_run) {
                (Some(err), _) => format!("failed: {err}"),
                (None, true) => "dry run".into(),
                (None, false) => "ok".into(),
            };
            let style = if e.outcome.ok {
                ratatui::style::Style::new()
            } else {
                theme::error()
            };
            Row::new(vec![
                e.time.replace('T', " ").trim_end_matches('Z').to_string(),
                e.user.clone(),
                format!("{:?}", e.kind).to_lowercase(),
                format!("{}/{}", e.namespace, e.name),
                what,
                outcome,
            ])
            .style(style)
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(19),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(24),
            Constraint::Min(20),
            Constraint::Length(16),
        ],
    )
    .header(
        Row::new(vec![
            "TIME (UTC)",
            "USER",
            "KIND",
            "DEPLOYMENT",
            "CHANGE",
            "OUTCOME",
        ])
        .style(theme::header()),
    )
    .block(
        Block::bordered()
            .title(if empty {
                " Journal · empty · esc closes "
            } else {
                " Journal · newest first · esc closes "
            })
            .border_style(theme::border(true)),
    );
    frame.render_widget(table, popup);
}
