//! What a key means, independent of which key it was: the keymap turns key events into these
//! and `App::apply` carries them out.

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
    /// Close the overlay or input, or clear the filter.
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
}
