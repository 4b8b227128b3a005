//! The journal overlay (`J`): the latest changes, newest first. Its entries come from the
//! engine after it opens.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Clear, Row, Table};

use crate::actions::journal::Entry;
use crate::model::DeploymentKey;
use crate::tui::action::OverlayAction;
use crate::tui::keymap::Keymap;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

#[derive(Clone, Debug, Default)]
pub struct Journal {
    /// Oldest first, as the engine sends them.
    pub entries: Vec<Entry>,
}

impl Journal {
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let popup = centered(
            area,
            area.width.saturating_sub(4),
            area.height.saturating_sub(2),
        );
        frame.render_widget(Clear, popup);
        let rows: Vec<Row> = self.entries.iter().rev().map(|e| row(e, theme)).collect();
        let close = keys.journal.first_key(OverlayAction::Close);
        let title = if rows.is_empty() {
            format!(" Journal · empty · {close} closes ")
        } else {
            format!(" Journal · newest first · {close} closes ")
        };
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
            .style(theme.header()),
        )
        .block(
            Block::bordered()
                .title(title)
                .border_style(theme.border(true)),
        );
        frame.render_widget(table, popup);
    }
}

fn row(e: &Entry, theme: &Theme) -> Row<'static> {
    let what = if e.changes.is_empty() {
        e.recommendation
            .as_ref()
            .map(|r| format!("{} → {}", r.action.as_str(), r.target_replicas))
            .unwrap_or_default()
    } else {
        let key = DeploymentKey::new(&e.namespace, &e.name);
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
        Style::new()
    } else {
        theme.error()
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
}
