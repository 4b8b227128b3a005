//! The status bar: context, cluster clock, LLM state, data age, and either the input line, a
//! message, or key hints from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme;
use crate::model::rfc3339;
use crate::tui::app::{App, Mode, Severity};
use crate::tui::keymap;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let sep = Span::styled(" │ ", theme::dim());
    let mut left = vec![Span::styled(
        format!(" {} ", app.session.context),
        Style::new().fg(Color::Black).bg(Color::Cyan),
    )];
    if app.session.read_only {
        left.push(Span::styled(
            " RO ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    left.push(Span::raw(" "));
    // What the user types comes first, so no notice can push it off a narrow terminal.
    if let Some((prompt, text)) = match &app.mode {
        Mode::Filter => Some(("/", app.filter.as_str())),
        Mode::Command(s) => Some((":", s.as_str())),
        _ => None,
    } {
        left.push(Span::styled(prompt, Style::new().fg(Color::Yellow)));
        left.push(Span::raw(text.to_string()));
        left.push(Span::styled("▏", Style::new().fg(Color::Yellow)));
        left.push(sep.clone());
    }
    if let Some(t) = app.cluster_time {
        // "2026-03-05T14:32:15Z" → "03-05 14:32"
        let s = rfc3339(t);
        let clock = if area.width >= 100 {
            &s[5..19]
        } else {
            &s[11..16]
        };
        left.push(Span::raw(clock.replace('T', " ")));
        if let Some(speed) = app.session.speed {
            left.push(Span::styled(format!(" ×{speed:.0}"), theme::dim()));
        }
        left.push(sep.clone());
    }
    left.push(Span::raw(app.llm_status.clone()));
    left.push(sep.clone());
    match &app.cluster_error {
        Some(e) => left.push(Span::styled(
            format!("stale {}s: {e}", app.data_age_secs),
            theme::error(),
        )),
        None => left.push(Span::styled(
            format!("data {}s", app.data_age_secs),
            theme::dim(),
        )),
    }
    // Notices are long-lived; a third of the width each keeps messages and hints in view.
    let notice_width = (area.width as usize / 3).max(20);
    for notice in app.notices.values() {
        left.push(sep.clone());
        left.push(Span::styled(
            shorten(notice, notice_width),
            Style::new().fg(Color::Yellow),
        ));
    }
    left.push(sep);

    match (&app.mode, &app.message) {
        (Mode::Filter | Mode::Command(_), _) => {}
        (_, Some((msg, sev))) => {
            let style = match sev {
                Severity::Info => Style::new().fg(Color::Green),
                Severity::Error => theme::error(),
            };
            left.push(Span::styled(msg.clone(), style));
        }
        _ => {
            // Help first: on a narrow terminal it may be the only hint that fits.
            let mut hints: Vec<&str> = keymap::visible(app.session.read_only)
                .filter_map(|b| b.hint)
                .collect();
            if let Some(i) = hints.iter().position(|h| h.starts_with('?')) {
                let help = hints.remove(i);
                hints.insert(0, help);
            }
            left.push(Span::styled(hints.join("  "), theme::dim()));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(left)), area);
}

/// `text` cut to `width` characters, with an ellipsis when cut.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shorten_cuts_with_an_ellipsis_only_when_needed() {
        assert_eq!(shorten("metrics", 20), "metrics");
        assert_eq!(shorten("no metrics-server: 404", 10), "no metric…");
        assert_eq!(shorten("äöü", 3), "äöü");
    }
}
