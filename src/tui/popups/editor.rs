//! The inline editors: min/max bounds (`e`), a manual scale (`s`) and a new HPA (`H`). Each is
//! a small form of numeric fields (tui-textarea) validated on every keystroke; a valid form
//! yields the `Plan` it would carry out, an invalid one names the field and the reason. The
//! popup shows the error of the first bad field in red, and what Enter would write.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::outcome::Outcome;
use crate::actions::Intent;
use crate::actions::guard::{self, Limits};
use crate::actions::plan::{self, Plan};
use crate::cluster::HpaSpec;
use crate::model::DeploymentState;
use crate::tui::action::EditorAction;
use crate::tui::keymap::{Context, Keymap};
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    Bounds,
    Scale,
    CreateHpa,
}

#[derive(Clone, Debug)]
pub struct Editor {
    pub kind: FormKind,
    pub state: DeploymentState,
    /// What the guard allows: the form is checked against it on every keystroke.
    pub limits: Limits,
    pub labels: Vec<&'static str>,
    pub fields: Vec<TextArea<'static>>,
    pub focus: usize,
    /// Fields that may be left empty.
    optional: Vec<bool>,
}

/// What a key did to the form.
#[derive(Clone, Debug, PartialEq)]
pub enum EditorEvent {
    Editing,
    Cancel,
    /// Enter on a valid form.
    Submit(Box<Plan>),
    /// Enter on an invalid form: nothing is written.
    Invalid,
}

fn field(value: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![value.to_string()]);
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

impl Editor {
    /// `e`: min and max, prefilled with the deployment's bounds.
    pub fn bounds(state: &DeploymentState, limits: Limits) -> Self {
        Self {
            limits,
            kind: FormKind::Bounds,
            state: state.clone(),
            labels: vec!["min replicas", "max replicas"],
            fields: vec![
                field(&state.min_replicas.to_string()),
                field(&state.max_replicas.to_string()),
            ],
            focus: 0,
            optional: vec![false, false],
        }
    }

    /// `s`: the replica count, prefilled with today's.
    pub fn scale(state: &DeploymentState, limits: Limits) -> Self {
        Self {
            limits,
            kind: FormKind::Scale,
            state: state.clone(),
            labels: vec!["replicas"],
            fields: vec![field(&state.desired_replicas.to_string())],
            focus: 0,
            optional: vec![false],
        }
    }

    /// `H`: an HPA for a deployment without one.
    pub fn create_hpa(state: &DeploymentState, limits: Limits) -> Self {
        Self {
            limits,
            kind: FormKind::CreateHpa,
            state: state.clone(),
            labels: vec![
                "min replicas",
                "max replicas",
                "target CPU %",
                "target memory % (optional)",
            ],
            fields: vec![
                field(&state.min_replicas.to_string()),
                field(&state.max_replicas.to_string()),
                field("70"),
                field(""),
            ],
            focus: 0,
            optional: vec![false, false, false, true],
        }
    }

    pub fn title(&self) -> String {
        let k = &self.state.key;
        match self.kind {
            FormKind::Bounds => format!(" Edit min/max · {k} "),
            FormKind::Scale => format!(" Scale · {k} "),
            FormKind::CreateHpa => format!(" Create HPA · {k} "),
        }
    }

    pub fn value(&self, i: usize) -> String {
        self.fields
            .get(i)
            .map(|f| f.lines().join(""))
            .unwrap_or_default()
    }

    /// Carry out an editor action: move between fields, save a valid form, cancel.
    pub fn handle(&mut self, action: EditorAction) -> EditorEvent {
        let n = self.fields.len().max(1);
        match action {
            EditorAction::Cancel => return EditorEvent::Cancel,
            EditorAction::Save => {
                return match self.validate(self.limits) {
                    Ok(plan) => EditorEvent::Submit(Box::new(plan)),
                    Err(_) => EditorEvent::Invalid,
                };
            }
            EditorAction::NextField => self.focus = (self.focus + 1) % n,
            EditorAction::PrevField => self.focus = (self.focus + n - 1) % n,
        }
        EditorEvent::Editing
    }

    /// A key bound to no editor action edits the focused field (single line: Enter never
    /// inserts a newline, and ctrl-m is Enter on some terminals).
    pub fn type_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Char('m') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return;
        }
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.input(key);
        }
    }

    /// What the popup does next: a new HPA is confirmed like an apply; edits and scales are
    /// confirmed by the form itself (it shows what will change).
    pub fn outcome(event: EditorEvent) -> Outcome {
        match event {
            EditorEvent::Editing | EditorEvent::Invalid => Outcome::Stay,
            EditorEvent::Cancel => Outcome::Cancelled,
            EditorEvent::Submit(plan) if plan.intent == Intent::CreateHpa => Outcome::Confirm(plan),
            EditorEvent::Submit(plan) => Outcome::Write {
                plan,
                message: "writing…",
            },
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let verdict = self.validate(self.limits);
        let n = self.fields.len() as u16;
        let popup = centered(area, 64, n * 3 + 7);
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(self.title())
            .border_style(theme.dialog());
        let inner = block.inner(popup);
        frame.render_widget(block, popup);

        let mut rows: Vec<Constraint> = self.fields.iter().map(|_| Constraint::Length(3)).collect();
        rows.push(Constraint::Min(1));
        let areas = Layout::vertical(rows).split(inner);
        for (i, field) in self.fields.iter().enumerate() {
            let bad = matches!(&verdict, Err((f, _)) if *f == i);
            let border = if bad {
                theme.error()
            } else if i == self.focus {
                theme.border(true)
            } else {
                theme.dim()
            };
            let mut field = field.clone();
            field.set_block(Block::bordered().title(self.labels[i]).border_style(border));
            field.set_cursor_line_style(Style::new());
            if i != self.focus {
                field.set_cursor_style(Style::new());
            }
            frame.render_widget(&field, areas[i]);
        }
        let mut lines = Vec::new();
        match &verdict {
            Err((_, msg)) => lines.push(Line::from(Span::styled(msg.clone(), theme.error()))),
            Ok(plan) => {
                for d in plan.describe() {
                    lines.push(Line::from(d));
                }
                if let Some(w) = &plan.warning {
                    lines.push(Line::from(Span::styled(format!("⚠ {w}"), theme.warning())));
                }
            }
        }
        lines.push(Line::from(Span::styled(
            keys.hints(Context::Editor, false).join(" · "),
            theme.dim(),
        )));
        if let Some(last) = areas.last() {
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), *last);
        }
    }

    /// The plan this form would carry out, or (field, reason).
    /// The plan the form asks for, checked by the same guard the write will pass (so the
    /// dialog never offers what the guard would refuse), or the field to fix and why.
    pub fn validate(&self, limits: Limits) -> Result<Plan, (usize, String)> {
        let plan = self.plan(limits)?;
        guard::check(&plan, &self.state, limits).map_err(|r| {
            let msg = r.to_string();
            let field = match self.kind {
                FormKind::Bounds | FormKind::CreateHpa if msg.contains("max") => 1,
                _ => 0,
            };
            (field, msg)
        })?;
        Ok(plan)
    }

    fn plan(&self, limits: Limits) -> Result<Plan, (usize, String)> {
        let mut nums: Vec<Option<u32>> = Vec::with_capacity(self.fields.len());
        for (i, label) in self.labels.iter().enumerate() {
            let raw = self.value(i);
            let raw = raw.trim();
            if raw.is_empty() {
                if self.optional.get(i).copied().unwrap_or(false) {
                    nums.push(None);
                    continue;
                }
                return Err((i, format!("{label} is empty")));
            }
            match raw.parse::<u32>() {
                Ok(n) => nums.push(Some(n)),
                Err(_) => return Err((i, format!("{label}: {raw:?} is not a whole number"))),
            }
        }
        let n = |i: usize| nums.get(i).copied().flatten().unwrap_or(0);
        match self.kind {
            FormKind::Bounds => {
                let (min, max) = (n(0), n(1));
                bounds_error(min, max, limits)?;
                let p = plan::plan_edit_bounds(&self.state, min, max, self.state.annotated_bounds);
                if p.changes.is_empty() {
                    return Err((0, "unchanged".into()));
                }
                Ok(p)
            }
            FormKind::Scale => {
                let r = n(0);
                if r == self.state.desired_replicas {
                    return Err((0, "unchanged".into()));
                }
                Ok(plan::plan_scale(&self.state, r))
            }
            FormKind::CreateHpa => {
                let (min, max) = (n(0), n(1));
                bounds_error(min, max, limits)?;
                let cpu = n(2);
                if !(1..=100).contains(&cpu) {
                    return Err((2, "target CPU % must be within 1..=100".into()));
                }
                let mem = nums.get(3).copied().flatten();
                if let Some(m) = mem
                    && !(1..=100).contains(&m)
                {
                    return Err((3, "target memory % must be within 1..=100".into()));
                }
                Ok(plan::plan_create_hpa(
                    &self.state,
                    HpaSpec {
                        min_replicas: min,
                        max_replicas: max,
                        target_cpu_pct: Some(cpu),
                        target_mem_pct: mem,
                    },
                ))
            }
        }
    }
}

/// Bounds errors pointing at the field to fix.
fn bounds_error(min: u32, max: u32, limits: Limits) -> Result<(), (usize, String)> {
    guard::check_bounds(min, max, limits).map_err(|r| {
        let msg = r.to_string();
        let field = if msg.contains("cap") { 1 } else { 0 };
        (field, msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeploymentKey, HpaState};

    const LIMITS: Limits = Limits {
        max_step: 10,
        replicas_cap: 50,
    };

    fn state(hpa: bool) -> DeploymentState {
        DeploymentState {
            key: DeploymentKey::new("ns", "app"),
            desired_replicas: 4,
            ready_replicas: 4,
            total_pods: 4,
            min_replicas: 2,
            max_replicas: 10,
            cpu_request_millis: 100,
            mem_request_mib: 100,
            cpu_pct: None,
            mem_pct: None,
            hpa: hpa.then(|| HpaState {
                name: "app".into(),
                min_replicas: 2,
                max_replicas: 10,
                target_cpu_pct: Some(70),
                target_mem_pct: None,
                current_replicas: 4,
                desired_replicas: 4,
                scaling_status: "stable".into(),
                last_scale_time: None,
                metrics: Vec::new(),
            }),
            predictive_enabled: false,
            annotated_bounds: (None, None),
            floor_mark: None,
            write_block: None,
            ownership: Default::default(),
        }
    }

    fn set(form: &mut Editor, i: usize, text: &str) {
        form.fields[i] = field(text);
    }

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn bounds_editor_rejects_bad_input_with_the_field_and_reason() {
        let mut f = Editor::bounds(&state(true), LIMITS);
        for (min, max, field, needle) in [
            ("abc", "10", 0, "not a whole number"),
            ("0", "10", 0, "at least 1"),
            ("8", "5", 0, "above max"),
            ("2", "51", 1, "cap"),
            ("", "10", 0, "empty"),
            ("2", "-3", 1, "not a whole number"),
        ] {
            set(&mut f, 0, min);
            set(&mut f, 1, max);
            let err = f.validate(LIMITS).expect_err(needle);
            assert_eq!(err.0, field, "{min}/{max}: {err:?}");
            assert!(err.1.contains(needle), "{min}/{max}: {err:?}");
            assert_eq!(f.handle(EditorAction::Save), EditorEvent::Invalid);
        }
    }

    #[test]
    fn bounds_editor_plans_hpa_and_annotations() {
        let mut f = Editor::bounds(&state(true), LIMITS);
        set(&mut f, 0, "3");
        set(&mut f, 1, "12");
        let EditorEvent::Submit(p) = f.handle(EditorAction::Save) else {
            panic!("valid form submits");
        };
        assert_eq!(p.changes.len(), 2, "{:?}", p.changes);
        assert!(p.kubectl()[0].contains("\"minReplicas\":3,\"maxReplicas\":12"));
        assert!(p.kubectl()[1].contains("ai4k8s.io/min-replicas=3"));
        assert_eq!(f.handle(EditorAction::Cancel), EditorEvent::Cancel);
    }

    #[test]
    fn typing_edits_the_focused_field_and_tab_moves() {
        let mut f = Editor::bounds(&state(false), LIMITS);
        f.type_key(key(KeyCode::Backspace));
        f.type_key(key(KeyCode::Char('5')));
        assert_eq!(f.value(0), "5");
        f.handle(EditorAction::NextField);
        f.type_key(key(KeyCode::Char('0')));
        assert_eq!(f.value(1), "100");
        assert!(f.validate(LIMITS).is_err(), "100 is above the cap of 50");
    }

    #[test]
    fn scale_form_stays_in_bounds_and_refuses_a_deployment_an_hpa_scales() {
        let mut f = Editor::scale(&state(false), LIMITS);
        set(&mut f, 0, "11");
        assert!(f.validate(LIMITS).is_err());
        set(&mut f, 0, "6");
        assert!(f.validate(LIMITS).is_ok());
        let mut f = Editor::scale(&state(true), LIMITS);
        set(&mut f, 0, "6");
        let e = f.validate(LIMITS).expect_err("the HPA scales it");
        assert!(e.1.contains("hpa/app scales this deployment"), "{e:?}");
        let f = Editor::scale(&state(false), LIMITS);
        assert!(f.validate(LIMITS).is_err(), "unchanged is not a write");
    }

    #[test]
    fn bounds_form_says_how_the_hpa_will_move_the_replicas_and_refuses_a_big_jump() {
        let mut s = state(true);
        s.desired_replicas = 6;
        let mut f = Editor::bounds(&s, LIMITS);
        set(&mut f, 0, "2");
        set(&mut f, 1, "4");
        let p = f.validate(LIMITS).expect("6 → 4 is within the step");
        assert_eq!(
            p.warning.as_deref(),
            Some("hpa/app will move the running replicas 6 → 4 at its next sync")
        );
        let big = Limits {
            max_step: 1,
            ..LIMITS
        };
        let e = f.validate(big).expect_err("6 → 4 is a step of 2");
        assert!(e.1.contains("maximum step of 1"), "{e:?}");
    }

    #[test]
    fn create_hpa_form_validates_targets() {
        let mut f = Editor::create_hpa(&state(false), LIMITS);
        assert!(f.validate(LIMITS).is_ok());
        set(&mut f, 2, "150");
        assert_eq!(f.validate(LIMITS).map_err(|e| e.0), Err(2));
        set(&mut f, 2, "60");
        set(&mut f, 3, "80");
        let p = f.validate(LIMITS).expect("valid");
        assert!(
            p.kubectl()[0].contains("autoscale deployment/app --min=2 --max=10 --cpu-percent=60")
        );
    }
}
