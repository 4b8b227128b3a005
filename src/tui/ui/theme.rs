//! Colours and styles in one place. The seed's colour code for actions: green scale down, blue
//! maintain, orange scale up, red at max.

use ratatui::style::{Color, Modifier, Style};

use crate::model::{Level, ScalingAction};

/// 256-colour orange: most SSH terminals have it; 16-colour ones show the nearest.
pub const ORANGE: Color = Color::Indexed(208);

pub fn action_color(a: ScalingAction) -> Color {
    match a {
        ScalingAction::ScaleDown => Color::Green,
        ScalingAction::Maintain => Color::Blue,
        ScalingAction::ScaleUp => ORANGE,
        ScalingAction::AtMax => Color::Red,
    }
}

/// A filled badge in the action's colour.
pub fn action_badge(a: ScalingAction) -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(action_color(a))
        .add_modifier(Modifier::BOLD)
}

/// Utilization colour: calm below 70 %, warm up to 90 %, hot above.
pub fn utilization(pct: f64) -> Style {
    if pct >= 90.0 {
        Style::new().fg(Color::Red)
    } else if pct >= 70.0 {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new()
    }
}

pub fn confidence(c: f64) -> Style {
    let color = if c >= 0.75 {
        Color::Green
    } else if c >= 0.5 {
        Color::Yellow
    } else {
        Color::Red
    };
    Style::new().fg(Color::Black).bg(color)
}

pub fn level(l: Level) -> Style {
    match l {
        Level::Low => Style::new().fg(Color::Green),
        Level::Medium => Style::new().fg(Color::Yellow),
        Level::High => Style::new().fg(Color::Red),
    }
}

pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn header() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn selected_row() -> Style {
    Style::new()
        .bg(Color::DarkGray)
        .add_modifier(Modifier::BOLD)
}

pub fn error() -> Style {
    Style::new().fg(Color::Red)
}
