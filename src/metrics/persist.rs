//! The store as the engine uses it: a handle for one kube context whose writes and reads run
//! on a dedicated thread, so SQLite never blocks an async worker. One transaction per poll.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

use super::History;
use super::store::{Retention, Store, StoreError};
use crate::model::{DeploymentKey, Sample, UnixSeconds};

/// Minutes per deployment, oldest first.
pub type Series = Vec<(DeploymentKey, Vec<Sample>)>;

/// Thinning runs at most once per this much cluster time.
const THIN_EVERY: i64 = 3600;

enum Msg {
    Write(Vec<(DeploymentKey, Sample)>),
    Load {
        window: i64,
        reply: oneshot::Sender<Result<Series, StoreError>>,
    },
    LoadHistories {
        window: i64,
        capacity: usize,
        reply: oneshot::Sender<Result<Vec<(DeploymentKey, History)>, StoreError>>,
    },
    /// Answered once every earlier message is done, with the first write error since the last
    /// flush.
    Flush(oneshot::Sender<Result<(), String>>),
}

/// Handle to the store for one kube context; clones share the writer thread, which ends when
/// the last handle drops (after finishing what was sent).
#[derive(Clone)]
pub struct HistoryStore {
    context: String,
    path: PathBuf,
    tx: mpsc::Sender<Msg>,
    /// The writer's last failure, until a write succeeds again (shown in the status bar).
    problem: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore")
            .field("context", &self.context)
            .field("path", &self.path)
            .finish()
    }
}

impl HistoryStore {
    /// Open the store at `path` for `context` and start its writer thread.
    pub fn open(path: &Path, context: &str) -> Result<Self, StoreError> {
        Self::open_with(path, context, Retention::default())
    }

    pub fn open_with(path: &Path, context: &str, retention: Retention) -> Result<Self, StoreError> {
        let store = Store::open_with(path, retention)?;
        let (tx, rx) = mpsc::channel();
        let ctx = context.to_string();
        let problem = Arc::new(Mutex::new(None));
        let shared = problem.clone();
        std::thread::Builder::new()
            .name("history-store".into())
            .spawn(move || writer(store, ctx, rx, &shared))
            .map_err(|e| StoreError::Io {
                path: path.display().to_string(),
                reason: format!("cannot start writer thread: {e}"),
            })?;
        Ok(Self {
            context: context.to_string(),
            path: path.to_path_buf(),
            tx,
            problem,
        })
    }

    /// Why the store is failing now (a read or write error not followed by a good write).
    pub fn problem(&self) -> Option<String> {
        self.problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queue one poll's closed minutes; never blocks.
    pub fn record(&self, batch: Vec<(DeploymentKey, Sample)>) {
        if !batch.is_empty() && self.tx.send(Msg::Write(batch)).is_err() {
            tracing::warn!("history store writer stopped; samples not persisted");
        }
    }

    /// Each deployment's stored minutes within `window` seconds of its newest one.
    pub async fn load_recent(&self, window: i64) -> Result<Series, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Load { window, reply })
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Each deployment's stored history within `window` seconds of its newest sample, folded
    /// into a `History` of `capacity` minutes on the store's thread as it is read.
    pub async fn load_histories(
        &self,
        window: i64,
        capacity: usize,
    ) -> Result<Vec<(DeploymentKey, History)>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::LoadHistories {
                window,
                capacity,
                reply,
            })
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Wait until everything queued so far is written.
    pub async fn flush(&self) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush(reply))
            .map_err(|_| StoreError::WriterGone.to_string())?;
        rx.await.map_err(|_| StoreError::WriterGone.to_string())?
    }
}

fn writer(
    mut store: Store,
    context: String,
    rx: mpsc::Receiver<Msg>,
    problem: &Mutex<Option<String>>,
) {
    let set_problem = |p: Option<String>| *problem.lock().unwrap_or_else(|e| e.into_inner()) = p;
    let mut thinned_at: Option<UnixSeconds> = None;
    let mut first_error: Option<String> = None;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Write(batch) => {
                if let Err(e) = store.write(&context, &batch) {
                    tracing::warn!("{e}");
                    first_error.get_or_insert(e.to_string());
                    set_problem(Some(e.to_string()));
                    continue;
                }
                set_problem(None);
                // Thin by the data's own clock, at most hourly.
                let newest = batch.iter().map(|(_, s)| s.timestamp).max();
                if let Some(now) = newest
                    && thinned_at.is_none_or(|t| now - t >= THIN_EVERY)
                {
                    thinned_at = Some(now);
                    match store.thin(now) {
                        Ok(stats) => tracing::debug!("history store thinned: {stats:?}"),
                        Err(e) => {
                            tracing::warn!("{e}");
                            first_error.get_or_insert(e.to_string());
                            set_problem(Some(e.to_string()));
                        }
                    }
                }
            }
            Msg::Load { window, reply } => {
                let loaded = store.load_recent(&context, window);
                if let Err(e) = &loaded {
                    // Set before the reply, so whoever asked sees it at once.
                    set_problem(Some(e.to_string()));
                }
                let _ = reply.send(loaded);
            }
            Msg::LoadHistories {
                window,
                capacity,
                reply,
            } => {
                let loaded = store.load_histories(&context, window, capacity);
                if let Err(e) = &loaded {
                    set_problem(Some(e.to_string()));
                }
                let _ = reply.send(loaded);
            }
            Msg::Flush(reply) => {
                let _ = reply.send(first_error.take().map_or(Ok(()), Err));
            }
        }
    }
}
