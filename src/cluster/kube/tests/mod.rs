//! The kube path against a fake API server (`mock.rs`): reads, every failure mode, writes and
//! capacity. The engine and the TUI over this path are tested in `tests/kube_engine.rs`.

mod capacity;
mod fixtures;
mod reads;
mod writes;

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use super::mock::{FakeApi, status};
use super::{KubeCluster, KubeOptions};
use crate::cluster::{Change, Cluster, ClusterError, HpaSpec, SourceState, annotations};
use crate::model::{ClusterSnapshot, DeploymentKey, DeploymentState};
use fixtures::*;

fn find<'a>(s: &'a ClusterSnapshot, key: &str) -> &'a DeploymentState {
    s.deployments
        .iter()
        .find(|d| d.key.to_string() == key)
        .unwrap_or_else(|| panic!("{key} in {:?}", s.deployments))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Call `snapshot()` until it succeeds.
async fn snapshot_eventually(c: &KubeCluster) -> ClusterSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match c.snapshot().await {
            Ok(s) => return s,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "still failing: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn key(s: &str) -> DeploymentKey {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

async fn synced(fake: &FakeApi) -> KubeCluster {
    let c = start(fake);
    c.snapshot().await.expect("synced");
    c
}

fn writes(fake: &FakeApi, method: Method) -> Vec<super::mock::Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == method)
        .collect()
}
