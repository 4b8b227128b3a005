//! The journal: every apply, edit, scale, undo, dismiss and autopilot action, appended as one
//! JSON line to `DATA_DIR/journal.jsonl`. Opened in append mode and synced per entry: it
//! survives restarts and crashes, and the app never truncates or rewrites it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::plan::{Change, Intent};
use crate::model::{RecommendationSource, ScalingAction, UnixSeconds};

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
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
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

/// Append-only journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    pub fn open(data_dir: &Path) -> std::io::Result<Journal> {
        // What was changed where is private: 0600 in a 0700 dir.
        crate::private_files::ensure_dir(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        let mut file =
            crate::private_files::open(&path, OpenOptions::new().create(true).append(true))?;
        // A crash mid-write can leave a last line without its newline: end it, so the next
        // entry starts a line of its own and only the torn one is lost.
        if ends_without_newline(&path)? {
            file.write_all(b"\n")?;
        }
        Ok(Journal {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry and sync it to disk.
    pub fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// The last `n` entries, oldest first; lines that do not parse are skipped (a line cut by
    /// a crash must not hide the rest).
    pub fn recent(&self, n: usize) -> std::io::Result<Vec<Entry>> {
        read_recent(&self.path, n)
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
            outcome: Outcome {
                ok: true,
                error: None,
                dry_run: false,
            },
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
}
