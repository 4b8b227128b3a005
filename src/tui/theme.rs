//! Colours and styles in one place. The seed's colour code for actions: green scale down, blue
//! maintain, orange scale up, red at max. Without colour (`NO_COLOR`, https://no-color.org) the
//! same meanings are drawn with modifiers: reversed for badges and the selection, bold for
//! what needs attention, dim for what does not.

use ratatui::style::{Color, Modifier, Style};

use crate::model::{Level, ScalingAction};

/// 256-colour orange: most SSH terminals have it; 16-colour ones show the nearest.
pub const ORANGE: Color = Color::Indexed(208);

/// How the app draws: decided once at start and handed to everything that draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self::colored()
    }
}

impl Theme {
    pub const fn colored() -> Self {
        Self { color: true }
    }

    /// Modifiers only, no colour at all.
    pub const fn no_color() -> Self {
        Self { color: false }
    }

    /// `NO_COLOR` set and not empty means no colour (no-color.org); read once by the caller.
    pub fn from_no_color(value: Option<&std::ffi::OsStr>) -> Self {
        match value {
            Some(v) if !v.is_empty() => Self::no_color(),
            _ => Self::colored(),
        }
    }

    pub fn has_color(&self) -> bool {
        self.color
    }

    /// A foreground colour, or `otherwise` without colour.
    fn fg(&self, color: Color, otherwise: Style) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            otherwise
        }
    }

    /// Black on a colour, or reversed.
    fn badge(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(color)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    fn bold() -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    fn action_color(a: ScalingAction) -> Color {
        match a {
            ScalingAction::ScaleDown => Color::Green,
            ScalingAction::Maintain => Color::Blue,
            ScalingAction::ScaleUp => ORANGE,
            ScalingAction::AtMax => Color::Red,
        }
    }

    /// The action's text (the table's badge): its colour, or bold when it asks for more.
    pub fn action(&self, a: ScalingAction) -> Style {
        let loud = matches!(a, ScalingAction::ScaleUp | ScalingAction::AtMax);
        self.fg(
            Self::action_color(a),
            if loud { Self::bold() } else { Style::new() },
        )
    }

    /// A filled badge in the action's colour.
    pub fn action_badge(&self, a: ScalingAction) -> Style {
        self.badge(Self::action_color(a))
            .add_modifier(Modifier::BOLD)
    }

    /// Utilization colour: calm below 70 %, warm up to 90 %, hot above.
    pub fn utilization(&self, pct: f64) -> Style {
        if pct >= 90.0 {
            self.fg(Color::Red, Self::bold())
        } else if pct >= 70.0 {
            self.fg(
                Color::Yellow,
                Style::new().add_modifier(Modifier::UNDERLINED),
            )
        } else {
            Style::new()
        }
    }

    pub fn confidence(&self, c: f64) -> Style {
        let color = if c >= 0.75 {
            Color::Green
        } else if c >= 0.5 {
            Color::Yellow
        } else {
            Color::Red
        };
        self.badge(color)
    }

    pub fn level(&self, l: Level) -> Style {
        match l {
            Level::Low => self.fg(Color::Green, Style::new()),
            Level::Medium => self.fg(Color::Yellow, Style::new()),
            Level::High => self.fg(Color::Red, Self::bold()),
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan, Self::bold())
        } else {
            self.dim()
        }
    }

    /// A dialog's frame: it has the keyboard.
    pub fn dialog(&self) -> Style {
        self.fg(Color::Yellow, Self::bold())
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray, Style::new().add_modifier(Modifier::DIM))
    }

    pub fn header(&self) -> Style {
        Self::bold()
    }

    pub fn selected_row(&self) -> Style {
        if self.color {
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red, Self::bold())
    }

    /// Something to look at that is not an error: notices, warnings, pods not ready.
    pub fn warning(&self) -> Style {
        self.fg(
            Color::Yellow,
            Style::new().add_modifier(Modifier::UNDERLINED),
        )
    }

    /// Good news: a message that a key worked, a goal met.
    pub fn good(&self) -> Style {
        self.fg(Color::Green, Style::new())
    }

    /// What the user types, and its prompt.
    pub fn prompt(&self) -> Style {
        self.fg(Color::Yellow, Self::bold())
    }

    /// A command to copy (kubectl).
    pub fn code(&self) -> Style {
        self.fg(Color::Cyan, Style::new())
    }

    /// The context badge of the status bar.
    pub fn context_badge(&self) -> Style {
        self.badge(Color::Cyan)
    }

    /// The read-only badge of the status bar.
    pub fn read_only_badge(&self) -> Style {
        self.badge(Color::Yellow).add_modifier(if self.color {
            Modifier::empty()
        } else {
            Modifier::BOLD
        })
    }

    /// A key drawn as a button in a dialog; `yes` is the one that writes.
    pub fn button(&self, yes: bool) -> Style {
        self.badge(if yes { Color::Green } else { Color::Gray })
    }

    /// Rising is orange, falling green, stable dim.
    pub fn rising(&self) -> Style {
        self.fg(ORANGE, Self::bold())
    }

    pub fn falling(&self) -> Style {
        self.fg(Color::Green, Style::new())
    }

    /// A chart or sparkline series: the measured history, the forecast, its band, the HPA
    /// target and the "now" line.
    pub fn history_line(&self) -> Style {
        self.fg(Color::Cyan, Style::new())
    }

    pub fn memory_line(&self) -> Style {
        self.fg(Color::Magenta, Style::new())
    }

    pub fn forecast_line(&self) -> Style {
        self.fg(ORANGE, Self::bold())
    }

    pub fn band_line(&self) -> Style {
        self.fg(
            Color::Indexed(240),
            Style::new().add_modifier(Modifier::DIM),
        )
    }

    pub fn target_line(&self) -> Style {
        self.fg(Color::Red, Style::new())
    }

    pub fn now_line(&self) -> Style {
        self.fg(Color::DarkGray, Style::new().add_modifier(Modifier::DIM))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_is_set_and_not_empty() {
        use std::ffi::OsStr;
        assert!(Theme::from_no_color(None).has_color());
        assert!(Theme::from_no_color(Some(OsStr::new(""))).has_color());
        assert!(!Theme::from_no_color(Some(OsStr::new("1"))).has_color());
    }

    #[test]
    fn without_colour_the_selection_is_reversed() {
        let s = Theme::no_color().selected_row();
        assert_eq!((s.fg, s.bg), (None, None));
        assert!(s.add_modifier.contains(Modifier::REVERSED));
    }
}
