//! `:ctx`: the real event loop (TestBackend, keys from a channel) switches to another session
//! when it is up, keeps the old one when the connection fails, and says why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io;
use std::sync::Arc;
use std::time::Duration;

use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, EngineOptions, Update};
use ai4k8s::model::DeploymentKey;
use ai4k8s::sim::{SimCluster, SimWorld, scenario};
use ai4k8s::tui::app::{App, SessionInfo};
use ai4k8s::tui::popups::{Popup, Prompt};
use ai4k8s::tui::run_loop;
use ai4k8s::tui::session::{Connector, Session};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::future::BoxFuture;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::Notify;

/// An engine over `world`, named `context`; `ready` fires at its first snapshot.
fn session(world: SimWorld, context: &str, ready: Arc<Notify>) -> Session {
    let (commands, mut updates) = engine::spawn(
        Arc::new(SimCluster::new(world)),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        EngineOptions {
            poll_every: Duration::from_millis(20),
            ..EngineOptions::default()
        },
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(u) = updates.recv().await {
            if matches!(u, Update::Snapshot(_)) {
                ready.notify_one();
            }
            if tx.send(u).is_err() {
                return;
            }
        }
    });
    Session {
        info: SessionInfo {
            context: context.into(),
            ..SessionInfo::default()
        },
        commands,
        updates: rx,
    }
}

fn world_a() -> SimWorld {
    SimWorld::demo(1, 4)
}

fn world_b() -> SimWorld {
    SimWorld::warmed_up(2, scenario::synthetic(5), 4)
}

fn keys(world: &SimWorld) -> Vec<DeploymentKey> {
    world.deployment_keys()
}

/// Contexts a, b and broken; b is a different simulated cluster, broken never connects.
struct FakeKubeconfig {
    b_ready: Arc<Notify>,
}

impl Connector for FakeKubeconfig {
    fn contexts(&self) -> Vec<String> {
        vec!["a".into(), "b".into(), "broken".into()]
    }

    fn connect(&self, context: String) -> BoxFuture<'static, Result<Session, String>> {
        let ready = self.b_ready.clone();
        Box::pin(async move {
            match context.as_str() {
                "b" => Ok(session(world_b(), "b", ready)),
                other => Err(format!("{other}: connection refused")),
            }
        })
    }
}

fn press(tx: &UnboundedSender<io::Result<Event>>, text: &str) {
    for c in text.chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        let _ = tx.unbounded_send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))));
    }
}

/// Run the loop on session a; `script` types keys (it gets the notify of b's first snapshot)
/// and ends the key stream, which ends the loop.
async fn drive<F>(script: F) -> App
where
    F: FnOnce(UnboundedSender<io::Result<Event>>, Arc<Notify>) -> BoxFuture<'static, ()>,
{
    let a_ready = Arc::new(Notify::new());
    let b_ready = Arc::new(Notify::new());
    let first = session(world_a(), "a", a_ready.clone());
    let app = App::new(first.info.clone());
    let (tx, rx) = unbounded();
    let connector: Arc<dyn Connector> = Arc::new(FakeKubeconfig {
        b_ready: b_ready.clone(),
    });
    let looped = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("test terminal");
        run_loop(
            &mut terminal,
            app,
            rx,
            first,
            Some(connector),
            Duration::from_millis(50),
        )
        .await
    });
    tokio::time::timeout(Duration::from_secs(60), a_ready.notified())
        .await
        .expect("session a polls");
    tokio::time::sleep(Duration::from_millis(200)).await;
    script(tx, b_ready).await;
    tokio::time::timeout(Duration::from_secs(60), looped)
        .await
        .expect("the loop ends with its key stream")
        .expect("loop task")
        .expect("loop ok")
}

fn shown(app: &App) -> Vec<DeploymentKey> {
    app.deployments.keys().cloned().collect()
}

/// Wait for session b's first snapshot and for the loop to fold it, then end the key stream:
/// the loop returns its state (pressing q would clear the message).
async fn end_when_b_is_up(tx: UnboundedSender<io::Result<Event>>, b_ready: Arc<Notify>) {
    tokio::time::timeout(Duration::from_secs(60), b_ready.notified())
        .await
        .expect("session b polls");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tx);
}

/// The status line's message, "" when none.
fn message(app: &App) -> &str {
    app.message.as_ref().map_or("", |(m, _)| m.as_str())
}

fn sorted(mut v: Vec<DeploymentKey>) -> Vec<DeploymentKey> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_name_switches_to_the_other_cluster_once_it_is_up() {
    let app = drive(|tx, b_ready| {
        Box::pin(async move {
            press(&tx, ":ctx b\n");
            end_when_b_is_up(tx, b_ready).await;
        })
    })
    .await;
    assert_eq!(app.session.context, "b");
    assert_eq!(sorted(shown(&app)), sorted(keys(&world_b())));
    assert_eq!(message(&app), "switched to context b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_that_cannot_connect_keeps_the_current_one_and_says_why() {
    let app = drive(|tx, _| {
        Box::pin(async move {
            press(&tx, ":ctx broken\n");
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(tx);
        })
    })
    .await;
    assert_eq!(app.session.context, "a");
    assert_eq!(sorted(shown(&app)), sorted(keys(&world_a())));
    assert_eq!(
        message(&app),
        "cannot switch context: broken: connection refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_lists_the_contexts_and_unknown_names_are_refused() {
    let app = drive(|tx, b_ready| {
        Box::pin(async move {
            press(&tx, ":ctx nope\n");
            // `:ctx` alone opens the picker on the current context; j moves to b.
            press(&tx, ":ctx\nj\n");
            end_when_b_is_up(tx, b_ready).await;
        })
    })
    .await;
    assert_eq!(app.session.context, "b");
    assert_eq!(app.contexts, ["a", "b", "broken"]);
}

#[test]
fn without_a_kubeconfig_ctx_says_there_is_nothing_to_switch_to() {
    let mut app = App::new(SessionInfo {
        context: "demo".into(),
        ..SessionInfo::default()
    });
    app.popup = Some(Popup::Prompt(Prompt::command("ctx")));
    enter(&mut app);
    assert!(app.switch_context.is_none());
    assert!(
        message(&app).contains("no other contexts"),
        "{}",
        message(&app)
    );
    app.contexts = vec!["demo".into()];
    app.popup = Some(Popup::Prompt(Prompt::command("ctx")));
    enter(&mut app);
    assert_eq!(message(&app), "the kubeconfig has one context: demo");
    assert!(app.popup.is_none());
    app.contexts = vec!["demo".into(), "prod".into()];
    app.popup = Some(Popup::Prompt(Prompt::command("ctx nope")));
    enter(&mut app);
    assert_eq!(
        message(&app),
        "no context \"nope\" in the kubeconfig (have: demo, prod)"
    );
    app.popup = Some(Popup::Prompt(Prompt::command("ctx prod")));
    enter(&mut app);
    assert_eq!(app.switch_context.as_deref(), Some("prod"));
}

/// Enter, as the loop hands it to the app.
fn enter(app: &mut App) {
    ai4k8s::tui::handle_key(app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
}
