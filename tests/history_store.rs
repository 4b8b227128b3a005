//! The persistent history store: round trip, restart, thinning, footprint, and crashes (a
//! writer process killed mid-transaction, a torn WAL).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ai4k8s::metrics::HistoryStore;
use ai4k8s::metrics::store::{FILE_NAME, Retention, Store, bucket_end};
use ai4k8s::model::{DeploymentKey, Sample};

const DAY: i64 = 86_400;
/// 2026-01-01T00:00:00Z
const T0: i64 = 1_767_225_600;

fn sample(t: i64, cpu: f64, mem: f64, replicas: u32) -> Sample {
    Sample {
        timestamp: t,
        cpu_pct: cpu,
        mem_pct: mem,
        replicas,
        ready: replicas.saturating_sub(1),
    }
}

/// A deterministic, wiggly series: value of deployment `d` at minute `m`.
fn cpu_at(d: usize, m: i64) -> f64 {
    20.0 + d as f64 + ((m * 7 + d as i64 * 13) % 61) as f64 * 1.37
}

fn mem_at(d: usize, m: i64) -> f64 {
    40.0 + ((m * 3 + d as i64) % 17) as f64 * 0.91
}

fn day_batch(keys: &[DeploymentKey], day: i64) -> Vec<(DeploymentKey, Sample)> {
    let mut batch = Vec::with_capacity(keys.len() * 1440);
    for (d, k) in keys.iter().enumerate() {
        for m in day * 1440..(day + 1) * 1440 {
            let t = T0 + (m + 1) * 60;
            batch.push((
                k.clone(),
                sample(t, cpu_at(d, m), mem_at(d, m), 2 + (m % 5) as u32),
            ));
        }
    }
    batch
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 0.005 + 1e-9
}

#[test]
fn samples_round_trip_and_a_new_store_on_the_same_dir_sees_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = DeploymentKey::new("shop", "web");
    let api = DeploymentKey::new("shop", "api");
    let written: Vec<(DeploymentKey, Sample)> = (1..=90)
        .flat_map(|m| {
            [
                (
                    web.clone(),
                    sample(T0 + m * 60, 10.0 + m as f64 / 3.0, 50.5, 3),
                ),
                (
                    api.clone(),
                    sample(
                        T0 + m * 60,
                        if m % 10 == 0 { f64::NAN } else { 70.125 },
                        f64::NAN,
                        1,
                    ),
                ),
            ]
        })
        .collect();
    {
        let mut st = Store::open_in(dir.path()).expect("open");
        // One transaction per poll: a poll closes one minute for every deployment.
        for poll in written.chunks(2) {
            st.write("prod", poll).expect("write");
        }
        // The same names under another context are another series.
        st.write("staging", &[(web.clone(), sample(T0 + 60, 1.0, 1.0, 1))])
            .expect("write staging");
    }
    let st = Store::open(&dir.path().join(FILE_NAME)).expect("reopen");
    assert_eq!(st.integrity_check().expect("check"), "ok");
    let loaded = st.load_recent("prod", 14 * DAY).expect("load");
    let keys: Vec<&DeploymentKey> = loaded.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&api, &web], "sorted by namespace/name");
    for (key, samples) in &loaded {
        let expected: Vec<&Sample> = written
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(samples.len(), expected.len(), "{key}");
        for (got, want) in samples.iter().zip(expected) {
            assert_eq!(got.timestamp, want.timestamp);
            assert!(close(got.cpu_pct, want.cpu_pct), "{got:?} vs {want:?}");
            assert!(close(got.mem_pct, want.mem_pct), "{got:?} vs {want:?}");
            assert_eq!((got.replicas, got.ready), (want.replicas, want.ready));
        }
    }
    let staging = st.load_recent("staging", 14 * DAY).expect("load");
    assert_eq!(staging.len(), 1);
    assert_eq!(staging[0].1.len(), 1);
    assert!(st.load_recent("demo", 14 * DAY).expect("load").is_empty());
    // The window is counted back from each deployment's newest minute.
    let last_half_hour = st.load_recent("prod", 30 * 60).expect("load");
    assert!(last_half_hour.iter().all(|(_, s)| s.len() == 30));
}

#[test]
fn thinning_folds_old_minutes_into_five_minute_mean_and_max_then_drops_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DeploymentKey::new("shop", "web");
    let keys = [key.clone()];
    let mut st = Store::open_in(dir.path()).expect("open");
    for day in 0..16 {
        st.write("prod", &day_batch(&keys, day)).expect("write");
    }
    let now = T0 + 16 * DAY;
    let stats = st.thin(now).expect("thin");
    // Minutes are kept for a day (what the engine keeps minute by minute): 15 days of minutes
    // are older, 15 * 1440 minutes → 15 * 288 points.
    assert_eq!(stats.minutes_folded, 15 * 1440);
    assert_eq!(stats.points_made, 15 * 288);
    let minutes = st.minutes("prod", &key).expect("minutes");
    assert_eq!(minutes.len(), 1440);
    assert_eq!(minutes[0].timestamp, now - DAY + 60);
    let points = st.thinned("prod", &key).expect("points");
    assert_eq!(points.len(), 15 * 288);
    for p in &points {
        assert_eq!(p.timestamp % 300, 0);
        assert_eq!(p.minutes, 5);
        // The minutes the point stands for (stamped at their ends: (p-300, p]).
        let ms: Vec<i64> = (1..=5).map(|i| (p.timestamp - T0) / 60 - i).collect();
        assert!(
            ms.iter()
                .all(|&m| bucket_end(T0 + (m + 1) * 60) == p.timestamp)
        );
        let cpu: Vec<f64> = ms.iter().map(|&m| cpu_at(0, m)).collect();
        let mean = cpu.iter().sum::<f64>() / 5.0;
        let max = cpu.iter().cloned().fold(f64::MIN, f64::max);
        assert!((p.cpu_mean - mean).abs() <= 0.011, "{p:?} mean {mean}");
        assert!((p.cpu_max - max).abs() <= 0.006, "{p:?} max {max}");
        let mem_max = ms.iter().map(|&m| mem_at(0, m)).fold(f64::MIN, f64::max);
        assert!((p.mem_max - mem_max).abs() <= 0.006);
        let replicas = ms.iter().map(|&m| 2 + (m % 5) as u32).max();
        assert_eq!(Some(p.replicas), replicas);
    }
    // Thinning again changes nothing.
    assert_eq!(st.thin(now).expect("thin").minutes_folded, 0);
    assert_eq!(st.thinned("prod", &key).expect("points").len(), 15 * 288);
    // 59 days on, only the newest point days survive; 61 days on, nothing, not even the name.
    st.thin(T0 + 60 * DAY + 300).expect("thin");
    let left = st.thinned("prod", &key).expect("points");
    assert!(!left.is_empty() && left.iter().all(|p| p.timestamp > T0 + 300));
    st.thin(T0 + 80 * DAY).expect("thin");
    assert!(st.minutes("prod", &key).expect("minutes").is_empty());
    assert!(st.thinned("prod", &key).expect("points").is_empty());
    assert!(st.load_recent("prod", 14 * DAY).expect("load").is_empty());
}

#[test]
fn fourteen_deployments_over_sixty_days_stay_within_a_bounded_footprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Vec<DeploymentKey> = (0..14)
        .map(|i| DeploymentKey::new("prod-apps", format!("service-{i:02}")))
        .collect();
    let mut st = Store::open_in(dir.path()).expect("open");
    let started = Instant::now();
    let mut sizes = Vec::new();
    // 70 days, thinned daily as the writer thread does hourly.
    for day in 0..70 {
        st.write("prod", &day_batch(&keys, day)).expect("write");
        st.thin(T0 + (day + 1) * DAY).expect("thin");
        if day >= 59 {
            st.checkpoint().expect("checkpoint");
            sizes.push(st.footprint_bytes());
        }
    }
    let elapsed = started.elapsed();
    let per_key_minutes = st.minutes("prod", &keys[0]).expect("minutes").len();
    let per_key_points = st.thinned("prod", &keys[0]).expect("points").len();
    assert_eq!(per_key_minutes, 1440);
    // 59 days of 5-minute points behind the day of minutes (60 days in all).
    assert!(
        (59 * 288 - 288..=59 * 288).contains(&per_key_points),
        "{per_key_points}"
    );
    let at_60_days = sizes[0];
    let largest = sizes.iter().copied().max().unwrap_or(0);
    eprintln!(
        "footprint: 14 deployments x 60 days = {:.1} MiB ({} bytes; {:.0} bytes per deployment-day); \
         steady state over 10 more days at most {:.1} MiB; written in {elapsed:?}",
        at_60_days as f64 / 1048576.0,
        at_60_days,
        at_60_days as f64 / 14.0 / 60.0,
        largest as f64 / 1048576.0,
    );
    assert!(at_60_days < 16 * 1024 * 1024, "{at_60_days} bytes");
    // Bounded: once retention is reached, more days do not grow the file.
    assert!(
        largest <= at_60_days + at_60_days / 20,
        "grew from {at_60_days} to {largest}: {sizes:?}"
    );
}

/// Rows per committed transaction of the crash child.
const CRASH_BATCH: usize = 20_000;
const CRASH_COMMITS: i64 = 3;
const CHILD_ENV: &str = "AI4K8S_TEST_CRASH_CHILD_DIR";

fn crash_rows(key: &DeploymentKey, batch: i64) -> Vec<(DeploymentKey, Sample)> {
    (0..CRASH_BATCH as i64)
        .map(|i| {
            let t = T0 + (batch * CRASH_BATCH as i64 + i + 1) * 60;
            (key.clone(), sample(t, batch as f64, i as f64, 1))
        })
        .collect()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Commits through the store, then opens a transaction that spills uncommitted pages into the
/// WAL and waits there to be killed. (`Store::write` cannot be paused mid-transaction, so the
/// unfinished one is written with plain SQL into the same tables.)
#[test]
#[ignore = "the child process of killed_writer_leaves_committed_transactions_readable"]
fn crash_child_writes_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut st = Store::open_in(dir).expect("open");
    let key = DeploymentKey::new("ns", "crash");
    for batch in 0..CRASH_COMMITS {
        st.write("prod", &crash_rows(&key, batch)).expect("write");
        println!("committed {}", batch + 1);
    }
    let wal = dir.join(format!("{FILE_NAME}-wal"));
    let before = file_len(&wal);
    let raw = rusqlite::Connection::open(dir.join(FILE_NAME)).expect("second connection");
    // A tiny page cache: the transaction's pages go to the WAL long before any commit.
    raw.execute_batch("PRAGMA cache_size = 20; BEGIN")
        .expect("begin");
    let mut insert = raw
        .prepare(
            "INSERT INTO minute (series, ts, cpu, mem, replicas, ready) VALUES (1, ?1, 0, 0, 1, 1)",
        )
        .expect("prepare");
    let first = T0 + (CRASH_COMMITS * CRASH_BATCH as i64 + 1) * 60;
    for i in 0..CRASH_BATCH as i64 {
        insert.execute([first + i * 60]).expect("insert");
    }
    println!("uncommitted, WAL {before} -> {} bytes", file_len(&wal));
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn killed_writer_leaves_committed_transactions_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_writes_until_killed",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut committed = 0;
    let mut wal_growth = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(n) = line.strip_prefix("committed ") {
            committed = n.trim().parse().expect("a count");
        }
        if let Some(sizes) = line.strip_prefix("uncommitted, WAL ") {
            let n: Vec<u64> = sizes
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|x| x.parse().ok())
                .collect();
            wal_growth = Some((n[0], n[1]));
            break;
        }
    }
    // The writer dies holding an open transaction.
    child.kill().expect("kill the writer");
    let _ = child.wait();
    assert_eq!(committed, CRASH_COMMITS as usize);
    let (before, after) = wal_growth.expect("the child reached its open transaction");
    assert!(
        after > before,
        "uncommitted pages were in the WAL: {before} -> {after}"
    );

    let st = Store::open_in(dir.path()).expect("reopen after the kill");
    assert_eq!(st.integrity_check().expect("check"), "ok");
    let rows = st
        .minutes("prod", &DeploymentKey::new("ns", "crash"))
        .expect("read");
    // Every commit is there, nothing of the killed transaction.
    assert_eq!(rows.len(), committed * CRASH_BATCH);
    for (i, s) in rows.iter().enumerate() {
        assert_eq!(s.timestamp, T0 + (i as i64 + 1) * 60);
        assert_eq!(s.cpu_pct, (i / CRASH_BATCH) as f64);
    }
    // And the store takes writes again.
    let mut st = st;
    let next = T0 + (rows.len() as i64 + 1) * 60;
    assert_eq!(
        st.write(
            "prod",
            &[(DeploymentKey::new("ns", "crash"), sample(next, 1.0, 1.0, 1))]
        )
        .expect("write after crash"),
        1
    );
}

#[test]
fn a_torn_wal_loses_only_the_unfinished_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DeploymentKey::new("ns", "torn");
    let mut st = Store::open_in(dir.path()).expect("open");
    for batch in 0..20i64 {
        let rows: Vec<(DeploymentKey, Sample)> = (0..50)
            .map(|i| {
                (
                    key.clone(),
                    sample(T0 + (batch * 50 + i + 1) * 60, batch as f64, 1.0, 1),
                )
            })
            .collect();
        st.write("prod", &rows).expect("write");
    }
    // Copy the files as a crash would leave them: the WAL not yet checkpointed.
    let db = dir.path().join(FILE_NAME);
    let wal = dir.path().join(format!("{FILE_NAME}-wal"));
    let wal_len = std::fs::metadata(&wal).expect("a WAL exists").len();
    assert!(wal_len > 0);
    let mut previous = 0;
    for cut in [wal_len / 3, wal_len / 2, wal_len - 1000, wal_len] {
        let copy = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&db, copy.path().join(FILE_NAME)).expect("copy db");
        let torn = std::fs::read(&wal).expect("read wal");
        std::fs::write(
            copy.path().join(format!("{FILE_NAME}-wal")),
            &torn[..cut as usize],
        )
        .expect("write torn wal");
        let reopened = Store::open_in(copy.path()).expect("opens after a torn WAL");
        assert_eq!(reopened.integrity_check().expect("check"), "ok");
        let rows = reopened.minutes("prod", &key).expect("read");
        assert_eq!(rows.len() % 50, 0, "whole transactions only (cut {cut})");
        assert!(rows.len() >= previous, "a longer WAL never loses more");
        previous = rows.len();
    }
    assert_eq!(previous, 20 * 50, "the whole WAL replays everything");
    drop(st);
}

#[tokio::test]
async fn the_writer_thread_batches_thins_and_serves_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let key = DeploymentKey::new("shop", "web");
    let retention = Retention {
        minutes_for: 3600,
        thinned_for: 2 * 3600,
    };
    let store = HistoryStore::open_with(&path, "prod", retention).expect("open");
    // Three hours of polls, each closing one minute.
    for m in 1..=180 {
        store.record(vec![(key.clone(), sample(T0 + m * 60, m as f64, 1.0, 2))]);
    }
    store.flush().await.expect("written");
    let recent = store.load_recent(3600).await.expect("load");
    assert_eq!(recent.len(), 1);
    let minutes = &recent[0].1;
    assert_eq!(minutes.last().map(|s| s.timestamp), Some(T0 + 180 * 60));
    // Thinned at most hourly: between one and two hours of minutes are left.
    let reader = Store::open(&path).expect("second connection");
    let all = reader.minutes("prod", &key).expect("minutes");
    assert!((60..=120).contains(&all.len()), "{}", all.len());
    assert!(!reader.thinned("prod", &key).expect("points").is_empty());
    drop(store);
}

#[test]
fn a_file_that_is_not_a_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, b"this is not a database, just some text".repeat(200)).expect("write");
    let e = Store::open(&path).expect_err("garbage refused");
    assert!(e.to_string().contains(FILE_NAME), "{e}");
    // A store from a newer ai4k8s is refused rather than misread.
    let newer = tempfile::tempdir().expect("tempdir");
    drop(Store::open_in(newer.path()).expect("create"));
    let conn = rusqlite::Connection::open(newer.path().join(FILE_NAME)).expect("raw open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let e = Store::open_in(newer.path()).expect_err("newer schema");
    assert!(e.to_string().contains("newer ai4k8s"), "{e}");
}

#[test]
fn a_thousand_deployments_fourteen_days_load_folded_within_bounds() {
    use ai4k8s::metrics::HISTORY_MINUTES;
    use ai4k8s::metrics::history::Metric;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Vec<DeploymentKey> = (0..1000)
        .map(|i| DeploymentKey::new(format!("ns-{:02}", i % 40), format!("app-{i:04}")))
        .collect();
    let mut st = Store::open_in(dir.path()).expect("open");
    let started = Instant::now();
    for day in 0..14 {
        st.write("prod", &day_batch(&keys, day)).expect("write");
        st.thin(T0 + (day + 1) * DAY).expect("thin");
    }
    st.checkpoint().expect("checkpoint");
    let written = started.elapsed();
    let bytes = st.footprint_bytes();
    let started = Instant::now();
    let loaded = st
        .load_histories("prod", 14 * DAY, HISTORY_MINUTES)
        .expect("load");
    let load = started.elapsed();
    let held: usize = loaded.iter().map(|(_, h)| h.heap_bytes()).sum();
    eprintln!(
        "store: 1000 deployments x 14 days = {:.1} MiB on disk, written in {written:?}; \
         loaded and folded in {load:?} into {:.1} MiB of history",
        bytes as f64 / 1048576.0,
        held as f64 / 1048576.0,
    );
    assert_eq!(loaded.len(), 1000);
    // A day of minutes and 13 of 5-minute points: 14 days back, minute by minute.
    let (key, h) = &loaded[0];
    let d = keys.iter().position(|k| k == key).expect("a written key");
    assert_eq!(h.len(), 14 * 1440);
    let (start, cpu) = h.regular(Metric::Cpu, HISTORY_MINUTES);
    assert_eq!(start, T0 + 60);
    assert!(cpu.iter().all(|v| v.is_finite()));
    // The newest day as written; the oldest half-hour (30-minute buckets past 4 days; T0 is
    // midnight, so minutes 0..29 end in the first one) keeps its peak.
    let newest = 14 * 1440 - 1;
    assert!((cpu[newest] - cpu_at(d, newest as i64)).abs() <= 0.06);
    let peak = (0..29).map(|i| cpu_at(d, i)).fold(f64::MIN, f64::max);
    let got = cpu[..29].iter().copied().fold(f64::MIN, f64::max);
    assert!((got - peak).abs() <= 0.06, "{got} vs {peak}");
    assert!(bytes < 200 * 1024 * 1024, "{bytes} bytes on disk");
    assert!(held < 40 * 1024 * 1024, "{held} bytes in memory");
}
