//! Drawing: a pure function of `App` (plus `prepare`, which fits the table's scroll offset to
//! the terminal before a frame). One file per pane.

mod backtest;
mod card;
mod chart;
mod confirm;
mod deployments;
mod editor;
mod help;
mod journal;
mod picker;
mod sparklines;
mod status;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};

use super::app::{App, Mode};

/// Terminals at least this wide put the table and the charts side by side.
const WIDE: u16 = 140;

/// Where each pane goes for a terminal of `area`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub table: Rect,
    pub sparklines: Rect,
    pub chart: Rect,
    pub card: Rect,
    pub status: Rect,
}

pub fn layout(area: Rect) -> Areas {
    let [main, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    if area.width >= WIDE {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(main);
        let card_h = (left.height / 2).clamp(12, 22);
        let [table, card] =
            Layout::vertical([Constraint::Min(6), Constraint::Length(card_h)]).areas(left);
        let [sparklines, chart] =
            Layout::vertical([Constraint::Length(8), Constraint::Min(6)]).areas(right);
        Areas {
            table,
            sparklines,
            chart,
            card,
            status,
        }
    } else {
        let table_h = (main.height * 2 / 5).max(5);
        let [table, bottom] =
            Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(main);
        let [card, right] = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(bottom);
        // Bordered sparklines when there is room, two-line ones otherwise.
        let spark_h = if right.height >= 16 { 6 } else { 4 };
        let [sparklines, chart] =
            Layout::vertical([Constraint::Length(spark_h), Constraint::Min(0)]).areas(right);
        Areas {
            table,
            sparklines,
            chart,
            card,
            status,
        }
    }
}

/// Fit state that depends on the screen (the table's scroll offset) before drawing.
pub fn prepare(app: &mut App, area: Rect) {
    let rows = deployments::body_rows(layout(area).table);
    app.table_height = rows;
    if app.selected < app.table_offset {
        app.table_offset = app.selected;
    } else if rows > 0 && app.selected >= app.table_offset + rows {
        app.table_offset = app.selected + 1 - rows;
    }
    let max_offset = app.visible.len().saturating_sub(rows);
    app.table_offset = app.table_offset.min(max_offset);
}

/// Draw one frame.
pub fn render(frame: &mut Frame, app: &App) {
    let areas = layout(frame.area());
    deployments::render(frame, areas.table, app);
    sparklines::render(frame, areas.sparklines, app);
    chart::render(frame, areas.chart, app);
    card::render(frame, areas.card, app);
    status::render(frame, areas.status, app);
    match &app.mode {
        Mode::Help => help::render(frame, frame.area(), app),
        Mode::NamespacePicker(i) => picker::render(frame, frame.area(), app, *i),
        Mode::ContextPicker(i) => picker::render_contexts(frame, frame.area(), app, *i),
        Mode::Confirm(plan) => confirm::render(frame, frame.area(), plan),
        Mode::Form(form) => editor::render(frame, frame.area(), app, form),
        Mode::Journal => journal::render(frame, frame.area(), app),
        Mode::Backtest => backtest::render(frame, frame.area(), app),
        Mode::Normal | Mode::Filter | Mode::Command(_) => {}
    }
}

/// One pane on its own (snapshot tests of each pane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaneKind {
    Table,
    Sparklines,
    Chart,
    Card,
    Status,
    Help,
    NamespacePicker,
}

pub fn render_pane(frame: &mut Frame, app: &App, pane: PaneKind) {
    let area = frame.area();
    match pane {
        PaneKind::Table => deployments::render(frame, area, app),
        PaneKind::Sparklines => sparklines::render(frame, area, app),
        PaneKind::Chart => chart::render(frame, area, app),
        PaneKind::Card => card::render(frame, area, app),
        PaneKind::Status => status::render(frame, area, app),
        PaneKind::Help => help::render(frame, area, app),
        PaneKind::NamespacePicker => picker::render(frame, area, app, 0),
    }
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
