//! Flow tests of the write keys on the simulated cluster: the real App key handling, the real
//! engine and actions (guard, journal) and the simulator's world, which must show the change.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::Duration;

use ai4k8s::actions::journal::{self, EntryKind};
use ai4k8s::actions::{Actions, Change, Journal};
use ai4k8s::advisor::Advisor;
use ai4k8s::cluster::{ClusterError, annotations};
use ai4k8s::config::{AdvisorConfig, Config};
use ai4k8s::engine::{self, Command, EngineOptions, Update};
use ai4k8s::model::{DeploymentKey, DeploymentState, PolicyChange, ScalingAction};
use ai4k8s::sim::{SimCluster, SimWorld};
use ai4k8s::tui::app::{App, SessionInfo};
use ai4k8s::tui::handle_key;
use ai4k8s::tui::popups::{Confirm, Popup};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

struct Harness {
    app: App,
    cmd: mpsc::UnboundedSender<Command>,
    rx: mpsc::UnboundedReceiver<Update>,
    sim: SimCluster,
    data: tempfile::TempDir,
}

impl Harness {
    async fn new(read_only: bool) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let sim = SimCluster::new(SimWorld::demo(42, 48));
        let cfg = Config::default();
        let journal = Journal::open(data.path()).expect("journal");
        let actions = Actions::new(
            Arc::new(sim.clone()),
            Arc::new(journal),
            cfg.limits(),
            read_only,
        );
        let opts = EngineOptions {
            poll_every: Duration::from_millis(30),
            actions: Some(Arc::new(actions)),
            ..EngineOptions::default()
        };
        let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
        let (cmd, rx) = engine::spawn(Arc::new(sim.clone()), advisor, opts);
        let app = App::new(SessionInfo {
            context: "demo".into(),
            read_only,
            limits: cfg.limits(),
            ..SessionInfo::default()
        });
        let mut h = Harness {
            app,
            cmd,
            rx,
            sim,
            data,
        };
        h.settle(|a| {
            a.deployments.values().all(|v| v.recommendation.is_some()) && !a.deployments.is_empty()
        })
        .await;
        h
    }

    /// Fold engine updates into the app until `done` holds (or fail after 30 s).
    async fn settle(&mut self, done: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done(&self.app) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(u)) => self.app.on_update(u),
                Ok(None) => panic!("engine stopped"),
                Err(_) => panic!("timed out; message: {:?}", self.app.message),
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        let mods = match code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        if let Some(c) = handle_key(&mut self.app, KeyEvent::new(code, mods)) {
            self.cmd.send(c).expect("engine alive");
        }
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Select a deployment through the filter, as a user would.
    fn select(&mut self, name: &str) {
        self.key(KeyCode::Esc);
        self.key(KeyCode::Char('/'));
        self.type_text(name);
        self.key(KeyCode::Enter);
        assert_eq!(self.app.selected_key().map(|k| k.name.as_str()), Some(name));
    }

    fn state(&self, ns: &str, name: &str) -> DeploymentState {
        let key = DeploymentKey::new(ns, name);
        self.sim
            .world()
            .snapshot()
            .deployments
            .into_iter()
            .find(|d| d.key == key)
            .expect("deployment exists")
    }

    fn journal(&self) -> Vec<journal::Entry> {
        journal::read_recent(&self.data.path().join(journal::FILE_NAME), 100).expect("journal")
    }

    /// Wait for the engine to report the last write.
    async fn wait_report(&mut self) -> String {
        self.app.message = None;
        self.settle(|a| a.message.as_ref().is_some_and(|(m, _)| !m.ends_with('…')))
            .await;
        self.app.message.clone().map(|m| m.0).unwrap_or_default()
    }

    /// Clear the screen's message and let the next message arrive.
    fn clear_message(&mut self) {
        self.app.message = None;
    }
}

#[tokio::test]
async fn apply_without_hpa_scales_through_the_scale_subresource() {
    let mut h = Harness::new(false).await;
    h.select("ledger");
    let rec = h
        .app
        .selected_view()
        .and_then(|v| v.recommendation.clone())
        .expect("rec");
    assert_eq!(
        (rec.decision.action, rec.decision.target_replicas),
        (ScalingAction::ScaleDown, 2)
    );
    h.key(KeyCode::Char('a'));
    let Some(Popup::Confirm(Confirm { plan })) = &h.app.popup else {
        panic!("a opens the confirm dialog, got {:?}", h.app.popup);
    };
    assert_eq!(plan.changes[0], Change::Scale { from: 3, to: 2 });
    // The policy's mark: when the replicas last moved and which way (hold times read it).
    assert!(
        matches!(
            plan.changes[1],
            Change::FloorMark {
                from: None,
                to: Some(m)
            } if !m.raised
        ),
        "{:?}",
        plan.changes
    );
    assert_eq!(
        plan.kubectl()[0],
        "kubectl -n payments scale deployment/ledger --replicas=2"
    );
    h.key(KeyCode::Char('y'));
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    assert_eq!(h.state("payments", "ledger").desired_replicas, 2);
    let j = h.journal();
    let last = j.last().expect("journalled");
    assert_eq!(
        (last.kind.clone(), last.name.as_str(), last.outcome.ok),
        (EntryKind::Apply, "ledger", true)
    );
    assert_eq!(
        last.recommendation.as_ref().map(|r| r.target_replicas),
        Some(2)
    );

    // u restores the previous value through the same guard, and is journalled.
    h.clear_message();
    h.key(KeyCode::Char('u'));
    let msg = h.wait_report().await;
    assert!(msg.starts_with("undone:"), "{msg}");
    assert_eq!(h.state("payments", "ledger").desired_replicas, 3);
    assert_eq!(
        h.journal().last().map(|e| e.kind.clone()),
        Some(EntryKind::Undo)
    );
}

#[tokio::test]
async fn apply_with_hpa_moves_min_replicas_and_keeps_the_users_bounds() {
    let mut h = Harness::new(false).await;
    h.select("frontend");
    // A scale-up recommendation for a deployment with an HPA (crafted from the real one).
    let mut rec = (*h
        .app
        .selected_view()
        .and_then(|v| v.recommendation.clone())
        .expect("rec"))
    .clone();
    let current = h.state("shop", "frontend").desired_replicas;
    rec.decision.action = ScalingAction::ScaleUp;
    rec.decision.target_replicas = current + 3;
    rec.change = PolicyChange::Floor {
        hpa: "frontend".into(),
        from: 2,
        to: current + 3,
        until: rec.inputs.observed_at + 600,
    };
    h.app.on_update(Update::Recommendation(Arc::new(rec)));
    h.key(KeyCode::Char('a'));
    let Some(Popup::Confirm(Confirm { plan })) = &h.app.popup else {
        panic!("confirm expected, got {:?}", h.app.popup);
    };
    assert!(
        plan.describe()
            .iter()
            .any(|d| d.contains("hpa/frontend: spec.minReplicas 2 →")),
        "{:?}",
        plan.describe()
    );
    h.key(KeyCode::Enter);
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    let s = h.state("shop", "frontend");
    let hpa = s.hpa.as_ref().expect("hpa");
    assert_eq!(hpa.min_replicas, current + 3, "the HPA's floor moved");
    assert_eq!(
        s.desired_replicas, current,
        "the deployment itself was not scaled directly"
    );
    assert_eq!(
        s.annotated_bounds,
        (Some(2), Some(20)),
        "the user's bounds are kept"
    );
    assert_eq!(s.min_replicas, 2, "so the deployment's floor stays 2");
    assert!(
        s.floor_mark.is_some_and(|m| m.raised),
        "the floor's mark is on the deployment: {:?}",
        s.floor_mark
    );
    // The HPA follows its new floor at its next sync.
    h.sim.advance(15);
    assert_eq!(h.state("shop", "frontend").desired_replicas, current + 3);
}

#[tokio::test]
async fn dismiss_hides_the_card_until_the_recommendation_changes() {
    let mut h = Harness::new(false).await;
    h.select("auth");
    h.key(KeyCode::Char('x'));
    let rec = h
        .app
        .selected_view()
        .and_then(|v| v.recommendation.clone())
        .expect("rec");
    assert!(h.app.is_dismissed(&rec));
    assert!(
        h.app
            .selected_view()
            .and_then(|v| h.app.shown_recommendation(v))
            .is_none()
    );
    h.settle(|_| true).await;
    // Journalled (by the engine, asynchronously).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !h
        .journal()
        .iter()
        .any(|e| e.kind == EntryKind::Dismiss && e.name == "auth")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "dismiss not journalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A recommendation with another target shows again.
    let mut changed = (*rec).clone();
    changed.decision.target_replicas += 1;
    h.app.on_update(Update::Recommendation(Arc::new(changed)));
    assert!(
        h.app
            .selected_view()
            .and_then(|v| h.app.shown_recommendation(v))
            .is_some()
    );
    // `a` on a dismissed one does nothing.
    h.app.on_update(Update::Recommendation(rec));
    h.key(KeyCode::Char('a'));
    assert!(h.app.popup.is_none());
}

#[tokio::test]
async fn edit_rejects_bad_input_and_writes_nothing_then_writes_hpa_and_annotations() {
    let mut h = Harness::new(false).await;
    h.select("checkout");
    let before = h.state("shop", "checkout");
    for (min, max) in [
        ("abc", "12"),
        ("0", "12"),
        ("9", "4"),
        ("2", "501"),
        ("", "12"),
    ] {
        h.key(KeyCode::Char('e'));
        assert!(matches!(h.app.popup, Some(Popup::Editor(_))));
        // Clear both fields and type the values.
        for field in [min, max] {
            for _ in 0..6 {
                h.key(KeyCode::Backspace);
            }
            h.type_text(field);
            h.key(KeyCode::Tab);
        }
        h.key(KeyCode::Enter);
        assert!(
            matches!(h.app.popup, Some(Popup::Editor(_))),
            "{min}/{max}: the editor stays open on an error"
        );
        h.key(KeyCode::Esc);
        assert!(h.app.popup.is_none());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.state("shop", "checkout"), before, "nothing written");
    assert!(h.journal().is_empty(), "nothing journalled");

    h.key(KeyCode::Char('e'));
    for field in ["3", "15"] {
        for _ in 0..6 {
            h.key(KeyCode::Backspace);
        }
        h.type_text(field);
        h.key(KeyCode::Tab);
    }
    h.key(KeyCode::Enter);
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    let s = h.state("shop", "checkout");
    let hpa = s.hpa.as_ref().expect("hpa");
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (3, 15));
    assert_eq!(s.annotated_bounds, (Some(3), Some(15)));
    assert_eq!(
        h.journal().last().map(|e| e.kind.clone()),
        Some(EntryKind::Edit)
    );
}

#[tokio::test]
async fn scale_by_hand_stays_in_bounds_and_is_refused_where_an_hpa_scales() {
    let mut h = Harness::new(false).await;
    // catalog has an HPA: s says why instead of opening a form.
    h.select("catalog");
    h.key(KeyCode::Char('s'));
    assert!(
        h.app.popup.is_none(),
        "no form for an HPA-scaled deployment"
    );
    let (msg, _) = h.app.message.clone().expect("a message");
    assert!(msg.contains("hpa/catalog scales shop/catalog"), "{msg}");

    let (ns, name) = h
        .app
        .deployments
        .values()
        .find(|v| v.state.hpa.is_none() && v.state.desired_replicas > 0)
        .map(|v| (v.state.key.namespace.clone(), v.state.key.name.clone()))
        .expect("the demo has a deployment without an HPA");
    h.select(&name);
    h.key(KeyCode::Char('s'));
    assert!(
        matches!(h.app.popup, Some(Popup::Editor(_))),
        "s opens the scale form"
    );
    for _ in 0..4 {
        h.key(KeyCode::Backspace);
    }
    h.type_text("999");
    let Some(Popup::Editor(f)) = &h.app.popup else {
        panic!("scale form")
    };
    assert!(
        f.validate(h.app.session.limits).is_err(),
        "999 is above the max"
    );
    for _ in 0..3 {
        h.key(KeyCode::Backspace);
    }
    let s = h.state(&ns, &name);
    let target = s.desired_replicas + 1;
    h.type_text(&target.to_string());
    let Some(Popup::Editor(f)) = &h.app.popup else {
        panic!("scale form")
    };
    f.validate(h.app.session.limits).expect("valid");
    h.key(KeyCode::Enter);
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    assert_eq!(h.state(&ns, &name).desired_replicas, target);
}

#[tokio::test]
async fn predictive_toggle_and_create_hpa_write_and_journal() {
    let mut h = Harness::new(false).await;
    h.select("auth");
    h.key(KeyCode::Char('p'));
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    assert!(h.state("platform", "auth").predictive_enabled);

    h.key(KeyCode::Char('H'));
    assert!(matches!(h.app.popup, Some(Popup::Editor(_))));
    h.key(KeyCode::Enter);
    let Some(Popup::Confirm(Confirm { plan })) = &h.app.popup else {
        panic!("create HPA is confirmed")
    };
    assert!(plan.kubectl()[0].starts_with("kubectl -n platform autoscale deployment/auth"));
    h.key(KeyCode::Char('y'));
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    assert!(h.state("platform", "auth").hpa.is_some());
    let kinds: Vec<EntryKind> = h.journal().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EntryKind::Predictive, EntryKind::CreateHpa]);
    // H on a deployment with an HPA is refused (once the app has seen the new HPA).
    h.settle(|a| a.selected_view().is_some_and(|v| v.state.hpa.is_some()))
        .await;
    h.clear_message();
    h.key(KeyCode::Char('H'));
    assert!(h.app.popup.is_none());
    assert!(
        h.app
            .message
            .as_ref()
            .is_some_and(|m| m.0.contains("already has an HPA"))
    );
}

#[tokio::test]
async fn read_only_refuses_every_write_key_with_a_message() {
    let mut h = Harness::new(true).await;
    h.select("ledger");
    let before = h.state("payments", "ledger");
    for k in ['a', 'e', 's', 'p', 'u', 'H'] {
        h.clear_message();
        h.key(KeyCode::Char(k));
        assert!(h.app.popup.is_none(), "{k} opened {:?}", h.app.popup);
        let msg = h.app.message.clone().map(|m| m.0).unwrap_or_default();
        assert!(msg.contains("read-only"), "{k}: {msg}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.state("payments", "ledger"), before);
    assert!(h.journal().is_empty());
}

#[tokio::test]
async fn a_409_re_reads_and_asks_again_and_a_403_says_why_with_nothing_written() {
    let mut h = Harness::new(false).await;
    h.select("ledger");
    h.sim.world().inject_fault(ClusterError::Conflict(
        "Operation cannot be fulfilled on deployments.apps \"ledger\": the object has been modified".into(),
    ));
    h.key(KeyCode::Char('a'));
    h.key(KeyCode::Char('y'));
    h.settle(|a| matches!(a.popup, Some(Popup::Confirm(_))))
        .await;
    assert!(
        h.app
            .message
            .as_ref()
            .is_some_and(|m| m.0.contains("confirm again")),
        "{:?}",
        h.app.message
    );
    assert_eq!(
        h.state("payments", "ledger").desired_replicas,
        3,
        "nothing applied"
    );
    h.key(KeyCode::Char('y'));
    let msg = h.wait_report().await;
    assert!(msg.starts_with("done:"), "{msg}");
    assert_eq!(h.state("payments", "ledger").desired_replicas, 2);

    h.select("auth");
    h.sim.world().inject_fault(ClusterError::Forbidden(
        "deployments.apps \"auth\" is forbidden: User \"sre\" cannot patch resource".into(),
    ));
    h.key(KeyCode::Char('a'));
    h.key(KeyCode::Char('y'));
    let msg = h.wait_report().await;
    assert!(
        msg.contains("forbidden") && msg.contains("cannot patch"),
        "{msg}"
    );
    assert_eq!(h.state("platform", "auth").desired_replicas, 6);
    let last = h.journal().pop().expect("journalled");
    assert!(
        !last.outcome.ok
            && last
                .outcome
                .error
                .as_deref()
                .is_some_and(|e| e.contains("forbidden"))
    );
}

#[tokio::test]
async fn a_multi_change_write_that_fails_half_way_is_rolled_back() {
    let h = Harness::new(false).await;
    // An edit on an HPA deployment is two writes (the HPA's bounds, then the annotations).
    let before = h.state("shop", "checkout");
    let plan = ai4k8s::actions::plan::plan_edit_bounds(&before, 3, 9, before.annotated_bounds);
    assert_eq!(plan.changes.len(), 2);
    let journal = Journal::open(h.data.path()).expect("journal");
    let actions = Actions::new(
        Arc::new(h.sim.clone()),
        Arc::new(journal),
        Config::default().limits(),
        false,
    );
    h.sim
        .world()
        .inject_fault_after(1, ClusterError::Unavailable("connection reset".into()));
    let err = actions
        .execute(plan, false)
        .await
        .expect_err("second write fails");
    assert!(err.to_string().contains("connection reset"), "{err}");
    let after = h.state("shop", "checkout");
    assert_eq!(
        after.hpa.as_ref().map(|h| (h.min_replicas, h.max_replicas)),
        Some((2, 12)),
        "the first write was rolled back"
    );
    assert_eq!(after.annotated_bounds, before.annotated_bounds);
    let last = h.journal().pop().expect("journalled");
    assert!(!last.outcome.ok);
}

#[test]
fn annotation_names_are_the_seeds() {
    assert_eq!(annotations::PREDICTIVE, "ai4k8s.io/predictive-autoscaling");
}
