//! The status bar: context, cluster clock, LLM state, data age, and either the prompt being
//! typed, a message, or hints of the keys that work now (from the keymap of whatever has the
//! keyboard).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::model::UnixSeconds;
use crate::tui::app::{App, Severity};
use crate::tui::keymap::Context;
use crate::tui::popups::Popup;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let sep = Span::styled(" │ ", theme.dim());
    let mut left = vec![Span::styled(
        format!(" {} ", app.session.context),
        theme.context_badge(),
    )];
    if app.session.read_only {
        left.push(Span::styled(" RO ", theme.read_only_badge()));
    }
    left.push(Span::raw(" "));
    // What the user types comes first, so no notice can push it off a narrow terminal.
    let prompt = match &app.popup {
        Some(Popup::Prompt(p)) => Some(p),
        _ => None,
    };
    if let Some(p) = prompt {
        left.extend(p.spans(theme));
        left.push(sep.clone());
    }
    if let Some(t) = app.cluster_time {
        left.push(Span::raw(clock(t, area.width >= 100)));
        if let Some(speed) = app.session.speed {
            left.push(Span::styled(format!(" ×{speed:.0}"), theme.dim()));
        }
        left.push(sep.clone());
    }
    // The answer to the last key next: long-lived notices must not push it off the bar.
    let typing = prompt.is_some();
    if let (false, Some((msg, sev))) = (typing, &app.message) {
        let style = match sev {
            Severity::Info => theme.good(),
            Severity::Error => theme.error(),
        };
        left.push(Span::styled(msg.clone(), style));
        left.push(sep.clone());
    }
    left.push(Span::raw(app.llm_status.clone()));
    left.push(sep.clone());
    match &app.cluster_error {
        Some(e) => left.push(Span::styled(
            format!("stale {}s: {e}", app.data_age_secs),
            theme.error(),
        )),
        None => left.push(Span::styled(
            format!("data {}s", app.data_age_secs),
            theme.dim(),
        )),
    }
    // Notices are long-lived; a third of the width each keeps messages and hints in view.
    let notice_width = (area.width as usize / 3).max(20);
    for (source, notice) in &app.notices {
        left.push(sep.clone());
        // Where history came from is news, not a warning; why there is none is.
        let style = if *source == "prometheus" && notice.starts_with("history: ") {
            theme.dim()
        } else {
            theme.warning()
        };
        left.push(Span::styled(shorten(notice, notice_width), style));
    }
    // The keys of whatever has the keyboard; a message (the answer to the last key) first.
    if typing || app.message.is_none() {
        let context = app.popup.as_ref().map_or(Context::Normal, Popup::context);
        let hints = app.keymap.hints(context, app.session.read_only);
        left.push(sep);
        left.push(Span::styled(hints.join("  "), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(left)), area);
}

/// The cluster clock, "03-05 14:32:15" when `wide`, else "14:32". Formatted by chrono, not by
/// slicing a string: a time outside chrono's range shows its seconds instead of panicking.
fn clock(t: UnixSeconds, wide: bool) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) if wide => d.format("%m-%d %H:%M:%S").to_string(),
        Some(d) => d.format("%H:%M").to_string(),
        None => format!("t={t}"),
    }
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
    use super::{clock, shorten};

    #[test]
    fn the_clock_is_formatted_for_any_timestamp() {
        assert_eq!(clock(1_772_721_135, true), "03-05 14:32:15");
        assert_eq!(clock(1_772_721_135, false), "14:32");
        // Out of chrono's range: `rfc3339` falls back to the number, whose bytes 11..16 or
        // 5..19 may not exist.
        for t in [i64::MAX, i64::MIN, -99_999_999_999_999, 10i64.pow(15)] {
            for wide in [true, false] {
                assert_eq!(clock(t, wide), format!("t={t}"));
            }
        }
    }

    #[test]
    fn the_status_bar_draws_an_out_of_range_cluster_time() {
        use crate::tui::app::{App, SessionInfo};
        use ratatui::{Terminal, backend::TestBackend};
        for t in [i64::MAX, i64::MIN, -1] {
            let mut app = App::new(SessionInfo::default());
            app.cluster_time = Some(t);
            for width in [60, 120] {
                let mut term = Terminal::new(TestBackend::new(width, 1)).expect("terminal");
                term.draw(|f| super::render(f, f.area(), &app))
                    .expect("draws");
                let line: String = term
                    .backend()
                    .buffer()
                    .content()
                    .iter()
                    .map(|c| c.symbol())
                    .collect();
                if t == -1 {
                    assert!(line.contains("23:59"), "{line}");
                } else {
                    assert!(line.contains(&format!("t={t}")), "{line}");
                }
            }
        }
    }

    #[test]
    fn shorten_cuts_with_an_ellipsis_only_when_needed() {
        assert_eq!(shorten("metrics", 20), "metrics");
        assert_eq!(shorten("no metrics-server: 404", 10), "no metric…");
        assert_eq!(shorten("äöü", 3), "äöü");
    }
}
