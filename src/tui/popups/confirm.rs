//! The confirm dialog of a write: the deployment, current → target, exactly which object and
//! field change, the equivalent kubectl command, what its other owners (KEDA, a VPA, GitOps)
//! mean for it, and why. y/Enter writes, Esc/n/q cancels; where a GitOps controller tracks the
//! object, g writes the change as a patch for git instead and b does both.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::outcome::Outcome;
use crate::actions::Plan;
use crate::actions::owners::{self, Severity};
use crate::tui::action::ConfirmAction;
use crate::tui::keymap::Keymap;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

/// A write waiting for yes or no.
#[derive(Clone, Debug)]
pub struct Confirm {
    pub plan: Box<Plan>,
}

impl Confirm {
    pub fn new(plan: Box<Plan>) -> Self {
        Self { plan }
    }

    pub fn handle(&mut self, action: ConfirmAction) -> Outcome {
        match action {
            ConfirmAction::Yes => Outcome::Write {
                plan: self.plan.clone(),
                message: "applying…",
            },
            ConfirmAction::No => Outcome::Cancelled,
            ConfirmAction::GitPatch | ConfirmAction::GitPatchAndApply
                if self.plan.ownership.gitops.is_none() =>
            {
                Outcome::Stay
            }
            ConfirmAction::GitPatch => Outcome::GitPatch {
                plan: self.plan.clone(),
                apply: false,
            },
            ConfirmAction::GitPatchAndApply => Outcome::GitPatch {
                plan: self.plan.clone(),
                apply: true,
            },
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let plan = &self.plan;
        let bold = theme.header();
        let mut lines: Vec<Line> = Vec::new();
        if let Some(r) = &plan.recommendation {
            let d = &r.decision;
            lines.push(Line::from(vec![
                Span::styled(
                    format!(" {} ", d.action.label()),
                    theme.action_badge(d.action),
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
                    theme.dim(),
                ),
            ]));
        }
        lines.push(Line::from(Span::styled("changes", bold)));
        for d in plan.describe() {
            lines.push(Line::from(format!("  {d}")));
        }
        lines.push(Line::from(Span::styled("equivalent kubectl", bold)));
        for k in plan.kubectl() {
            lines.push(Line::from(Span::styled(format!("  {k}"), theme.code())));
        }
        if let Some(w) = &plan.warning {
            lines.push(Line::from(Span::styled(format!("⚠ {w}"), theme.warning())));
        }
        for (severity, note) in owners::notes(&plan.ownership) {
            lines.push(Line::from(match severity {
                Severity::Warning => Span::styled(format!("⚠ {note}"), theme.warning()),
                Severity::Info => Span::styled(format!("ℹ {note}"), theme.dim()),
            }));
        }
        lines.push(Line::from(Span::styled("why", bold)));
        lines.push(Line::from(plan.reason.clone()));
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", keys.confirm.keys_of(ConfirmAction::Yes)),
                theme.button(true),
            ),
            Span::raw(" apply   "),
            Span::styled(
                format!(" {} ", keys.confirm.first_key(ConfirmAction::No)),
                theme.button(false),
            ),
            Span::raw(" cancel"),
        ]));
        if plan.ownership.gitops.is_some() {
            lines.push(Line::from(vec![
                Span::styled(
                    format!(" {} ", keys.confirm.first_key(ConfirmAction::GitPatch)),
                    theme.button(true),
                ),
                Span::raw(" write a patch for git (data dir), apply nothing   "),
                Span::styled(
                    format!(
                        " {} ",
                        keys.confirm.first_key(ConfirmAction::GitPatchAndApply)
                    ),
                    theme.button(false),
                ),
                Span::raw(" both"),
            ]));
        }
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
                    .border_style(theme.dialog()),
            ),
            popup,
        );
    }
}
