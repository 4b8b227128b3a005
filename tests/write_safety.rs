//! Writes that cannot hurt, through the one door (`Actions::execute`) on the simulated cluster:
//! the journal's intent is on disk before the cluster sees a write, a journal that cannot take
//! the intent stops the write, a lost outcome line keeps the change undoable, a failed rollback
//! reaches the user's error, an interrupted write is told at the next start, and a change made
//! under the user stops with what changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai4k8s::actions::Change;
use ai4k8s::actions::journal::{self, Entry, Outcome};
use ai4k8s::actions::plan::{self, Intent, Plan};
use ai4k8s::actions::{ActionError, Actions, Journal, Limits};
use ai4k8s::advisor::Advisor;
use ai4k8s::cluster::{Cluster, ClusterError};
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, Command, EngineOptions, Update};
use ai4k8s::model::{DeploymentKey, DeploymentState};
use ai4k8s::sim::{SimCluster, SimWorld};

use common::intercepted::Intercepted;

struct Setup {
    sim: SimCluster,
    cluster: Arc<Intercepted>,
    actions: Actions,
    data: tempfile::TempDir,
}

fn setup() -> Setup {
    let data = tempfile::tempdir().expect("tempdir");
    let sim = SimCluster::new(SimWorld::demo(42, 48));
    let cluster = Arc::new(Intercepted::new(sim.clone()));
    let journal = Journal::open(data.path()).expect("journal");
    let actions = Actions::new(cluster.clone(), Arc::new(journal), Limits::default(), false);
    Setup {
        sim,
        cluster,
        actions,
        data,
    }
}

fn state(sim: &SimCluster, ns: &str, name: &str) -> DeploymentState {
    let key = DeploymentKey::new(ns, name);
    sim.world()
        .snapshot()
        .deployments
        .into_iter()
        .find(|d| d.key == key)
        .expect("deployment exists")
}

fn lines(dir: &std::path::Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(dir.join(journal::FILE_NAME)).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Raise checkout's HPA bounds by one: two writes (the HPA, then the annotations).
fn bounds_plan(s: &DeploymentState) -> Plan {
    let h = s.hpa.as_ref().expect("checkout has an HPA");
    plan::plan_edit_bounds(
        s,
        h.min_replicas + 1,
        h.max_replicas + 1,
        s.annotated_bounds,
    )
}

#[tokio::test]
async fn the_intent_is_on_disk_before_the_cluster_sees_the_write() {
    let s = setup();
    let before = state(&s.sim, "shop", "checkout");
    let plan = bounds_plan(&before);
    let seen: Arc<Mutex<Vec<Entry>>> = Arc::default();
    let (dir, log) = (s.data.path().to_path_buf(), seen.clone());
    s.cluster.hook(move |_, _, _| {
        let mut log = log.lock().expect("log");
        if log.is_empty() {
            *log = lines(&dir);
        }
    });
    s.actions
        .execute(plan.clone(), false)
        .await
        .expect("written");
    let during = seen.lock().expect("log").clone();
    let intent = during.last().expect("a line during the write");
    assert!(intent.outcome.pending, "{intent:?}");
    assert_eq!(intent.changes, plan.changes);
    let after = lines(s.data.path());
    assert_eq!(after.len(), 2, "intent and outcome");
    assert_eq!(after[1].id, intent.id, "one id ties them");
    assert!(after[1].outcome.ok && !after[1].outcome.pending);
    // The pane shows the write once, as its outcome.
    let shown = s.actions.journal().recent(10).expect("read");
    assert_eq!(shown.len(), 1);
    assert!(shown[0].outcome.ok);
}

#[tokio::test]
async fn a_journal_that_cannot_take_the_intent_stops_the_write() {
    let s = setup();
    let before = state(&s.sim, "shop", "checkout");
    let path = s.data.path().join(journal::FILE_NAME);
    std::fs::remove_file(&path).expect("rm");
    std::fs::create_dir(&path).expect("a directory where the journal was");
    let err = s
        .actions
        .execute(bounds_plan(&before), false)
        .await
        .expect_err("no journal, no write");
    assert!(
        matches!(&err, ActionError::Journal(m) if m.contains("nothing was written")),
        "{err}"
    );
    let after = state(&s.sim, "shop", "checkout");
    assert_eq!(after.hpa, before.hpa, "the HPA is untouched");
    assert_eq!(after.annotated_bounds, before.annotated_bounds);
}

#[tokio::test]
async fn a_lost_outcome_line_keeps_the_change_undoable_and_says_so() {
    let s = setup();
    let before = state(&s.sim, "shop", "checkout");
    let path = s.data.path().join(journal::FILE_NAME);
    // During the write the journal file turns into a directory: the outcome cannot be added.
    let p = path.clone();
    s.cluster.hook(move |_, _, _| {
        if p.is_file() {
            let _ = std::fs::remove_file(&p);
            let _ = std::fs::create_dir(&p);
        }
    });
    let done = s
        .actions
        .execute(bounds_plan(&before), false)
        .await
        .expect("the write went through");
    assert!(
        done.note
            .as_deref()
            .is_some_and(|n| n.contains("the journal could not record it")),
        "{:?}",
        done.note
    );
    assert_eq!(s.actions.undo_depth(), 1, "undo still knows it");
    // Journal back; undo restores the bounds.
    s.cluster.hook(|_, _, _| {});
    std::fs::remove_dir(&path).expect("rmdir");
    s.actions.undo_last().await.expect("undone");
    let after = state(&s.sim, "shop", "checkout");
    assert_eq!(
        after.hpa.map(|h| (h.min_replicas, h.max_replicas)),
        before.hpa.map(|h| (h.min_replicas, h.max_replicas))
    );
}

#[tokio::test]
async fn a_failed_rollback_is_in_the_error_the_user_sees_and_the_journal() {
    let s = setup();
    let before = state(&s.sim, "shop", "checkout");
    {
        let mut w = s.sim.world();
        // The HPA write goes through, the annotations fail, and undoing the HPA fails too.
        w.inject_fault_after(1, ClusterError::Unavailable("connection reset".into()));
        w.inject_fault(ClusterError::Forbidden("cannot patch hpa now".into()));
    }
    let err = s
        .actions
        .execute(bounds_plan(&before), false)
        .await
        .expect_err("half way");
    let text = err.to_string();
    assert!(matches!(err, ActionError::PartlyApplied { .. }), "{text}");
    assert!(
        text.contains("connection reset")
            && text.contains("half changed")
            && text.contains("spec.minReplicas")
            && text.contains("cannot patch hpa now"),
        "{text}"
    );
    let last = lines(s.data.path()).pop().expect("outcome");
    assert_eq!(last.outcome.error.as_deref(), Some(text.as_str()));
}

#[tokio::test]
async fn an_interrupted_write_is_told_at_the_next_start_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(data.path()).expect("journal");
    // A process that died between intent and outcome an hour ago.
    let intent = Entry {
        id: Some("7ffffffe-1".into()),
        time: "2026-01-01T10:00:00Z".into(),
        cluster_time: 0,
        user: "sre".into(),
        context: "demo".into(),
        namespace: "shop".into(),
        name: "checkout".into(),
        kind: journal::EntryKind::Apply,
        changes: vec![Change::HpaMin {
            hpa: "checkout".into(),
            from: 2,
            to: 6,
        }],
        reason: "pre-scale".into(),
        recommendation: None,
        outcome: Outcome::pending(),
    };
    journal.append(&intent).expect("intent");
    let sim = SimCluster::new(SimWorld::demo(42, 48));
    let actions = Arc::new(Actions::new(
        Arc::new(sim.clone()),
        Arc::new(journal),
        Limits::default(),
        false,
    ));
    let opts = EngineOptions {
        poll_every: Duration::from_millis(30),
        actions: Some(actions.clone()),
        ..EngineOptions::default()
    };
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let (_cmd, mut rx) = engine::spawn(Arc::new(sim), advisor, opts);
    let notice = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(u) = rx.recv().await {
            if let Update::Notice("journal", Some(text)) = u {
                return Some(text);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("a journal notice");
    assert!(
        notice.contains("interrupted write")
            && notice.contains("shop/checkout")
            && notice.contains("spec.minReplicas 2 → 6")
            && notice.contains("outcome unknown"),
        "{notice}"
    );
    assert!(
        actions.journal().unfinished().expect("scan").is_empty(),
        "closed: told once"
    );
}

#[tokio::test]
async fn a_change_made_under_the_user_stops_with_what_changed_and_asks_again() {
    let sim = SimCluster::new(SimWorld::demo(42, 48));
    let data = tempfile::tempdir().expect("tempdir");
    let actions = Arc::new(Actions::new(
        Arc::new(sim.clone()),
        Arc::new(Journal::open(data.path()).expect("journal")),
        Limits::default(),
        false,
    ));
    let opts = EngineOptions {
        poll_every: Duration::from_millis(30),
        actions: Some(actions),
        ..EngineOptions::default()
    };
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let (cmd, mut rx) = engine::spawn(Arc::new(sim.clone()), advisor, opts);
    let before = state(&sim, "shop", "checkout");
    let h = before.hpa.clone().expect("an HPA");
    let plan = bounds_plan(&before);
    // Someone raises minReplicas after the user confirmed a plan made from the old value.
    let key = before.key.clone();
    let theirs = Change::HpaMin {
        hpa: h.name.clone(),
        from: h.min_replicas,
        to: h.min_replicas + 2,
    };
    sim.write(&key, &theirs).await.expect("their change");
    cmd.send(Command::Execute(Box::new(plan))).expect("send");
    let (mut message, mut again) = (None, None);
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(u) = rx.recv().await {
            match u {
                Update::ActionDone(r) => message = Some(r.message),
                Update::ConfirmAgain(p) => again = Some(p),
                _ => {}
            }
            if message.is_some() && again.is_some() {
                break;
            }
        }
    })
    .await;
    let message = message.expect("a report");
    let want = format!(
        "changed: hpa/{} spec.minReplicas,spec.maxReplicas {},{} → {},{}",
        h.name,
        h.min_replicas,
        h.max_replicas,
        h.min_replicas + 2,
        h.max_replicas
    );
    assert!(message.starts_with(&want), "{message}\nwant {want}");
    assert!(
        message.ends_with("nothing applied; confirm again"),
        "{message}"
    );
    let again = again.expect("the same request, re-made");
    assert_eq!(again.intent, Intent::Edit);
    assert!(
        again.changes.iter().any(|c| matches!(c,
            Change::HpaBounds { from, .. } if *from == (h.min_replicas + 2, h.max_replicas))),
        "{again:?}"
    );
    let after = state(&sim, "shop", "checkout");
    assert_eq!(
        after.hpa.map(|x| x.min_replicas),
        Some(h.min_replicas + 2),
        "their change is kept"
    );
}
