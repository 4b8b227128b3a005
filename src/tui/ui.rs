//! Drawing: a pure function of `App` (plus `prepare`, which fits the table's scroll offset to
//! the terminal before a frame). The panes, then the popup over them.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::App;
use super::layout::layout;
use super::panes::{card, chart, deployments, first_view, fleet, sparklines, status};
use super::popups::{Help, Picker};

/// Fit state that depends on the screen (the table's scroll offset) before drawing.
pub fn prepare(app: &mut App, area: Rect) {
    app.expire_first_view(std::time::Instant::now());
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
    if let Some(screen) = &app.fleet {
        fleet::render(frame, frame.area(), app, screen);
        if let Some(popup) = &app.popup {
            popup.render(frame, frame.area(), &app.theme, &app.keymap);
        }
        return;
    }
    let areas = layout(frame.area());
    if let Some((why, _)) = &app.first_view {
        let [body, status_line] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Fill(1),
            ratatui::layout::Constraint::Length(areas.status.height),
        ])
        .areas(frame.area());
        first_view::render(frame, body, app, why);
        status::render(frame, status_line, app);
        return;
    }
    deployments::render(frame, areas.table, app);
    sparklines::render(frame, areas.sparklines, app);
    chart::render(frame, areas.chart, app);
    card::render(frame, areas.card, app);
    status::render(frame, areas.status, app);
    if let Some(popup) = &app.popup {
        popup.render(frame, frame.area(), &app.theme, &app.keymap);
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
    let (theme, keys) = (&app.theme, &app.keymap);
    match pane {
        PaneKind::Table => deployments::render(frame, area, app),
        PaneKind::Sparklines => sparklines::render(frame, area, app),
        PaneKind::Chart => chart::render(frame, area, app),
        PaneKind::Card => card::render(frame, area, app),
        PaneKind::Status => status::render(frame, area, app),
        PaneKind::Help => Help::new(keys, app.session.read_only).render(frame, area, theme, keys),
        PaneKind::NamespacePicker => {
            Picker::namespaces(app.namespace_counts(), 0).render(frame, area, theme, keys)
        }
    }
}
