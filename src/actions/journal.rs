//! The journal: every apply, edit, scale, undo, dismiss and autopilot action, appended as JSON
//! lines to `DATA_DIR/journal.jsonl`. Opened in append mode and synced per entry: it survives
//! restarts and crashes, and the app never truncates or rewrites it.
//!
//! A write is two lines with one `id`: its intent (`outcome.pending`), synced before anything is
//! sent, and its outcome after. An intent with no outcome is a write a crash interrupted: it
//! may or may not have reached the cluster (`unfinished`). Refusals, dry runs and dismissals
//! write nothing and are one line without an id.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::plan::Intent;
use crate::cluster::Change;
use crate::model::{DeploymentKey, RecommendationSource, ScalingAction, UnixSeconds};

pub const FILE_NAME: &str = "journal.jsonl";

/// What the journal keeps of a recommendation (its inputs are in the recommendation JSON of
/// `ai4k8s recommend`; the journal keeps what explains the decision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommendationNote {
    pub action: ScalingAction,
    pub target_replicas: u32,
    pub confidence: f64,
    pub source: RecommendationSource,
    pub model: Option<String>,
    pub reasoning: String,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Apply,
    Edit,
    Scale,
    Undo,
    Dismiss,
    Predictive,
    CreateHpa,
    Autopilot,
}

impl From<Intent> for EntryKind {
    fn from(i: Intent) -> Self {
        match i {
            Intent::Apply => EntryKind::Apply,
            Intent::Edit => EntryKind::Edit,
            Intent::Scale => EntryKind::Scale,
            Intent::Undo => EntryKind::Undo,
            Intent::Predictive => EntryKind::Predictive,
            Intent::CreateHpa => EntryKind::CreateHpa,
            Intent::Autopilot => EntryKind::Autopilot,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    /// The server's (or the guard's) reason when not ok.
    pub error: Option<String>,
    /// Nothing was written (autopilot --dry-run).
    #[serde(default)]
    pub dry_run: bool,
    /// The intent line of a write about to be made; its outcome follows with the same id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

impl Outcome {
    pub fn pending() -> Self {
        Self {
            ok: false,
            error: None,
            dry_run: false,
            pending: true,
        }
    }

    pub fn done() -> Self {
        Self {
            ok: true,
            error: None,
            dry_run: false,
            pending: false,
        }
    }

    pub fn failed(error: String) -> Self {
        Self {
            ok: false,
            error: Some(error),
            dry_run: false,
            pending: false,
        }
    }
}

/// An id that ties a write's intent to its outcome: unique across processes sharing the file.
pub fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{nanos:x}", std::process::id())
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Shared by a write's intent and outcome lines (None: a one-line entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Wall clock, RFC 3339.
    pub time: String,
    /// The cluster's clock (the simulator's virtual time in demo).
    pub cluster_time: UnixSeconds,
    pub user: String,
    pub context: String,
    pub namespace: String,
    pub name: String,
    pub kind: EntryKind,
    /// Object, field, before and after of each change.
    pub changes: Vec<Change>,
    pub reason: String,
    pub recommendation: Option<RecommendationNote>,
    pub outcome: Outcome,
}

/// Append-only journal file. Each append opens it anew (writes are rare), so a journal moved
/// or deleted while the app runs is recreated, and a failing one fails the next append
/// instead of writing into a file nobody reads.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// One append at a time within this process (each is one `write` in append mode, which
    /// keeps lines whole across processes too).
    appending: Mutex<()>,
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    crate::private_files::open(path, OpenOptions::new().create(true).append(true))
}

impl Journal {
    pub fn open(data_dir: &Path) -> std::io::Result<Journal> {
        // What was changed where is private: 0600 in a 0700 dir.
        crate::private_files::ensure_dir(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        let mut file = open_for_append(&path)?;
        // A crash mid-write can leave a last line without its newline: end it, so the next
        // entry starts a line of its own and only the torn one is lost.
        if ends_without_newline(&path)? {
            file.write_all(b"\n")?;
        }
        Ok(Journal {
            path,
            appending: Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry and sync it to disk.
    pub fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        let _one = self.appending.lock().unwrap_or_else(|p| p.into_inner());
        let mut f = open_for_append(&self.path)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// The last `n` entries, oldest first; lines that do not parse are skipped (a line cut by
    /// a crash must not hide the rest). A write whose outcome is known shows as its outcome
    /// alone; an intent without one stays (it says the write may have happened).
    pub fn recent(&self, n: usize) -> std::io::Result<Vec<Entry>> {
        read_recent(&self.path, n)
    }

    /// Writes whose intent was journalled but whose outcome never was (among the last
    /// `UNFINISHED_SCAN` lines): a crash or kill between the two, so the cluster may or may
    /// not have the change.
    pub fn unfinished(&self) -> std::io::Result<Vec<Entry>> {
        let all = read_lines(&self.path, UNFINISHED_SCAN)?;
        let finished = finished_ids(&all);
        Ok(all
            .into_iter()
            .filter(|e| open_intent(e, &finished))
            .collect())
    }
}

impl Journal {
    /// Close the writes a crash interrupted (see `unfinished`) with an outcome line saying the
    /// outcome is unknown, and return them so the caller can show them once. A write another
    /// live process is making right now is left alone.
    pub fn close_unfinished(&self) -> std::io::Result<Vec<Entry>> {
        let now = chrono::Utc::now();
        let mut closed = Vec::new();
        for intent in self.unfinished()? {
            let age = chrono::DateTime::parse_from_rfc3339(&intent.time).map_or(i64::MAX, |t| {
                (now - t.with_timezone(&chrono::Utc)).num_seconds()
            });
            let writer = intent.id.as_deref().and_then(pid_of);
            if age < IN_FLIGHT_SECONDS && writer.is_some_and(process_alive) {
                continue;
            }
            let outcome = Entry {
                time: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                outcome: Outcome::failed(
                    "interrupted before its outcome was recorded: the cluster may or may not \
                     have this change"
                        .into(),
                ),
                ..intent.clone()
            };
            self.append(&outcome)?;
            closed.push(intent);
        }
        Ok(closed)
    }
}

/// How far back `unfinished` looks.
const UNFINISHED_SCAN: usize = 10_000;

/// Longer than any write takes (each request is bounded by the request timeout).
const IN_FLIGHT_SECONDS: i64 = 600;

fn pid_of(id: &str) -> Option<u32> {
    u32::from_str_radix(id.split('-').next()?, 16).ok()
}

/// Whether a process with this pid runs (and is not this one: our own intents are closed
/// before this process writes anything).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        #[allow(unsafe_code)]
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

fn ends_without_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

pub fn read_recent(path: &Path, n: usize) -> std::io::Result<Vec<Entry>> {
    // Read a little more than `n`: intents folded into their outcomes take no room.
    let lines = read_lines(path, n.saturating_mul(2))?;
    let finished = finished_ids(&lines);
    let mut out: Vec<Entry> = lines
        .into_iter()
        .filter(|e| !e.outcome.pending || open_intent(e, &finished))
        .collect();
    let extra = out.len().saturating_sub(n);
    out.drain(..extra);
    Ok(out)
}

/// The ids of the writes whose outcome line is among `entries`.
fn finished_ids(entries: &[Entry]) -> HashSet<String> {
    entries
        .iter()
        .filter(|e| !e.outcome.pending)
        .filter_map(|e| e.id.clone())
        .collect()
}

/// An intent line whose outcome is not among `finished`.
fn open_intent(e: &Entry, finished: &HashSet<String>) -> bool {
    e.outcome.pending && e.id.as_ref().is_none_or(|id| !finished.contains(id))
}

/// The last `n` lines that parse, oldest first.
fn read_lines(path: &Path, n: usize) -> std::io::Result<Vec<Entry>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = std::collections::VecDeque::with_capacity(n.min(1024));
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { continue };
        if let Ok(e) = serde_json::from_str::<Entry>(&line) {
            if out.len() == n {
                out.pop_front();
            }
            out.push_back(e);
        }
    }
    Ok(out.into())
}

/// Writes a crash interrupted (journalled intent, no outcome), closed in the journal and told
/// once: the cluster may or may not have them.
pub fn interrupted_writes(journal: &Journal) -> Option<String> {
    let closed = match journal.close_unfinished() {
        Ok(c) => c,
        Err(e) => return Some(format!("journal: cannot check for interrupted writes: {e}")),
    };
    let first = closed.first()?;
    let what: Vec<String> = first
        .changes
        .iter()
        .map(|c| c.describe(&DeploymentKey::new(&first.namespace, &first.name)))
        .collect();
    let more = match closed.len() {
        1 => String::new(),
        n => format!(" (and {} more, see the journal: J)", n - 1),
    };
    Some(format!(
        "interrupted write at {}: {}/{} {}: outcome unknown, check the cluster{more}",
        first.time,
        first.namespace,
        first.name,
        what.join("; ")
    ))
}

/// The latest dismissal per deployment, from the journal (dismissals survive restarts).
pub fn dismissed(journal: &Journal) -> Vec<(DeploymentKey, ScalingAction, u32)> {
    let mut latest: HashMap<DeploymentKey, (ScalingAction, u32)> = HashMap::new();
    for e in journal.recent(2_000).unwrap_or_default() {
        if e.kind == EntryKind::Dismiss
            && let Some(r) = &e.recommendation
        {
            latest.insert(
                DeploymentKey::new(e.namespace, e.name),
                (r.action, r.target_replicas),
            );
        }
    }
    latest.into_iter().map(|(k, (a, t))| (k, a, t)).collect()
}

/// The user a journal entry is attributed to.
pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            id: None,
            time: "2026-01-01T00:00:00Z".into(),
            cluster_time: 0,
            user: "sre".into(),
            context: "demo".into(),
            namespace: "ns".into(),
            name: name.into(),
            kind: EntryKind::Scale,
            changes: vec![Change::Scale { from: 2, to: 3 }],
            reason: "by hand".into(),
            recommendation: None,
            outcome: Outcome::done(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_journal_is_private_and_an_old_open_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let j = Journal::open(&data).expect("open");
        j.append(&entry("a")).expect("append");
        assert_eq!((mode(&data), mode(j.path())), (0o700, 0o600));
        let path = j.path().to_path_buf();
        drop(j);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let j = Journal::open(&data).expect("reopen");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(j.recent(5).expect("read").len(), 1, "content kept");
    }

    #[test]
    fn entries_append_survive_reopening_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path()).expect("open");
        j.append(&entry("a")).expect("append");
        j.append(&entry("b")).expect("append");
        drop(j);
        // A crash mid-write leaves a partial last line.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE_NAME))
            .expect("f");
        f.write_all(b"{\"time\":\"2026").expect("torn");
        drop(f);
        let j = Journal::open(dir.path()).expect("reopen");
        j.append(&entry("c")).expect("append after torn line");
        let names: Vec<String> = j
            .recent(10)
            .expect("read")
            .into_iter()
            .map(|e| e.name)
            .collect();
        // Only the torn line is lost; nothing was truncated.
        assert_eq!(names, ["a", "b", "c"]);
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).expect("text");
        assert!(text.starts_with("{\"time\""));
        assert_eq!(j.recent(1).expect("read").len(), 1);
    }

    #[test]
    fn an_intent_without_its_outcome_is_unfinished_and_one_with_it_folds_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path()).expect("open");
        let with = |name: &str, id: &str, outcome: Outcome| Entry {
            id: Some(id.into()),
            outcome,
            ..entry(name)
        };
        j.append(&with("done", "1", Outcome::pending()))
            .expect("intent");
        j.append(&with("done", "1", Outcome::done()))
            .expect("outcome");
        j.append(&with("crashed", "2", Outcome::pending()))
            .expect("intent");
        j.append(&entry("refused")).expect("one line");
        j.append(&with("failed", "3", Outcome::pending()))
            .expect("intent");
        j.append(&with("failed", "3", Outcome::failed("409".into())))
            .expect("outcome");
        let unfinished: Vec<String> = j
            .unfinished()
            .expect("scan")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(unfinished, ["crashed"]);
        let shown: Vec<(String, bool)> = j
            .recent(10)
            .expect("read")
            .into_iter()
            .map(|e| (e.name, e.outcome.pending))
            .collect();
        assert_eq!(
            shown,
            [
                ("done".to_string(), false),
                ("crashed".to_string(), true),
                ("refused".to_string(), false),
                ("failed".to_string(), false),
            ]
        );
        assert_eq!(j.recent(2).expect("read").len(), 2);
        // Closed at start: shown once, then recorded as interrupted.
        let closed = j.close_unfinished().expect("close");
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].name, "crashed");
        assert!(j.unfinished().expect("scan").is_empty());
        let last = j.recent(1).expect("read");
        assert!(
            last[0]
                .outcome
                .error
                .as_deref()
                .is_some_and(|e| e.contains("may or may not have this change")),
            "{last:?}"
        );
    }

    #[test]
    fn a_write_another_live_process_is_making_is_not_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path()).expect("open");
        // pid 1 (init) is alive; a fresh intent of it is in flight.
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let intent = Entry {
            id: Some(format!("{:x}-{:x}", 1, 42)),
            time: now,
            outcome: Outcome::pending(),
            ..entry("in-flight")
        };
        j.append(&intent).expect("intent");
        assert!(j.close_unfinished().expect("close").is_empty());
        assert_eq!(j.unfinished().expect("scan").len(), 1);
    }
}
