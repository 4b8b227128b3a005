//! The TUI's plain state and the two ways it changes: engine updates (`on_update`) and user
//! actions (`apply`). Nothing here draws, sleeps or touches the network; rendering is a pure
//! function of this state (see `ui`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::actions::journal::Entry;
use crate::actions::plan::{self, Plan};
use crate::actions::{Limits, guard};
use crate::backtest::Report;
use crate::engine::{Command, Update};
use crate::metrics::History;
use crate::model::{
    ClusterSnapshot, DeploymentKey, DeploymentState, Recommendation, ScalingAction, UnixSeconds,
};
use crate::pipeline::Forecasts;

use super::action::Action;
use super::form::Form;
use super::keymap;

// TODO(house): remove after merge (the constant lives in config, which validates against it).
pub use crate::config::UI_HISTORY_MINUTES;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Table,
    Chart,
    Card,
}

impl Pane {
    fn next(self) -> Self {
        match self {
            Pane::Table => Pane::Chart,
            Pane::Chart => Pane::Card,
            Pane::Card => Pane::Table,
        }
    }

    fn prev(self) -> Self {
        match self {
            Pane::Table => Pane::Card,
            Pane::Chart => Pane::Table,
            Pane::Card => Pane::Chart,
        }
    }
}

/// What has the keyboard.
#[derive(Clone, Debug)]
pub enum Mode {
    Normal,
    /// Typing a filter; the text is `App::filter`.
    Filter,
    /// Typing a `:` command.
    Command(String),
    Help,
    /// Choosing a namespace; the index into `App::namespace_choices()`.
    NamespacePicker(usize),
    /// Choosing a kube context; the index into `App::contexts`.
    ContextPicker(usize),
    /// A write waiting for y/Enter or Esc.
    Confirm(Box<Plan>),
    /// An inline editor (min/max, scale, new HPA).
    Form(Box<Form>),
    /// The journal overlay.
    Journal,
    /// The backtest overlay; what it shows is `App::backtest`.
    Backtest,
}

/// A replay of one deployment's history (`b`): asked for, then answered by the engine.
#[derive(Clone, Debug)]
pub struct BacktestView {
    pub key: DeploymentKey,
    /// None while the replay runs.
    pub result: Option<Result<Arc<Report>, String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartMetric {
    Cpu,
    Memory,
}

/// Everything the TUI knows about one deployment.
#[derive(Clone, Debug)]
pub struct DeploymentView {
    pub state: DeploymentState,
    pub history: History,
    pub forecasts: Option<Arc<Forecasts>>,
    pub recommendation: Option<Arc<Recommendation>>,
    /// Why the last attempt at a recommendation failed; cleared by the next one that works.
    pub recommendation_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Error,
}

/// Static facts about the session, shown in the status bar.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub context: String,
    /// Cluster seconds per real second (demo only).
    pub speed: Option<f64>,
    pub read_only: bool,
    /// What the guard allows (the editors validate against the same limits).
    pub limits: Limits,
    /// A recommendation made from inputs older than this is refreshed before it is applied.
    pub stale_after_seconds: i64,
}

impl Default for SessionInfo {
    fn default() -> Self {
        Self {
            context: String::new(),
            speed: None,
            read_only: false,
            limits: Limits::default(),
            stale_after_seconds: 600,
        }
    }
}

#[derive(Clone, Debug)]
pub struct App {
    pub session: SessionInfo,
    pub deployments: BTreeMap<DeploymentKey, DeploymentView>,
    /// Keys shown in the table, in order: the namespace and filter applied.
    pub visible: Vec<DeploymentKey>,
    pub selected: usize,
    /// First visible table row (kept by the table so the selection stays in view).
    pub table_offset: usize,
    /// Table rows that fit, as last drawn (for page up/down).
    pub table_height: usize,
    pub focus: Pane,
    pub mode: Mode,
    pub filter: String,
    pub namespace: Option<String>,
    pub chart_metric: ChartMetric,
    pub card_scroll: u16,
    pub cluster_time: Option<UnixSeconds>,
    /// Real seconds since the last good snapshot (updated by ticks).
    pub data_age_secs: u64,
    pub cluster_error: Option<String>,
    pub llm_status: String,
    pub message: Option<(String, Severity)>,
    pub should_quit: bool,
    /// Hours of history drawn in the chart.
    pub chart_history_hours: u32,
    /// Dismissed recommendations: hidden while the action and target stay the same.
    pub dismissed: HashMap<DeploymentKey, (ScalingAction, u32)>,
    /// Journal entries for the journal overlay, oldest first.
    pub journal: Vec<Entry>,
    /// Lasting data problems by source (missing metrics, RBAC, no backfill).
    pub notices: BTreeMap<&'static str, String>,
    /// The last backtest asked for.
    pub backtest: Option<BacktestView>,
    /// Kube contexts `:ctx` can switch to (empty on the demo cluster).
    pub contexts: Vec<String>,
    /// A context switch asked for and not yet taken up by the event loop.
    pub switch_context: Option<String>,
}

impl App {
    pub fn new(session: SessionInfo) -> Self {
        Self {
            session,
            deployments: BTreeMap::new(),
            visible: Vec::new(),
            selected: 0,
            table_offset: 0,
            table_height: 10,
            focus: Pane::Table,
            mode: Mode::Normal,
            filter: String::new(),
            namespace: None,
            chart_metric: ChartMetric::Cpu,
            card_scroll: 0,
            cluster_time: None,
            data_age_secs: 0,
            cluster_error: None,
            llm_status: String::new(),
            message: None,
            should_quit: false,
            chart_history_hours: 12,
            dismissed: HashMap::new(),
            journal: Vec::new(),
            notices: BTreeMap::new(),
            backtest: None,
            contexts: Vec::new(),
            switch_context: None,
        }
    }

    pub fn selected_key(&self) -> Option<&DeploymentKey> {
        self.visible.get(self.selected)
    }

    pub fn selected_view(&self) -> Option<&DeploymentView> {
        self.selected_key().and_then(|k| self.deployments.get(k))
    }

    /// Fold one engine update into the state.
    pub fn on_update(&mut self, update: Update) {
        match update {
            Update::Backfill(series) => {
                for (key, samples) in series {
                    if let Some(v) = self.deployments.get_mut(&key) {
                        v.history.extend(samples);
                    } else {
                        // Kept aside until the first snapshot names the deployment.
                        let mut h = History::with_capacity(UI_HISTORY_MINUTES);
                        h.extend(samples);
                        self.pending_history(key, h);
                    }
                }
            }
            Update::Snapshot(snap) => self.on_snapshot(&snap),
            Update::Samples(samples) => {
                for (key, s) in samples {
                    if let Some(v) = self.deployments.get_mut(&key) {
                        v.history.push(s);
                    }
                }
            }
            Update::Forecasts(key, f) => {
                if let Some(v) = self.deployments.get_mut(&key) {
                    v.forecasts = Some(f);
                }
            }
            Update::Recommendation(r) => {
                if let Some(v) = self.deployments.get_mut(&r.key()) {
                    v.recommendation_error = None;
                    v.recommendation = Some(r);
                }
                self.advisor_notice();
            }
            Update::RecommendationFailed(key, why) => {
                if let Some(v) = self.deployments.get_mut(&key) {
                    v.recommendation_error = Some(why);
                }
                self.advisor_notice();
            }
            Update::LlmStatus(s) => self.llm_status = s,
            Update::ClusterError(e) => self.cluster_error = Some(e),
            Update::ActionDone(report) => {
                let sev = if report.ok {
                    Severity::Info
                } else {
                    Severity::Error
                };
                self.message = Some((report.message, sev));
            }
            Update::ConfirmAgain(plan) => {
                // Only if the user is not busy with something else.
                if matches!(self.mode, Mode::Normal) {
                    self.mode = Mode::Confirm(plan);
                }
            }
            Update::Journal(entries) => self.journal = entries,
            Update::Backtest(key, result) => {
                if let Some(b) = self.backtest.as_mut().filter(|b| b.key == key) {
                    b.result = Some(result);
                }
            }
            Update::Notice(source, text) => match text {
                Some(t) => {
                    self.notices.insert(source, t);
                }
                None => {
                    self.notices.remove(source);
                }
            },
            Update::Dismissed(list) => {
                for (key, action, target) in list {
                    self.dismissed.insert(key, (action, target));
                }
            }
        }
    }

    /// The status bar's "advisor" notice: which deployments' recommendations are failing.
    fn advisor_notice(&mut self) {
        let mut failing = self
            .deployments
            .iter()
            .filter_map(|(k, v)| v.recommendation_error.as_ref().map(|e| (k, e)));
        match failing.next() {
            None => {
                self.notices.remove("advisor");
            }
            Some((key, why)) => {
                let others = failing.count();
                let more = if others > 0 {
                    format!(" (and {others} more)")
                } else {
                    String::new()
                };
                self.notices.insert(
                    "advisor",
                    format!("no recommendation for {key}{more}: {why}; retrying"),
                );
            }
        }
    }

    fn pending_history(&mut self, key: DeploymentKey, history: History) {
        // A placeholder row until the snapshot fills in the state; not visible before that.
        self.deployments.insert(
            key.clone(),
            DeploymentView {
                state: placeholder_state(key),
                history,
                forecasts: None,
                recommendation: None,
                recommendation_error: None,
            },
        );
    }

    fn on_snapshot(&mut self, snap: &ClusterSnapshot) {
        let selected = self.selected_key().cloned();
        let mut seen = std::collections::HashSet::with_capacity(snap.deployments.len());
        for d in &snap.deployments {
            seen.insert(&d.key);
            match self.deployments.get_mut(&d.key) {
                Some(v) => v.state = d.clone(),
                None => {
                    self.deployments.insert(
                        d.key.clone(),
                        DeploymentView {
                            state: d.clone(),
                            history: History::with_capacity(UI_HISTORY_MINUTES),
                            forecasts: None,
                            recommendation: None,
                            recommendation_error: None,
                        },
                    );
                }
            }
        }
        self.deployments.retain(|k, _| seen.contains(k));
        if self.notices.contains_key("advisor") {
            // A failing deployment that was deleted takes its notice with it.
            self.advisor_notice();
        }
        self.cluster_time = Some(snap.time);
        if self.session.context.is_empty() {
            self.session.context = snap.context.clone();
        }
        self.data_age_secs = 0;
        self.cluster_error = None;
        self.refresh_visible(selected.as_ref());
    }

    /// Recompute the visible rows, keeping the selection on the same deployment if it stays.
    pub fn refresh_visible(&mut self, keep: Option<&DeploymentKey>) {
        let needle = self.filter.to_lowercase();
        self.visible = self
            .deployments
            .keys()
            .filter(|k| self.namespace.as_ref().is_none_or(|ns| &k.namespace == ns))
            .filter(|k| needle.is_empty() || k.to_string().to_lowercase().contains(&needle))
            .cloned()
            .collect();
        self.selected = keep
            .and_then(|k| self.visible.iter().position(|v| v == k))
            .unwrap_or(self.selected)
            .min(self.visible.len().saturating_sub(1));
    }

    /// Namespaces for the picker: "all" first, then each namespace once.
    pub fn namespace_choices(&self) -> Vec<Option<String>> {
        let mut out: Vec<Option<String>> = vec![None];
        for k in self.deployments.keys() {
            if out.last().and_then(|o| o.as_ref()) != Some(&k.namespace) {
                out.push(Some(k.namespace.clone()));
            }
        }
        out.dedup();
        out
    }

    /// Real time passed; `secs_since_data` is the age of the last snapshot.
    pub fn on_tick(&mut self, secs_since_data: u64) {
        self.data_age_secs = secs_since_data;
    }

    /// Carry out a user action; returns a command for the engine when one is needed.
    pub fn apply(&mut self, action: Action) -> Option<Command> {
        self.message = None;
        if self.session.read_only && keymap::writes(action) {
            self.message = Some((
                "read-only session: writes are disabled (--read-only or read_only in the config)"
                    .into(),
                Severity::Error,
            ));
            return None;
        }
        match action {
            Action::Apply => return self.start_apply(),
            Action::Dismiss => return self.dismiss(),
            Action::EditBounds => {
                if let Some(v) = self.selected_view() {
                    self.mode = Mode::Form(Box::new(Form::bounds(&v.state)));
                }
            }
            Action::Scale => match self.selected_view() {
                // The guard would refuse it: say so before the form asks for a number.
                Some(v) if v.state.hpa.is_some() || v.state.write_block.is_some() => {
                    let why = match (&v.state.write_block, &v.state.hpa) {
                        (Some(block), _) => block.to_string(),
                        (None, Some(h)) => format!(
                            "hpa/{} scales {}: a /scale would fight it; edit min/max with e \
                             or apply a floor with a",
                            h.name, v.state.key
                        ),
                        (None, None) => String::new(),
                    };
                    self.message = Some((why, Severity::Error));
                }
                Some(v) => self.mode = Mode::Form(Box::new(Form::scale(&v.state))),
                None => {}
            },
            Action::CreateHpa => match self.selected_view() {
                Some(v) if v.state.hpa.is_some() => {
                    self.message = Some((
                        format!("{} already has an HPA: edit its bounds with e", v.state.key),
                        Severity::Error,
                    ));
                }
                Some(v) => self.mode = Mode::Form(Box::new(Form::create_hpa(&v.state))),
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
                self.mode = Mode::Journal;
                return Some(Command::LoadJournal);
            }
            Action::Backtest => {
                if let Some(key) = self.selected_key().cloned() {
                    self.backtest = Some(BacktestView {
                        key: key.clone(),
                        result: None,
                    });
                    self.mode = Mode::Backtest;
                    return Some(Command::Backtest(key));
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
            Action::StartFilter => self.mode = Mode::Filter,
            Action::StartCommand => self.mode = Mode::Command(String::new()),
            Action::PickNamespace => {
                let choices = self.namespace_choices();
                let at = choices
                    .iter()
                    .position(|c| c == &self.namespace)
                    .unwrap_or(0);
                self.mode = Mode::NamespacePicker(at);
            }
            Action::ToggleHelp => {
                self.mode = if matches!(self.mode, Mode::Help) {
                    Mode::Normal
                } else {
                    Mode::Help
                };
            }
            Action::Back => self.back(),
            Action::Refresh => {
                self.message = Some(("refreshing…".into(), Severity::Info));
                return Some(Command::Refresh);
            }
            Action::ToggleChartMetric => {
                self.chart_metric = match self.chart_metric {
                    ChartMetric::Cpu => ChartMetric::Memory,
                    ChartMetric::Memory => ChartMetric::Cpu,
                };
            }
        }
        None
    }

    /// The selected recommendation unless it is dismissed.
    pub fn shown_recommendation(&self, v: &DeploymentView) -> Option<Arc<Recommendation>> {
        let r = v.recommendation.as_ref()?;
        (!self.is_dismissed(r)).then(|| r.clone())
    }

    /// Dismissed and unchanged in action and target since.
    pub fn is_dismissed(&self, r: &Recommendation) -> bool {
        self.dismissed
            .get(&r.key())
            .is_some_and(|&(a, t)| a == r.decision.action && t == r.decision.target_replicas)
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
                    "recommendation is {} min old: refreshing it first, press a again when it updates",
                    age / 60
                ),
                Severity::Info,
            ));
            return Some(Command::Reconsider(key));
        }
        match plan::plan_apply(&v.state, &rec) {
            // The guard the write will pass, before the dialog offers it.
            Ok(p) => match guard::check(&p, &v.state, self.session.limits) {
                Ok(()) => self.mode = Mode::Confirm(Box::new(p)),
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

    /// y/Enter in the confirm dialog.
    pub fn confirm(&mut self) -> Option<Command> {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Confirm(plan) => {
                self.message = Some(("applying…".into(), Severity::Info));
                Some(Command::Execute(plan))
            }
            other => {
                self.mode = other;
                None
            }
        }
    }

    fn back(&mut self) {
        match self.mode {
            Mode::Normal => {
                if !self.filter.is_empty() {
                    let keep = self.selected_key().cloned();
                    self.filter.clear();
                    self.refresh_visible(keep.as_ref());
                } else if self.focus != Pane::Table {
                    self.focus = Pane::Table;
                }
            }
            _ => self.mode = Mode::Normal,
        }
    }

    /// j/k act on the focused pane.
    fn scroll(&mut self, delta: isize) {
        match self.focus {
            Pane::Table => self.move_selection(delta),
            Pane::Card => {
                self.card_scroll = if delta < 0 {
                    self.card_scroll.saturating_sub(1)
                } else {
                    self.card_scroll.saturating_add(1)
                }
            }
            Pane::Chart => {
                self.chart_metric = match self.chart_metric {
                    ChartMetric::Cpu => ChartMetric::Memory,
                    ChartMetric::Memory => ChartMetric::Cpu,
                }
            }
        }
    }

    fn move_selection(&mut self, delta: isize) {
        if self.visible.is_empty() {
            self.selected = 0;
            return;
        }
        let last = self.visible.len() as isize - 1;
        let next = (self.selected as isize)
            .saturating_add(delta)
            .clamp(0, last) as usize;
        if next != self.selected {
            self.card_scroll = 0;
        }
        self.selected = next;
    }

    // --- text input (filter, command line, namespace picker) ---

    pub fn input_char(&mut self, c: char) {
        match &mut self.mode {
            Mode::Filter => {
                let keep = self.selected_key().cloned();
                self.filter.push(c);
                self.selected = 0;
                self.refresh_visible(keep.as_ref());
            }
            Mode::Command(s) => s.push(c),
            _ => {}
        }
    }

    pub fn input_backspace(&mut self) {
        match &mut self.mode {
            Mode::Filter => {
                let keep = self.selected_key().cloned();
                self.filter.pop();
                self.refresh_visible(keep.as_ref());
            }
            Mode::Command(s) => {
                s.pop();
            }
            _ => {}
        }
    }

    /// Enter in an input mode.
    pub fn input_submit(&mut self) {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Command(cmd) => self.run_command(cmd.trim()),
            Mode::NamespacePicker(i) => {
                let choices = self.namespace_choices();
                self.set_namespace(choices.get(i).cloned().flatten());
            }
            Mode::ContextPicker(i) => {
                if let Some(name) = self.contexts.get(i).cloned() {
                    self.ask_context(&name);
                }
            }
            _ => {}
        }
    }

    pub fn picker_move(&mut self, delta: isize) {
        let n = match self.mode {
            Mode::ContextPicker(_) => self.contexts.len(),
            _ => self.namespace_choices().len(),
        };
        if let Mode::NamespacePicker(i) | Mode::ContextPicker(i) = &mut self.mode {
            *i = (*i as isize + delta).clamp(0, n.saturating_sub(1) as isize) as usize;
        }
    }

    /// `:ctx NAME`: ask the event loop to connect; the table stays until the new one is up.
    fn ask_context(&mut self, name: &str) {
        if name == self.session.context {
            self.message = Some((format!("already on context {name}"), Severity::Info));
        } else if self.contexts.iter().any(|c| c == name) {
            self.switch_context = Some(name.to_string());
            self.message = Some((format!("connecting to context {name}…"), Severity::Info));
        } else if self.contexts.is_empty() {
            self.message = Some((
                "this cluster has no other contexts (the demo has one)".into(),
                Severity::Error,
            ));
        } else {
            self.message = Some((
                format!(
                    "no context {name:?} in the kubeconfig (have: {})",
                    self.contexts.join(", ")
                ),
                Severity::Error,
            ));
        }
    }

    /// A new session is up (after `:ctx`): forget the old cluster, keep the user's view settings.
    pub fn switch_session(&mut self, session: SessionInfo) {
        let context = session.context.clone();
        let fresh = App::new(session);
        let keep = std::mem::replace(self, fresh);
        self.contexts = keep.contexts;
        self.chart_metric = keep.chart_metric;
        self.chart_history_hours = keep.chart_history_hours;
        self.message = Some((format!("switched to context {context}"), Severity::Info));
    }

    fn set_namespace(&mut self, ns: Option<String>) {
        let keep = self.selected_key().cloned();
        self.namespace = ns;
        self.selected = 0;
        self.refresh_visible(keep.as_ref());
    }

    fn run_command(&mut self, cmd: &str) {
        let mut words = cmd.split_whitespace();
        match (words.next(), words.next()) {
            (Some("q" | "quit" | "q!"), None) => self.should_quit = true,
            (Some("ns" | "namespace"), None) => {
                let choices = self.namespace_choices();
                let at = choices
                    .iter()
                    .position(|c| c == &self.namespace)
                    .unwrap_or(0);
                self.mode = Mode::NamespacePicker(at);
            }
            (Some("ctx" | "context"), None) => match self.contexts.as_slice() {
                [] => self.ask_context(""),
                [only] => {
                    self.message = Some((
                        format!("the kubeconfig has one context: {only}"),
                        Severity::Info,
                    ));
                }
                all => {
                    let at = all
                        .iter()
                        .position(|c| c == &self.session.context)
                        .unwrap_or(0);
                    self.mode = Mode::ContextPicker(at);
                }
            },
            (Some("ctx" | "context"), Some(name)) => self.ask_context(name),
            (Some("ns" | "namespace"), Some(name)) => {
                if name == "all" || name == "-A" {
                    self.set_namespace(None);
                } else if self.deployments.keys().any(|k| k.namespace == name) {
                    self.set_namespace(Some(name.to_string()));
                } else {
                    self.message = Some((
                        format!("no deployments in namespace {name:?}"),
                        Severity::Error,
                    ));
                }
            }
            (None, _) => {}
            _ => {
                self.message = Some((
                    format!("unknown command {cmd:?} (try :ns NAME, :ctx NAME, :q)"),
                    Severity::Error,
                ));
            }
        }
    }
}

fn placeholder_state(key: DeploymentKey) -> DeploymentState {
    DeploymentState {
        key,
        desired_replicas: 0,
        ready_replicas: 0,
        total_pods: 0,
        min_replicas: 0,
        max_replicas: 0,
        cpu_request_millis: 0,
        mem_request_mib: 0,
        cpu_pct: None,
        mem_pct: None,
        hpa: None,
        predictive_enabled: false,
        annotated_bounds: (None, None),
        floor_mark: None,
        write_block: None,
    }
}
