//! The other owners in the TUI: the row's marker and the card's warning for a VPA, the confirm
//! dialog's warnings for a VPA, Argo CD and KEDA (with the ScaledObject and its kubectl line),
//! and `g` in the dialog writing the change as a patch for git that a real API server (sim
//! serve, through the real kubectl) accepts, while nothing is applied.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ai4k8s::actions::plan;
use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine;
use ai4k8s::model::DeploymentKey;
use ai4k8s::sim::serve as simserve;
use ai4k8s::sim::{SimCluster, SimWorld, scenario};
use ai4k8s::tui::app::{App, SessionInfo};
use ai4k8s::tui::popups::{Confirm, Popup};
use ai4k8s::tui::preview::app_from_world;
use ai4k8s::tui::session::Session;
use ai4k8s::tui::{run_loop, ui};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use common::tui::text;

fn owned_world() -> SimWorld {
    let mut world = SimWorld::demo(42, 48);
    for (key, o) in scenario::demo_owners() {
        world.set_ownership(&key, o).expect("a demo deployment");
    }
    world
}

fn app(world: &SimWorld, data_dir: &Path) -> App {
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    app_from_world(
        world,
        &advisor,
        SessionInfo {
            context: "demo".into(),
            data_dir: Some(data_dir.to_path_buf()),
            ..SessionInfo::default()
        },
    )
}

fn select(app: &mut App, ns: &str, name: &str) {
    let key = DeploymentKey::new(ns, name);
    app.selected = app
        .visible
        .iter()
        .position(|k| *k == key)
        .unwrap_or_else(|| panic!("{key} is listed"));
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    ui::prepare(app, Rect::new(0, 0, w, h));
    term.draw(|f| ui::render(f, app)).expect("draw");
    text(term.backend().buffer())
}

/// The text inside the box whose top border starts "┌ {title}", its lines joined with one
/// space (so wrapped sentences read whole) and its border left out.
fn boxed(screen: &str, title: &str) -> String {
    let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let head: Vec<char> = format!("┌ {title}").chars().collect();
    let (top, left) = rows
        .iter()
        .enumerate()
        .find_map(|(y, r)| {
            (0..r.len())
                .find(|&x| r[x..].starts_with(&head))
                .map(|x| (y, x))
        })
        .unwrap_or_else(|| panic!("no box {title:?} in:\n{screen}"));
    let right = (left + 1..rows[top].len())
        .find(|&x| rows[top][x] == '┐')
        .expect("the box's corner");
    let mut inside = Vec::new();
    for r in &rows[top + 1..] {
        if r.get(left) == Some(&'└') {
            break;
        }
        let line: String = r
            .get(left + 1..right.min(r.len()))
            .unwrap_or_default()
            .iter()
            .collect();
        inside.push(line.trim().to_string());
    }
    inside
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn confirm(app: &mut App, plan: plan::Plan) -> String {
    app.popup = Some(Popup::Confirm(Confirm::new(Box::new(plan))));
    draw(app, 200, 60)
}

#[test]
fn the_vpa_is_marked_on_its_row_and_warned_about_on_the_card_and_in_the_dialog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = app(&owned_world(), dir.path());
    select(&mut app, "payments", "api");
    let screen = draw(&mut app, 200, 60);
    let row = screen
        .lines()
        .find(|l| l.contains("api V"))
        .unwrap_or_else(|| panic!("api's row carries V:\n{screen}"));
    assert!(row.contains("payments"), "{row}");
    // A deployment nobody else owns has no marker.
    assert!(
        screen.lines().any(|l| l.contains(" ledger ")),
        "ledger unmarked:\n{screen}"
    );
    let card = boxed(&screen, "payments/api");
    assert!(
        card.contains("⚠ vpa/api (Auto mode, cpu+memory) evicts these pods to resize them"),
        "{card}"
    );
    assert!(
        card.contains("set its updateMode to Off or Initial"),
        "{card}"
    );
    let state = app.selected_view().expect("api").state.clone();
    let edit = plan::plan_edit_bounds(&state, 3, 14, state.annotated_bounds);
    let dialog = boxed(&confirm(&mut app, edit), "Confirm");
    assert!(
        dialog.contains("⚠ vpa/api (Auto mode, cpu+memory) evicts these pods"),
        "{dialog}"
    );
    assert!(
        !dialog.contains("patch for git"),
        "no GitOps, no git patch offered: {dialog}"
    );
    // Before its first recommendation the card already warns.
    app.popup = None;
    let key = DeploymentKey::new("payments", "api");
    app.deployments.get_mut(&key).expect("api").recommendation = None;
    let card = boxed(&draw(&mut app, 200, 60), "Recommendation");
    assert!(
        card.starts_with("computing… ⚠ vpa/api (Auto mode"),
        "{card}"
    );
    // Without the VPA, no warning: the words come from the ownership, not the name.
    select(&mut app, "payments", "ledger");
    app.popup = None;
    assert!(!boxed(&draw(&mut app, 200, 60), "payments/ledger").contains("evicts these pods"));
}

#[test]
fn a_keda_owned_hpa_is_changed_through_its_scaledobject_in_the_dialog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = app(&owned_world(), dir.path());
    select(&mut app, "shop", "frontend");
    let screen = draw(&mut app, 200, 60);
    assert!(screen.lines().any(|l| l.contains("frontend K")), "{screen}");
    assert!(
        boxed(&screen, "shop/frontend")
            .contains("ℹ KEDA: its HPA is made by scaledobject/frontend (min 2, max 20)"),
        "{screen}"
    );
    let state = app.selected_view().expect("frontend").state.clone();
    let edit = plan::plan_edit_bounds(&state, 3, 18, state.annotated_bounds);
    let dialog = boxed(&confirm(&mut app, edit), "Confirm");
    assert!(
        dialog.contains(
            "scaledobject/frontend (keda.sh/v1alpha1, owns its HPA): spec.minReplicaCount 2 → 3, spec.maxReplicaCount 20 → 18"
        ),
        "{dialog}"
    );
    assert!(
        dialog.contains(
            r#"kubectl patch scaledobject frontend -n shop --type merge -p '{"spec":{"maxReplicaCount":18,"minReplicaCount":3}}'"#
        ),
        "{dialog}"
    );
    assert!(
        !dialog.contains("hpa/frontend: spec.minReplicas"),
        "{dialog}"
    );
}

fn key(c: char) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

/// The real loop over `app`, fed `keys`; the app and the commands it sent the engine.
async fn run(app: App, keys: Vec<io::Result<Event>>) -> (App, Vec<engine::Command>) {
    let (commands, mut commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let (_updates_tx, updates) = tokio::sync::mpsc::unbounded_channel();
    let session = Session {
        info: app.session.clone(),
        commands,
        updates,
    };
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test terminal");
    let app = run_loop(
        &mut terminal,
        app,
        futures::stream::iter(keys),
        session,
        None,
        Duration::from_millis(50),
    )
    .await
    .expect("the loop ends with its keys");
    let mut sent = Vec::new();
    while let Ok(c) = commands_rx.try_recv() {
        // What is on screen (for the engine's priorities) is not an action.
        if !matches!(c, engine::Command::Focus(_) | engine::Command::History(_)) {
            sent.push(c);
        }
    }
    (app, sent)
}

/// kubectl against `kubeconfig`; its stdout, or the failure.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("30")
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=20s")
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("kubectl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitops_the_dialog_warns_and_g_writes_a_patch_for_git_that_kubectl_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = owned_world();
    let mut app = app(&world, dir.path());
    select(&mut app, "shop", "checkout");
    let screen = draw(&mut app, 200, 60);
    assert!(screen.lines().any(|l| l.contains("checkout G")), "{screen}");
    let card = boxed(&screen, "shop/checkout");
    assert!(
        card.contains("⚠ Argo CD tracks it (application shop-checkout): a change applied here is reverted at its next sync"),
        "{card}"
    );
    let state = app.selected_view().expect("checkout").state.clone();
    let (min, max) = (state.min_replicas + 1, state.max_replicas + 2);
    let edit = plan::plan_edit_bounds(&state, min, max, state.annotated_bounds);
    let dialog = boxed(&confirm(&mut app, edit), "Confirm");
    assert!(
        dialog.contains("⚠ Argo CD tracks it (application shop-checkout)"),
        "{dialog}"
    );
    assert!(
        dialog.contains("g write a patch for git (data dir), apply nothing b both"),
        "{dialog}"
    );

    // g: the patch is written to the data dir and nothing is sent to the engine.
    let (app, sent) = run(app, vec![key('g')]).await;
    assert!(app.popup.is_none(), "the dialog closed");
    assert!(sent.is_empty(), "nothing applied: {} commands", sent.len());
    let (message, _) = app.message.clone().expect("a message");
    let path = message
        .strip_prefix("git patch written: ")
        .and_then(|m| m.strip_suffix(" (nothing applied)"))
        .unwrap_or_else(|| panic!("{message}"));
    assert!(
        path.starts_with(&dir.path().join("gitops").display().to_string()),
        "{path}"
    );
    let yaml = std::fs::read_to_string(path).expect("the patch file");
    assert!(
        yaml.starts_with("# ai4k8s: the change to shop/checkout"),
        "{yaml}"
    );

    // Each document is a patch a real server accepts (dry run: the world does not move).
    let sim = SimCluster::new(world);
    let (addr, server) = simserve::serve_with(
        sim.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        simserve::Options::default(),
    )
    .await
    .expect("serve");
    let kubeconfig = dir.path().join("kubeconfig");
    simserve::write_kubeconfig(&kubeconfig, addr).expect("kubeconfig");
    let docs: Vec<&str> = yaml.split("---\n").skip(1).collect();
    assert_eq!(
        docs.len(),
        2,
        "the HPA and the deployment's annotations: {yaml}"
    );
    let mut kinds = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let file = dir.path().join(format!("doc-{i}.yaml"));
        std::fs::write(&file, doc).expect("doc");
        let kind = if doc.contains("\"kind\": \"HorizontalPodAutoscaler\"") {
            "hpa"
        } else {
            assert!(doc.contains("\"kind\": \"Deployment\""), "{doc}");
            "deployment"
        };
        let patch_file = file.display().to_string();
        let kc = kubeconfig.clone();
        let args = [
            "patch",
            kind,
            "checkout",
            "-n",
            "shop",
            "--type=merge",
            "--patch-file",
            patch_file.as_str(),
            "--dry-run=server",
            "-o",
            "json",
        ]
        .map(str::to_string);
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl(&kc, &args)
        })
        .await
        .expect("kubectl task")
        .unwrap_or_else(|e| panic!("kubectl refused {doc}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        if kind == "hpa" {
            assert_eq!(v["spec"]["minReplicas"], min, "{out}");
            assert_eq!(v["spec"]["maxReplicas"], max, "{out}");
        } else {
            let a = &v["metadata"]["annotations"];
            assert_eq!(a["ai4k8s.io/min-replicas"], min.to_string(), "{out}");
            assert_eq!(a["ai4k8s.io/max-replicas"], max.to_string(), "{out}");
        }
        kinds.push(kind);
    }
    assert_eq!(kinds, ["hpa", "deployment"]);
    let after = sim.world().snapshot();
    let checkout = after
        .deployments
        .iter()
        .find(|d| d.key == state.key)
        .expect("checkout");
    assert_eq!(
        (checkout.min_replicas, checkout.max_replicas),
        (state.min_replicas, state.max_replicas),
        "dry runs only: the cluster is as it was"
    );
    server.abort();

    // b: the patch is written and the plan goes to the engine too.
    let mut app = app;
    let edit = plan::plan_edit_bounds(&state, min, max, state.annotated_bounds);
    app.popup = Some(Popup::Confirm(Confirm::new(Box::new(edit))));
    let (app, sent) = run(app, vec![key('b')]).await;
    assert!(
        matches!(sent.as_slice(), [engine::Command::Execute(p)] if p.key == state.key),
        "{} commands",
        sent.len()
    );
    let (message, _) = app.message.clone().expect("a message");
    assert!(
        message.starts_with("applying…; git patch written: "),
        "{message}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("gitops"))
            .expect("gitops dir")
            .count(),
        2,
        "the second patch is kept beside the first"
    );
}
