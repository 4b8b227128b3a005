//! The namespace picker (`n` or `:ns`) and the context picker (`:ctx`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, List, ListItem, ListState};

use super::{centered, theme};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App, selected: usize) {
    let choices = app.namespace_choices();
    let items: Vec<ListItem> = choices
        .iter()
        .map(|c| {
            let name = c.as_deref().unwrap_or("all namespaces");
            let count = app
                .deployments
                .keys()
                .filter(|k| c.as_ref().is_none_or(|ns| &k.namespace == ns))
                .count();
            ListItem::new(format!("{name} ({count})"))
        })
        .collect();
    render_list(frame, area, items, " Namespace · enter picks ", selected);
}

pub fn render_contexts(frame: &mut Frame, area: Rect, app: &App, selected: usize) {
    let items: Vec<ListItem> = app
        .contexts
        .iter()
        .map(|c| {
            if c == &app.session.context {
                ListItem::new(format!("{c} (current)"))
            } else {
                ListItem::new(c.clone())
            }
        })
        .collect();
    render_list(frame, area, items, " Context · enter switches ", selected);
}

fn render_list(frame: &mut Frame, area: Rect, items: Vec<ListItem>, title: &str, selected: usize) {
    let popup = centered(area, 40, items.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    let list = List::new(items)
        .highlight_style(theme::selected_row())
        .highlight_symbol("› ")
        .block(
            Block::bordered()
                .title(title.to_string())
                .border_style(theme::border(true)),
        );
    let mut state = ListState::default().with_selected(Some(selected));
    frame.render_stateful_widget(list, popup, &mut state);
}
