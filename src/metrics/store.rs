//! Persistent per-deployment history: one SQLite file in the data dir.
//!
//! Why SQLite (rusqlite, bundled): its WAL journal makes every transaction atomic across a
//! killed process or a power cut, which is the property the store exists for; thinning is one
//! `INSERT … SELECT … GROUP BY`; and the file can be inspected with the `sqlite3` shell.
//!
//! Layout: `series` names each (kube context, namespace, name) once; `minute` holds 1-minute
//! samples for `Retention::minutes_for`; older minutes are folded into `five_minute` (mean and
//! max per 5 minutes) kept for `Retention::thinned_for`, then dropped. Percentages are stored as
//! integer hundredths of a percent (0.01 pp is far below metric noise; SQLite stores small
//! integers in 1–3 bytes instead of 8 for a REAL), NULL when unknown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::History;
use crate::model::{DeploymentKey, Sample, UnixSeconds};

/// The store's file name in the data dir.
pub const FILE_NAME: &str = "history.sqlite3";
/// Schema version in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;
const DAY: i64 = 24 * 3600;
/// Width of a thinned point.
pub const THINNED_STEP: i64 = 300;

/// How long each resolution is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Seconds of 1-minute samples kept (the forecasters' window).
    pub minutes_for: i64,
    /// Seconds (from now) of 5-minute points kept; older ones are dropped.
    pub thinned_for: i64,
}

impl Default for Retention {
    /// Minutes for the day the engine keeps minute by minute (`history::FULL_MINUTES`); older
    /// history is what the engine keeps of it too, 5-minute mean and peak (1,000 deployments'
    /// 14 days: about 5 M rows instead of 20 M).
    fn default() -> Self {
        Self {
            minutes_for: DAY,
            thinned_for: 60 * DAY,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("history store {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "history store {path}: written by a newer ai4k8s (schema {found}, this one knows {SCHEMA_VERSION})"
    )]
    NewerSchema { path: String, found: i64 },
    #[error("history store {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("history store writer stopped")]
    WriterGone,
}

/// A 5-minute point made from the minutes it covers (stamped at its end, like minute samples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThinnedPoint {
    pub timestamp: UnixSeconds,
    pub cpu_mean: f64,
    pub cpu_max: f64,
    pub mem_mean: f64,
    pub mem_max: f64,
    /// The largest replica and ready counts within the 5 minutes.
    pub replicas: u32,
    pub ready: u32,
    /// Minute samples it was made from.
    pub minutes: u32,
}

/// What one thinning pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThinStats {
    pub minutes_folded: usize,
    pub points_made: usize,
    pub points_dropped: usize,
}

/// The store, used from one thread (the writer thread in the app; tests use it directly).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    retention: Retention,
    /// (context, namespace, name) → series id; cleared whenever ids may have changed.
    ids: HashMap<(String, String, String), i64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn to_centi(v: f64) -> Option<i64> {
    // `as` saturates, so absurd values cannot wrap.
    v.is_finite().then(|| (v * 100.0).round() as i64)
}

fn from_centi(v: Option<i64>) -> f64 {
    v.map(|c| c as f64 / 100.0).unwrap_or(f64::NAN)
}

fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// The five minute samples a 5-minute point (stamped at its end) stands for: its mean, with its
/// peak in the middle minute (where in the 5 minutes it was is not stored). Replicas and ready
/// are the point's largest.
fn expand_point(
    end: UnixSeconds,
    cpu_mean: f64,
    cpu_max: f64,
    mem_mean: f64,
    replicas: u32,
    ready: u32,
    out: &mut Vec<Sample>,
) {
    let rest = if cpu_mean.is_finite() && cpu_max.is_finite() {
        ((5.0 * cpu_mean - cpu_max) / 4.0).clamp(0.0, cpu_max)
    } else {
        cpu_mean
    };
    for i in 0..5 {
        out.push(Sample {
            timestamp: end - (4 - i) * 60,
            cpu_pct: if i == 2 && cpu_max.is_finite() {
                cpu_max
            } else {
                rest
            },
            mem_pct: mem_mean,
            replicas,
            ready,
        });
    }
}

/// The end of the 5-minute bucket a minute sample (stamped at its minute's end) falls in.
pub fn bucket_end(t: UnixSeconds) -> UnixSeconds {
    ((t - 1).div_euclid(THINNED_STEP) + 1) * THINNED_STEP
}

impl Store {
    /// Open (creating when absent) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, Retention::default())
    }

    /// The store in the data dir (`DATA_DIR/history.sqlite3`).
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open(&data_dir.join(FILE_NAME))
    }

    pub fn open_with(path: &Path, retention: Retention) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::ensure_dir(dir).map_err(|e| StoreError::Io {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        }
        crate::private_files::sqlite(path).map_err(|e| StoreError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let sql = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        // Another ai4k8s on the same data dir may be writing: wait for it rather than fail.
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: shown,
                found: version,
            });
        }
        if version == 0 {
            // Must precede the first table: lets thinning hand freed pages back to the disk.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(sql)?;
        }
        // WAL: a commit is atomic even if the process dies mid-write; readers never block the
        // writer. NORMAL sync: a power cut may lose the last commits, never corrupt the file.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        // Bound the WAL file left after checkpoints.
        conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)
            .map_err(sql)?;
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS series (
                 id INTEGER PRIMARY KEY,
                 context TEXT NOT NULL,
                 namespace TEXT NOT NULL,
                 name TEXT NOT NULL,
                 UNIQUE (context, namespace, name)
             );
             CREATE TABLE IF NOT EXISTS minute (
                 series INTEGER NOT NULL,
                 ts INTEGER NOT NULL,
                 cpu INTEGER,
                 mem INTEGER,
                 replicas INTEGER NOT NULL,
                 ready INTEGER NOT NULL,
                 PRIMARY KEY (series, ts)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS five_minute (
                 series INTEGER NOT NULL,
                 ts INTEGER NOT NULL,
                 cpu_mean INTEGER,
                 cpu_max INTEGER,
                 mem_mean INTEGER,
                 mem_max INTEGER,
                 replicas INTEGER NOT NULL,
                 ready INTEGER NOT NULL,
                 minutes INTEGER NOT NULL,
                 PRIMARY KEY (series, ts)
             ) WITHOUT ROWID;
             PRAGMA user_version = 1;
             COMMIT;",
        )
        .map_err(sql)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            retention,
            ids: HashMap::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Write one poll's closed minutes in one transaction; minutes already stored are kept.
    /// Returns how many were new.
    pub fn write(
        &mut self,
        context: &str,
        batch: &[(DeploymentKey, Sample)],
    ) -> Result<usize, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let result = self.write_tx(context, batch);
        if result.is_err() {
            // Ids created by the rolled-back transaction are gone.
            self.ids.clear();
        }
        result.map_err(|e| self.err(e))
    }

    fn write_tx(
        &mut self,
        context: &str,
        batch: &[(DeploymentKey, Sample)],
    ) -> rusqlite::Result<usize> {
        let tx = self.conn.transaction()?;
        let mut new = 0;
        {
            let mut insert_series = tx.prepare_cached(
                "INSERT INTO series (context, namespace, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut find_series = tx.prepare_cached(
                "SELECT id FROM series WHERE context = ?1 AND namespace = ?2 AND name = ?3",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO minute (series, ts, cpu, mem, replicas, ready)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?;
            let mut last: Option<(&DeploymentKey, i64)> = None;
            for (key, s) in batch {
                let id = match last {
                    Some((k, id)) if k == key => id,
                    _ => {
                        let id_key = (context.to_string(), key.namespace.clone(), key.name.clone());
                        match self.ids.get(&id_key) {
                            Some(&id) => id,
                            None => {
                                insert_series.execute(params![context, key.namespace, key.name])?;
                                let id: i64 = find_series
                                    .query_row(params![context, key.namespace, key.name], |r| {
                                        r.get(0)
                                    })?;
                                self.ids.insert(id_key, id);
                                id
                            }
                        }
                    }
                };
                last = Some((key, id));
                new += insert.execute(params![
                    id,
                    s.timestamp,
                    to_centi(s.cpu_pct),
                    to_centi(s.mem_pct),
                    s.replicas,
                    s.ready
                ])?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    /// Fold minutes older than the minute retention into 5-minute points, drop points older
    /// than the thinned retention, forget empty series and give freed pages back. `now` is the
    /// cluster time of the newest data.
    pub fn thin(&mut self, now: UnixSeconds) -> Result<ThinStats, StoreError> {
        let r = self.retention;
        // Only whole buckets are folded: the cutoff is a bucket boundary.
        let cutoff = (now - r.minutes_for).div_euclid(THINNED_STEP) * THINNED_STEP;
        let drop_before = now - r.thinned_for;
        let result = (|| -> rusqlite::Result<ThinStats> {
            let tx = self.conn.transaction()?;
            let points_made = tx.execute(
                "INSERT OR IGNORE INTO five_minute
                     (series, ts, cpu_mean, cpu_max, mem_mean, mem_max, replicas, ready, minutes)
                 SELECT series, ((ts - 1) / 300 + 1) * 300 AS bucket,
                        CAST(ROUND(AVG(cpu)) AS INTEGER), MAX(cpu),
                        CAST(ROUND(AVG(mem)) AS INTEGER), MAX(mem),
                        MAX(replicas), MAX(ready), COUNT(*)
                 FROM minute WHERE ts <= ?1 GROUP BY series, bucket",
                [cutoff],
            )?;
            let minutes_folded = tx.execute("DELETE FROM minute WHERE ts <= ?1", [cutoff])?;
            let points_dropped =
                tx.execute("DELETE FROM five_minute WHERE ts <= ?1", [drop_before])?;
            tx.execute(
                "DELETE FROM series WHERE
                     NOT EXISTS (SELECT 1 FROM minute WHERE minute.series = series.id)
                     AND NOT EXISTS (SELECT 1 FROM five_minute WHERE five_minute.series = series.id)",
                [],
            )?;
            tx.commit()?;
            Ok(ThinStats {
                minutes_folded,
                points_made,
                points_dropped,
            })
        })();
        self.ids.clear();
        let stats = result.map_err(|e| self.err(e))?;
        if stats.minutes_folded + stats.points_dropped > 0 {
            // Hand whole free pages back so the file tracks what is kept.
            self.conn
                .execute_batch("PRAGMA incremental_vacuum")
                .map_err(|e| self.err(e))?;
        }
        Ok(stats)
    }

    /// Each deployment's minutes of `context` within `window` seconds of its newest minute,
    /// oldest first: what the engine starts from.
    pub fn load_recent(
        &self,
        context: &str,
        window: i64,
    ) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, StoreError> {
        self.load_recent_tx(context, window)
            .map_err(|e| self.err(e))
    }

    fn load_recent_tx(
        &self,
        context: &str,
        window: i64,
    ) -> rusqlite::Result<Vec<(DeploymentKey, Vec<Sample>)>> {
        let ids = self.series_of(context)?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, key) in ids {
            let samples = self.minutes_of(id, window)?;
            if !samples.is_empty() {
                out.push((key, samples));
            }
        }
        Ok(out)
    }

    /// The series ids of `context`'s deployments, in namespace and name order.
    fn series_of(&self, context: &str) -> rusqlite::Result<Vec<(i64, DeploymentKey)>> {
        let mut series = self.conn.prepare_cached(
            "SELECT id, namespace, name FROM series WHERE context = ?1 ORDER BY namespace, name",
        )?;
        series
            .query_map([context], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    DeploymentKey::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                ))
            })?
            .collect()
    }

    fn minutes_of(&self, id: i64, window: i64) -> rusqlite::Result<Vec<Sample>> {
        let mut q = self.conn.prepare_cached(
            "SELECT ts, cpu, mem, replicas, ready FROM minute
             WHERE series = ?1 AND ts > (SELECT MAX(ts) FROM minute WHERE series = ?1) - ?2
             ORDER BY ts",
        )?;
        q.query_map(params![id, window], |r| {
            Ok(Sample {
                timestamp: r.get(0)?,
                cpu_pct: from_centi(r.get(1)?),
                mem_pct: from_centi(r.get(2)?),
                replicas: count(r.get(3)?),
                ready: count(r.get(4)?),
            })
        })?
        .collect()
    }

    /// Each deployment's history of `context` within `window` seconds of its newest sample,
    /// its 5-minute points and then its minutes folded into a `History` of `capacity` minutes
    /// as they are read, one deployment at a time: a fleet's weeks never sit in memory as
    /// 32-byte samples all at once.
    pub fn load_histories(
        &self,
        context: &str,
        window: i64,
        capacity: usize,
    ) -> Result<Vec<(DeploymentKey, History)>, StoreError> {
        (|| -> rusqlite::Result<Vec<(DeploymentKey, History)>> {
            let ids = self.series_of(context)?;
            let mut out = Vec::with_capacity(ids.len());
            for (id, key) in ids {
                let newest: Option<i64> = self.conn.query_row(
                    "SELECT MAX(t) FROM (SELECT MAX(ts) AS t FROM minute WHERE series = ?1
                     UNION ALL SELECT MAX(ts) FROM five_minute WHERE series = ?1)",
                    [id],
                    |r| r.get(0),
                )?;
                let Some(newest) = newest else { continue };
                let mut h = History::with_capacity(capacity);
                let mut points = self.conn.prepare_cached(
                    "SELECT ts, cpu_mean, cpu_max, mem_mean, replicas, ready FROM five_minute
                     WHERE series = ?1 AND ts > ?2 ORDER BY ts",
                )?;
                let mut rows = points.query(params![id, newest - window])?;
                let mut expanded = Vec::with_capacity(5);
                while let Some(r) = rows.next()? {
                    expanded.clear();
                    expand_point(
                        r.get(0)?,
                        from_centi(r.get(1)?),
                        from_centi(r.get(2)?),
                        from_centi(r.get(3)?),
                        count(r.get(4)?),
                        count(r.get(5)?),
                        &mut expanded,
                    );
                    h.extend(expanded.iter().copied());
                }
                let mut minutes = self.conn.prepare_cached(
                    "SELECT ts, cpu, mem, replicas, ready FROM minute
                     WHERE series = ?1 AND ts > ?2 ORDER BY ts",
                )?;
                let mut rows = minutes.query(params![id, newest - window])?;
                while let Some(r) = rows.next()? {
                    h.push(Sample {
                        timestamp: r.get(0)?,
                        cpu_pct: from_centi(r.get(1)?),
                        mem_pct: from_centi(r.get(2)?),
                        replicas: count(r.get(3)?),
                        ready: count(r.get(4)?),
                    });
                }
                if !h.is_empty() {
                    out.push((key, h));
                }
            }
            Ok(out)
        })()
        .map_err(|e| self.err(e))
    }

    fn series_id(&self, context: &str, key: &DeploymentKey) -> rusqlite::Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT id FROM series WHERE context = ?1 AND namespace = ?2 AND name = ?3",
                params![context, key.namespace, key.name],
                |r| r.get(0),
            )
            .optional()
    }

    /// Every stored minute of one deployment, oldest first.
    pub fn minutes(&self, context: &str, key: &DeploymentKey) -> Result<Vec<Sample>, StoreError> {
        (|| match self.series_id(context, key)? {
            Some(id) => self.minutes_of(id, i64::MAX / 2),
            None => Ok(Vec::new()),
        })()
        .map_err(|e| self.err(e))
    }

    /// Every 5-minute point of one deployment, oldest first.
    pub fn thinned(
        &self,
        context: &str,
        key: &DeploymentKey,
    ) -> Result<Vec<ThinnedPoint>, StoreError> {
        (|| {
            let Some(id) = self.series_id(context, key)? else {
                return Ok(Vec::new());
            };
            let mut q = self.conn.prepare_cached(
                "SELECT ts, cpu_mean, cpu_max, mem_mean, mem_max, replicas, ready, minutes
                 FROM five_minute WHERE series = ?1 ORDER BY ts",
            )?;
            q.query_map([id], |r| {
                Ok(ThinnedPoint {
                    timestamp: r.get(0)?,
                    cpu_mean: from_centi(r.get(1)?),
                    cpu_max: from_centi(r.get(2)?),
                    mem_mean: from_centi(r.get(3)?),
                    mem_max: from_centi(r.get(4)?),
                    replicas: count(r.get(5)?),
                    ready: count(r.get(6)?),
                    minutes: count(r.get(7)?),
                })
            })?
            .collect()
        })()
        .map_err(|e| self.err(e))
    }

    /// SQLite's own check of the file ("ok" when whole).
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Bytes on disk: the database plus its WAL.
    pub fn footprint_bytes(&self) -> u64 {
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(self.path.clone()) + size(PathBuf::from(wal))
    }

    /// Move the WAL's pages into the database file (done anyway on close).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64, cpu: f64) -> Sample {
        Sample {
            timestamp: t,
            cpu_pct: cpu,
            mem_pct: cpu / 2.0,
            replicas: 3,
            ready: 2,
        }
    }

    #[test]
    fn bucket_end_groups_minutes_by_five() {
        assert_eq!(bucket_end(60), 300);
        assert_eq!(bucket_end(300), 300);
        assert_eq!(bucket_end(360), 600);
    }

    #[test]
    fn nan_round_trips_as_null_and_values_to_a_hundredth() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut st = Store::open_in(dir.path()).expect("open");
        let k = DeploymentKey::new("ns", "a");
        let mut s = sample(60, 12.345_678);
        s.mem_pct = f64::NAN;
        assert_eq!(st.write("ctx", &[(k.clone(), s)]).expect("write"), 1);
        assert_eq!(st.write("ctx", &[(k.clone(), s)]).expect("rewrite"), 0);
        let back = st.minutes("ctx", &k).expect("read");
        assert_eq!(back.len(), 1);
        assert!((back[0].cpu_pct - 12.35).abs() < 1e-9);
        assert!(back[0].mem_pct.is_nan());
        assert_eq!((back[0].replicas, back[0].ready), (3, 2));
        assert!(st.minutes("other", &k).expect("read").is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_store_and_its_wal_are_private_even_when_an_old_file_was_not() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut st = Store::open_in(&data).expect("open");
        st.write("ctx", &[(DeploymentKey::new("ns", "a"), sample(60, 1.0))])
            .expect("write");
        assert_eq!(mode(&data), 0o700);
        let db = data.join(FILE_NAME);
        assert_eq!(mode(&db), 0o600);
        let wal = data.join(format!("{FILE_NAME}-wal"));
        assert_eq!(mode(&wal), 0o600, "the WAL copies the database's mode");
        drop(st);

        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let st = Store::open_in(&data).expect("reopen");
        assert_eq!(mode(&db), 0o600, "an old 0644 store is tightened");
        assert_eq!(
            st.minutes("ctx", &DeploymentKey::new("ns", "a"))
                .expect("read")
                .len(),
            1
        );
    }
}
