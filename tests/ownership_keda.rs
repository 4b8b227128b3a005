//! A KEDA-owned HPA over the real wire: `sim serve` (in process, its clock moved by the test)
//! serves ScaledObjects and VPAs as custom resources and runs a KEDA loop that rewrites the HPA
//! from its ScaledObject at every step. The real kubectl shows that a patch of the HPA itself
//! is undone within a step; the app (kube-rs, the plan, the guard) changes the ScaledObject
//! instead, and that change holds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ai4k8s::actions::{Limits, guard, plan};
use ai4k8s::cluster::kube::{KubeCluster, KubeOptions};
use ai4k8s::cluster::{Change, Cluster};
use ai4k8s::model::ownership::VpaMode;
use ai4k8s::model::{DeploymentKey, DeploymentState, PolicyChange};
use ai4k8s::sim::serve as simserve;
use ai4k8s::sim::{SimCluster, SimWorld, scenario};
use serde_json::Value;

struct Served {
    runtime: tokio::runtime::Runtime,
    sim: SimCluster,
    server: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The demo with `--owners`: shop/frontend KEDA's, payments/api with a VPA, shop/checkout
/// Argo CD's.
fn serve() -> Served {
    serve_with(simserve::Options::default())
}

fn serve_with(options: simserve::Options) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut world = SimWorld::demo(42, 2);
    for (key, o) in scenario::demo_owners() {
        world.set_ownership(&key, o).expect("a demo deployment");
    }
    let sim = SimCluster::new(world);
    let (addr, server) = runtime
        .block_on(simserve::serve_with(
            sim.clone(),
            "127.0.0.1:0".parse().expect("addr"),
            options,
        ))
        .expect("serve");
    let dir = tempfile::tempdir().expect("tempdir");
    simserve::write_kubeconfig(&dir.path().join("kubeconfig"), addr).expect("kubeconfig");
    Served {
        runtime,
        sim,
        server,
        dir,
    }
}

impl Served {
    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// `sh -c CMD` with KUBECONFIG pointing at the server (to run the dialog's kubectl line).
    fn shell(&self, cmd: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("timeout 30 {cmd} --request-timeout=20s"))
            .env("KUBECONFIG", self.kubeconfig())
            .stdin(Stdio::null())
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{cmd} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .arg("30")
            .arg("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=20s")
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.kubectl(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// The HPA's bounds as kubectl reads them.
    fn hpa_bounds(&self) -> (u64, u64) {
        let h = self.json(&["get", "hpa", "frontend", "-n", "shop", "-o", "json"]);
        (
            h["spec"]["minReplicas"].as_u64().expect("min"),
            h["spec"]["maxReplicas"].as_u64().expect("max"),
        )
    }

    /// A KEDA step: the world moves 15 s.
    fn step(&self) {
        self.sim.advance(15);
    }

    fn connect(&self) -> KubeCluster {
        self.runtime
            .block_on(KubeCluster::connect(KubeOptions {
                kubeconfig: Some(self.kubeconfig()),
                metrics_every: Duration::from_millis(200),
                ..KubeOptions::default()
            }))
            .expect("connect")
    }
}

/// The deployment as the app's kube path sees it, once the ScaledObjects are in.
fn seen(s: &Served, c: &KubeCluster, ns: &str, name: &str) -> DeploymentState {
    seen_when(s, c, ns, name, |d| {
        !d.ownership.is_empty() || name != "frontend"
    })
}

/// The deployment once `ready` holds for it (the owners are polled beside the watches, and
/// each kind of owner may land in a different poll).
fn seen_when(
    s: &Served,
    c: &KubeCluster,
    ns: &str,
    name: &str,
    ready: impl Fn(&DeploymentState) -> bool,
) -> DeploymentState {
    let key = DeploymentKey::new(ns, name);
    for _ in 0..100 {
        let snap = s.runtime.block_on(c.snapshot()).expect("snapshot");
        let d = snap
            .deployments
            .into_iter()
            .find(|d| d.key == key)
            .expect("deployment");
        if ready(&d) {
            return d;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{key}: its owners never showed");
}

#[test]
fn kubectl_reads_scaledobjects_and_vpas_as_custom_resources() {
    let s = serve();
    let table = s.kubectl(&["get", "scaledobjects", "-A"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("shop") && l.contains("frontend")),
        "{table}"
    );
    assert_eq!(table.lines().count(), 2, "one ScaledObject: {table}");
    let so = s.json(&["get", "so", "frontend", "-n", "shop", "-o", "json"]);
    assert_eq!(so["apiVersion"], "keda.sh/v1alpha1");
    assert_eq!(so["spec"]["scaleTargetRef"]["name"], "frontend");
    assert_eq!(
        (
            &so["spec"]["minReplicaCount"],
            &so["spec"]["maxReplicaCount"]
        ),
        (&Value::from(2), &Value::from(20))
    );
    let vpa = s.json(&["get", "vpa", "-n", "payments", "-o", "json"]);
    assert_eq!(vpa["items"][0]["spec"]["targetRef"]["name"], "api");
    assert_eq!(
        vpa["items"][0]["spec"]["updatePolicy"]["updateMode"],
        "Auto"
    );
    // The HPA carries KEDA's marks: the label and the ScaledObject as its controller.
    let hpa = s.json(&["get", "hpa", "frontend", "-n", "shop", "-o", "json"]);
    assert_eq!(
        hpa["metadata"]["labels"]["scaledobject.keda.sh/name"],
        "frontend"
    );
    assert_eq!(
        hpa["metadata"]["ownerReferences"][0]["kind"],
        "ScaledObject"
    );
    // Discovery names both groups (kubectl api-resources reads it).
    let resources = s.kubectl(&["api-resources"]);
    assert!(resources.contains("keda.sh/v1alpha1"), "{resources}");
    assert!(resources.contains("autoscaling.k8s.io/v1"), "{resources}");
    // VPAs are read-only here.
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .args([
            "patch",
            "vpa",
            "api",
            "-n",
            "payments",
            "--type=merge",
            "-p",
            r#"{"spec":{"updatePolicy":{"updateMode":"Off"}}}"#,
        ])
        .output()
        .expect("kubectl");
    assert!(!out.status.success(), "a VPA patch is refused");
}

#[test]
fn a_patch_of_the_keda_hpa_is_undone_and_the_scaledobject_change_holds() {
    let s = serve();
    assert_eq!(s.hpa_bounds(), (2, 20));
    // Someone patches the HPA directly: it shows at once, and KEDA puts it back.
    s.kubectl(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":5}}"#,
    ]);
    assert_eq!(s.hpa_bounds(), (5, 20), "the patch landed");
    s.step();
    assert_eq!(
        s.hpa_bounds(),
        (2, 20),
        "KEDA rewrote it from the ScaledObject"
    );

    // The app reads the ScaledObject's ownership on the kube path.
    let c = s.connect();
    let state = seen(&s, &c, "shop", "frontend");
    let keda = state.ownership.keda.clone().expect("KEDA's");
    assert_eq!(
        (
            keda.name.as_str(),
            keda.min_replica_count,
            keda.max_replica_count
        ),
        ("frontend", 2, 20)
    );
    let api = seen_when(&s, &c, "payments", "api", |d| d.ownership.vpa.is_some());
    assert!(api.ownership.vpa_conflict().is_some());
    let vpa = api.ownership.vpa.expect("the VPA on payments/api");
    assert_eq!(vpa.mode, VpaMode::Auto);
    let checkout = seen(&s, &c, "shop", "checkout");
    let g = checkout.ownership.gitops.expect("Argo CD's");
    assert_eq!(g.detail, "application shop-checkout on deployment/checkout");

    // A floor becomes a ScaledObject change, which the guard accepts and kubectl can repeat.
    let floor = PolicyChange::Floor {
        hpa: "frontend".into(),
        from: 2,
        to: 4,
        until: state.floor_mark.map_or(0, |m| m.at) + 3600,
    };
    let changes = plan::changes_for(&state, &floor, 1_000).expect("a floor");
    let so_change = changes
        .iter()
        .find(|c| matches!(c, Change::ScaledObjectMin { .. }))
        .expect("the ScaledObject is what changes")
        .clone();
    assert!(
        !changes.iter().any(|c| matches!(
            c,
            Change::HpaMin { .. } | Change::HpaBounds { .. } | Change::HpaTarget { .. }
        )),
        "nothing written to the KEDA-owned HPA: {changes:?}"
    );
    let limits = Limits::default();
    let p = plan::Plan {
        key: state.key.clone(),
        intent: plan::Intent::Apply,
        changes: vec![so_change.clone()],
        reason: "test".into(),
        recommendation: None,
        warning: None,
        ownership: state.ownership.clone(),
    };
    guard::check(&p, &state, limits).expect("the guard lets it through");
    assert_eq!(
        p.kubectl(),
        [
            r#"kubectl patch scaledobject frontend -n shop --type merge -p '{"spec":{"minReplicaCount":4}}'"#
        ]
    );
    // The guard still holds the floor inside [min, max] and refuses an HPA patch.
    let too_high = Change::ScaledObjectMin {
        scaled_object: "frontend".into(),
        from: 2,
        to: 21,
    };
    assert!(
        guard::check(
            &plan::Plan {
                changes: vec![too_high],
                ..p.clone()
            },
            &state,
            limits
        )
        .is_err()
    );
    let direct = Change::HpaMin {
        hpa: "frontend".into(),
        from: 2,
        to: 4,
    };
    let refused = guard::check(
        &plan::Plan {
            changes: vec![direct],
            ..p.clone()
        },
        &state,
        limits,
    )
    .expect_err("an HPA patch of a KEDA-owned HPA");
    assert!(refused.to_string().contains("KEDA"), "{refused}");

    // Written through kube-rs: a dry run first (nothing moves), then the write.
    s.runtime
        .block_on(c.dry_run(&state.key, &so_change))
        .expect("dry run");
    let so = s.json(&["get", "so", "frontend", "-n", "shop", "-o", "json"]);
    assert_eq!(
        so["spec"]["minReplicaCount"], 2,
        "a dry run changes nothing"
    );
    s.runtime
        .block_on(c.write(&state.key, &so_change))
        .expect("write");
    let so = s.json(&["get", "so", "frontend", "-n", "shop", "-o", "json"]);
    assert_eq!(so["spec"]["minReplicaCount"], 4);
    assert_eq!(s.hpa_bounds(), (4, 20), "KEDA carried it into its HPA");
    for _ in 0..4 {
        s.step();
    }
    assert_eq!(s.hpa_bounds(), (4, 20), "and it holds through KEDA's loop");

    // The same change again, from the value it no longer shows, stops: nothing overwritten.
    let stale = s.runtime.block_on(c.write(&state.key, &so_change));
    assert!(
        matches!(&stale, Err(ai4k8s::cluster::ClusterError::Conflict(m)) if m.contains("minReplicaCount 2 → 4")),
        "{stale:?}"
    );

    // Bounds edited by hand go to the ScaledObject as well; the dialog's kubectl line works.
    let state = seen(&s, &c, "shop", "frontend");
    let edit = plan::plan_edit_bounds(&state, 3, 12, state.annotated_bounds);
    assert!(
        matches!(
            edit.changes[0],
            Change::ScaledObjectBounds {
                from: (4, 20),
                to: (3, 12),
                ..
            }
        ),
        "{:?}",
        edit.changes
    );
    // As a patch for git, the ScaledObject's document is one the server takes (dry run).
    let file = ai4k8s::actions::gitops::write_patch(s.dir.path(), &edit, 0).expect("patch");
    let yaml = std::fs::read_to_string(&file).expect("read");
    let doc = yaml
        .split("---\n")
        .find(|d| d.contains("\"kind\": \"ScaledObject\""))
        .unwrap_or_else(|| panic!("{yaml}"));
    let doc_file = s.dir.path().join("so-patch.yaml");
    std::fs::write(&doc_file, doc).expect("doc");
    let dry = s.json(&[
        "patch",
        "scaledobject",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "--patch-file",
        &doc_file.display().to_string(),
        "--dry-run=server",
        "-o",
        "json",
    ]);
    assert_eq!(
        (
            &dry["spec"]["minReplicaCount"],
            &dry["spec"]["maxReplicaCount"]
        ),
        (&Value::from(3), &Value::from(12))
    );
    assert_eq!(s.hpa_bounds(), (4, 20), "a dry run moves nothing");
    let line = edit.kubectl()[0].clone();
    let out = s.shell(&line);
    assert!(
        out.contains("scaledobject.keda.sh/frontend patched"),
        "{out}"
    );
    s.step();
    assert_eq!(s.hpa_bounds(), (3, 12));
}

#[test]
fn forbidden_scaledobjects_are_a_notice_and_an_absent_vpa_crd_is_silent() {
    use ai4k8s::cluster::SourceState;
    use simserve::{Fault, FaultResource, FaultStatus, Faults};
    let s = serve_with(simserve::Options {
        faults: Faults::new([
            Fault {
                resource: FaultResource::ScaledObjects,
                status: FaultStatus::Forbidden,
                after: std::time::Duration::ZERO,
            },
            Fault {
                resource: FaultResource::Vpas,
                status: FaultStatus::NotFound,
                after: std::time::Duration::ZERO,
            },
        ]),
        ..simserve::Options::default()
    });
    let c = s.connect();
    // The HPA is still known as KEDA's by its label and owner, with the HPA's own counts.
    let state = seen(&s, &c, "shop", "frontend");
    let keda = state
        .ownership
        .keda
        .clone()
        .expect("KEDA's, by the HPA's marks");
    assert_eq!(
        (
            keda.name.as_str(),
            keda.min_replica_count,
            keda.max_replica_count
        ),
        ("frontend", 2, 20)
    );
    let mut status = c.status();
    for _ in 0..100 {
        if status.sources.iter().any(|s| s.source == "scaledobjects") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        status = c.status();
    }
    let so = status
        .sources
        .iter()
        .find(|s| s.source == "scaledobjects")
        .unwrap_or_else(|| panic!("a notice for scaledobjects: {status:?}"));
    assert_eq!(so.state, SourceState::Missing);
    assert!(
        so.detail
            .as_deref()
            .is_some_and(|d| d.contains("forbidden") && d.contains("label only")),
        "{so:?}"
    );
    assert!(
        !status
            .sources
            .iter()
            .any(|s| s.source == "verticalpodautoscalers"),
        "a CRD that is not served says nothing: {status:?}"
    );
    assert!(
        seen(&s, &c, "payments", "api").ownership.vpa.is_none(),
        "no VPA read"
    );
    // Writes still go to the ScaledObject, never to the HPA (whose patch KEDA would undo).
    let edit = plan::plan_edit_bounds(&state, 3, 18, state.annotated_bounds);
    assert!(
        matches!(edit.changes[0], Change::ScaledObjectBounds { .. }),
        "{:?}",
        edit.changes
    );
}

#[test]
fn sim_serve_owners_flag_serves_the_custom_resources_to_kubectl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::sim_serve::sim_serve_with(dir.path(), None, "1", &["--owners"]);
    let get = |args: &[&str]| {
        let out = Command::new("timeout")
            .arg("30")
            .arg("kubectl")
            .arg("--kubeconfig")
            .arg(&server.kubeconfig)
            .arg("--request-timeout=20s")
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sos = get(&["get", "scaledobjects", "-A", "-o", "name"]);
    assert_eq!(sos.trim(), "scaledobject.keda.sh/frontend");
    let vpas = get(&["get", "vpa", "-A", "-o", "name"]);
    assert_eq!(vpas.trim(), "verticalpodautoscaler.autoscaling.k8s.io/api");
    let labels = get(&[
        "get",
        "deploy",
        "checkout",
        "-n",
        "shop",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(
        labels.contains(r#""argocd.argoproj.io/instance":"shop-checkout""#),
        "{labels}"
    );
    // Without the flag the demo has no other owners.
    drop(server);
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let plain = common::sim_serve::sim_serve(plain_dir.path(), None, "1");
    let out = Command::new("timeout")
        .arg("30")
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(&plain.kubeconfig)
        .args(["get", "scaledobjects", "-A", "-o", "name"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

/// A live autopilot's Lease (labelled as the autopilot labels it) marks the deployments it
/// acts on: those with the predictive annotation, in its scope. A stale one marks nothing.
#[test]
fn an_in_cluster_autopilots_lease_marks_the_deployments_it_manages() {
    let s = serve();
    let now = chrono::Utc::now();
    let lease = |name: &str, renewed: chrono::DateTime<chrono::Utc>| {
        format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: {name}\n  \
             namespace: shop\n  labels:\n    app.kubernetes.io/managed-by: ai4k8s-autopilot\n\
             spec:\n  holderIdentity: pilot-0_7\n  leaseDurationSeconds: 15\n  renewTime: \"{}\"\n",
            renewed.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        )
    };
    let file = s.dir.path().join("leases.yaml");
    std::fs::write(
        &file,
        format!(
            "{}---\n{}",
            lease("ai4k8s-autopilot", now),
            lease("old-autopilot", now - chrono::Duration::hours(1))
        ),
    )
    .unwrap();
    s.kubectl(&["create", "-f", file.to_str().unwrap()]);
    let c = s.connect();
    let managed = seen(&s, &c, "shop", "frontend");
    let a = managed
        .ownership
        .autopilot
        .clone()
        .expect("frontend is managed");
    assert_eq!(a.lease, "shop/ai4k8s-autopilot");
    assert_eq!(a.holder, "pilot-0_7");
    assert!(managed.ownership.marker().contains('A'));
    assert!(
        ai4k8s::actions::owners::notes(&managed.ownership)
            .iter()
            .any(|(_, n)| n.contains("may undo")),
    );
    // Without the predictive annotation the autopilot leaves it alone: no mark.
    let other = seen(&s, &c, "shop", "checkout");
    assert!(!other.predictive_enabled, "checkout is not opted in");
    assert_eq!(other.ownership.autopilot, None);
}
