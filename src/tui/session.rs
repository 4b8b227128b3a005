//! One engine over one cluster, as the TUI sees it, and how to start another one on a different
//! kube context (`:ctx`): the binary knows how to connect and build the pipeline, the TUI only
//! swaps sessions when the new one is up.

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::app::SessionInfo;
use crate::engine::{Command, Update};

/// A running engine and the facts the status bar shows about its cluster.
pub struct Session {
    pub info: SessionInfo,
    pub commands: mpsc::UnboundedSender<Command>,
    pub updates: mpsc::UnboundedReceiver<Update>,
}

/// Starts sessions on other contexts of the kubeconfig.
pub trait Connector: Send + Sync {
    /// Contexts the user can switch to (the kubeconfig's, in its order).
    fn contexts(&self) -> Vec<String>;
    /// Connect to `context` and start an engine over it; the error is shown to the user.
    fn connect(&self, context: String) -> BoxFuture<'static, Result<Session, String>>;
    /// How the fleet screen learns about each context without opening it (`:fleet`); None:
    /// only the open context's row is shown.
    fn prober(&self) -> Option<std::sync::Arc<dyn crate::fleet::Probe>> {
        None
    }
}

/// Tells the engine what the user sees (`Command::Focus`: the selected row, then the rest of the
/// table's window) when it changes, at most every `FOCUS_EVERY`: holding `j` down sends a few
/// a second, not one per row. A change inside the interval goes out at a later turn of the
/// loop (the tick turns it).
#[derive(Debug, Default)]
pub struct FocusReport {
    sent: Vec<crate::model::DeploymentKey>,
    at: Option<std::time::Instant>,
}

/// The shortest time between two focus reports.
pub const FOCUS_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl FocusReport {
    /// The focus to send now, if it changed and the last report is old enough.
    pub fn due<'a>(
        &mut self,
        focus: impl Iterator<Item = &'a crate::model::DeploymentKey> + Clone,
        now: std::time::Instant,
    ) -> Option<Vec<crate::model::DeploymentKey>> {
        if focus.clone().eq(self.sent.iter()) {
            return None;
        }
        if self
            .at
            .is_some_and(|at| now.duration_since(at) < FOCUS_EVERY)
        {
            return None;
        }
        self.sent = focus.cloned().collect();
        self.at = Some(now);
        Some(self.sent.clone())
    }

    /// A new session's engine knows nothing yet: report again.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentKey;
    use std::time::{Duration, Instant};

    #[test]
    fn focus_is_reported_when_it_changes_and_not_faster_than_the_interval() {
        let keys: Vec<DeploymentKey> = (0..5)
            .map(|i| DeploymentKey::new("ns", format!("d{i}")))
            .collect();
        let mut r = FocusReport::default();
        let t0 = Instant::now();
        assert_eq!(r.due(keys[0..3].iter(), t0), Some(keys[0..3].to_vec()));
        // Unchanged: nothing to say.
        assert_eq!(r.due(keys[0..3].iter(), t0 + Duration::from_secs(5)), None);
        // Changed too soon after the last report: held back, then sent.
        let t1 = t0 + Duration::from_secs(6);
        assert_eq!(r.due(keys[1..4].iter(), t1), Some(keys[1..4].to_vec()));
        assert_eq!(
            r.due(keys[2..5].iter(), t1 + Duration::from_millis(50)),
            None
        );
        assert_eq!(
            r.due(keys[2..5].iter(), t1 + FOCUS_EVERY),
            Some(keys[2..5].to_vec())
        );
        r.reset();
        assert_eq!(
            r.due(keys[2..5].iter(), t1 + FOCUS_EVERY),
            Some(keys[2..5].to_vec())
        );
    }
}
