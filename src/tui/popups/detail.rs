//! The deployment opened (Enter): its pods (ready, age, CPU and memory each), its HPA's
//! conditions and its recent events, read on demand through the engine (`Command::Describe`),
//! so the user sees why the HPA did what it did. Drawn from what has arrived; never waits.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Wrap};

use crate::model::{DeploymentDetail, DeploymentKey, UnixSeconds};
use crate::tui::action::OverlayAction;
use crate::tui::keymap::Keymap;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

/// One deployment's detail: asked for, then answered by the engine.
#[derive(Clone, Debug)]
pub struct Detail {
    pub key: DeploymentKey,
    /// None while it is being read.
    pub result: Option<Result<Arc<DeploymentDetail>, String>>,
}

impl Detail {
    pub fn new(key: DeploymentKey) -> Self {
        Self { key, result: None }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let popup = centered(
            area,
            area.width.saturating_sub(4).min(120),
            area.height.saturating_sub(2).min(40),
        );
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(format!(
                " {} · {} closes ",
                self.key,
                keys.detail.first_key(OverlayAction::Close)
            ))
            .border_style(theme.border(true));
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        match &self.result {
            None => frame.render_widget(
                Paragraph::new(format!("reading the pods, HPA and events of {}…", self.key))
                    .style(theme.dim()),
                inner,
            ),
            Some(Err(e)) => frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("cannot describe {}: {e}", self.key),
                    theme.error(),
                ))
                .wrap(Wrap { trim: true }),
                inner,
            ),
            Some(Ok(d)) => render_detail(frame, inner, d, theme),
        }
    }
}

fn render_detail(frame: &mut Frame, area: Rect, d: &DeploymentDetail, theme: &Theme) {
    let conditions = d.hpa.as_ref().map_or(1, |h| h.conditions.len().max(1)) as u16;
    // Pods get up to a third of the height; the HPA its conditions; events the rest.
    let pods_h = (d.pods.len() as u16 + 2).min(area.height / 3).max(3);
    let problems_h = d.problems.len() as u16;
    let [pods_area, hpa_area, events_area, problems_area] = Layout::vertical([
        Constraint::Length(pods_h),
        Constraint::Length(conditions + 2),
        Constraint::Min(3),
        Constraint::Length(problems_h),
    ])
    .areas(area);

    let ready = d.pods.iter().filter(|p| p.ready).count();
    let pods: Vec<Row> = d
        .pods
        .iter()
        .map(|p| {
            let style = if p.ready {
                Style::new()
            } else {
                theme.warning()
            };
            Row::new(vec![
                Cell::from(p.name.clone()),
                Cell::from(if p.ready { "1/1" } else { "0/1" }),
                Cell::from(p.phase.clone()),
                Cell::from(p.created.map_or("?".into(), |c| age(d.read_at - c))),
                Cell::from(p.cpu_millis.map_or("?".into(), |c| format!("{c:.0}m"))),
                Cell::from(p.mem_mib.map_or("?".into(), |m| format!("{m:.0}Mi"))),
            ])
            .style(style)
        })
        .collect();
    frame.render_widget(
        Table::new(
            pods,
            [
                Constraint::Min(20),
                Constraint::Length(5),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Length(7),
            ],
        )
        .header(Row::new(["POD", "READY", "STATUS", "AGE", "CPU", "MEMORY"]).style(theme.header()))
        .block(Block::new().title(format!("pods {} ({ready} ready)", d.pods.len()))),
        pods_area,
    );

    match &d.hpa {
        None => frame.render_widget(
            Paragraph::new("no HPA targets this deployment").style(theme.dim()),
            hpa_area,
        ),
        Some(h) => {
            let rows: Vec<Row> = h
                .conditions
                .iter()
                .map(|c| {
                    // A condition that stops or limits scaling is the answer the user came for.
                    let limiting = (c.kind == "ScalingLimited" && c.status == "True")
                        || (c.kind != "ScalingLimited" && c.status != "True");
                    let style = if limiting {
                        theme.warning()
                    } else {
                        Style::new()
                    };
                    Row::new(vec![
                        c.kind.clone(),
                        c.status.clone(),
                        c.reason.clone(),
                        c.message.clone(),
                    ])
                    .style(style)
                })
                .collect();
            frame.render_widget(
                Table::new(
                    rows,
                    [
                        Constraint::Length(14),
                        Constraint::Length(6),
                        Constraint::Length(24),
                        Constraint::Min(10),
                    ],
                )
                .header(
                    Row::new(["CONDITION", "STATUS", "REASON", "MESSAGE"]).style(theme.header()),
                )
                .block(Block::new().title(format!("hpa/{}", h.name))),
                hpa_area,
            );
        }
    }

    // The latest events that fit, oldest of them first (as kubectl lists them).
    let fit = events_area.height.saturating_sub(2) as usize;
    let skip = d.events.len().saturating_sub(fit);
    let events: Vec<Row> = d.events[skip..]
        .iter()
        .map(|e| {
            let style = if e.kind == "Warning" {
                theme.warning()
            } else {
                Style::new()
            };
            Row::new(vec![
                e.time.map_or("?".into(), |t| age(d.read_at - t)),
                e.kind.clone(),
                e.reason.clone(),
                e.object.clone(),
                e.message.clone(),
            ])
            .style(style)
        })
        .collect();
    let title = if d.events.is_empty() {
        "events: none recent".to_string()
    } else {
        format!("events {}", d.events.len())
    };
    frame.render_widget(
        Table::new(
            events,
            [
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Length(24),
                Constraint::Length(22),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"]).style(theme.header()))
        .block(Block::new().title(title)),
        events_area,
    );
    if !d.problems.is_empty() {
        let lines: Vec<Line> = d
            .problems
            .iter()
            .map(|p| Line::styled(p.clone(), theme.error()))
            .collect();
        frame.render_widget(Paragraph::new(lines), problems_area);
    }
}

/// kubectl's short age: "45s", "12m", "3h", "2d".
pub fn age(seconds: UnixSeconds) -> String {
    match seconds.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(45), "45s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(3 * 86_400), "3d");
    }
}
