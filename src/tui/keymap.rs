//! The key bindings, one table per keyboard context (normal mode, the prompts, each popup). The
//! tables drive key handling, the help overlay, the hint bar and the keys a dialog names, so
//! none of them can drift from what the keys do (kdash's lesson). `[keys]` in the config file
//! rebinds them (see `keys_config`).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{
    Action, ConfirmAction, EditorAction, FleetAction, Named, OverlayAction, PickerAction,
    PromptAction,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub const fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        Self { code, mods }
    }

    /// Whether `event` is this key. Shifted letters arrive as uppercase chars with SHIFT, and
    /// shift-tab as BackTab with SHIFT: match on the code alone for those.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        self.code == event.code && self.mods == event.modifiers - KeyModifiers::SHIFT
    }
}

const fn key(c: char) -> Key {
    Key::new(KeyCode::Char(c), KeyModifiers::NONE)
}

const fn ctrl(c: char) -> Key {
    Key::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

const fn code(code: KeyCode) -> Key {
    Key::new(code, KeyModifiers::NONE)
}

/// One binding: its keys, what they do, how help describes it.
#[derive(Clone, Debug)]
pub struct Binding<A> {
    pub keys: Vec<Key>,
    pub action: A,
    pub help: &'static str,
    /// The word after the key in the hint bar ("? help"); None keeps it out of the bar.
    pub hint: Option<&'static str>,
}

fn bind<A>(keys: &[Key], action: A, help: &'static str, hint: Option<&'static str>) -> Binding<A> {
    Binding {
        keys: keys.to_vec(),
        action,
        help,
        hint,
    }
}

/// The bindings of one context.
#[derive(Clone, Debug)]
pub struct Table<A> {
    bindings: Vec<Binding<A>>,
}

impl<A: Named> Table<A> {
    fn new(bindings: Vec<Binding<A>>) -> Self {
        Self { bindings }
    }

    pub fn bindings(&self) -> &[Binding<A>] {
        &self.bindings
    }

    pub fn binding_mut(&mut self, action: A) -> Option<&mut Binding<A>> {
        self.bindings.iter_mut().find(|b| b.action == action)
    }

    /// The action bound to a key event, if any.
    pub fn action_for(&self, event: &KeyEvent) -> Option<A> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        self.bindings
            .iter()
            .find(|b| b.keys.iter().any(|k| k.matches(event)))
            .map(|b| b.action)
    }

    /// The keys of an action as the user reads them: "y/enter".
    pub fn keys_of(&self, action: A) -> String {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .map(|b| labels(&b.keys).join("/"))
            .unwrap_or_default()
    }

    /// The first key of an action ("esc" in "esc closes").
    pub fn first_key(&self, action: A) -> String {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .and_then(|b| b.keys.first())
            .map(label)
            .unwrap_or_default()
    }

    /// "tab pane", "/ filter"…: each hinted binding's first key and its word.
    pub fn hints(&self) -> Vec<String> {
        hints(self.bindings.iter())
    }
}

fn hints<'a, A: 'a>(bindings: impl Iterator<Item = &'a Binding<A>>) -> Vec<String> {
    bindings
        .filter_map(|b| Some(format!("{} {}", label(b.keys.first()?), b.hint?)))
        .collect()
}

impl Table<Action> {
    /// Bindings shown to the user (write keys hidden when read-only). Write keys are still
    /// looked up when read-only, so pressing one is refused with a message.
    pub fn visible(&self, read_only: bool) -> impl Iterator<Item = &Binding<Action>> {
        self.bindings
            .iter()
            .filter(move |b| !(read_only && b.action.writes()))
    }
}

/// Who has the keyboard: normal mode, a prompt in the status bar, or a popup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Normal,
    Filter,
    Command,
    Help,
    Picker,
    Confirm,
    Editor,
    Journal,
    Backtest,
    Detail,
    Fleet,
}

impl Context {
    pub const ALL: [Context; 11] = [
        Context::Normal,
        Context::Filter,
        Context::Command,
        Context::Help,
        Context::Picker,
        Context::Confirm,
        Context::Editor,
        Context::Journal,
        Context::Backtest,
        Context::Detail,
        Context::Fleet,
    ];

    /// The section name in the config file: `[keys.NAME]`.
    pub fn name(self) -> &'static str {
        match self {
            Context::Normal => "normal",
            Context::Filter => "filter",
            Context::Command => "command",
            Context::Help => "help",
            Context::Picker => "picker",
            Context::Confirm => "confirm",
            Context::Editor => "editor",
            Context::Journal => "journal",
            Context::Backtest => "backtest",
            Context::Detail => "detail",
            Context::Fleet => "fleet",
        }
    }

    /// Contexts where keys bound to nothing type text: a plain character bound there could no
    /// longer be typed.
    pub fn types_text(self) -> bool {
        matches!(self, Context::Filter | Context::Command | Context::Editor)
    }
}

/// Every context's table.
#[derive(Clone, Debug)]
pub struct Keymap {
    pub normal: Table<Action>,
    pub filter: Table<PromptAction>,
    pub command: Table<PromptAction>,
    pub help: Table<OverlayAction>,
    pub picker: Table<PickerAction>,
    pub confirm: Table<ConfirmAction>,
    pub editor: Table<EditorAction>,
    pub journal: Table<OverlayAction>,
    pub backtest: Table<OverlayAction>,
    pub detail: Table<OverlayAction>,
    pub fleet: Table<FleetAction>,
}

impl Keymap {
    /// The hint bar of a context: the keys that work now.
    pub fn hints(&self, context: Context, read_only: bool) -> Vec<String> {
        match context {
            Context::Normal => {
                // Help first: on a narrow terminal it may be the only hint that fits.
                let (help, rest): (Vec<_>, Vec<_>) = self
                    .normal
                    .visible(read_only)
                    .partition(|b| b.action == Action::ToggleHelp);
                hints(help.into_iter().chain(rest))
            }
            Context::Filter => self.filter.hints(),
            Context::Command => self.command.hints(),
            Context::Help => self.help.hints(),
            Context::Picker => self.picker.hints(),
            Context::Confirm => self.confirm.hints(),
            Context::Editor => self.editor.hints(),
            Context::Journal => self.journal.hints(),
            Context::Backtest => self.backtest.hints(),
            Context::Detail => self.detail.hints(),
            Context::Fleet => self.fleet.hints(),
        }
    }
}

impl Default for Keymap {
    fn default() -> Self {
        use KeyCode::{BackTab, Backspace, Down, End, Enter, Esc, Home, PageDown, PageUp, Tab, Up};
        let close = |opener: char| {
            Table::new(vec![bind(
                &[code(Esc), key('q'), key(opener)],
                OverlayAction::Close,
                "close",
                Some("close"),
            )])
        };
        let prompt = |done: &'static str, cancel: &'static str| {
            Table::new(vec![
                bind(&[code(Enter)], PromptAction::Done, done, Some(done)),
                bind(&[code(Esc)], PromptAction::Cancel, cancel, Some(cancel)),
                bind(&[code(Backspace)], PromptAction::DeleteChar, "delete", None),
            ])
        };
        Self {
            normal: Table::new(vec![
                bind(&[key('j'), code(Down)], Action::Down, "move down", None),
                bind(&[key('k'), code(Up)], Action::Up, "move up", None),
                bind(
                    &[code(PageDown), ctrl('f')],
                    Action::PageDown,
                    "page down",
                    None,
                ),
                bind(&[code(PageUp), ctrl('b')], Action::PageUp, "page up", None),
                bind(&[key('g'), code(Home)], Action::Top, "first", None),
                bind(&[key('G'), code(End)], Action::Bottom, "last", None),
                bind(&[code(Tab)], Action::NextPane, "next pane", Some("pane")),
                bind(&[code(BackTab)], Action::PrevPane, "previous pane", None),
                bind(
                    &[key('/')],
                    Action::StartFilter,
                    "filter by name",
                    Some("filter"),
                ),
                bind(
                    &[key(':')],
                    Action::StartCommand,
                    ":ns :ctx :fleet :filter :q",
                    Some("cmd"),
                ),
                bind(
                    &[key('n')],
                    Action::PickNamespace,
                    "pick a namespace",
                    Some("ns"),
                ),
                bind(
                    &[key('m')],
                    Action::ToggleChartMetric,
                    "chart CPU / memory",
                    Some("cpu/mem"),
                ),
                bind(
                    &[key('a')],
                    Action::Apply,
                    "apply (confirm first)",
                    Some("apply"),
                ),
                bind(
                    &[key('x')],
                    Action::Dismiss,
                    "dismiss until it changes",
                    Some("dismiss"),
                ),
                bind(
                    &[key('e')],
                    Action::EditBounds,
                    "edit min/max",
                    Some("min/max"),
                ),
                bind(&[key('s')], Action::Scale, "scale by hand", None),
                bind(
                    &[key('p')],
                    Action::TogglePredictive,
                    "toggle predictive",
                    None,
                ),
                bind(&[key('H')], Action::CreateHpa, "create an HPA", None),
                bind(&[key('u')], Action::Undo, "undo last change", Some("undo")),
                bind(
                    &[key('J')],
                    Action::Journal,
                    "journal of changes",
                    Some("journal"),
                ),
                bind(
                    &[key('b')],
                    Action::Backtest,
                    "backtest vs your HPA",
                    Some("backtest"),
                ),
                bind(
                    &[ctrl('r')],
                    Action::Refresh,
                    "refresh now",
                    Some("refresh"),
                ),
                bind(&[key('?')], Action::ToggleHelp, "this help", Some("help")),
                bind(&[code(Esc)], Action::Back, "back / clear filter", None),
                bind(&[key('q'), ctrl('c')], Action::Quit, "quit", Some("quit")),
                bind(
                    &[code(Enter)],
                    Action::Describe,
                    "open: pods, HPA, events",
                    Some("open"),
                ),
                bind(
                    &[key('N')],
                    Action::SortName,
                    "sort: name (again reverses)",
                    None,
                ),
                bind(&[key('C')], Action::SortCpu, "sort: CPU", None),
                bind(&[key('M')], Action::SortMemory, "sort: memory", None),
                bind(&[key('R')], Action::SortReplicas, "sort: replicas", None),
                bind(
                    &[key('S')],
                    Action::SortSavings,
                    "sort: savings vs HPA",
                    None,
                ),
                bind(
                    &[key('P')],
                    Action::SortPending,
                    "sort: pending change",
                    None,
                ),
                bind(
                    &[key('f')],
                    Action::CycleFilter,
                    "quick filter (cycles)",
                    None,
                ),
            ]),
            filter: prompt("done", "clear"),
            command: prompt("run", "cancel"),
            help: close('?'),
            picker: Table::new(vec![
                bind(&[code(Enter)], PickerAction::Pick, "pick", Some("pick")),
                bind(
                    &[code(Esc), key('q')],
                    PickerAction::Close,
                    "close",
                    Some("close"),
                ),
                bind(
                    &[key('j'), code(Down)],
                    PickerAction::Down,
                    "down",
                    Some("down"),
                ),
                bind(&[key('k'), code(Up)], PickerAction::Up, "up", Some("up")),
            ]),
            confirm: Table::new(vec![
                bind(
                    &[key('y'), code(Enter), key('Y')],
                    ConfirmAction::Yes,
                    "apply",
                    Some("apply"),
                ),
                bind(
                    &[code(Esc), key('n'), key('q')],
                    ConfirmAction::No,
                    "cancel",
                    Some("cancel"),
                ),
                // Offered by the dialog only where a GitOps controller tracks the object.
                bind(
                    &[key('g')],
                    ConfirmAction::GitPatch,
                    "write a patch for git",
                    None,
                ),
                bind(
                    &[key('b')],
                    ConfirmAction::GitPatchAndApply,
                    "both: patch for git and apply",
                    None,
                ),
            ]),
            editor: Table::new(vec![
                bind(&[code(Enter)], EditorAction::Save, "save", Some("save")),
                bind(&[code(Esc)], EditorAction::Cancel, "cancel", Some("cancel")),
                bind(
                    &[code(Tab), code(Down)],
                    EditorAction::NextField,
                    "next field",
                    Some("next field"),
                ),
                bind(
                    &[code(BackTab), code(Up)],
                    EditorAction::PrevField,
                    "previous field",
                    None,
                ),
            ]),
            journal: close('J'),
            backtest: close('b'),
            detail: Table::new(vec![bind(
                &[code(Esc), key('q'), code(Enter)],
                OverlayAction::Close,
                "close",
                Some("close"),
            )]),
            fleet: Table::new(vec![
                bind(
                    &[code(Enter)],
                    FleetAction::Open,
                    "open the context",
                    Some("open"),
                ),
                bind(
                    &[code(Esc), key('q')],
                    FleetAction::Back,
                    "back to the deployments",
                    Some("back"),
                ),
                bind(&[key('j'), code(Down)], FleetAction::Down, "down", None),
                bind(&[key('k'), code(Up)], FleetAction::Up, "up", None),
                bind(
                    &[key('r'), ctrl('r')],
                    FleetAction::Refresh,
                    "probe every context again",
                    Some("refresh"),
                ),
                bind(&[key('?')], FleetAction::Help, "help", Some("help")),
            ]),
        }
    }
}

/// "j", "↓", "^r", "tab"…
pub fn label(k: &Key) -> String {
    let base = match k.code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Down => "↓".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "shift-tab".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Backspace => "backspace".into(),
        KeyCode::F(n) => format!("f{n}"),
        other => format!("{other:?}").to_lowercase(),
    };
    let alt = if k.mods.contains(KeyModifiers::ALT) {
        "alt-"
    } else {
        ""
    };
    if k.mods.contains(KeyModifiers::CONTROL) {
        format!("{alt}^{base}")
    } else {
        format!("{alt}{base}")
    }
}

/// The labels of a binding's keys, an uppercase letter left out beside its lowercase one
/// ("y/enter" for y, enter and Y).
pub fn labels(keys: &[Key]) -> Vec<String> {
    keys.iter()
        .filter(|k| match k.code {
            KeyCode::Char(c) if c.is_uppercase() => !keys.iter().any(|o| {
                o.mods == k.mods && o.code == KeyCode::Char(c.to_lowercase().next().unwrap_or(c))
            }),
            _ => true,
        })
        .map(label)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn k9s_keys_map_to_their_actions() {
        let normal = Keymap::default().normal;
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
            assert_eq!(normal.action_for(&e), Some(a), "{e:?}");
        }
        assert_eq!(
            normal.action_for(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn write_keys_are_hidden_when_read_only() {
        let normal = Keymap::default().normal;
        let all: Vec<Action> = normal.visible(false).map(|b| b.action).collect();
        let ro: Vec<Action> = normal.visible(true).map(|b| b.action).collect();
        for a in [
            Action::Apply,
            Action::EditBounds,
            Action::Scale,
            Action::Undo,
            Action::CreateHpa,
        ] {
            assert!(a.writes());
            assert!(all.contains(&a) && !ro.contains(&a), "{a:?}");
        }
        assert!(ro.contains(&Action::Dismiss) && ro.contains(&Action::Journal));
    }

    fn assert_no_key_twice<A: Named>(table: &Table<A>) {
        let mut seen = Vec::new();
        for b in table.bindings() {
            for k in &b.keys {
                assert!(!seen.contains(k), "{} bound twice", label(k));
                seen.push(*k);
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let k = Keymap::default();
        assert_no_key_twice(&k.normal);
        assert_no_key_twice(&k.filter);
        assert_no_key_twice(&k.command);
        assert_no_key_twice(&k.help);
        assert_no_key_twice(&k.picker);
        assert_no_key_twice(&k.confirm);
        assert_no_key_twice(&k.editor);
        assert_no_key_twice(&k.journal);
        assert_no_key_twice(&k.backtest);
        assert_no_key_twice(&k.detail);
        assert_no_key_twice(&k.fleet);
    }

    #[test]
    fn every_action_has_a_binding_in_its_context() {
        fn all<A: Named>(t: &Table<A>) {
            for a in A::ALL {
                assert!(t.bindings().iter().any(|b| b.action == *a), "{a:?}");
            }
        }
        let k = Keymap::default();
        all(&k.normal);
        all(&k.filter);
        all(&k.picker);
        all(&k.confirm);
        all(&k.editor);
        all(&k.help);
        all(&k.fleet);
    }

    #[test]
    fn each_context_hints_its_own_keys() {
        let k = Keymap::default();
        assert_eq!(k.hints(Context::Normal, false)[0], "? help");
        assert_eq!(k.hints(Context::Confirm, false), ["y apply", "esc cancel"]);
        assert_eq!(
            k.hints(Context::Editor, false),
            ["enter save", "esc cancel", "tab next field"]
        );
        assert_eq!(k.hints(Context::Help, false), ["esc close"]);
        assert_eq!(k.confirm.keys_of(ConfirmAction::Yes), "y/enter");
    }
}
