//! The LLM state shared by every ai4k8s on one data dir (the TUI and the autopilot, two
//! `recommend` runs, two TUI sessions): one SQLite file, `llm-state.sqlite3`.
//!
//! Every read-modify-write runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's write
//! lock before the read, so "check the budget, count the request" is one step for all
//! processes together and two processes cannot both spend the last request. No transaction is
//! held across a network call. The budget is a row of its own (typed columns, readable with
//! the `sqlite3` shell); the rest (cache, last calls, memory, placeholders) is one JSON
//! document with a generation number, re-read only when another writer has moved it on.
//!
//! Faults: a file that is not a database (or is corrupt) is set aside as `.corrupt` and the
//! budget is closed until the next UTC day, since today's spending is unknown: the limit is
//! a promise about spending, and a fresh count could break it (repeatedly, if the file keeps
//! breaking). A damaged JSON document loses only cache and memory; the budget row stands.
//! Any other SQLite error fails the call closed (no request) with the reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::budget::{Budget, Closed};
use super::state::{self, Legacy, Persisted};

pub const FILE_NAME: &str = "llm-state.sqlite3";
const SCHEMA_VERSION: i64 = 1;
/// How long to wait for another process's transaction (they last milliseconds).
const BUSY_WAIT: Duration = Duration::from_secs(5);

pub struct SharedState {
    conn: Connection,
    path: PathBuf,
    /// Generation of the document this process last read or wrote.
    seen: i64,
}

/// What a transaction sees: the budget always, the rest when another writer changed it.
pub struct Loaded {
    pub budget: Budget,
    pub changed: Option<Persisted>,
}

impl SharedState {
    /// Open (creating, migrating a legacy `llm-state.json`, setting aside a corrupt file) the
    /// state in `data_dir`. Returns the state to start from and warnings for the log.
    pub fn open(data_dir: &Path) -> Result<(SharedState, Persisted, Vec<String>), String> {
        let path = data_dir.join(FILE_NAME);
        let shown = path.display().to_string();
        crate::private_files::ensure_dir(data_dir).map_err(|e| format!("{shown}: {e}"))?;
        let mut warnings = vec![];
        // A second try: another process may have just set the damaged file aside itself.
        let mut db = match Self::connect(&path).or_else(|_| Self::connect(&path)) {
            Ok(db) => db,
            Err(Refused::Damaged(e)) => {
                let aside = set_aside(&path).map_err(|e| format!("{shown}: {e}"))?;
                let why = format!(
                    "LLM state {shown} was damaged ({e}); set aside as {}",
                    aside.display()
                );
                warnings.push(format!(
                    "{why}; no LLM requests until 00:00 UTC: today's spending is unknown"
                ));
                let mut db = Self::connect(&path).map_err(|e| format!("{shown}: {e}"))?;
                db.transact(|mut loaded| {
                    loaded.budget.close(why);
                    let state = Persisted {
                        budget: loaded.budget,
                        ..Persisted::default()
                    };
                    ((), Some(state))
                })?;
                db
            }
            Err(e) => return Err(format!("{shown}: {e}")),
        };
        db.migrate(data_dir, &mut warnings)?;
        // The starting state: read it whole, whatever generation.
        db.seen = -1;
        let start = db.transact(|loaded| {
            let mut p = loaded.changed.unwrap_or_default();
            p.budget = loaded.budget;
            (p, None)
        })?;
        Ok((db, start, warnings))
    }

    fn connect(path: &Path) -> Result<SharedState, Refused> {
        crate::private_files::sqlite(path).map_err(|e| Refused::Other(e.to_string()))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_WAIT)?;
        // `user_version` is the first read: a file that is not a database fails here.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Refused::Other(format!(
                "written by a newer ai4k8s (schema {version}, this one knows {SCHEMA_VERSION})"
            )));
        }
        // WAL: a commit is atomic if the process dies mid-write. FULL: a counted request is
        // on disk before the request is sent, even across a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS budget (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 cluster_day INTEGER NOT NULL,
                 cluster_used INTEGER NOT NULL,
                 wall_day INTEGER NOT NULL,
                 wall_used INTEGER NOT NULL,
                 closed_reason TEXT,
                 closed_day INTEGER
             );
             CREATE TABLE IF NOT EXISTS document (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 generation INTEGER NOT NULL,
                 json TEXT NOT NULL
             );
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
        Ok(SharedState {
            conn,
            path: path.to_path_buf(),
            seen: 0,
        })
    }

    /// A first start after an older version: its `llm-state.json` becomes the shared state
    /// (once, whichever process gets there first) and is renamed `.migrated`. An unusable one
    /// closes today's budget, like a damaged database.
    fn migrate(&mut self, data_dir: &Path, warnings: &mut Vec<String>) -> Result<(), String> {
        let legacy = state::legacy_path_in(data_dir);
        self.seen = -1; // so `changed` says whether there is a document at all
        let note = self.transact(|loaded| {
            if loaded.changed.is_some() {
                return (None, None); // already has a document: migrated or in use
            }
            match state::read_legacy(&legacy) {
                Legacy::Absent => (None, Some(Persisted::default())),
                Legacy::Found(p) => (Some(Ok(())), Some(*p)),
                Legacy::Unusable(why) => {
                    let why = format!("LLM state {} is {why}", legacy.display());
                    let mut budget = loaded.budget;
                    budget.close(why.clone());
                    let p = Persisted {
                        budget,
                        ..Persisted::default()
                    };
                    (Some(Err(why)), Some(p))
                }
            }
        })?;
        let suffix = match &note {
            None => return Ok(()),
            Some(Ok(())) => "json.migrated",
            Some(Err(_)) => "json.corrupt",
        };
        let moved = legacy.with_extension(suffix);
        if let Err(e) = std::fs::rename(&legacy, &moved) {
            warnings.push(format!("cannot rename {}: {e}", legacy.display()));
        }
        let _ = crate::private_files::tighten(&moved);
        match note {
            Some(Ok(())) => warnings.push(format!(
                "LLM state migrated from {} (kept as {})",
                legacy.display(),
                moved.display()
            )),
            Some(Err(why)) => warnings.push(format!(
                "{why}; set aside as {}; no LLM requests until 00:00 UTC: today's spending is \
                 unknown",
                moved.display()
            )),
            None => {}
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` holding the write lock of every process on this data dir. `f` gets the budget
    /// and, when another writer moved it on, the document; what it returns to write (the
    /// budget inside it included) is committed before the lock is released.
    pub fn transact<R>(
        &mut self,
        f: impl FnOnce(Loaded) -> (R, Option<Persisted>),
    ) -> Result<R, String> {
        let shown = self.path.display().to_string();
        let err = |e: rusqlite::Error| format!("{shown}: {e}");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let budget = read_budget(&tx).map_err(err)?;
        // The generation first: the document (a fleet's cache and memory) is only read when
        // another process changed it.
        let generation: i64 = tx
            .query_row("SELECT generation FROM document WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?
            .unwrap_or(0);
        let doc: Option<(i64, String)> = if generation != self.seen {
            tx.query_row(
                "SELECT generation, json FROM document WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?
        } else {
            None
        };
        let changed = match doc {
            Some((g, json)) if g != self.seen => Some(state::from_json(&json).unwrap_or_else(|why| {
                // Cache and memory are lost, never the budget: it has its own row.
                tracing::warn!(path = %shown, "LLM state document {why}; cache and memory start afresh");
                Persisted::default()
            })),
            _ => None,
        };
        let (out, write) = f(Loaded { budget, changed });
        let mut seen = generation;
        if let Some(p) = write {
            write_budget(&tx, &p.budget).map_err(err)?;
            let json = state::to_json(&Persisted {
                budget: Budget::default(), // the row is the budget
                ..p
            })
            .map_err(|e| format!("{shown}: {e}"))?;
            seen = generation + 1;
            tx.execute(
                "INSERT INTO document (id, generation, json) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET generation = ?1, json = ?2",
                params![seen, json],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.seen = seen;
        Ok(out)
    }
}

fn read_budget(conn: &Connection) -> rusqlite::Result<Budget> {
    // A count that does not fit (a hand-edited file) reads as spent: fail closed.
    let count = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let row = conn
        .query_row(
            "SELECT cluster_day, cluster_used, wall_day, wall_used, closed_reason, closed_day
             FROM budget WHERE id = 1",
            [],
            |r| {
                Ok(Budget {
                    cluster_day: r.get(0)?,
                    cluster_used: count(r.get(1)?),
                    wall_day: r.get(2)?,
                    wall_used: count(r.get(3)?),
                    closed: r.get::<_, Option<String>>(4)?.map(|reason| Closed {
                        reason,
                        wall_day: r.get(5).ok().flatten(),
                    }),
                })
            },
        )
        .optional()?;
    Ok(row.unwrap_or_default())
}

fn write_budget(conn: &Connection, b: &Budget) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO budget (id, cluster_day, cluster_used, wall_day, wall_used, closed_reason,
                             closed_day)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET cluster_day = ?1, cluster_used = ?2, wall_day = ?3,
             wall_used = ?4, closed_reason = ?5, closed_day = ?6",
        params![
            b.cluster_day,
            b.cluster_used,
            b.wall_day,
            b.wall_used,
            b.closed.as_ref().map(|c| c.reason.as_str()),
            b.closed.as_ref().and_then(|c| c.wall_day),
        ],
    )
    .map(drop)
}

/// Why a database could not be opened: damaged (set it aside) or anything else (say so).
#[derive(Debug)]
enum Refused {
    Damaged(rusqlite::Error),
    Other(String),
}

impl From<rusqlite::Error> for Refused {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Refused::Damaged(e),
            _ => Refused::Other(e.to_string()),
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Damaged(e) => write!(f, "{e}"),
            Refused::Other(e) => f.write_str(e),
        }
    }
}

/// Move a damaged database (and its -wal/-shm, which belong to it) out of the way.
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let aside = path.with_extension("sqlite3.corrupt");
    std::fs::rename(path, &aside)?;
    crate::private_files::tighten(&aside)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(Path::new(&side));
    }
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(db: &mut SharedState, limit: u32) -> bool {
        db.transact(|loaded| {
            let mut b = loaded.budget;
            b.roll(0, 0);
            if b.remaining(limit) == 0 {
                return (false, None);
            }
            b.spend();
            let p = Persisted {
                budget: b,
                ..loaded.changed.unwrap_or_default()
            };
            (true, Some(p))
        })
        .expect("transaction")
    }

    #[test]
    fn two_connections_share_one_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut a, _, _) = SharedState::open(dir.path()).expect("a");
        let (mut b, _, _) = SharedState::open(dir.path()).expect("b");
        let spent: Vec<bool> = (0..6)
            .map(|i| {
                if i % 2 == 0 {
                    spend(&mut a, 4)
                } else {
                    spend(&mut b, 4)
                }
            })
            .collect();
        assert_eq!(spent, [true, true, true, true, false, false]);
    }

    #[test]
    fn the_document_is_reread_only_after_another_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut a, _, _) = SharedState::open(dir.path()).expect("a");
        let (mut b, _, _) = SharedState::open(dir.path()).expect("b");
        let mut p = Persisted::default();
        p.retired_models.push("old".into());
        a.transact(|_| ((), Some(p.clone()))).expect("write");
        let seen_by_a = a.transact(|l| (l.changed.is_some(), None)).expect("a");
        assert!(!seen_by_a, "its own write is not news");
        let seen_by_b = b.transact(|l| (l.changed, None)).expect("b");
        assert_eq!(
            seen_by_b.map(|p| p.retired_models),
            Some(vec!["old".into()])
        );
        assert!(!b.transact(|l| (l.changed.is_some(), None)).expect("b"));
    }

    #[test]
    fn a_legacy_json_state_is_migrated_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut old = Persisted::default();
        old.budget.wall_day = 5;
        old.budget.wall_used = 3;
        old.last_calls.insert("ns/a".into(), 99);
        std::fs::write(
            state::legacy_path_in(dir.path()),
            state::to_json(&old).expect("json"),
        )
        .expect("write");
        let (_, start, warnings) = SharedState::open(dir.path()).expect("open");
        assert_eq!((start.budget.wall_used, start.last_calls.len()), (3, 1));
        assert!(warnings[0].contains("migrated"), "{warnings:?}");
        assert!(dir.path().join("llm-state.json.migrated").exists());
        let (_, again, warnings) = SharedState::open(dir.path()).expect("reopen");
        assert_eq!(again.budget.wall_used, 3);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn damage_closes_the_budget_and_keeps_the_evidence() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A damaged database file.
        std::fs::write(
            dir.path().join(FILE_NAME),
            "not a database at all, not at all",
        )
        .expect("write");
        let (mut db, start, warnings) = SharedState::open(dir.path()).expect("open");
        assert!(start.budget.closed.is_some(), "{:?}", start.budget);
        assert!(warnings[0].contains("until 00:00 UTC"), "{warnings:?}");
        assert!(dir.path().join("llm-state.sqlite3.corrupt").exists());
        assert!(!spend(&mut db, 4), "closed: no request");
        drop(db);

        // A damaged legacy JSON file.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(state::legacy_path_in(dir.path()), "{ torn").expect("write");
        let (_, start, warnings) = SharedState::open(dir.path()).expect("open");
        let closed = start.budget.closed.expect("closed");
        assert!(closed.reason.contains("corrupt"), "{}", closed.reason);
        assert!(
            warnings[0].contains("llm-state.json.corrupt"),
            "{warnings:?}"
        );

        // A damaged document inside a sound database loses cache and memory, not the budget.
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut db, _, _) = SharedState::open(dir.path()).expect("open");
        assert!(spend(&mut db, 4));
        db.conn
            .execute("UPDATE document SET json = '{torn', generation = 99", [])
            .expect("damage");
        db.seen = 0;
        let (used, changed) = db
            .transact(|l| ((l.budget.wall_used, l.changed), None))
            .expect("read");
        assert_eq!((used, changed), (1, Some(Persisted::default())));
    }
}
