//! `?watch=true`: newline-delimited WatchEvents from a resourceVersion, like the apiserver's
//! watch cache: synthetic ADDED events for watches without a version (or with "0", or with
//! `sendInitialEvents`), ERROR 410 Expired for versions older than the log keeps, BOOKMARKs
//! when allowed, selector-aware ADDED/DELETED when objects enter or leave the selection,
//! `timeoutSeconds` (clamped to [`MAX_TIMEOUT`]), slow watchers dropped instead of buffered
//! without bound, and connections cut mid-watch when a `drop` fault asks for it.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::discovery::Backend;
use super::http::{Body, Media};
use super::selector::FieldSelector;
use super::state::Server;
use super::status::ApiError;
use super::store::{Change, EventType, Kind, Obj};
use super::table::{self, IncludeObject};
use super::versions::view_json;
use crate::k8s::selector::Selector;

/// The apiserver's --min-request-timeout: watches without timeoutSeconds end after this.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// The longest a watch lives, whatever `timeoutSeconds` asks (i64::MAX seconds from now
/// overflow the clock; 99999999999999999 already do on macOS, whose Instant counts
/// nanoseconds): twice the default, the longest the apiserver's own randomised
/// min-request-timeout gives a watch.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(2 * 1800);
/// How often a bookmark goes out when the client allows them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

pub struct WatchSpec {
    pub kind: Kind,
    pub backend: Backend,
    pub media: Media,
    pub include: IncludeObject,
    pub namespace: Option<String>,
    pub labels: Selector,
    pub fields: FieldSelector,
    pub timeout_seconds: Option<i64>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub resource_version: Option<String>,
    /// apiVersion and kind of bookmark objects.
    pub group_version_kind: (String, &'static str),
    /// Cut the connection (no clean end of the stream) this long after the watch starts.
    pub cut_after: Option<Duration>,
}

impl WatchSpec {
    fn selects(&self, o: &Obj) -> bool {
        self.namespace.as_ref().is_none_or(|ns| *ns == o.namespace)
            && self.labels.matches(&o.labels)
            && self.fields.matches(o)
    }

    /// The event type this watcher sees for a change, if any: an object that stops matching
    /// the selectors is DELETED for it, one that starts matching is ADDED.
    fn classify(&self, c: &Change) -> Option<EventType> {
        let now = self.selects(&c.obj);
        match c.etype {
            EventType::Added => now.then_some(EventType::Added),
            EventType::Deleted => now.then_some(EventType::Deleted),
            EventType::Modified => {
                let before = c.prev.as_ref().is_some_and(|p| self.selects(p));
                match (before, now) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        }
    }
}

struct State {
    server: Arc<Server>,
    spec: WatchSpec,
    backlog: VecDeque<Arc<Change>>,
    rx: broadcast::Receiver<Arc<Change>>,
    /// Send the "initial events end" bookmark at this version once the backlog is out.
    initial_end: Option<u64>,
    deadline: Instant,
    /// When the connection is cut (a `drop` fault).
    cut_at: Option<Instant>,
    next_bookmark: Instant,
    /// Table watches send column definitions with the first event only.
    sent_columns: bool,
    /// An ERROR event to send, then end.
    fail: Option<ApiError>,
    done: bool,
}

fn line(kind: &str, object: &str) -> Bytes {
    Bytes::from(format!("{{\"type\":\"{kind}\",\"object\":{object}}}\n"))
}

impl State {
    fn render(&mut self, c: &Change) -> Option<Bytes> {
        let etype = self.spec.classify(c)?;
        let object = match self.spec.media {
            Media::Json | Media::Discovery => view_json(self.spec.backend, &c.obj.json).ok()?,
            Media::Partial(v) => {
                let value: Value = serde_json::from_str(&c.obj.json).ok()?;
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": format!("meta.k8s.io/{v}"),
                    "metadata": value.get("metadata"),
                })
                .to_string()
            }
            Media::Table(v) => {
                let value: Value = serde_json::from_str(&c.obj.json).ok()?;
                let world_now = self.server.sim.world().now();
                let now = self.server.store().ctx(world_now).shown_now();
                let row = table::row(Some(self.spec.kind), &value, now, self.spec.include)?;
                let mut t = table::table(
                    Some(self.spec.kind),
                    vec![row],
                    json!({ "resourceVersion": c.obj.rv.to_string() }),
                    !self.sent_columns,
                );
                t["apiVersion"] = format!("meta.k8s.io/{v}").into();
                self.sent_columns = true;
                t.to_string()
            }
        };
        Some(line(etype.as_str(), &object))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let (api_version, kind) = &self.spec.group_version_kind;
        let mut meta = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": null });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({ "kind": kind, "apiVersion": api_version, "metadata": meta });
        line("BOOKMARK", &object.to_string())
    }

    /// The store's version, if every change up to it has reached this watcher.
    fn caught_up_rv(&self) -> Option<u64> {
        let store = self.server.store();
        // Changes are sent under the store's lock: an empty queue means none is in flight.
        self.rx.is_empty().then(|| store.rv())
    }

    /// The next chunk; an error cuts the connection.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        if self.done {
            return None;
        }
        if let Some(e) = self.fail.take() {
            self.done = true;
            return Some(Ok(line("ERROR", &e.to_json())));
        }
        loop {
            if let Some(c) = self.backlog.pop_front() {
                if let Some(l) = self.render(&c) {
                    return Some(Ok(l));
                }
                continue;
            }
            if let Some(rv) = self.initial_end.take() {
                return Some(Ok(self.bookmark(rv, true)));
            }
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(self.cut_at.unwrap_or(self.deadline)),
                    if self.cut_at.is_some() => {
                    self.done = true;
                    return Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "watch cut by the drop fault",
                    )));
                }
                r = self.rx.recv() => match r {
                    Ok(c) => {
                        if let Some(l) = self.render(&c) {
                            return Some(Ok(l));
                        }
                    }
                    // Too slow to keep up: end the watch; the client resumes from its last
                    // version (or relists on 410), as with the apiserver.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => {
                        self.done = true;
                        return None;
                    }
                },
                _ = tokio::time::sleep_until(self.deadline) => {
                    self.done = true;
                    return None;
                }
                _ = tokio::time::sleep_until(self.next_bookmark), if self.spec.bookmarks => {
                    self.next_bookmark = Instant::now() + BOOKMARK_EVERY;
                    if let Some(rv) = self.caught_up_rv() {
                        return Some(Ok(self.bookmark(rv, false)));
                    }
                }
            }
        }
    }
}

/// How long a watch lives: `timeoutSeconds` if positive, clamped to [`MAX_TIMEOUT`].
fn watch_timeout(timeout_seconds: Option<i64>) -> Duration {
    match timeout_seconds {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()).min(MAX_TIMEOUT),
        _ => DEFAULT_TIMEOUT,
    }
}

pub fn serve(server: Arc<Server>, spec: WatchSpec) -> Result<Response<Body>, ApiError> {
    let asked = match spec.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v}")))?,
        ),
    };
    let (backlog, rx, initial_end, fail) = {
        let store = server.fresh();
        let current = store.rv();
        if let Some(a) = asked
            && a > current
        {
            return Err(ApiError::too_large_resource_version(a, current));
        }
        match asked {
            Some(from) if !spec.send_initial_events => match store.watch_from(spec.kind, from) {
                Ok((backlog, rx)) => (backlog, rx, None, None),
                // The apiserver answers 200 and sends the 410 as the watch's only event.
                Err(too_old) => {
                    let (_, rx) = store.watch_all(spec.kind);
                    let e = ApiError::expired(format!(
                        "too old resource version: {from} ({})",
                        too_old.oldest
                    ));
                    (Vec::new(), rx, None, Some(e))
                }
            },
            _ => {
                let (added, rx) = store.watch_all(spec.kind);
                let end = (spec.send_initial_events && spec.bookmarks).then_some(current);
                (added, rx, end, None)
            }
        }
    };
    let timeout = watch_timeout(spec.timeout_seconds);
    let now = Instant::now();
    // A watch that times out first ends cleanly.
    let cut_at = spec.cut_after.filter(|d| *d < timeout).map(|d| now + d);
    let content_type = match spec.media {
        Media::Table(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
        _ => "application/json".to_string(),
    };
    let state = State {
        server,
        spec,
        backlog: backlog.into(),
        rx,
        initial_end,
        deadline: now + timeout,
        cut_at,
        next_bookmark: now + BOOKMARK_EVERY,
        sent_columns: false,
        fail,
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        let chunk = st.next().await?;
        Some((chunk.map(Frame::data), st))
    });
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use http_body_util::BodyExt;

    use super::*;
    use crate::model::DeploymentKey;
    use crate::sim::serve::Options;
    use crate::sim::serve::state::Server;
    use crate::sim::serve::store::Store;
    use crate::sim::{SimCluster, SimWorld, scenario};

    fn server() -> Arc<Server> {
        let sim = SimCluster::new(SimWorld::new(3, scenario::demo()));
        let server = Arc::new(Server {
            sim,
            store: Mutex::new(Store::new(3, 0)),
            options: Options::default(),
        });
        drop(server.fresh());
        server
    }

    fn spec(resource_version: Option<String>) -> WatchSpec {
        WatchSpec {
            kind: Kind::Deployment,
            backend: Backend::Stored(Kind::Deployment),
            media: Media::Json,
            include: IncludeObject::Metadata,
            namespace: Some("payments".into()),
            labels: Selector::default(),
            fields: FieldSelector::default(),
            timeout_seconds: Some(30),
            bookmarks: false,
            send_initial_events: false,
            resource_version,
            group_version_kind: ("apps/v1".into(), "Deployment"),
            cut_after: None,
        }
    }

    #[test]
    fn huge_timeouts_are_clamped_not_overflowed() {
        assert_eq!(watch_timeout(Some(99_999_999_999_999_999)), MAX_TIMEOUT);
        assert_eq!(watch_timeout(Some(i64::MAX)), MAX_TIMEOUT);
        assert_eq!(watch_timeout(Some(5)), Duration::from_secs(5));
        assert_eq!(watch_timeout(Some(0)), DEFAULT_TIMEOUT);
        assert_eq!(watch_timeout(Some(i64::MIN)), DEFAULT_TIMEOUT);
        assert_eq!(watch_timeout(None), DEFAULT_TIMEOUT);
    }

    #[tokio::test]
    async fn a_watch_with_a_huge_timeout_is_served() {
        let server = server();
        let mut s = spec(None);
        // Added to now this overflows the clock (99999999999999999 already does on macOS,
        // whose Instant counts nanoseconds).
        s.timeout_seconds = Some(i64::MAX);
        let mut body = serve(server, s).expect("watch").into_body();
        let first = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an initial event")
            .expect("a frame")
            .expect("not cut");
        let data = first.into_data().expect("data");
        assert!(data.starts_with(b"{\"type\":\"ADDED\""));
    }

    #[tokio::test]
    async fn a_cut_watch_ends_with_an_error_not_a_clean_end() {
        let server = server();
        let mut s = spec(Some(server.store().rv().to_string()));
        s.cut_after = Some(Duration::from_millis(200));
        let body = serve(server, s).expect("watch").into_body();
        let started = std::time::Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("cut long before the 30 s timeout");
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionAborted)
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    fn annotate(server: &Server, n: usize) {
        let key = DeploymentKey::new("payments", "ledger");
        let (mut w, mut store) = server.both();
        w.set_annotations(&key, BTreeMap::from([("n".to_string(), n.to_string())]))
            .expect("annotate");
        store.sync_key(&w, &key);
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_dropped_not_buffered() {
        let server = server();
        let rv = server.store().rv().to_string();
        let body = serve(server.clone(), spec(Some(rv)))
            .expect("watch")
            .into_body();
        // Nobody reads while more changes happen than a watcher may lag behind.
        for n in 0..crate::sim::serve::store::BROADCAST_CAPACITY + 10 {
            annotate(&server, n);
        }
        let collected = tokio::time::timeout(Duration::from_secs(20), body.collect())
            .await
            .expect("the stream ends at once, long before its 30 s timeout")
            .expect("body");
        assert!(collected.to_bytes().is_empty());
    }

    #[tokio::test]
    async fn selectors_turn_leaving_objects_into_deletes() {
        let server = server();
        let rv = server.store().rv().to_string();
        let mut s = spec(Some(rv));
        s.labels = Selector::parse("team=payments").expect("selector");
        s.timeout_seconds = Some(1);
        let body = serve(server.clone(), s).expect("watch").into_body();
        let key = DeploymentKey::new("payments", "ledger");
        for labels in [
            BTreeMap::from([("team".to_string(), "payments".to_string())]),
            BTreeMap::new(),
        ] {
            let (mut w, mut store) = server.both();
            w.set_labels(&key, labels).expect("label");
            store.sync_key(&w, &key);
        }
        let bytes = body.collect().await.expect("body").to_bytes();
        let types: Vec<String> = String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("event");
                v["type"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        assert_eq!(types, ["ADDED", "DELETED"]);
    }
}
