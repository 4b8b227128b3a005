//! Where things go on the screen: the panes for a terminal size, and a centred popup.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

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

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
