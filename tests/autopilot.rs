//! The autopilot over a simulated day of the demo cluster (virtual clock, no sleeping), and the
//! headless `ai4k8s autopilot` command stopping cleanly on SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai4k8s::actions::journal::{self, EntryKind};
use ai4k8s::actions::{Actions, Autopilot, AutopilotOptions, Change, Journal};
use ai4k8s::advisor::Advisor;
use ai4k8s::config::{AdvisorConfig, Config};
use ai4k8s::forecast::ForecastOptions;
use ai4k8s::metrics::{HISTORY_MINUTES, History};
use ai4k8s::model::DeploymentKey;
use ai4k8s::pipeline;
use ai4k8s::sim::{SimCluster, SimWorld};

#[tokio::test]
async fn a_simulated_day_of_autopilot_stays_within_bounds_steps_and_cooldowns_and_never_scales_an_hpa()
 {
    let data = tempfile::tempdir().expect("tempdir");
    let sim = SimCluster::new(SimWorld::demo(42, 48));
    let cfg = Config::default();
    let limits = cfg.limits();
    let journal = Arc::new(Journal::open(data.path()).expect("journal"));
    let actions = Actions::new(Arc::new(sim.clone()), journal, limits, false);
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let cooldown = 300;
    let mut pilot = Autopilot::new(AutopilotOptions {
        cooldown_seconds: cooldown,
        min_confidence: 0.7,
        dry_run: false,
        apply_gitops: false,
    });
    let mut histories: HashMap<DeploymentKey, History> = sim
        .world()
        .history()
        .into_iter()
        .map(|(k, s)| {
            let mut h = History::with_capacity(HISTORY_MINUTES);
            h.extend(s);
            (k, h)
        })
        .collect();

    // Bounds in force when each change was made, to check the journal against.
    let mut bounds_at: HashMap<(DeploymentKey, i64), (u32, u32, u32, bool)> = HashMap::new();
    let mut lines = 0;
    for step in 1..=(24 * 3600 / 15) {
        sim.advance(15);
        let snap = sim.world().snapshot();
        for d in &snap.deployments {
            if let Some(h) = histories.get_mut(&d.key) {
                h.observe(
                    snap.time,
                    d.cpu_pct,
                    d.mem_pct,
                    d.desired_replicas,
                    d.ready_replicas,
                );
            }
        }
        // Every 10 minutes, as the engine's refresh would.
        if step % 40 != 0 {
            continue;
        }
        for d in snap.deployments.iter().filter(|d| d.predictive_enabled) {
            let f = pipeline::forecast_history(&histories[&d.key], ForecastOptions::default());
            let h = &histories[&d.key];
            let rec = advisor
                .recommend(&pipeline::inputs(d, &f, Some(h), None, snap.time))
                .await;
            if let Some(line) = pilot.act(&actions, d, &rec, snap.time).await {
                assert!(!line.contains("failed"), "{line}");
                bounds_at.insert(
                    (d.key.clone(), snap.time),
                    (
                        d.min_replicas,
                        d.max_replicas,
                        d.desired_replicas,
                        d.hpa.is_some(),
                    ),
                );
                lines += 1;
            }
        }
    }

    let entries =
        journal::read_recent(&data.path().join(journal::FILE_NAME), 10_000).expect("journal");
    assert!(
        lines >= 3,
        "the autopilot acted over a day ({lines} changes)"
    );
    assert_eq!(entries.len(), lines);
    let mut last: HashMap<DeploymentKey, i64> = HashMap::new();
    let mut kinds = std::collections::HashSet::new();
    for e in &entries {
        let mut takes_capacity = false;
        assert_eq!(e.kind, EntryKind::Autopilot);
        assert!(e.outcome.ok, "{:?}", e.outcome);
        let key = DeploymentKey::new(&e.namespace, &e.name);
        let (min, max, replicas, has_hpa) = bounds_at[&(key.clone(), e.cluster_time)];
        for c in &e.changes {
            match c {
                Change::Scale { from, to } => {
                    takes_capacity |= to < from;
                    assert!(
                        (min..=max).contains(to),
                        "{key}: {to} outside [{min}, {max}]"
                    );
                    assert!(
                        from.abs_diff(*to) <= limits.max_step,
                        "{key}: step {from} → {to}"
                    );
                }
                Change::HpaMin { from, to, .. } => {
                    takes_capacity |= to < from;
                    kinds.insert("floor");
                    assert!(
                        (min..=max).contains(to),
                        "{key}: min {to} outside [{min}, {max}]"
                    );
                    assert!(replicas.abs_diff(*to) <= limits.max_step);
                }
                Change::HpaTarget { from, to, .. } => {
                    takes_capacity |= to > from;
                    kinds.insert("target");
                    assert!(
                        (50..=85).contains(to),
                        "{key}: target {to} outside the range"
                    );
                }
                Change::BoundsAnnotations { .. } | Change::FloorMark { .. } => {}
                other => panic!("the autopilot only applies recommendations: {other:?}"),
            }
        }
        // An HPA-managed deployment is never given a /scale.
        assert!(
            !has_hpa || !e.changes.iter().any(|c| matches!(c, Change::Scale { .. })),
            "{key}: /scale on an HPA-managed deployment"
        );
        if let Some(prev) = last.insert(key.clone(), e.cluster_time)
            && takes_capacity
        {
            assert!(
                e.cluster_time - prev >= cooldown,
                "{key}: changed again after {} s",
                e.cluster_time - prev
            );
        }
    }
    assert!(kinds.contains("floor"), "floors moved: {kinds:?}");
    // Only opted-in deployments were touched.
    let touched: std::collections::HashSet<String> =
        entries.iter().map(|e| e.name.clone()).collect();
    for name in &touched {
        assert!(
            ["frontend", "ledger", "report-builder", "metrics-collector"].contains(&name.as_str()),
            "{name} is not opted in"
        );
    }
}

#[test]
fn the_headless_autopilot_dry_run_journals_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .args([
            "autopilot",
            "--demo",
            "--dry-run",
            "--speed",
            "3000",
            "--data-dir",
        ])
        .arg(data.path())
        .env_remove("GROQ_API_KEY")
        .env_remove("AI4K8S_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut acted = None;
    while acted.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the autopilot prints an action within a minute");
        if line.contains("[dry run]") {
            acted = Some(line);
        }
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("autopilot stopped after")),
        "{rest:?}"
    );
    let entries =
        journal::read_recent(&data.path().join(journal::FILE_NAME), 100).expect("journal");
    assert!(!entries.is_empty());
    assert!(
        entries
            .iter()
            .all(|e| e.kind == EntryKind::Autopilot && e.outcome.dry_run)
    );
}
