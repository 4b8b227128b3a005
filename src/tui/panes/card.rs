//! The recommendation card: the change `a` would make ("floor 3 → 8 until 14:30"), every field
//! of the seed's contract, a confidence badge, the calibration it was made with, and where it
//! came from (the LLM within the policy's range, or the policy alone and why).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::actions::owners::{self, Severity};
use crate::model::{Ownership, Recommendation, RecommendationSource, ReviewStatus};
use crate::tui::app::{App, Pane};
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let focused = app.focus == Pane::Card;
    let Some(v) = app.selected_view() else {
        frame.render_widget(
            Block::bordered()
                .title(" Recommendation ")
                .border_style(theme.border(focused)),
            area,
        );
        return;
    };
    if let Some(r) = v.recommendation.as_deref()
        && app.is_dismissed(r)
    {
        frame.render_widget(
            Paragraph::new(format!(
                "Dismissed: {} {} stays hidden until the recommendation changes.",
                r.decision.action.label(),
                r.decision.target_replicas
            ))
            .wrap(Wrap { trim: true })
            .style(theme.dim())
            .block(
                Block::bordered()
                    .title(format!(" {} · dismissed ", v.state.key))
                    .border_style(theme.border(focused)),
            ),
            area,
        );
        return;
    }
    let failed = app.recommendation_errors.get(&v.state.key).map(|why| {
        Line::from(Span::styled(
            format!("Recommendation failed: {why}. Retrying next cycle."),
            theme.error(),
        ))
    });
    let Some(r) = v.recommendation.as_deref() else {
        // The owners are known before the first recommendation is: warn from the start.
        let owners = owner_lines(&v.state.ownership, theme);
        let text = match failed {
            Some(line) => Paragraph::new([vec![line], owners].concat()).wrap(Wrap { trim: true }),
            None if owners.is_empty() => Paragraph::new("computing…").style(theme.dim()),
            None => {
                let computing = Line::styled("computing…", theme.dim());
                Paragraph::new([vec![computing], owners].concat()).wrap(Wrap { trim: true })
            }
        };
        frame.render_widget(
            text.block(
                Block::bordered()
                    .title(" Recommendation ")
                    .border_style(theme.border(focused)),
            ),
            area,
        );
        return;
    };
    let source = match r.source {
        RecommendationSource::Llm => format!(
            "LLM {}{}",
            r.model.as_deref().unwrap_or("?"),
            match &r.llm_review {
                Some(review) if review.status != ReviewStatus::Asked => {
                    format!(" ({})", review.age_text())
                }
                _ if r.cached => " (cached)".to_string(),
                _ => String::new(),
            }
        ),
        RecommendationSource::Policy => "policy".to_string(),
        RecommendationSource::Scheduled => "schedule".to_string(),
        RecommendationSource::Reactive => "reactive".to_string(),
    };
    let block = Block::bordered()
        .title(format!(" {} · {source} ", v.state.key))
        .border_style(theme.border(focused));
    // A failed retry keeps the last good card, marked as not current.
    let mut text = lines(r, theme);
    // Who else owns its scaling, under the change and above the rest.
    for (i, line) in owner_lines(&v.state.ownership, theme)
        .into_iter()
        .enumerate()
    {
        text.insert((1 + i).min(text.len()), line);
    }
    if let Some(line) = failed {
        text.insert(0, line);
    }
    // What the app cannot know stops every write: say so above everything else.
    if let Some(block) = &v.state.write_block {
        text.insert(
            0,
            Line::from(Span::styled(
                format!("Writes refused: {block}."),
                theme.error(),
            )),
        );
    }
    let paragraph = Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .scroll((app.card_scroll, 0))
        .block(block);
    frame.render_widget(paragraph, area);
}

/// The card's warnings about the deployment's other owners (KEDA, a VPA, GitOps).
fn owner_lines(o: &Ownership, theme: &Theme) -> Vec<Line<'static>> {
    owners::notes(o)
        .into_iter()
        .map(|(severity, note)| {
            Line::from(match severity {
                Severity::Warning => Span::styled(format!("⚠ {note}."), theme.warning()),
                Severity::Info => Span::styled(format!("ℹ {note}."), theme.dim()),
            })
        })
        .collect()
}

fn lines(r: &Recommendation, theme: &Theme) -> Vec<Line<'static>> {
    let d = &r.decision;
    let label = Style::new().add_modifier(Modifier::BOLD);
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!(" {} ", d.action.label()),
            theme.action_badge(d.action),
        ),
        Span::styled(format!(" {} ", r.change.headline()), label),
        Span::styled(
            format!(" {:.0}% ", d.confidence * 100.0),
            theme.confidence(d.confidence),
        ),
        Span::styled(
            format!(" [{}–{}]", r.min_replicas, r.max_replicas),
            theme.dim(),
        ),
    ])];
    if let Some(why) = &r.fallback_reason {
        out.push(Line::from(Span::styled(
            format!("LLM not used: {why}"),
            theme.warning(),
        )));
    }
    if let Some(review) = &r.llm_review {
        out.push(Line::from(Span::styled(review.line(), theme.dim())));
    }
    out.push(Line::from(vec![
        Span::styled("risk ", label),
        Span::styled(d.risk_assessment.as_str(), theme.level(d.risk_assessment)),
        Span::styled("  cost ", label),
        Span::styled(d.cost_impact.as_str(), theme.level(d.cost_impact)),
        Span::styled("  perf ", label),
        Span::raw(d.performance_impact.as_str()),
        Span::styled("  timing ", label),
        Span::raw(d.recommended_timing.as_str()),
    ]));
    out.push(Line::from(d.reasoning.clone()));
    out.push(Line::from(Span::styled(
        match &r.inputs.policy.calibration {
            Some(c) => c.summary(),
            None => "policy defaults: not calibrated yet (needs 2 days of history)".to_string(),
        },
        theme.dim(),
    )));
    if let Some((lo, hi)) = r.policy_range {
        out.push(Line::from(Span::styled(
            format!("LLM chose within the policy's range [{lo}, {hi}]"),
            theme.dim(),
        )));
    }
    if !d.factors_considered.is_empty() {
        out.push(Line::from(Span::styled("factors", label)));
        for f in &d.factors_considered {
            out.push(Line::from(format!("• {f}")));
        }
    }
    for c in &r.corrections {
        out.push(Line::from(Span::styled(
            format!("{}: {c}", crate::advisor::note_label(c)),
            theme.warning(),
        )));
    }
    out.push(Line::from(Span::styled(
        format!(
            "made {} from inputs at that time",
            r.created_at.replace('T', " ")
        ),
        theme.dim(),
    )));
    out
}
