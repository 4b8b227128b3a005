//! What every connection shares: the simulated cluster, the store of versioned objects kept in
//! step with it, and the options the server was started with.

#[cfg(test)]
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::faults::Faults;
use super::store::Store;
use crate::sim::{SimCluster, SimWorld};

/// How long a client may take to send a request's headers (and how long an idle keep-alive
/// connection stays open) before its connection is closed, so slowloris clients cannot hold
/// connections forever. The apiserver's ReadHeaderTimeout is 32 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of the API front.
#[derive(Clone, Debug)]
pub struct Options {
    /// Refuse every write with 403 Forbidden, as RBAC would for a read-only user.
    pub read_only: bool,
    /// Shift every timestamp so the world's "now" at start reads as the wall clock's (as on a
    /// live cluster: clients that compare timestamps with their own clock see fresh data).
    /// At speed 1 the two clocks then stay together; faster, the cluster runs ahead. Off,
    /// timestamps are the world's own (deterministic for a seed).
    pub wall_clock: bool,
    /// Errors and dropped watches to inject (`--fault RESOURCE=STATUS`).
    pub faults: Faults,
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            read_only: false,
            wall_clock: true,
            faults: Faults::default(),
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// State shared by every connection.
pub(crate) struct Server {
    pub(super) sim: SimCluster,
    pub(super) store: Mutex<Store>,
    pub(super) options: Options,
}

impl Server {
    /// A server on `sim` without a listener, for driving the router in-process.
    #[cfg(test)]
    pub(super) fn in_process(sim: SimCluster, options: Options) -> Arc<Self> {
        let seed = sim.world().seed();
        let server = Arc::new(Self {
            sim,
            store: Mutex::new(Store::new(seed, 0)),
            options,
        });
        drop(server.fresh());
        server
    }

    pub(super) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store, synced with the world if the world moved (lock order: world, then store).
    pub(super) fn fresh(&self) -> MutexGuard<'_, Store> {
        self.fresh_at().0
    }

    /// `fresh`, with the world's time (never lock the world while holding the store).
    pub(super) fn fresh_at(&self) -> (MutexGuard<'_, Store>, crate::model::UnixSeconds) {
        let world = self.sim.world();
        let mut store = self.store();
        if store.synced_generation() != Some(world.generation()) {
            store.sync_all(&world);
        }
        (store, world.now())
    }

    /// World and store together, for writes.
    pub(super) fn both(&self) -> (MutexGuard<'_, SimWorld>, MutexGuard<'_, Store>) {
        let world = self.sim.world();
        let store = self.store();
        (world, store)
    }
}
