//! History a cluster can compute on request, one deployment at a time (the simulator's weeks
//! before its warm-up): the engine takes it in the background, a few deployments per message,
//! so neither the first frame nor memory waits for the whole fleet's weeks at once.

use crate::model::{DeploymentKey, Sample};

pub trait HistoryFeed: Send + Sync {
    /// The deployments it has history for, in the order they are handed over.
    fn keys(&self) -> Vec<DeploymentKey>;

    /// One deployment's minute samples, oldest first; empty for a key it does not know.
    /// CPU-bound: call it off the async threads.
    fn samples(&self, key: &DeploymentKey) -> Vec<Sample>;
}
