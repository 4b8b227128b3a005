//! The engine and the TUI's app over the kube path, against the kube tests' fake API server:
//! a connection that drops mid-watch, and a server that comes back with nothing changed.
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
use ai4k8s::cluster::kube::KubeCluster;
use ai4k8s::cluster::{Cluster, ClusterError, SourceState};
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{self, EngineOptions, Update};
use ai4k8s::tui::app::{App, SessionInfo};
use common::kube::fixtures::{cluster_fake, eventually, start};

#[tokio::test]
async fn a_connection_drop_mid_watch_keeps_the_last_good_data_and_recovers() {
    let fake = cluster_fake();
    let cluster = Arc::new(start(&fake));
    let (_cmd, mut updates) = engine::spawn(
        cluster.clone(),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        EngineOptions {
            poll_every: Duration::from_millis(100),
            ..EngineOptions::default()
        },
    );
    let mut app = App::new(SessionInfo {
        context: "test".into(),
        read_only: true,
        ..SessionInfo::default()
    });
    // The first good snapshot.
    loop {
        let u = next(&mut updates).await;
        let done = matches!(&u, Update::Snapshot(s) if s.deployments.len() == 3);
        app.on_update(u);
        if done {
            break;
        }
    }
    eventually("watches open", || fake.open_watches("pods") == 1).await;

    // The API server goes away mid-watch: streams break, new connections are refused.
    fake.lock().down = true;
    for r in ["deployments", "pods", "horizontalpodautoscalers"] {
        fake.drop_watches(r);
    }
    let error = loop {
        let u = next(&mut updates).await;
        if let Update::ClusterError(e) = &u {
            let e = e.clone();
            app.on_update(u);
            break e;
        }
        app.on_update(u);
    };
    assert!(
        error.starts_with("unavailable: API server of test unreachable since"),
        "{error}"
    );
    assert!(error.contains("data shown is from"), "{error}");
    // The app still shows every deployment from the last good snapshot.
    assert_eq!(app.deployments.len(), 3);
    assert_eq!(app.cluster_error.as_deref(), Some(error.as_str()));
    assert!(matches!(
        cluster.snapshot().await,
        Err(ClusterError::Unavailable(_))
    ));
    assert_eq!(
        cluster.cached_snapshot().deployments.len(),
        3,
        "stores kept"
    );

    // It comes back: watches reconnect (with backoff) and snapshots flow again.
    fake.lock().down = false;
    loop {
        let u = next(&mut updates).await;
        let ok = matches!(&u, Update::Snapshot(_));
        app.on_update(u);
        if ok {
            break;
        }
    }
    assert!(app.cluster_error.is_none());
    eventually("watch re-established", || {
        fake.open_watches("deployments") >= 1
    })
    .await;
}

#[tokio::test]
async fn stale_clears_when_the_server_is_back_even_if_nothing_changed() {
    let fake = cluster_fake();
    let cluster = Arc::new(start(&fake));
    cluster.snapshot().await.expect("first");
    eventually("watches open", || {
        fake.open_watches("deployments") == 1 && fake.open_watches("pods") == 1
    })
    .await;
    let (_cmd, mut updates) = engine::spawn(
        cluster.clone(),
        Advisor::rules_only(AdvisorConfig::default(), "no key"),
        EngineOptions {
            poll_every: Duration::from_millis(100),
            ..EngineOptions::default()
        },
    );
    // The server dies (sim serve killed): watches break, reconnects are refused.
    fake.lock().down = true;
    for r in ["deployments", "pods", "horizontalpodautoscalers"] {
        fake.drop_watches(r);
    }
    let state = |c: &KubeCluster, source: &str| {
        c.status()
            .sources
            .iter()
            .find(|s| s.source == source)
            .map(|s| s.state)
    };
    eventually("deployments stale", || {
        state(&cluster, "deployments") == Some(SourceState::Stale)
    })
    .await;
    // It comes back with the same objects: no watch event will ever arrive.
    fake.lock().down = false;
    eventually("deployments ok again without any event", || {
        state(&cluster, "deployments") == Some(SourceState::Ok)
    })
    .await;
    eventually("every source ok", || cluster.status().summary().is_none()).await;
    // And the status bar has no cluster notice left (the engine sends one after a snapshot
    // whenever it changes, so two snapshots from now it is settled).
    let mut app = App::new(SessionInfo::default());
    // What was queued while it recovered (a stale notice among it) comes first.
    while let Ok(u) = updates.try_recv() {
        app.on_update(u);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut snapshots = 0;
    while snapshots < 2 {
        let u = tokio::time::timeout_at(deadline, updates.recv())
            .await
            .expect("snapshots flow again")
            .expect("engine alive");
        snapshots += usize::from(matches!(u, Update::Snapshot(_)));
        app.on_update(u);
    }
    assert!(!app.notices.contains_key("cluster"), "{:?}", app.notices);
    assert!(app.cluster_error.is_none());
}

async fn next(updates: &mut tokio::sync::mpsc::UnboundedReceiver<Update>) -> Update {
    tokio::time::timeout(Duration::from_secs(10), updates.recv())
        .await
        .ok()
        .flatten()
        .expect("engine keeps sending")
}
