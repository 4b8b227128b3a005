//! The backtest overlay (`b`): the selected deployment's history replayed through the HPA,
//! the ai4k8s policy, the oracles and a static bound: the CLI's table, in the app.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Wrap};

use crate::backtest::Report;
use crate::model::DeploymentKey;
use crate::tui::action::OverlayAction;
use crate::tui::keymap::Keymap;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

/// A replay of one deployment's history (`b`): asked for, then answered by the engine.
#[derive(Clone, Debug)]
pub struct Backtest {
    pub key: DeploymentKey,
    /// None while the replay runs.
    pub result: Option<Result<Arc<Report>, String>>,
}

impl Backtest {
    pub fn new(key: DeploymentKey) -> Self {
        Self { key, result: None }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let view = self;
        let popup = centered(
            area,
            area.width.saturating_sub(4).min(110),
            area.height.saturating_sub(2).min(26),
        );
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(format!(
                " Backtest · {} · {} closes ",
                view.key,
                keys.backtest.first_key(OverlayAction::Close)
            ))
            .border_style(theme.border(true));
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        match &view.result {
            None => frame.render_widget(running(view, theme), inner),
            Some(Err(e)) => frame.render_widget(
                Paragraph::new(vec![
                    Line::styled(format!("No backtest: {e}"), theme.error()),
                    Line::from(""),
                    Line::styled(
                        "A replay needs a few hours of CPU history; let the app run and try again.",
                        theme.dim(),
                    ),
                ])
                .wrap(Wrap { trim: true }),
                inner,
            ),
            Some(Ok(report)) => render_report(frame, inner, report, theme),
        }
    }
}

fn running(view: &Backtest, theme: &Theme) -> Paragraph<'static> {
    Paragraph::new(vec![
        Line::from(format!(
            "Replaying the history of {} (up to 14 days) through hpa, ai4k8s, oracle-100, \
             oracle-70 and static…",
            view.key
        )),
        Line::styled(
            "It runs on a background thread; the rest of the screen keeps updating.",
            theme.dim(),
        ),
    ])
    .wrap(Wrap { trim: true })
}

fn render_report(frame: &mut Frame, area: Rect, r: &Report, theme: &Theme) {
    let [intro, table, rest] = Layout::vertical([
        Constraint::Length(if area.width >= 100 { 2 } else { 3 }),
        Constraint::Length(r.policies.len() as u16 + 2),
        Constraint::Min(0),
    ])
    .areas(area);
    let m = &r.model;
    frame.render_widget(
        Paragraph::new(format!(
            "{:.1} h of history: {:.1} h warm-up, {:.1} h scored. Demand = CPU × ready pods; \
             pods serve {} s after creation, metrics {} s late; replicas {}..{}, HPA at {} %.",
            (m.warmup_minutes + m.scored_minutes) / 60.0,
            m.warmup_minutes / 60.0,
            m.scored_minutes / 60.0,
            m.startup_seconds,
            m.lag_seconds,
            m.min_replicas,
            m.max_replicas,
            m.target_pct,
        ))
        .style(theme.dim())
        .wrap(Wrap { trim: true }),
        intro,
    );
    frame.render_widget(policy_table(r, theme), table);
    let mut lines = Vec::new();
    if let Some(v) = verdict(r, theme) {
        lines.push(v);
    }
    // What the policy ran with: its walk-forward calibration and how that did held out.
    let calibration = r.policies.iter().find_map(|p| p.calibration.as_ref());
    lines.push(Line::styled(
        calibration.map_or_else(
            || "ai4k8s ran with its defaults: too little history to calibrate".to_string(),
            |c| format!("ai4k8s {}", c.summary()),
        ),
        theme.dim(),
    ));
    for g in &r.goals {
        let (mark, style) = if g.met {
            ("met   ", theme.good())
        } else {
            ("missed", theme.error())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::raw(g.detail.clone()),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), rest);
}

fn policy_table(r: &Report, theme: &Theme) -> Table<'static> {
    let rows: Vec<Row> = r
        .policies
        .iter()
        .map(|p| {
            let x = &p.metrics;
            let style = match p.policy.as_str() {
                "hpa" | "ai4k8s" => Style::new(),
                _ => theme.dim(),
            };
            let numbers = [
                format!("{:.1}", x.under_provisioned_minutes),
                format!("{:.2}", x.unserved_pct),
                format!("{:.0}", x.overprovisioned_pct),
                format!("{:.1}", x.replica_hours),
                x.scale_events.to_string(),
                x.flaps.to_string(),
                x.forecast_error_vs_naive
                    .map_or("-".into(), |e| format!("{e:.2}")),
            ];
            // Numbers right-aligned under their headers, so magnitudes compare at a glance.
            let cells = std::iter::once(Cell::from(p.policy.clone())).chain(
                numbers
                    .into_iter()
                    .map(|n| Cell::from(Line::from(n).right_aligned())),
            );
            Row::new(cells).style(style)
        })
        .collect();
    Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new(
            std::iter::once(Cell::from("POLICY")).chain(
                [
                    "UNDER min",
                    "UNSERVED%",
                    "OVER%",
                    "REPLICA-H",
                    "EVENTS",
                    "FLAPS",
                    "FC/NAIVE",
                ]
                .map(|h| Cell::from(Line::from(h).right_aligned())),
            ),
        )
        .style(theme.header())
        .bottom_margin(1),
    )
}

/// One line: ai4k8s against the HPA on the two numbers an SRE weighs.
fn verdict(r: &Report, theme: &Theme) -> Option<Line<'static>> {
    let (hpa, ours) = (r.policy("hpa")?, r.policy("ai4k8s")?);
    let saving = if hpa.replica_hours > 0.0 {
        (hpa.replica_hours - ours.replica_hours) / hpa.replica_hours * 100.0
    } else {
        0.0
    };
    let better = ours.under_provisioned_minutes <= hpa.under_provisioned_minutes
        && ours.replica_hours <= hpa.replica_hours;
    let style = if better {
        theme.good()
    } else {
        theme.warning()
    };
    Some(Line::styled(
        format!(
            "ai4k8s vs your HPA: under-provisioned {:.1} vs {:.1} min, replica-hours {:.1} vs \
             {:.1} ({}{:.0} %), {} vs {} scale events",
            ours.under_provisioned_minutes,
            hpa.under_provisioned_minutes,
            ours.replica_hours,
            hpa.replica_hours,
            if saving >= 0.0 { "−" } else { "+" },
            saving.abs(),
            ours.scale_events,
            hpa.scale_events,
        ),
        style,
    ))
}
