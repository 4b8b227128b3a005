//! Normal mode: what each action does when no popup has the keyboard. Most change what is
//! selected or shown; some open a popup; some return a command for the engine.

use crate::actions::{guard, plan};
use crate::engine::Command;

use super::action::Action;
use super::app::{App, ChartMetric, Pane, Severity};
use super::popups::{Backtest, Confirm, Detail, Editor, Help, Journal, Picker, Popup, Prompt};
use super::rows::{QuickFilter, SortColumn};

fn editor(e: Editor) -> Popup {
    Popup::Editor(Box::new(e))
}

impl App {
    /// Carry out a user action; returns a command for the engine when one is needed.
    pub fn apply(&mut self, action: Action) -> Option<Command> {
        self.message = None;
        if self.session.read_only && action.writes() {
            self.message = Some((
                "read-only session: writes are disabled (--read-only or read_only in the config)"
                    .into(),
                Severity::Error,
            ));
            return None;
        }
        let limits = self.session.limits;
        match action {
            Action::Apply => return self.start_apply(),
            Action::Dismiss => return self.dismiss(),
            Action::EditBounds => {
                if let Some(v) = self.selected_view() {
                    self.popup = Some(editor(Editor::bounds(&v.state, limits)));
                }
            }
            Action::Scale => match self.selected_view() {
                // The guard would refuse it: say so before the form asks for a number.
                Some(v) if v.state.hpa.is_some() || v.state.write_block.is_some() => {
                    let why = match (&v.state.write_block, &v.state.hpa) {
                        (Some(block), _) => block.to_string(),
                        (None, Some(h)) => format!(
                            "hpa/{} scales {}: a /scale would fight it; edit min/max with {} \
                             or apply a floor with {}",
                            h.name,
                            v.state.key,
                            self.keymap.normal.first_key(Action::EditBounds),
                            self.keymap.normal.first_key(Action::Apply),
                        ),
                        (None, None) => String::new(),
                    };
                    self.message = Some((why, Severity::Error));
                }
                Some(v) => self.popup = Some(editor(Editor::scale(&v.state, limits))),
                None => {}
            },
            Action::CreateHpa => match self.selected_view() {
                Some(v) if v.state.hpa.is_some() => {
                    self.message = Some((
                        format!(
                            "{} already has an HPA: edit its bounds with {}",
                            v.state.key,
                            self.keymap.normal.first_key(Action::EditBounds)
                        ),
                        Severity::Error,
                    ));
                }
                Some(v) => self.popup = Some(editor(Editor::create_hpa(&v.state, limits))),
                None => {}
            },
            Action::TogglePredictive => {
                if let Some(v) = self.selected_view() {
                    let p = plan::plan_predictive(&v.state);
                    self.message = Some((format!("{}…", p.reason), Severity::Info));
                    return Some(Command::Execute(Box::new(p)));
                }
            }
            Action::Undo => {
                self.message = Some(("undoing the last change…".into(), Severity::Info));
                return Some(Command::Undo);
            }
            Action::Journal => {
                self.popup = Some(Popup::Journal(Journal::default()));
                return Some(Command::LoadJournal);
            }
            Action::Backtest => {
                if let Some(key) = self.selected_key().cloned() {
                    self.popup = Some(Popup::Backtest(Backtest::new(key.clone())));
                    return Some(Command::Backtest(key));
                }
            }
            Action::Describe => {
                if let Some(key) = self.selected_key().cloned() {
                    self.popup = Some(Popup::Detail(Detail::new(key.clone())));
                    return Some(Command::Describe(key));
                }
            }
            Action::Quit => self.should_quit = true,
            Action::Down => self.scroll(1),
            Action::Up => self.scroll(-1),
            Action::PageDown => self.move_selection(self.table_height.max(1) as isize),
            Action::PageUp => self.move_selection(-(self.table_height.max(1) as isize)),
            Action::Top => self.move_selection(isize::MIN / 2),
            Action::Bottom => self.move_selection(isize::MAX / 2),
            Action::NextPane => self.focus = self.focus.next(),
            Action::PrevPane => self.focus = self.focus.prev(),
            Action::StartFilter => self.popup = Some(Popup::Prompt(Prompt::filter(&self.filter))),
            Action::StartCommand => self.popup = Some(Popup::Prompt(Prompt::command(""))),
            Action::PickNamespace => self.pick_namespace(),
            // Help closes with its own keys (`?` among them).
            Action::ToggleHelp => {
                self.popup = Some(Popup::Help(Help::new(&self.keymap, self.session.read_only)));
            }
            Action::Back => self.back(),
            Action::Refresh => {
                self.message = Some(("refreshing…".into(), Severity::Info));
                return Some(Command::Refresh);
            }
            Action::SortName => self.sort_by(SortColumn::Name),
            Action::SortCpu => self.sort_by(SortColumn::Cpu),
            Action::SortMemory => self.sort_by(SortColumn::Memory),
            Action::SortReplicas => self.sort_by(SortColumn::Replicas),
            Action::SortSavings => self.sort_by(SortColumn::Savings),
            Action::SortPending => self.sort_by(SortColumn::Pending),
            Action::CycleFilter => self.set_quick_filter(QuickFilter::cycle(self.quick_filter)),
            Action::ToggleChartMetric => {
                self.chart_metric = match self.chart_metric {
                    ChartMetric::Cpu => ChartMetric::Memory,
                    ChartMetric::Memory => ChartMetric::Cpu,
                };
            }
        }
        None
    }

    /// `a`: a fresh recommendation opens the confirm dialog; a stale one is refreshed first.
    fn start_apply(&mut self) -> Option<Command> {
        let v = self.selected_view()?;
        let Some(rec) = self.shown_recommendation(v) else {
            self.message = Some(("no recommendation to apply".into(), Severity::Error));
            return None;
        };
        let age = self.cluster_time.unwrap_or(0) - rec.inputs.observed_at;
        if age > self.session.stale_after_seconds {
            let key = v.state.key.clone();
            self.message = Some((
                format!(
                    "recommendation is {} min old: refreshing it first, press {} again when it updates",
                    age / 60,
                    self.keymap.normal.first_key(Action::Apply)
                ),
                Severity::Info,
            ));
            return Some(Command::Reconsider(key));
        }
        match plan::plan_apply(&v.state, &rec) {
            // The guard the write will pass, before the dialog offers it.
            Ok(p) => match guard::check(&p, &v.state, self.session.limits) {
                Ok(()) => self.popup = Some(Popup::Confirm(Confirm::new(Box::new(p)))),
                Err(why) => self.message = Some((format!("refused: {why}"), Severity::Error)),
            },
            Err(why) => self.message = Some((why.to_string(), Severity::Info)),
        }
        None
    }

    /// `x`: hide the card until the recommendation changes; journalled.
    fn dismiss(&mut self) -> Option<Command> {
        let rec = self.selected_view()?.recommendation.clone()?;
        self.dismissed.insert(
            rec.key(),
            (rec.decision.action, rec.decision.target_replicas),
        );
        self.message = Some((
            format!(
                "dismissed until the recommendation for {} changes",
                rec.key()
            ),
            Severity::Info,
        ));
        Some(Command::Dismiss(rec))
    }

    /// Esc: clear the filter, then the quick filter, else give the focus back to the table.
    fn back(&mut self) {
        if !self.filter.is_empty() {
            let keep = self.selected_key().cloned();
            self.filter.clear();
            self.refresh_visible(keep.as_ref());
        } else if self.quick_filter.is_some() {
            self.set_quick_filter(None);
        } else if self.focus != Pane::Table {
            self.focus = Pane::Table;
        }
    }

    /// The namespace picker, on the namespace shown.
    pub(crate) fn pick_namespace(&mut self) {
        let choices = self.namespace_counts();
        let at = choices
            .iter()
            .position(|(c, _)| c == &self.namespace)
            .unwrap_or(0);
        self.popup = Some(Popup::Picker(Picker::namespaces(choices, at)));
    }
}
