//! Enter opens the deployment: its pods (ready, age, CPU and memory each), its HPA's conditions
//! and its recent events, fetched on demand through the engine (`Command::Describe` →
//! `Update::Detail`) from the simulator and, on the kube-rs path, from `ai4k8s sim serve`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use ai4k8s::advisor::Advisor;
use ai4k8s::cluster::Cluster;
use ai4k8s::cluster::kube::{KubeCluster, KubeOptions};
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, Command, EngineOptions, Update};
use ai4k8s::model::{DeploymentDetail, DeploymentKey};
use ai4k8s::sim::{SimCluster, SimWorld};
use ai4k8s::tui::app::App;
use ai4k8s::tui::popups::Popup;
use ai4k8s::tui::{handle_key, ui};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use common::sim_serve::sim_serve;
use common::tui::{demo_app, text};

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    ui::prepare(app, Rect::new(0, 0, w, h));
    term.draw(|f| ui::render(f, app)).expect("draw");
    text(term.backend().buffer())
}

fn press(app: &mut App, code: KeyCode) -> Option<Command> {
    handle_key(app, KeyEvent::new(code, KeyModifiers::NONE))
}

/// Ask a running engine for a deployment's detail and wait for the answer.
async fn describe_through_engine(
    cluster: Arc<dyn Cluster>,
    key: &DeploymentKey,
) -> Result<Arc<DeploymentDetail>, String> {
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let (commands, mut updates) = engine::spawn(cluster, advisor, EngineOptions::default());
    commands
        .send(Command::Describe(key.clone()))
        .expect("engine up");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let update = tokio::time::timeout_at(deadline, updates.recv())
            .await
            .expect("a detail within 30 s")
            .expect("engine up");
        if let Update::Detail(k, result) = update {
            assert_eq!(&k, key);
            return result;
        }
    }
}

fn assert_conditions(d: &DeploymentDetail) {
    let hpa = d.hpa.as_ref().expect("an HPA");
    let kinds: Vec<&str> = hpa.conditions.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["AbleToScale", "ScalingActive", "ScalingLimited"]);
    for c in &hpa.conditions {
        assert!(!c.reason.is_empty() && !c.message.is_empty(), "{c:?}");
    }
}

#[tokio::test]
async fn enter_opens_the_deployment_and_the_engine_fills_it_from_the_simulator() {
    let world = SimWorld::demo(42, 48);
    let key = DeploymentKey::new("shop", "frontend");
    let want = world.snapshot();
    let state = want
        .deployments
        .iter()
        .find(|d| d.key == key)
        .expect("frontend")
        .clone();
    let sim = SimCluster::new(world);
    let detail = describe_through_engine(Arc::new(sim.clone()), &key)
        .await
        .expect("a detail");
    assert_eq!(detail.key, key);
    assert_eq!(detail.pods.len() as u32, state.total_pods);
    assert_eq!(
        detail.pods.iter().filter(|p| p.ready).count() as u32,
        state.ready_replicas
    );
    assert!(
        detail
            .pods
            .iter()
            .all(|p| p.cpu_millis.is_some() && p.mem_mib.is_some())
    );
    assert_conditions(&detail);
    // Two days of a daily cycle: the HPA rescaled, and said so.
    let rescale = detail
        .events
        .iter()
        .find(|e| e.reason == "SuccessfulRescale")
        .expect("a SuccessfulRescale event");
    assert!(rescale.message.starts_with("New size: "), "{rescale:?}");
    assert_eq!(rescale.object, "hpa/frontend");
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.reason == "ScalingReplicaSet")
    );
    // A deployment the cluster does not have is an error, not a panic.
    let missing = describe_through_engine(Arc::new(sim), &DeploymentKey::new("shop", "nope"))
        .await
        .expect_err("not found");
    assert!(missing.contains("shop/nope"), "{missing}");

    // The TUI: Enter on the row opens the popup at once and asks the engine.
    let mut app = demo_app(None);
    let at = app
        .visible
        .iter()
        .position(|k| k == &key)
        .expect("frontend row");
    app.selected = at;
    let cmd = press(&mut app, KeyCode::Enter);
    assert_eq!(cmd, Some(Command::Describe(key.clone())));
    assert!(matches!(app.popup, Some(Popup::Detail(_))));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("reading the pods, HPA and events of shop/frontend"),
        "{s}"
    );
    // An answer for another deployment is not this popup's.
    app.on_update(Update::Detail(
        DeploymentKey::new("shop", "checkout"),
        Err("other".into()),
    ));
    assert!(screen(&mut app, 120, 40).contains("reading the pods"));
    app.on_update(Update::Detail(key.clone(), Ok(detail.clone())));
    let s = screen(&mut app, 120, 40);
    for want in [
        "shop/frontend · esc closes",
        "POD",
        "frontend-",
        "AbleToScale",
        "ScalingActive",
        "ScalingLimited",
        "SuccessfulRescale",
        "New size: ",
        "hpa/frontend",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    let bar = s.lines().last().unwrap_or_default();
    assert!(bar.contains("esc close"), "{bar}");
    // Small terminals draw it without panicking.
    for (w, h) in [(80, 24), (40, 12), (10, 4)] {
        let _ = screen(&mut app, w, h);
    }
    press(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());

    // An error is said in the popup.
    press(&mut app, KeyCode::Enter);
    app.on_update(Update::Detail(
        key.clone(),
        Err("unavailable: API server down".into()),
    ));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("cannot describe shop/frontend: unavailable: API server down"),
        "{s}"
    );
}

#[tokio::test]
async fn on_the_kube_path_describe_reads_pods_conditions_and_events_from_sim_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve(dir.path(), None, "1");
    let c = KubeCluster::connect(KubeOptions {
        kubeconfig: Some(server.kubeconfig.clone()),
        metrics_every: Duration::from_millis(200),
        ..KubeOptions::default()
    })
    .await
    .expect("connect");
    let key = DeploymentKey::new("shop", "frontend");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Wait until the pods and their metrics are in.
    let (state, detail) = loop {
        if let Ok(snap) = c.snapshot().await
            && let Some(state) = snap.deployments.iter().find(|d| d.key == key).cloned()
            && state.cpu_pct.is_some()
        {
            let d = c.describe(&key).await.expect("describe");
            if d.pods.len() as u32 == state.total_pods
                && d.pods.iter().all(|p| p.cpu_millis.is_some())
            {
                break (state, d);
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(detail.problems.is_empty(), "{:?}", detail.problems);
    assert!(state.total_pods > 0);
    // The names sim serve gives its pods: the replica set's name and a suffix.
    assert!(
        detail.pods.iter().all(|p| p.name.starts_with("frontend-")
            && p.phase == "Running"
            && p.created.is_some()),
        "{:?}",
        detail.pods
    );
    assert_conditions(&detail);
    assert_eq!(
        detail.hpa.as_ref().map(|h| h.name.as_str()),
        Some("frontend")
    );
    // Events selected by involvedObject: the deployment's and its HPA's only.
    assert!(!detail.events.is_empty());
    assert!(
        detail
            .events
            .iter()
            .all(|e| e.object == "deployment/frontend" || e.object == "hpa/frontend"),
        "{:?}",
        detail.events
    );
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.reason == "SuccessfulRescale" && e.object == "hpa/frontend"),
        "{:?}",
        detail.events
    );
    let missing = c
        .describe(&DeploymentKey::new("shop", "nope"))
        .await
        .expect_err("not found");
    assert!(missing.to_string().contains("shop/nope"), "{missing}");
}
