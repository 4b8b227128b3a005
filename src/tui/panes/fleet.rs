//! The fleet screen: one row per kube context (reachability or why not, deployments, at max,
//! pending changes, savings, the LLM's state), the selected row's detail, and the keys.
//! Drawing only: the rows are `FleetScreen`'s board, the open context's row the app's own
//! data.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use crate::fleet::{ContextRow, LlmState, Reach, Summary};
use crate::tui::app::{App, Severity};
use crate::tui::fleet_screen::FleetScreen;
use crate::tui::keymap::Context;
use crate::tui::theme::Theme;

const DASH: &str = "—";

pub fn render(frame: &mut Frame, area: Rect, app: &App, screen: &FleetScreen) {
    let theme = &app.theme;
    let [table_area, detail_area, footer_area] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    let rows = screen.board.rows();
    let answered = rows.iter().filter(|r| !r.refreshing).count();
    let title = if answered == rows.len() {
        format!(" Fleet · {} contexts ", rows.len())
    } else {
        format!(" Fleet · {} contexts · {answered} answered ", rows.len())
    };
    let block = Block::bordered()
        .title(title)
        .border_style(theme.border(true));
    let live = app.live_summary();
    let current = screen.board.current();
    let height = table_area.height.saturating_sub(3) as usize;
    // Keep the selection in view; the fleet is rarely longer than the screen.
    let offset = (screen.selected + 1).saturating_sub(height.max(1));
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, r)| {
            let summary = if r.context == current {
                Some(&live)
            } else {
                r.summary.as_ref()
            };
            let row = row(r, summary, r.context == current, theme);
            if i == screen.selected {
                row.style(theme.selected_row())
            } else {
                row
            }
        })
        .collect();
    let ctx_w = rows
        .iter()
        .map(|r| r.context.chars().count() + 2)
        .max()
        .unwrap_or(8)
        .clamp(8, 40) as u16;
    let widths = [
        Constraint::Max(ctx_w),
        Constraint::Length(16),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let header = Row::new([
        "CONTEXT", "REACH", "DEPL", "AT MAX", "PENDING", "SAVE/D", "LLM",
    ])
    .style(theme.header());
    let table = Table::new(body, widths).header(header).block(block);
    frame.render_widget(table, table_area);
    let selected = rows.get(screen.selected);
    let detail = selected.map(|r| detail(r, r.context == current, &live, theme));
    frame.render_widget(
        Paragraph::new(detail.unwrap_or_default()).wrap(ratatui::widgets::Wrap { trim: true }),
        detail_area,
    );
    frame.render_widget(Paragraph::new(footer(app, theme)), footer_area);
}

fn row(r: &ContextRow, s: Option<&Summary>, current: bool, theme: &Theme) -> Row<'static> {
    let name = if current {
        format!("● {}", r.context)
    } else {
        format!("  {}", r.context)
    };
    let reach_style = match &r.reach {
        Reach::Ok => theme.good(),
        Reach::NoMetrics { .. } => theme.warning(),
        Reach::Unreachable(_) => theme.error(),
        Reach::Probing => theme.dim(),
    };
    let mut reach = r.reach.label().to_string();
    if r.refreshing && !matches!(r.reach, Reach::Probing) {
        reach.push_str(" ↻");
    }
    let num = |n: Option<usize>| n.map_or_else(|| DASH.to_string(), |n| n.to_string());
    let at_max = s.map(|s| s.at_max);
    let at_max_style = if at_max.is_some_and(|n| n > 0) {
        theme.warning()
    } else {
        Style::default()
    };
    let savings = s
        .and_then(|s| s.savings_replica_hours_per_day)
        .map_or_else(|| DASH.to_string(), |h| format!("{h:+.1}"));
    let (llm, llm_style) = match s.map(|s| &s.llm) {
        None => (DASH.to_string(), theme.dim()),
        Some(l) if l.status().is_empty() => (DASH.to_string(), theme.dim()),
        Some(l @ LlmState::Ready(_)) => (l.label().to_string(), theme.good()),
        Some(l @ LlmState::Off(_)) => (l.label().to_string(), theme.dim()),
        Some(l) => (l.label().to_string(), theme.warning()),
    };
    Row::new(vec![
        Cell::from(name),
        Cell::from(reach).style(reach_style),
        Cell::from(num(s.map(|s| s.deployments))),
        Cell::from(num(at_max)).style(at_max_style),
        Cell::from(num(s.map(|s| s.pending))),
        Cell::from(savings),
        Cell::from(llm).style(llm_style),
    ])
}

/// Two lines about the selected row: why it cannot be reached (or what it lacks), and the LLM
/// status line or how long its probe took.
fn detail(r: &ContextRow, current: bool, live: &Summary, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::with_capacity(2);
    match (&r.reach, current) {
        (_, true) => lines.push(Line::styled(
            format!(" {}: open here (live)", r.context),
            theme.dim(),
        )),
        (Reach::Unreachable(u), _) => lines.push(Line::styled(
            format!(" {}: {}: {}", r.context, u.reason.label(), u.detail),
            theme.error(),
        )),
        (Reach::NoMetrics { detail }, _) => lines.push(Line::styled(
            format!(" {}: no metrics: {detail}", r.context),
            theme.warning(),
        )),
        (Reach::Probing, _) => lines.push(Line::styled(
            format!(" {}: probing…", r.context),
            theme.dim(),
        )),
        (Reach::Ok, _) => lines.push(Line::raw(format!(" {}: ok", r.context))),
    }
    let llm = if current {
        Some(&live.llm)
    } else {
        r.summary.as_ref().map(|s| &s.llm)
    };
    let mut second = Vec::with_capacity(2);
    if let Some(ms) = r.answered_ms.filter(|_| !current) {
        second.push(Span::styled(format!(" answered in {ms} ms"), theme.dim()));
    }
    if let Some(l) = llm.filter(|l| !l.status().is_empty()) {
        second.push(Span::styled(format!(" · {}", l.status()), theme.dim()));
    }
    lines.push(Line::from(second));
    lines
}

/// The answer to the last key, else the keys of the fleet screen.
fn footer(app: &App, theme: &Theme) -> Line<'static> {
    if let Some((msg, sev)) = &app.message {
        let style = match sev {
            Severity::Info => theme.good(),
            Severity::Error => theme.error(),
        };
        return Line::from(Span::styled(format!(" {msg}"), style));
    }
    let hints = app.keymap.hints(Context::Fleet, app.session.read_only);
    Line::from(Span::styled(format!(" {}", hints.join(" · ")), theme.dim()))
}
