//! What a key means, independent of which key it was: one enum per keyboard context. The keymap
//! turns key events into these; the app (normal mode) and each popup carry them out. Every
//! action has the name `[keys.CONTEXT]` in the config file rebinds it by.

/// Actions with a name in the config file.
pub trait Named: Copy + Eq + std::fmt::Debug + 'static {
    /// Every action of the context, in the order help lists them.
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

/// Implements `Named` from a list of `Variant => "name"`.
macro_rules! named {
    ($t:ty { $($v:ident => $n:literal),+ $(,)? }) => {
        impl Named for $t {
            const ALL: &'static [Self] = &[$(<$t>::$v),+];
            fn name(self) -> &'static str {
                match self {
                    $(<$t>::$v => $n),+
                }
            }
        }
    };
}

/// Normal mode: the table, the chart and the card have the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    /// `/`: type a filter.
    StartFilter,
    /// `:`: type a command (`ns NAME`, `q`).
    StartCommand,
    /// Open the namespace picker.
    PickNamespace,
    ToggleHelp,
    /// Clear the filter, or give the focus back to the table.
    Back,
    /// Poll now and recompute forecasts and recommendations.
    Refresh,
    /// Show CPU or memory in the forecast chart.
    ToggleChartMetric,
    /// `a`: apply the selected recommendation (after a confirm dialog).
    Apply,
    /// `x`: dismiss the selected recommendation until it changes.
    Dismiss,
    /// `e`: edit min/max inline.
    EditBounds,
    /// `s`: scale by hand.
    Scale,
    /// `p`: toggle predictive autoscaling for the deployment.
    TogglePredictive,
    /// `u`: undo the last change made from this app.
    Undo,
    /// `J`: the journal.
    Journal,
    /// `H`: create an HPA for a deployment without one.
    CreateHpa,
    /// `b`: replay the deployment's history: what the HPA did vs what ai4k8s would have done.
    Backtest,
    /// Shift + a column's letter: sort by that column; again reverses.
    SortName,
    SortCpu,
    SortMemory,
    SortReplicas,
    SortSavings,
    SortPending,
    /// `f`: cycle the quick filters (pending change, at max, no metrics, off).
    CycleFilter,
    /// Enter: open the deployment (its pods, its HPA's conditions, its events).
    Describe,
}

impl Action {
    /// Changes the cluster: hidden and refused in read-only mode.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Apply
                | Action::EditBounds
                | Action::Scale
                | Action::TogglePredictive
                | Action::CreateHpa
                | Action::Undo
        )
    }
}

named!(Action {
    Quit => "quit",
    Up => "up",
    Down => "down",
    PageUp => "page_up",
    PageDown => "page_down",
    Top => "top",
    Bottom => "bottom",
    NextPane => "next_pane",
    PrevPane => "prev_pane",
    StartFilter => "filter",
    StartCommand => "command",
    PickNamespace => "namespace",
    ToggleHelp => "help",
    Back => "back",
    Refresh => "refresh",
    ToggleChartMetric => "chart_metric",
    Apply => "apply",
    Dismiss => "dismiss",
    EditBounds => "edit_bounds",
    Scale => "scale",
    TogglePredictive => "predictive",
    Undo => "undo",
    Journal => "journal",
    CreateHpa => "create_hpa",
    Backtest => "backtest",
    SortName => "sort_name",
    SortCpu => "sort_cpu",
    SortMemory => "sort_memory",
    SortReplicas => "sort_replicas",
    SortSavings => "sort_savings",
    SortPending => "sort_pending",
    CycleFilter => "quick_filter",
    Describe => "describe",
});

/// The confirm dialog of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmAction {
    Yes,
    No,
    /// Write the change as a patch for git instead of applying it (GitOps-tracked objects).
    GitPatch,
    /// Write the patch for git and apply the change too.
    GitPatchAndApply,
}

named!(ConfirmAction {
    Yes => "yes",
    No => "no",
    GitPatch => "git_patch",
    GitPatchAndApply => "git_patch_and_apply",
});

/// The namespace and context pickers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickerAction {
    Pick,
    Close,
    Down,
    Up,
}

named!(PickerAction {
    Pick => "pick",
    Close => "close",
    Down => "down",
    Up => "up",
});

/// The inline editors; keys bound to nothing edit the focused field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditorAction {
    Save,
    Cancel,
    NextField,
    PrevField,
}

named!(EditorAction {
    Save => "save",
    Cancel => "cancel",
    NextField => "next_field",
    PrevField => "prev_field",
});

/// The read-only overlays: help, journal, backtest, the deployment opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayAction {
    Close,
}

named!(OverlayAction { Close => "close" });

/// The filter and the command line in the status bar; keys bound to nothing type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptAction {
    /// Enter: keep the filter / run the command.
    Done,
    /// Esc: clear the filter / drop the command.
    Cancel,
    DeleteChar,
}

named!(PromptAction {
    Done => "done",
    Cancel => "cancel",
    DeleteChar => "delete_char",
});

/// The fleet screen (`:fleet`): one row per kube context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FleetAction {
    /// Enter: switch to the selected context (`:ctx`'s path).
    Open,
    /// Back to the deployments of the open context.
    Back,
    Down,
    Up,
    /// Probe every context again now.
    Refresh,
    Help,
}

named!(FleetAction {
    Open => "open",
    Back => "back",
    Down => "down",
    Up => "up",
    Refresh => "refresh",
    Help => "help",
});
