//! The fleet screen's state (`:fleet`, `--all-contexts`): the board of contexts
//! (`crate::fleet`), the selected row, and when the next round of probes is due. The event
//! loop starts the rounds the screen asks for and folds the answers in; what its keys do is
//! `fleet_keys`; the pane (`panes/fleet.rs`) only draws.

use std::time::{Duration, Instant};

pub use crate::fleet::PROBE_TIMEOUT;
use crate::fleet::{Board, Probed};

/// Rows are probed again this long after a round has answered (or on `r`).
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct FleetScreen {
    pub board: Board,
    pub selected: usize,
    /// A round asked for (opening, `r`) that the event loop has not started yet.
    pub wants_round: bool,
    /// When the last round started and when all its rows had answered.
    pub round_started: Option<Instant>,
    pub round_answered: Option<Instant>,
}

impl FleetScreen {
    pub fn new(board: Board) -> Self {
        let at = board
            .rows()
            .iter()
            .position(|r| r.context == board.current())
            .unwrap_or(0);
        let wants_round = board.rows().iter().any(|r| r.context != board.current());
        Self {
            board,
            selected: at,
            wants_round,
            round_started: None,
            round_answered: None,
        }
    }

    /// The round to start now, if one is due: asked for, or `REFRESH_EVERY` after the last
    /// one answered. Returns its number and the contexts to probe.
    pub fn due_round(&mut self, now: Instant) -> Option<(u64, Vec<String>)> {
        let periodic = self
            .round_answered
            .is_some_and(|t| now.saturating_duration_since(t) >= REFRESH_EVERY);
        if !(self.wants_round || periodic) {
            return None;
        }
        self.wants_round = false;
        self.round_started = Some(now);
        self.round_answered = None;
        let (round, contexts) = self.board.start_round();
        (!contexts.is_empty()).then_some((round, contexts))
    }

    /// One probe's answer; true when it changed a row.
    pub fn on_probed(&mut self, answer: Probed, now: Instant) -> bool {
        let changed = self.board.fold(answer);
        if changed && self.board.all_answered() {
            self.round_answered = Some(now);
        }
        changed
    }

    pub fn selected_context(&self) -> Option<&str> {
        self.board
            .rows()
            .get(self.selected)
            .map(|r| r.context.as_str())
    }
}
