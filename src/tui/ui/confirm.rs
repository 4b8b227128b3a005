//! The confirm dialog of a write: the deployment, current → target, exactly which object and
//! field change, the equivalent kubectl command, and why.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{centered, theme};
use crate::actions::Plan;

pub fn render(frame: &mut Frame, area: Rect, plan: &Plan) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(r) = &plan.recommendation {
        let d = &r.decision;
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", d.action.label()),
                theme::action_badge(d.action),
            ),
            Span::styled(
                format!("  {} → {} replicas", r.current_replicas, d.target_replicas),
                bold,
            ),
            Span::styled(
                format!(
                    "  ({:.0}% confident, {})",
                    d.confidence * 100.0,
                    r.source.as_str()
                ),
                theme::dim(),
            ),
        ]));
    }
    lines.push(Line::from(Span::styled("changes", bold)));
    for d in plan.describe() {
        lines.push(Line::from(format!("  {d}")));
    }
    lines.push(Line::from(Span::styled("equivalent kubectl", bold)));
    for k in plan.kubectl() {
        lines.push(Line::from(Span::styled(
            format!("  {k}"),
            Style::new().fg(Color::Cyan),
        )));
    }
    if let Some(w) = &plan.warning {
        lines.push(Line::from(Span::styled(
            format!("⚠ {w}"),
            Style::new().fg(Color::Yellow),
        )));
    }
    lines.push(Line::from(Span::styled("why", bold)));
    lines.push(Line::from(plan.reason.clone()));
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(" y/enter ", Style::new().fg(Color::Black).bg(Color::Green)),
        Span::raw(" apply   "),
        Span::styled(" esc ", Style::new().fg(Color::Black).bg(Color::Gray)),
        Span::raw(" cancel"),
    ]));
    let w = area.width.saturating_sub(4).clamp(20, 110);
    let inner_w = w.saturating_sub(2).max(1) as usize;
    let h = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1) as u16)
        .sum::<u16>()
        + 2;
    let popup = centered(area, w, h);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(format!(" Confirm · {} ", plan.key))
                .border_style(Style::new().fg(Color::Yellow)),
        ),
        popup,
    );
}
