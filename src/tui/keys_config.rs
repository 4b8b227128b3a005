//! `[keys]` in the config file: rebind any action of any context, as gitui and kdash allow.
//!
//! ```toml
//! [keys.normal]
//! quit = "Q"
//! down = ["j", "down", "ctrl-n"]
//! [keys.confirm]
//! yes = "enter"
//! ```
//!
//! The config keeps the table as written; the TUI checks it here at start: an unknown context
//! or action, a key it cannot read, or two actions on one key of a context is an error naming
//! the context, the action and the key (the caller exits 2, as for any config error).

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyModifiers};

use crate::config::KeyNames;

use super::action::Named;
use super::keymap::{Context, Key, Keymap, Table, label};

/// A binding the keymap cannot take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysError {
    pub context: String,
    /// The action the binding is for, when there is one.
    pub action: Option<String>,
    pub message: String,
}

impl fmt::Display for KeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Some(a) => write!(f, "[keys.{}] {a}: {}", self.context, self.message),
            None => write!(f, "[keys.{}]: {}", self.context, self.message),
        }
    }
}

impl std::error::Error for KeysError {}

/// The default keymap with the config's bindings applied.
pub fn keymap(config: &BTreeMap<String, BTreeMap<String, KeyNames>>) -> Result<Keymap, KeysError> {
    let mut keys = Keymap::default();
    for (name, bindings) in config {
        let Some(context) = Context::ALL.into_iter().find(|c| c.name() == name) else {
            let have: Vec<&str> = Context::ALL.iter().map(|c| c.name()).collect();
            return Err(KeysError {
                context: name.clone(),
                action: None,
                message: format!("unknown context (have: {})", have.join(", ")),
            });
        };
        match context {
            Context::Normal => rebind(&mut keys.normal, context, bindings)?,
            Context::Filter => rebind(&mut keys.filter, context, bindings)?,
            Context::Command => rebind(&mut keys.command, context, bindings)?,
            Context::Help => rebind(&mut keys.help, context, bindings)?,
            Context::Picker => rebind(&mut keys.picker, context, bindings)?,
            Context::Confirm => rebind(&mut keys.confirm, context, bindings)?,
            Context::Editor => rebind(&mut keys.editor, context, bindings)?,
            Context::Journal => rebind(&mut keys.journal, context, bindings)?,
            Context::Backtest => rebind(&mut keys.backtest, context, bindings)?,
            Context::Detail => rebind(&mut keys.detail, context, bindings)?,
            Context::Fleet => rebind(&mut keys.fleet, context, bindings)?,
        }
    }
    Ok(keys)
}

/// Replace the keys of each named action, then check no key does two things.
fn rebind<A: Named>(
    table: &mut Table<A>,
    context: Context,
    bindings: &BTreeMap<String, KeyNames>,
) -> Result<(), KeysError> {
    let error = |action: &str, message: String| KeysError {
        context: context.name().to_string(),
        action: Some(action.to_string()),
        message,
    };
    for (name, names) in bindings {
        let Some(action) = A::ALL.iter().copied().find(|a| a.name() == name) else {
            let have: Vec<&str> = A::ALL.iter().map(|a| a.name()).collect();
            return Err(error(
                name,
                format!("unknown action (have: {})", have.join(", ")),
            ));
        };
        let names: Vec<&str> = match names {
            KeyNames::One(one) => vec![one.as_str()],
            KeyNames::Many(many) => many.iter().map(String::as_str).collect(),
        };
        if names.is_empty() {
            return Err(error(name, "needs at least one key".into()));
        }
        let mut keys = Vec::with_capacity(names.len());
        for text in names {
            let key = parse_key(text).map_err(|m| error(name, format!("{text:?}: {m}")))?;
            if key.code == KeyCode::Char('c') && key.mods == KeyModifiers::CONTROL {
                return Err(error(
                    name,
                    "\"ctrl-c\" always quits: bind another key".into(),
                ));
            }
            if context.types_text()
                && matches!(key.code, KeyCode::Char(_))
                && !key
                    .mods
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            {
                return Err(error(
                    name,
                    format!(
                        "{text:?} is typed in {} mode: bind a key that is not a character",
                        context.name()
                    ),
                ));
            }
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if let Some(b) = table.binding_mut(action) {
            b.keys = keys;
        }
    }
    let all = table.bindings();
    for (i, b) in all.iter().enumerate() {
        for other in &all[i + 1..] {
            if let Some(k) = b.keys.iter().find(|k| other.keys.contains(k)) {
                // Name the rebound one: it is the line to fix.
                let (fix, also) = if bindings.contains_key(other.action.name()) {
                    (other.action, b.action)
                } else {
                    (b.action, other.action)
                };
                return Err(error(
                    fix.name(),
                    format!(
                        "{:?} is also the key of {} in {} mode: one key, one action",
                        label(k),
                        also.name(),
                        context.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// "q", "Q", "?", "ctrl-r", "^r", "alt-x", "enter", "esc", "shift-tab", "pgdn", "f5", "space"…
pub fn parse_key(text: &str) -> Result<Key, String> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = text;
    if let Some(c) = rest.strip_prefix('^').filter(|r| r.chars().count() == 1) {
        mods |= KeyModifiers::CONTROL;
        rest = c;
    }
    loop {
        let lower = rest.to_ascii_lowercase();
        let (m, len) = if lower.starts_with("ctrl-") && rest.len() > 5 {
            (KeyModifiers::CONTROL, 5)
        } else if lower.starts_with("alt-") && rest.len() > 4 {
            (KeyModifiers::ALT, 4)
        } else if lower.starts_with("shift-") && rest.len() > 6 {
            (KeyModifiers::SHIFT, 6)
        } else {
            break;
        };
        mods |= m;
        rest = &rest[len..];
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => KeyCode::Char(c),
        (None, _) => return Err("no key named".into()),
        _ => match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" | "ins" => KeyCode::Insert,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            f if f.starts_with('f') => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyCode::F(n),
                _ => return Err(unknown(rest)),
            },
            _ => return Err(unknown(rest)),
        },
    };
    // Shift is part of the character (or makes tab a back-tab); the keymap ignores it.
    let code = match (mods.contains(KeyModifiers::SHIFT), code) {
        (false, c) => c,
        (true, KeyCode::Tab) => KeyCode::BackTab,
        (true, KeyCode::Char(c)) if c.is_alphabetic() => {
            KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
        }
        (true, _) => return Err("shift- goes with a letter or tab".into()),
    };
    mods -= KeyModifiers::SHIFT;
    // Terminals send ctrl with the lowercase letter.
    let code = match code {
        KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
            KeyCode::Char(c.to_ascii_lowercase())
        }
        c => c,
    };
    Ok(Key::new(code, mods))
}

fn unknown(name: &str) -> String {
    format!(
        "unknown key {name:?} (a character, or ctrl-/alt-/shift- with one of enter, esc, tab, \
         backtab, space, backspace, delete, insert, home, end, pgup, pgdn, up, down, left, \
         right, f1..f12)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::tui::action::{Action, ConfirmAction};
    use crossterm::event::KeyEvent;

    fn keys(toml: &str) -> Result<Keymap, String> {
        let cfg = Config::parse("test.toml", toml).map_err(|e| e.to_string())?;
        keymap(&cfg.keys).map_err(|e| e.to_string())
    }

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn key_names_parse() {
        let k = |c, m| Ok(Key::new(c, m));
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(parse_key("q"), k(KeyCode::Char('q'), none));
        assert_eq!(parse_key("Q"), k(KeyCode::Char('Q'), none));
        assert_eq!(parse_key("shift-q"), k(KeyCode::Char('Q'), none));
        assert_eq!(parse_key("-"), k(KeyCode::Char('-'), none));
        assert_eq!(parse_key("ctrl-r"), k(KeyCode::Char('r'), ctrl));
        assert_eq!(parse_key("Ctrl-R"), k(KeyCode::Char('r'), ctrl));
        assert_eq!(parse_key("^r"), k(KeyCode::Char('r'), ctrl));
        assert_eq!(parse_key("ctrl--"), k(KeyCode::Char('-'), ctrl));
        assert_eq!(parse_key("shift-tab"), k(KeyCode::BackTab, none));
        assert_eq!(parse_key("pgdn"), k(KeyCode::PageDown, none));
        assert_eq!(parse_key("f5"), k(KeyCode::F(5), none));
        assert_eq!(parse_key("space"), k(KeyCode::Char(' '), none));
        assert_eq!(parse_key("alt-enter"), k(KeyCode::Enter, KeyModifiers::ALT));
        for bad in ["", "ctrl-", "f13", "enterr", "shift-enter", "hyper-x"] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_rebound_key_replaces_the_default() {
        let k = keys("[keys.normal]\nquit = \"Q\"\ndown = [\"j\", \"ctrl-n\"]\n[keys.confirm]\nyes = \"enter\"\n")
            .expect("valid");
        let normal = &k.normal;
        assert_eq!(
            normal.action_for(&ev(KeyCode::Char('Q'), KeyModifiers::SHIFT)),
            Some(Action::Quit)
        );
        assert_eq!(
            normal.action_for(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            normal.action_for(&ev(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            Some(Action::Down)
        );
        assert_eq!(
            k.confirm
                .action_for(&ev(KeyCode::Char('y'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            k.confirm
                .action_for(&ev(KeyCode::Enter, KeyModifiers::NONE)),
            Some(ConfirmAction::Yes)
        );
        // Help and the hint bar say so.
        assert!(
            k.hints(Context::Normal, false)
                .contains(&"Q quit".to_string())
        );
        assert_eq!(k.hints(Context::Confirm, false)[0], "enter apply");
    }

    #[test]
    fn a_bad_binding_is_an_error_naming_the_context_the_action_and_the_key() {
        for (toml, want) in [
            (
                "[keys.normal]\nfly = \"f\"\n",
                "[keys.normal] fly: unknown action (have: quit, up,",
            ),
            (
                "[keys.nowhere]\nquit = \"q\"\n",
                "[keys.nowhere]: unknown context (have: normal,",
            ),
            (
                "[keys.normal]\nquit = \"ctrl-\"\n",
                "[keys.normal] quit: \"ctrl-\": unknown key",
            ),
            (
                "[keys.normal]\nquit = \"hyper-q\"\n",
                "[keys.normal] quit: \"hyper-q\": unknown key",
            ),
            (
                "[keys.normal]\nquit = \"j\"\n",
                "[keys.normal] quit: \"j\" is also the key of down in normal mode",
            ),
            (
                "[keys.confirm]\nno = \"y\"\n",
                "[keys.confirm] no: \"y\" is also the key of yes in confirm mode",
            ),
            (
                "[keys.normal]\nquit = []\n",
                "[keys.normal] quit: needs at least one key",
            ),
            (
                "[keys.normal]\nhelp = \"ctrl-c\"\n",
                "[keys.normal] help: \"ctrl-c\" always quits",
            ),
            (
                "[keys.editor]\nsave = \"s\"\n",
                "[keys.editor] save: \"s\" is typed in editor mode",
            ),
        ] {
            let err = keys(toml).expect_err(toml);
            assert!(err.starts_with(want), "{toml}: {err}");
        }
        // Rebinding both sides of a swap is fine.
        keys("[keys.normal]\nup = \"j\"\ndown = \"k\"\n").expect("a swap");
    }

    #[test]
    fn the_config_takes_one_key_or_a_list() {
        let cfg = Config::parse(
            "t.toml",
            "[keys.normal]\nquit = \"Q\"\ndown = [\"j\", \"down\"]\n",
        )
        .expect("parses");
        assert_eq!(cfg.keys["normal"]["quit"], KeyNames::One("Q".into()));
        assert_eq!(
            cfg.keys["normal"]["down"],
            KeyNames::Many(vec!["j".into(), "down".into()])
        );
        assert!(Config::parse("t.toml", "[keys.normal]\nquit = 3\n").is_err());
    }

    /// The example config names every context and action, and its commented bindings work.
    #[test]
    fn the_example_config_documents_the_keys() {
        use crate::tui::action::{
            EditorAction, FleetAction, OverlayAction, PickerAction, PromptAction,
        };
        let text = include_str!("../../config.example.toml");
        let documented: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("#   normal:"))
            .take_while(|l| l.starts_with("#  "))
            .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ',' || c == ':'))
            .collect();
        fn names<A: Named>() -> Vec<&'static str> {
            A::ALL.iter().map(|a| a.name()).collect()
        }
        let contexts = Context::ALL.iter().map(|c| c.name());
        for name in contexts
            .chain(names::<Action>())
            .chain(names::<PromptAction>())
            .chain(names::<OverlayAction>())
            .chain(names::<PickerAction>())
            .chain(names::<ConfirmAction>())
            .chain(names::<EditorAction>())
            .chain(names::<FleetAction>())
        {
            assert!(
                documented.contains(&name),
                "{name} is not in config.example.toml"
            );
        }
        let bindings: String = text
            .lines()
            .skip_while(|l| *l != "# [keys.normal]")
            .take_while(|l| l.starts_with("# "))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        assert!(bindings.contains("[keys.confirm]"), "{bindings}");
        keys(&bindings).expect("the example's bindings are valid");
    }
}
