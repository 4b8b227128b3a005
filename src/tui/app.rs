//! The TUI's plain state: what it knows of the cluster, what is selected and shown, and which
//! popup has the keyboard. Engine updates fold in here (`on_update`); what keys do lives in
//! `normal` (normal mode), `command_line` and the popups. Nothing here draws, sleeps or
//! touches the network; rendering is a pure function of this state (see `ui`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::actions::Limits;
use crate::engine::{Command, Update};
use crate::metrics::History;
use crate::model::{
    ClusterSnapshot, DeploymentKey, DeploymentState, Recommendation, ScalingAction, UnixSeconds,
};
use crate::pipeline::Forecasts;

use super::keymap::Keymap;
use super::popups::{Confirm, Popup};
use super::rows::{QuickFilter, RowFacts, Sort, SortColumn};
use super::theme::Theme;

use crate::config::UI_HISTORY_MINUTES;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Table,
    Chart,
    Card,
}

impl Pane {
    pub fn next(self) -> Self {
        match self {
            Pane::Table => Pane::Chart,
            Pane::Chart => Pane::Card,
            Pane::Card => Pane::Table,
        }
    }

    pub fn prev(self) -> Self {
        match self {
            Pane::Table => Pane::Card,
            Pane::Chart => Pane::Table,
            Pane::Card => Pane::Chart,
        }
    }
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
    /// Where files the user asks for go (patches for git); None: nowhere to write.
    pub data_dir: Option<std::path::PathBuf>,
}

impl Default for SessionInfo {
    fn default() -> Self {
        Self {
            context: String::new(),
            speed: None,
            read_only: false,
            limits: Limits::default(),
            stale_after_seconds: 600,
            data_dir: None,
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
    /// The popup or prompt that has the keyboard; None is normal mode.
    pub popup: Option<Popup>,
    /// The key tables (the defaults, or as `[keys]` in the config rebinds them).
    pub keymap: Keymap,
    /// Colours, or modifiers only (`NO_COLOR`).
    pub theme: Theme,
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
    /// Lasting data problems by source (missing metrics, RBAC, no backfill).
    pub notices: BTreeMap<&'static str, String>,
    /// Why a deployment's last attempt at a recommendation failed; cleared by the next one
    /// that works or when the deployment goes (kept apart from the rows, so the "advisor"
    /// notice never scans the fleet).
    pub recommendation_errors: BTreeMap<DeploymentKey, String>,
    /// Kube contexts `:ctx` can switch to (empty on the demo cluster).
    pub contexts: Vec<String>,
    /// A context switch asked for and not yet taken up by the event loop.
    pub switch_context: Option<String>,
    /// The table's order (shift + a column's letter).
    pub sort: Sort,
    /// Pending change, at max or no metrics (`:filter`); None shows every row.
    pub quick_filter: Option<QuickFilter>,
    /// The fleet screen (`:fleet`): every kube context on one screen, over the panes.
    pub fleet: Option<super::fleet_screen::FleetScreen>,
    /// When the last frames were drawn (the event loop writes it; harnesses read it).
    pub frames: super::frames::FrameLog,
    /// The one deployment whose history is kept once the event loop asks for it on demand
    /// (`history_request`): a fleet's histories stay in the engine. Before that (tests and the
    /// preview fill the app without a loop) every deployment keeps what updates bring.
    pub history_of: Option<DeploymentKey>,
    pub history_on_demand: bool,
    /// When every deployment first had a forecast (logged once).
    pub first_forecasts: super::first_forecasts::FirstForecasts,
    /// The table's first frame, held while the engine reads the selected deployment's
    /// history (what it does, since when); None draws the table. `first_view_wait` bounds
    /// the hold and any key ends it.
    pub first_view: Option<(String, std::time::Instant)>,
    pub first_view_wait: std::time::Duration,
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
            popup: None,
            keymap: Keymap::default(),
            theme: Theme::default(),
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
            notices: BTreeMap::new(),
            recommendation_errors: BTreeMap::new(),
            contexts: Vec::new(),
            switch_context: None,
            sort: Sort::default(),
            quick_filter: None,
            fleet: None,
            frames: super::frames::FrameLog::default(),
            history_of: None,
            history_on_demand: false,
            first_forecasts: Default::default(),
            first_view: None,
            first_view_wait: std::time::Duration::from_millis(
                crate::config::UiConfig::default().first_view_wait_ms,
            ),
        }
    }

    /// Draw the table from now on, if it was held.
    pub fn open_first_view(&mut self) {
        self.first_view = None;
    }

    /// Before a frame: a hold past its bound ends.
    pub fn expire_first_view(&mut self, now: std::time::Instant) {
        if self
            .first_view
            .as_ref()
            .is_some_and(|(_, since)| now.saturating_duration_since(*since) >= self.first_view_wait)
        {
            tracing::info!(
                "first view: drawn after waiting its {:?}",
                self.first_view_wait
            );
            self.first_view = None;
        }
    }

    /// Whether updates about `key`'s history are kept.
    fn keeps_history(&self, key: &DeploymentKey) -> bool {
        !self.history_on_demand || self.history_of.as_ref() == Some(key)
    }

    /// From now on keep only the selected deployment's history: when the selection moved to
    /// another deployment, drop the old one's and ask the engine for the new one's.
    pub fn history_request(&mut self) -> Option<Command> {
        let want = self.selected_key().cloned();
        if self.history_on_demand && want == self.history_of {
            return None;
        }
        self.history_on_demand = true;
        for (k, v) in self.deployments.iter_mut() {
            if Some(k) != want.as_ref() && !v.history.is_empty() {
                v.history = History::with_capacity(UI_HISTORY_MINUTES);
            }
        }
        self.history_of = want.clone();
        want.map(Command::History)
    }

    pub fn selected_key(&self) -> Option<&DeploymentKey> {
        self.visible.get(self.selected)
    }

    /// What the user sees, for the engine's priorities: the selected row, then the other rows
    /// of the table's window (as last drawn).
    pub fn focus_keys(&self) -> impl Iterator<Item = &DeploymentKey> + Clone {
        let window = self
            .visible
            .iter()
            .enumerate()
            .skip(self.table_offset)
            .take(self.table_height)
            .filter(|(i, _)| *i != self.selected)
            .map(|(_, k)| k);
        self.selected_key().into_iter().chain(window)
    }

    pub fn selected_view(&self) -> Option<&DeploymentView> {
        self.selected_key().and_then(|k| self.deployments.get(k))
    }

    /// Fold one engine update into the state.
    pub fn on_update(&mut self, update: Update) {
        match update {
            Update::Backfill(series) => {
                for (key, samples) in series {
                    if !self.keeps_history(&key) {
                        continue;
                    }
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
                    if self.keeps_history(&key)
                        && let Some(v) = self.deployments.get_mut(&key)
                    {
                        v.history.push(s);
                    }
                }
            }
            Update::History(key, samples) => {
                if self.keeps_history(&key)
                    && let Some(v) = self.deployments.get_mut(&key)
                {
                    v.history = History::with_capacity(UI_HISTORY_MINUTES);
                    v.history.extend(samples);
                }
            }
            Update::Forecasts(key, f) => {
                if let Some(v) = self.deployments.get_mut(&key) {
                    v.forecasts = Some(f);
                }
                // The frames drawn while the start-up's forecasts ran (a fleet's busiest
                // minutes), logged beside the line that says they are all in.
                if self
                    .first_forecasts
                    .on_forecast(&key, self.deployments.keys())
                    .is_some()
                {
                    tracing::info!("frames while forecasting: {}", self.frames.summary());
                }
            }
            Update::Recommendation(r) => {
                let key = r.key();
                if let Some(v) = self.deployments.get_mut(&key) {
                    v.recommendation = Some(r);
                }
                if self.recommendation_errors.remove(&key).is_some() {
                    self.advisor_notice();
                }
            }
            Update::RecommendationFailed(key, why) => {
                if self.deployments.contains_key(&key) {
                    self.recommendation_errors.insert(key, why);
                    self.advisor_notice();
                }
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
                if self.popup.is_none() {
                    self.popup = Some(Popup::Confirm(Confirm::new(plan)));
                }
            }
            // For the overlay that asked; a closed one asks again when it opens.
            Update::Journal(entries) => {
                if let Some(Popup::Journal(j)) = &mut self.popup {
                    j.entries = entries;
                }
            }
            Update::Backtest(key, result) => {
                if let Some(Popup::Backtest(b)) = &mut self.popup
                    && b.key == key
                {
                    b.result = Some(result);
                }
            }
            Update::Detail(key, result) => {
                if let Some(Popup::Detail(d)) = &mut self.popup
                    && d.key == key
                {
                    d.result = Some(result);
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
            Update::FirstView(Some(why)) => {
                if !self.first_view_wait.is_zero() {
                    self.first_view = Some((why, std::time::Instant::now()));
                }
            }
            Update::FirstView(None) => {
                if let Some((_, since)) = self.first_view.take() {
                    tracing::info!(
                        "first view: drawn after {:.2} s",
                        since.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }

    /// The status bar's "advisor" notice: which deployments' recommendations are failing.
    fn advisor_notice(&mut self) {
        match self.recommendation_errors.iter().next() {
            None => {
                self.notices.remove("advisor");
            }
            Some((key, why)) => {
                let others = self.recommendation_errors.len() - 1;
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
                        },
                    );
                }
            }
        }
        self.deployments.retain(|k, _| seen.contains(k));
        let failing = self.recommendation_errors.len();
        self.recommendation_errors.retain(|k, _| seen.contains(k));
        if self.recommendation_errors.len() != failing {
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
        self.visible = self.visible_keys();
        self.selected = keep
            .and_then(|k| self.visible.iter().position(|v| v == k))
            .unwrap_or(self.selected)
            .min(self.visible.len().saturating_sub(1));
    }

    /// The rows to show: namespace, name filter and quick filter applied, in the sort's order.
    fn visible_keys(&self) -> Vec<DeploymentKey> {
        let needle = self.filter.to_lowercase();
        let rows: Vec<RowFacts<'_>> = self
            .deployments
            .iter()
            .filter(|(k, _)| self.namespace.as_ref().is_none_or(|ns| &k.namespace == ns))
            .filter(|(k, _)| needle.is_empty() || k.to_string().to_lowercase().contains(&needle))
            .map(|(_, v)| self.row_facts(v))
            .filter(|r| self.quick_filter.is_none_or(|f| f.keeps(*r)))
            .collect();
        // The map is already in name order: sorting is only needed for another order.
        if self.sort == Sort::default() {
            return rows.into_iter().map(|r| r.state.key.clone()).collect();
        }
        self.sort
            .order(&rows)
            .into_iter()
            .map(|i| rows[i].state.key.clone())
            .collect()
    }

    /// What the sort and the quick filters read of a row.
    pub fn row_facts<'a>(&self, v: &'a DeploymentView) -> RowFacts<'a> {
        RowFacts {
            state: &v.state,
            recommendation: v.recommendation.as_deref(),
            shown: v
                .recommendation
                .as_deref()
                .filter(|r| !self.is_dismissed(r)),
        }
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

    /// The namespace picker's choices, each with its number of deployments.
    pub fn namespace_counts(&self) -> Vec<(Option<String>, usize)> {
        self.namespace_choices()
            .into_iter()
            .map(|c| {
                let n = self
                    .deployments
                    .keys()
                    .filter(|k| c.as_ref().is_none_or(|ns| &k.namespace == ns))
                    .count();
                (c, n)
            })
            .collect()
    }

    /// Real time passed; `secs_since_data` is the age of the last snapshot.
    pub fn on_tick(&mut self, secs_since_data: u64) {
        self.data_age_secs = secs_since_data;
    }

    /// The selected recommendation unless it is dismissed.
    pub fn shown_recommendation(&self, v: &DeploymentView) -> Option<Arc<Recommendation>> {
        let r = v.recommendation.as_ref()?;
        (!self.is_dismissed(r)).then(|| r.clone())
    }

    /// Dismissed and unchanged in action and target since.
    pub fn is_dismissed(&self, r: &Recommendation) -> bool {
        // Most sessions dismiss nothing: no key to build per row (the sort asks 50,000 rows).
        !self.dismissed.is_empty()
            && self
                .dismissed
                .get(&r.key())
                .is_some_and(|&(a, t)| a == r.decision.action && t == r.decision.target_replicas)
    }

    /// j/k act on the focused pane.
    pub fn scroll(&mut self, delta: isize) {
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

    pub fn move_selection(&mut self, delta: isize) {
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

    /// A new session is up (after `:ctx`): forget the old cluster, keep the user's view settings.
    pub fn switch_session(&mut self, session: SessionInfo) {
        let context = session.context.clone();
        let fresh = App::new(session);
        let keep = std::mem::replace(self, fresh);
        self.contexts = keep.contexts;
        self.keymap = keep.keymap;
        self.theme = keep.theme;
        self.chart_metric = keep.chart_metric;
        self.chart_history_hours = keep.chart_history_hours;
        self.first_view_wait = keep.first_view_wait;
        self.sort = keep.sort;
        self.message = Some((format!("switched to context {context}"), Severity::Info));
    }

    /// The filter as typed so far; the selection stays on its deployment while it is shown.
    pub fn set_filter(&mut self, text: String) {
        let keep = self.selected_key().cloned();
        self.filter = text;
        self.selected = 0;
        self.refresh_visible(keep.as_ref());
    }

    /// Shift + a column's letter: sort by it, or reverse it when it is already the sort.
    pub fn sort_by(&mut self, column: SortColumn) {
        let keep = self.selected_key().cloned();
        self.sort = self.sort.toggled(column);
        self.refresh_visible(keep.as_ref());
    }

    /// A quick filter (None: off); the selection stays on its deployment while it is shown.
    pub fn set_quick_filter(&mut self, filter: Option<QuickFilter>) {
        let keep = self.selected_key().cloned();
        self.quick_filter = filter;
        self.selected = 0;
        self.refresh_visible(keep.as_ref());
    }

    pub fn set_namespace(&mut self, ns: Option<String>) {
        let keep = self.selected_key().cloned();
        self.namespace = ns;
        self.selected = 0;
        self.refresh_visible(keep.as_ref());
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
        ownership: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(names: &[&str]) -> Arc<ClusterSnapshot> {
        Arc::new(ClusterSnapshot {
            context: "test".into(),
            time: 1_000,
            deployments: names
                .iter()
                .map(|n| placeholder_state(DeploymentKey::new("ns", *n)))
                .collect(),
            capacity: None,
        })
    }

    #[tokio::test]
    async fn the_advisor_notice_follows_failures_recoveries_and_deletions() {
        let mut app = App::new(SessionInfo::default());
        app.on_update(Update::Snapshot(snapshot(&["a", "b", "c"])));
        let key = |n: &str| DeploymentKey::new("ns", n);
        app.on_update(Update::RecommendationFailed(key("b"), "429".into()));
        app.on_update(Update::RecommendationFailed(key("c"), "timeout".into()));
        assert_eq!(
            app.notices["advisor"],
            "no recommendation for ns/b (and 1 more): 429; retrying"
        );
        // b recovers: a recommendation lands for it; c is left.
        let inputs = crate::model::AdvisorInputs::from_state(
            &app.deployments[&key("b")].state,
            None,
            None,
            1_000,
        );
        let rec =
            crate::advisor::Advisor::rules_only(crate::config::AdvisorConfig::default(), "test")
                .recommend(&inputs)
                .await;
        app.on_update(Update::Recommendation(Arc::new(rec)));
        assert_eq!(
            app.notices["advisor"],
            "no recommendation for ns/c: timeout; retrying"
        );
        app.on_update(Update::RecommendationFailed(key("b"), "429".into()));
        assert!(app.notices["advisor"].contains("(and 1 more)"));
        // c is deleted from the cluster: only b is left.
        app.on_update(Update::Snapshot(snapshot(&["a", "b"])));
        assert_eq!(
            app.notices["advisor"],
            "no recommendation for ns/b: 429; retrying"
        );
        // A failure for a deployment the app does not know changes nothing.
        app.on_update(Update::RecommendationFailed(key("zz"), "x".into()));
        assert_eq!(
            app.notices["advisor"],
            "no recommendation for ns/b: 429; retrying"
        );
        app.on_update(Update::Snapshot(snapshot(&["a"])));
        assert!(!app.notices.contains_key("advisor"), "{:?}", app.notices);
    }
}
