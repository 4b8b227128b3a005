//! The one list of key bindings: it drives key handling, the help overlay and the hint bar, so
//! the three cannot drift apart (kdash's lesson).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

/// One binding: its keys, what they do, how help describes it.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    /// Short label for the hint bar; None keeps it out of the bar.
    pub hint: Option<&'static str>,
    /// Changes the cluster: hidden and refused in read-only mode.
    pub writes: bool,
}

const fn bind(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        action,
        help,
        hint,
        writes: false,
    }
}

const fn write(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        action,
        help,
        hint,
        writes: true,
    }
}

pub const BINDINGS: &[Binding] = &[
    bind(
        &[key('j'), code(KeyCode::Down)],
        Action::Down,
        "move down",
        None,
    ),
    bind(&[key('k'), code(KeyCode::Up)], Action::Up, "move up", None),
    bind(
        &[code(KeyCode::PageDown), ctrl('f')],
        Action::PageDown,
        "page down",
        None,
    ),
    bind(
        &[code(KeyCode::PageUp), ctrl('b')],
        Action::PageUp,
        "page up",
        None,
    ),
    bind(&[key('g'), code(KeyCode::Home)], Action::Top, "first", None),
    bind(
        &[key('G'), code(KeyCode::End)],
        Action::Bottom,
        "last",
        None,
    ),
    bind(
        &[code(KeyCode::Tab)],
        Action::NextPane,
        "next pane",
        Some("tab pane"),
    ),
    bind(
        &[code(KeyCode::BackTab)],
        Action::PrevPane,
        "previous pane",
        None,
    ),
    bind(
        &[key('/')],
        Action::StartFilter,
        "filter by name",
        Some("/ filter"),
    ),
    bind(
        &[key(':')],
        Action::StartCommand,
        "command: ns, ctx NAME, q",
        Some(": cmd"),
    ),
    bind(
        &[key('n')],
        Action::PickNamespace,
        "pick a namespace",
        Some("n ns"),
    ),
    bind(
        &[key('m')],
        Action::ToggleChartMetric,
        "chart CPU / memory",
        Some("m cpu/mem"),
    ),
    write(
        &[key('a')],
        Action::Apply,
        "apply (confirm first)",
        Some("a apply"),
    ),
    bind(
        &[key('x')],
        Action::Dismiss,
        "dismiss until it changes",
        Some("x dismiss"),
    ),
    write(
        &[key('e')],
        Action::EditBounds,
        "edit min/max",
        Some("e min/max"),
    ),
    write(&[key('s')], Action::Scale, "scale by hand", None),
    write(
        &[key('p')],
        Action::TogglePredictive,
        "toggle predictive",
        None,
    ),
    write(&[key('H')], Action::CreateHpa, "create an HPA", None),
    write(
        &[key('u')],
        Action::Undo,
        "undo last change",
        Some("u undo"),
    ),
    bind(
        &[key('J')],
        Action::Journal,
        "journal of changes",
        Some("J journal"),
    ),
    bind(
        &[key('b')],
        Action::Backtest,
        "backtest vs your HPA",
        Some("b backtest"),
    ),
    bind(
        &[ctrl('r')],
        Action::Refresh,
        "refresh now",
        Some("^r refresh"),
    ),
    bind(&[key('?')], Action::ToggleHelp, "this help", Some("? help")),
    bind(
        &[code(KeyCode::Esc)],
        Action::Back,
        "back / clear filter",
        None,
    ),
    bind(&[key('q'), ctrl('c')], Action::Quit, "quit", Some("q quit")),
];

/// The action bound to a key event, if any. Write keys are returned in read-only mode too, so
/// pressing one is refused with a message rather than silently ignored.
pub fn action_for(event: &KeyEvent) -> Option<Action> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    // Shifted letters arrive as uppercase chars with SHIFT; match on the char alone.
    let mods = event.modifiers - KeyModifiers::SHIFT;
    BINDINGS
        .iter()
        .find(|b| {
            b.keys
                .iter()
                .any(|k| k.code == event.code && k.mods == mods)
        })
        .map(|b| b.action)
}

/// Whether the action writes to the cluster.
pub fn writes(action: Action) -> bool {
    BINDINGS.iter().any(|b| b.action == action && b.writes)
}

/// Bindings shown to the user (write keys hidden when read-only).
pub fn visible(read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| !(read_only && b.writes))
}

/// "j", "↓", "^r", "tab"…
pub fn label(k: &Key) -> String {
    let base = match k.code {
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Down => "↓".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "shift-tab".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Enter => "enter".into(),
        other => format!("{other:?}").to_lowercase(),
    };
    if k.mods.contains(KeyModifiers::CONTROL) {
        format!("^{base}")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn k9s_keys_map_to_their_actions() {
        let cases = [
            (ev(KeyCode::Char('j'), KeyModifiers::NONE), Action::Down),
            (ev(KeyCode::Down, KeyModifiers::NONE), Action::Down),
            (ev(KeyCode::Char('k'), KeyModifiers::NONE), Action::Up),
            (ev(KeyCode::Tab, KeyModifiers::NONE), Action::NextPane),
            (
                ev(KeyCode::Char('/'), KeyModifiers::NONE),
                Action::StartFilter,
            ),
            (
                ev(KeyCode::Char(':'), KeyModifiers::SHIFT),
                Action::StartCommand,
            ),
            (
                ev(KeyCode::Char('?'), KeyModifiers::SHIFT),
                Action::ToggleHelp,
            ),
            (ev(KeyCode::Esc, KeyModifiers::NONE), Action::Back),
            (
                ev(KeyCode::Char('r'), KeyModifiers::CONTROL),
                Action::Refresh,
            ),
            (ev(KeyCode::Char('q'), KeyModifiers::NONE), Action::Quit),
            (ev(KeyCode::Char('c'), KeyModifiers::CONTROL), Action::Quit),
            (ev(KeyCode::Char('G'), KeyModifiers::SHIFT), Action::Bottom),
        ];
        for (e, a) in cases {
            assert_eq!(action_for(&e), Some(a), "{e:?}");
        }
        assert_eq!(
            action_for(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn write_keys_are_hidden_when_read_only() {
        let all: Vec<Action> = visible(false).map(|b| b.action).collect();
        let ro: Vec<Action> = visible(true).map(|b| b.action).collect();
        for a in [
            Action::Apply,
            Action::EditBounds,
            Action::Scale,
            Action::Undo,
            Action::CreateHpa,
        ] {
            assert!(writes(a));
            assert!(all.contains(&a) && !ro.contains(&a), "{a:?}");
        }
        assert!(ro.contains(&Action::Dismiss) && ro.contains(&Action::Journal));
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(!seen.contains(k), "{} bound twice", label(k));
                seen.push(*k);
            }
        }
    }
}
