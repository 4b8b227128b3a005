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
