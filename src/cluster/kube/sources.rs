//! Watched sources: a kube-runtime watcher per resource feeding a reflector store, with its
//! health recorded for the status line. The watcher re-lists after 410 Gone; after any other
//! failure a new watcher (a fresh list, then a watch) starts after an exponential backoff
//! (0.8 s to 30 s). A server that gives no resourceVersion (and so cannot be watched) is
//! polled with plain lists instead.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Api;
use kube::Resource;
use kube::api::ListParams;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

use super::errors;
use crate::cluster::{ClusterError, SourceState, SourceStatus};
use crate::model::UnixSeconds;

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn wall_now() -> UnixSeconds {
    chrono::Utc::now().timestamp()
}

/// The last failure of a source since it last delivered.
#[derive(Clone, Debug)]
pub struct Failure {
    pub error: ClusterError,
    /// Connection refused, reset, timed out, 5xx: the server, not the request, is the problem.
    pub unreachable: bool,
    pub at: Instant,
    pub wall: UnixSeconds,
}

#[derive(Clone, Debug)]
pub struct Health {
    pub name: &'static str,
    /// The first complete list has arrived.
    pub synced: bool,
    pub last_ok: Option<Instant>,
    pub last_ok_wall: Option<UnixSeconds>,
    pub failure: Option<Failure>,
    /// Set when the source falls back from watching to polling.
    pub note: Option<String>,
}

impl Health {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            synced: false,
            last_ok: None,
            last_ok_wall: None,
            failure: None,
            note: None,
        }
    }

    pub fn ok(&mut self) {
        self.last_ok = Some(Instant::now());
        self.last_ok_wall = Some(wall_now());
        self.failure = None;
    }

    pub fn fail(&mut self, error: ClusterError, unreachable: bool) {
        self.failure = Some(Failure {
            error,
            unreachable,
            at: Instant::now(),
            wall: wall_now(),
        });
    }

    pub fn status(&self) -> SourceStatus {
        let (state, detail) = match (&self.failure, self.synced) {
            (None, true) => (SourceState::Ok, self.note.clone()),
            (None, false) => (SourceState::Syncing, None),
            (Some(f), true) => (SourceState::Stale, Some(f.error.to_string())),
            (Some(f), false) => (SourceState::Missing, Some(f.error.to_string())),
        };
        SourceStatus {
            source: self.name.to_string(),
            state,
            detail,
            updated_at: self.last_ok_wall,
        }
    }
}

/// Whether the API server answers: any HTTP answer counts, connection errors and 5xx do not.
#[derive(Clone, Debug, Default)]
pub struct Liveness {
    pub last_answer: Option<Instant>,
    pub last_failure: Option<(Instant, UnixSeconds, String)>,
}

impl Liveness {
    pub fn answered(&mut self) {
        self.last_answer = Some(Instant::now());
    }

    pub fn failed(&mut self, reason: String) {
        self.last_failure = Some((Instant::now(), wall_now(), reason));
    }

    /// The failure not followed by any answer, if the server is down now.
    pub fn down(&self) -> Option<(UnixSeconds, &str)> {
        let (at, wall, reason) = self.last_failure.as_ref()?;
        match self.last_answer {
            Some(a) if a > *at => None,
            _ => Some((*wall, reason.as_str())),
        }
    }
}

pub struct Shared {
    pub liveness: Mutex<Liveness>,
}

/// Start watching `api` into a store. `trim` drops fields the snapshot does not read.
pub fn spawn<K>(
    name: &'static str,
    api: Api<K>,
    trim: fn(&mut K),
    poll_every: Duration,
    liveness: Arc<Shared>,
) -> (Store<K>, Arc<Mutex<Health>>, tokio::task::JoinHandle<()>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let health = Arc::new(Mutex::new(Health::new(name)));
    let h = health.clone();
    let task = tokio::spawn(async move {
        let writer = run_watch(name, api.clone(), trim, writer, &h, &liveness).await;
        // Only reached when the server cannot be watched: poll it instead.
        lock(&h).note = Some("polled: the server does not support watch".into());
        run_poll(name, api, trim, writer, poll_every, &h, &liveness).await;
    });
    (reader, health, task)
}

/// Watch until the server shows it cannot be watched (no resourceVersion); returns the writer.
///
/// After a failure the watch is started afresh (after the backoff) rather than resumed: a
/// resumed watch says nothing until an object changes, so a server that came back with nothing
/// to report would leave the source stale. A new watcher lists first, and its `InitDone` is
/// the proof that the data is current again.
async fn run_watch<K>(
    name: &'static str,
    api: Api<K>,
    trim: fn(&mut K),
    mut writer: Writer<K>,
    health: &Mutex<Health>,
    shared: &Shared,
) -> Writer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let what = format!("watch {name}");
    // kube's default: 0.8 s doubling to 30 s, reset after 2 minutes without failures.
    let mut backoff = watcher::DefaultBackoff::default();
    let mut no_rv = 0;
    'restart: loop {
        let stream = watcher::watcher(api.clone(), watcher::Config::default());
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => {
                    let event = event.modify(trim);
                    writer.apply_watcher_event(&event);
                    match event {
                        // Init only announces a list that has not been made yet.
                        Event::Init => {}
                        Event::InitDone => {
                            let mut h = lock(health);
                            h.synced = true;
                            h.ok();
                            lock(&shared.liveness).answered();
                            backoff.reset();
                        }
                        Event::InitApply(_) | Event::Apply(_) | Event::Delete(_) => {
                            lock(health).ok();
                            lock(&shared.liveness).answered();
                        }
                    }
                }
                Err(watcher::Error::NoResourceVersion) => {
                    no_rv += 1;
                    // Twice in a row: the server never gives one.
                    if no_rv >= 2 {
                        return writer;
                    }
                    // The watcher lists again by itself.
                    tokio::time::sleep(next_wait(&mut backoff)).await;
                }
                Err(e) => {
                    let unreachable = errors::is_watcher_unreachable(&e);
                    let mapped = errors::map_watcher(&e, &what);
                    tracing::warn!("{mapped}");
                    if unreachable {
                        lock(&shared.liveness).failed(mapped.to_string());
                    } else {
                        lock(&shared.liveness).answered();
                    }
                    // A 410 Gone is routine: the watcher re-lists by itself; not a failure of
                    // the data.
                    let gone = matches!(&e, watcher::Error::WatchError(s) if s.code == 410);
                    if !gone {
                        lock(health).fail(mapped, unreachable);
                    }
                    tokio::time::sleep(next_wait(&mut backoff)).await;
                    if !gone {
                        continue 'restart;
                    }
                }
            }
        }
        return writer;
    }
}

fn next_wait(backoff: &mut watcher::DefaultBackoff) -> Duration {
    backoff.next().unwrap_or(Duration::from_secs(30))
}

async fn run_poll<K>(
    name: &'static str,
    api: Api<K>,
    trim: fn(&mut K),
    mut writer: Writer<K>,
    every: Duration,
    health: &Mutex<Health>,
    shared: &Shared,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let what = format!("list {name}");
    // A zero period panics in tokio.
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match tokio::time::timeout(
            every.max(Duration::from_secs(5)),
            api.list(&ListParams::default()),
        )
        .await
        {
            Ok(Ok(list)) => {
                writer.apply_watcher_event(&Event::Init);
                for mut obj in list.items {
                    trim(&mut obj);
                    writer.apply_watcher_event(&Event::InitApply(obj));
                }
                writer.apply_watcher_event(&Event::InitDone);
                let mut h = lock(health);
                h.synced = true;
                h.ok();
                lock(&shared.liveness).answered();
            }
            Ok(Err(e)) => {
                let unreachable = errors::is_unreachable(&e);
                let mapped = errors::map(&e, &what);
                if unreachable {
                    lock(&shared.liveness).failed(mapped.to_string());
                } else {
                    lock(&shared.liveness).answered();
                }
                lock(health).fail(mapped, unreachable);
            }
            Err(_) => {
                let mapped = ClusterError::Unavailable(format!("{what}: no answer in time"));
                lock(&shared.liveness).failed(mapped.to_string());
                lock(health).fail(mapped, true);
            }
        }
    }
}
