//! `sim serve` refereed by the real kubectl (and kube-rs): every test starts its own server on a
//! free loopback port, points kubectl at it through a kubeconfig in a temp dir, and checks both
//! what kubectl prints and what the simulated world became. Time in the world only moves when a
//! test advances it, so outputs are deterministic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ai4k8s::model::{DeploymentKey, DeploymentState};
use ai4k8s::sim::serve as simserve;
use ai4k8s::sim::{SimCluster, SimWorld};
use serde_json::Value;

/// Every kubectl call is bounded; a hung kubectl fails the test instead of hanging CI.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);

fn kubectl_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")]);
    for dir in candidates {
        let k = dir.join("kubectl");
        if k.is_file() {
            return k;
        }
    }
    panic!(
        "kubectl not found on PATH or in /usr/bin: these tests use the real kubectl as the \
         referee of `sim serve`; install kubectl (it is installed on the dev machines and in CI)"
    );
}

/// A served simulated cluster and a kubeconfig for it; the server stops when this drops.
struct Served {
    runtime: tokio::runtime::Runtime,
    sim: SimCluster,
    server: tokio::task::JoinHandle<()>,
    addr: std::net::SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn serve_with(options: simserve::Options) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = SimCluster::new(SimWorld::demo(42, 2));
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
        addr,
        dir,
    }
}

fn serve() -> Served {
    serve_with(simserve::Options::default())
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn wait_bounded(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + KUBECTL_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("output"),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{what} did not finish within {KUBECTL_TIMEOUT:?}; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

impl Served {
    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(kubectl_binary());
        c.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=20s")
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn kubectl(&self, args: &[&str]) -> Run {
        let child = self.command(args).spawn().expect("spawn kubectl");
        let out = wait_bounded(child, &format!("kubectl {}", args.join(" ")));
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// kubectl that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.kubectl(args);
        assert!(
            r.ok,
            "kubectl {} failed:\nstdout: {}\nstderr: {}",
            args.join(" "),
            r.stdout,
            r.stderr
        );
        r.stdout
    }

    /// kubectl that must fail; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let r = self.kubectl(args);
        assert!(
            !r.ok,
            "kubectl {} should have failed; stdout: {}",
            args.join(" "),
            r.stdout
        );
        r.stderr
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn state(&self, ns: &str, name: &str) -> DeploymentState {
        let key = DeploymentKey::new(ns, name);
        self.sim
            .world()
            .snapshot()
            .deployments
            .into_iter()
            .find(|d| d.key == key)
            .unwrap_or_else(|| panic!("{key} in the world"))
    }
}

/// Rows of a kubectl table whose first column is `first`.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first} in:\n{table}"))
}

#[test]
fn get_deploy_hpa_pods_in_all_namespaces() {
    let s = serve();
    let out = s.ok(&["get", "deploy,hpa,pods", "-A"]);
    assert!(
        out.contains("NAMESPACE   NAME ") && out.contains("READY   UP-TO-DATE   AVAILABLE   AGE"),
        "{out}"
    );
    assert!(out.contains("REFERENCE") && out.contains("TARGETS") && out.contains("MINPODS"));
    let snapshot = s.sim.world().snapshot();
    assert_eq!(snapshot.deployments.len(), 14);
    for d in &snapshot.deployments {
        let cols = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|c| c.get(1) == Some(&format!("deployment.apps/{}", d.key.name).as_str()))
            .unwrap_or_else(|| panic!("{} missing:\n{out}", d.key));
        assert_eq!(cols[0], d.key.namespace);
        assert_eq!(
            cols[2],
            format!("{}/{}", d.ready_replicas, d.desired_replicas),
            "READY of {}",
            d.key
        );
        if let Some(h) = &d.hpa {
            let line = out
                .lines()
                .find(|l| l.contains(&format!("horizontalpodautoscaler.autoscaling/{} ", h.name)))
                .unwrap_or_else(|| panic!("HPA {} missing:\n{out}", h.name));
            let target = format!("cpu: {}%", h.target_cpu_pct.unwrap_or(80));
            assert!(
                line.contains(&format!("Deployment/{}", d.key.name)),
                "{line}"
            );
            assert!(line.contains("/") && line.contains("%"), "{line}");
            let after_targets: Vec<_> = line
                .split_whitespace()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert_eq!(
                after_targets[..3],
                [
                    h.min_replicas.to_string().as_str(),
                    h.max_replicas.to_string().as_str(),
                    d.desired_replicas.to_string().as_str()
                ],
                "MINPODS MAXPODS REPLICAS of {line}"
            );
            assert!(
                line.contains(&target.replace("cpu: ", "")) || line.contains("cpu: "),
                "{line}"
            );
        }
    }
    let pods = out.lines().filter(|l| l.contains(" pod/")).count();
    let total: u32 = snapshot.deployments.iter().map(|d| d.total_pods).sum();
    assert_eq!(pods, total as usize);
    // Paged lists: kubectl follows continue tokens to the same 14 rows.
    let paged = s.ok(&["get", "deploy", "-A", "--chunk-size=3", "--no-headers"]);
    assert_eq!(paged.lines().count(), 14, "{paged}");
    let page: Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/apis/apps/v1/deployments?limit=5"]))
            .expect("json");
    assert_eq!(page["kind"], "DeploymentList");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5));
    assert_eq!(page["metadata"]["remainingItemCount"], 9);
    assert!(
        page["metadata"]["continue"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    // payments/api has two metric targets: both are shown with the current value.
    let api = out
        .lines()
        .find(|l| l.contains("horizontalpodautoscaler.autoscaling/api "))
        .expect("api HPA");
    assert!(
        api.contains("/70%, memory: ") && api.contains("%/80%"),
        "{api}"
    );
}

#[test]
fn get_deployment_as_json() {
    let s = serve();
    let d = s.json(&["get", "deploy", "-n", "shop", "frontend", "-o", "json"]);
    let state = s.state("shop", "frontend");
    assert_eq!(d["apiVersion"], "apps/v1");
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["metadata"]["name"], "frontend");
    assert_eq!(d["metadata"]["namespace"], "shop");
    assert!(d["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    let rv: u64 = d["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("numeric resourceVersion");
    assert!(rv > 0);
    assert_eq!(d["spec"]["replicas"], state.desired_replicas);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "frontend");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["resources"]["requests"]["cpu"], "250m");
    assert_eq!(c["resources"]["requests"]["memory"], "256Mi");
    assert_eq!(d["status"]["readyReplicas"], state.ready_replicas);
    assert_eq!(d["status"]["replicas"], state.total_pods);
    let types: Vec<&str> = d["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["Available", "Progressing"]);
}

#[test]
fn version_and_discovery() {
    let s = serve();
    let server = s.ok(&[
        "config",
        "view",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    assert_eq!(server, format!("http://{}", s.addr));
    let v: Value = serde_json::from_str(&s.ok(&["get", "--raw", "/version"])).expect("json");
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("33"))
    );
    let out = s.ok(&["api-resources"]);
    for (name, short, group) in [
        ("deployments", "deploy", "apps/v1"),
        ("horizontalpodautoscalers", "hpa", "autoscaling/v2"),
        ("pods", "po", "v1"),
        ("events", "ev", "v1"),
    ] {
        let cols = row(&out, name);
        assert_eq!(cols[1..3], [short, group], "{out}");
    }
    assert!(out.contains("metrics.k8s.io/v1beta1"), "{out}");
    let v1: Value = serde_json::from_str(&s.ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers/frontend",
    ]))
    .expect("json");
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
}

#[test]
fn scale_changes_the_world() {
    let s = serve();
    assert_eq!(s.state("payments", "ledger").desired_replicas, 3);
    let out = s.ok(&["scale", "deploy/ledger", "-n", "payments", "--replicas=5"]);
    assert_eq!(out.trim(), "deployment.apps/ledger scaled");
    let d = s.state("payments", "ledger");
    assert_eq!((d.desired_replicas, d.total_pods), (5, 5));
    let pods = s.ok(&[
        "get",
        "pods",
        "-n",
        "payments",
        "-l",
        "app=ledger",
        "--no-headers",
    ]);
    assert_eq!(pods.lines().count(), 5, "{pods}");
    assert_eq!(
        pods.lines().filter(|l| l.contains(" 0/1 ")).count(),
        2,
        "{pods}"
    );
    let deploy = s.ok(&["get", "deploy", "ledger", "-n", "payments"]);
    assert_eq!(row(&deploy, "ledger")[1..4], ["3/5", "5", "3"]);
    // The deployment controller's event names the ReplicaSet and the sizes.
    let events = s.ok(&["get", "events", "-n", "payments"]);
    assert!(
        events.contains("ScalingReplicaSet") && events.contains("from 3 to 5"),
        "{events}"
    );
}

#[test]
fn patch_hpa_merge_json_and_strategic() {
    let s = serve();
    let hpa = |s: &Served| {
        s.state("shop", "frontend")
            .hpa
            .expect("frontend has an HPA")
    };
    assert_eq!((hpa(&s).min_replicas, hpa(&s).max_replicas), (2, 20));
    let out = s.ok(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":4}}"#,
    ]);
    assert_eq!(
        out.trim(),
        "horizontalpodautoscaler.autoscaling/frontend patched"
    );
    assert_eq!(hpa(&s).min_replicas, 4);
    s.ok(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/maxReplicas","value":12}]"#,
    ]);
    assert_eq!(hpa(&s).max_replicas, 12);
    s.ok(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "-p",
        r#"{"spec":{"minReplicas":3}}"#,
    ]);
    assert_eq!(hpa(&s).min_replicas, 3);
    let table = s.ok(&["get", "hpa", "frontend", "-n", "shop"]);
    // NAME REFERENCE "cpu:" "N%/70%" MINPODS MAXPODS …
    assert_eq!(row(&table, "frontend")[4..6], ["3", "12"], "{table}");
    // A patch that changes nothing is reported as such, like the apiserver's no-op.
    let same = s.ok(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":3}}"#,
    ]);
    assert!(same.contains("patched (no change)"), "{same}");
}

#[test]
fn annotate_and_label_a_deployment() {
    let s = serve();
    let key = "ai4k8s.io/predictive-autoscaling";
    assert!(!s.state("platform", "auth").predictive_enabled);
    let out = s.ok(&[
        "annotate",
        "deploy",
        "auth",
        "-n",
        "platform",
        &format!("{key}=true"),
    ]);
    assert_eq!(out.trim(), "deployment.apps/auth annotated");
    assert!(s.state("platform", "auth").predictive_enabled);
    s.ok(&[
        "annotate",
        "deploy",
        "auth",
        "-n",
        "platform",
        &format!("{key}-"),
    ]);
    assert!(!s.state("platform", "auth").predictive_enabled);
    s.ok(&[
        "label",
        "deploy",
        "ledger",
        "-n",
        "payments",
        "team=payments",
    ]);
    let labels = s.ok(&[
        "get",
        "deploy",
        "-n",
        "payments",
        "-l",
        "team=payments",
        "-o",
        "name",
    ]);
    assert_eq!(labels.trim(), "deployment.apps/ledger");
}

#[test]
fn top_pods_reads_the_metrics_api() {
    let s = serve();
    let out = s.ok(&["top", "pods", "-n", "shop"]);
    let mut lines = out.lines();
    let header: Vec<_> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["NAME", "CPU(cores)", "MEMORY(bytes)"]);
    let pods = s.ok(&["get", "pods", "-n", "shop", "-o", "name"]);
    let names: Vec<&str> = pods
        .lines()
        .filter_map(|l| l.strip_prefix("pod/"))
        .collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows.len(),
        names.len(),
        "every pod has been scraped:\n{out}"
    );
    for r in &rows {
        assert!(names.contains(&r[0]), "{} is a pod", r[0]);
        assert!(r[1].ends_with('m') && r[2].ends_with("Mi"), "{r:?}");
        let cpu: u32 = r[1].trim_end_matches('m').parse().expect("millicores");
        assert!(cpu > 0, "{r:?}");
    }
    let frontend = s.ok(&[
        "top",
        "pods",
        "-n",
        "shop",
        "-l",
        "app=frontend",
        "--no-headers",
    ]);
    assert_eq!(
        frontend.lines().count() as u32,
        s.state("shop", "frontend").total_pods
    );
}

#[test]
fn watch_from_a_resource_version_sees_the_scale() {
    let s = serve();
    let list: Value = serde_json::from_str(&s.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/payments/deployments",
    ]))
    .expect("list");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    s.ok(&["scale", "deploy/ledger", "-n", "payments", "--replicas=4"]);
    // Replayed from the server's log: the change after `rv`, then the stream times out.
    let out = s.ok(&[
        "get",
        "--raw",
        &format!("/apis/apps/v1/deployments?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
    ]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one WatchEvent per line"))
        .collect();
    let ledger: Vec<&Value> = events
        .iter()
        .filter(|e| e["object"]["metadata"]["name"] == "ledger")
        .collect();
    assert!(!ledger.is_empty(), "{out}");
    assert!(ledger.iter().all(|e| e["type"] == "MODIFIED"), "{out}");
    assert_eq!(ledger[0]["object"]["spec"]["replicas"], 4);
    let new_rv: u64 = ledger[0]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("rv");
    assert!(new_rv > rv.parse::<u64>().expect("rv"));

    // A version older than the server keeps: 410 Gone, as the watch's ERROR event.
    let out = s.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/deployments?watch=true&resourceVersion=1&timeoutSeconds=1",
    ]);
    let e: Value = serde_json::from_str(out.trim()).expect("one event");
    assert_eq!(e["type"], "ERROR");
    assert_eq!(e["object"]["code"], 410);
    assert_eq!(e["object"]["reason"], "Expired");
    assert!(
        e["object"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("too old resource version: 1 (")),
        "{e}"
    );
}

#[test]
fn kubectl_get_watch_prints_the_change_live() {
    let s = serve();
    let mut child = s
        .command(&["get", "deploy", "ledger", "-n", "payments", "-w"])
        .spawn()
        .expect("spawn kubectl -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("kubectl -w printed no {what}"))
    };
    assert!(next("header").starts_with("NAME"));
    assert_eq!(row(&next("first row"), "ledger")[1], "3/3");
    s.ok(&["scale", "deploy/ledger", "-n", "payments", "--replicas=6"]);
    let changed = next("watch event");
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert_eq!(row(&changed, "ledger")[1..3], ["3/6", "6"], "{changed}");
}

#[test]
fn errors_carry_the_servers_words() {
    let s = serve();
    let e = s.fails(&["get", "deploy", "nope", "-n", "shop"]);
    assert_eq!(
        e.trim(),
        r#"Error from server (NotFound): deployments.apps "nope" not found"#
    );
    let e = s.fails(&["scale", "deploy/nope", "-n", "shop", "--replicas=2"]);
    assert!(e.contains(r#"deployments.apps "nope" not found"#), "{e}");

    let e = s.fails(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":30}}"#,
    ]);
    assert!(
        e.contains(
            r#"The HorizontalPodAutoscaler "frontend" is invalid: spec.maxReplicas: Invalid value: 20: must be greater than or equal to `minReplicas`"#
        ),
        "{e}"
    );
    assert_eq!(
        s.state("shop", "frontend").min_replicas,
        2,
        "nothing applied"
    );
    let e = s.fails(&[
        "patch",
        "deploy",
        "ledger",
        "-n",
        "payments",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":-1}}"#,
    ]);
    assert!(
        // kubectl words a 422 from its details: kind and name, then the field errors.
        e.contains(r#"The Deployment "ledger" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#),
        "{e}"
    );

    let e = s.fails(&[
        "patch",
        "deploy",
        "ledger",
        "-n",
        "payments",
        "--type=merge",
        "-p",
        r#"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}}"#,
    ]);
    assert!(
        e.contains(
            r#"Error from server (Conflict): Operation cannot be fulfilled on deployments.apps "ledger": the object has been modified; please apply your changes to the latest version and try again"#
        ),
        "{e}"
    );
    assert_eq!(s.state("payments", "ledger").desired_replicas, 3);

    // A PUT of a stale copy (kubectl replace) is refused the same way.
    let mut d = s.json(&["get", "deploy", "ledger", "-n", "payments", "-o", "json"]);
    s.ok(&["scale", "deploy/ledger", "-n", "payments", "--replicas=4"]);
    d["spec"]["replicas"] = 2.into();
    let stale = s.dir.path().join("stale.json");
    std::fs::write(&stale, d.to_string()).expect("write");
    let e = s.fails(&["replace", "-f", path(&stale)]);
    assert!(
        e.contains("(Conflict)") && e.contains("the object has been modified"),
        "{e}"
    );
    assert_eq!(s.state("payments", "ledger").desired_replicas, 4);

    let e = s.fails(&["get", "--raw", "/apis/apps/v1/statefulsets"]);
    assert!(e.contains("NotFound"), "{e}");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn server_side_dry_run_does_not_persist() {
    let s = serve();
    let out = s.ok(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":5}}"#,
        "--dry-run=server",
        "-o",
        "jsonpath={.spec.minReplicas}",
    ]);
    assert_eq!(out, "5", "the response shows the change");
    assert_eq!(
        s.state("shop", "frontend").min_replicas,
        2,
        "but it is not stored"
    );
    let out = s.ok(&[
        "scale",
        "deploy/ledger",
        "-n",
        "payments",
        "--replicas=6",
        "--dry-run=server",
    ]);
    assert!(out.contains("scaled (server dry run)"), "{out}");
    assert_eq!(s.state("payments", "ledger").desired_replicas, 3);
    s.ok(&[
        "annotate",
        "deploy",
        "auth",
        "-n",
        "platform",
        "ai4k8s.io/predictive-autoscaling=true",
        "--dry-run=server",
    ]);
    assert!(!s.state("platform", "auth").predictive_enabled);
    s.ok(&[
        "delete",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--dry-run=server",
    ]);
    assert!(s.state("shop", "frontend").hpa.is_some());
    // Validation still runs on a dry run.
    let e = s.fails(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"maxReplicas":0}}"#,
        "--dry-run=server",
    ]);
    assert!(e.contains("spec.maxReplicas: Invalid value: 0"), "{e}");
}

#[test]
fn autoscale_create_and_delete_an_hpa() {
    let s = serve();
    assert!(s.state("payments", "ledger").hpa.is_none());
    // kubectl autoscale sends protobuf through the typed client.
    let out = s.ok(&[
        "autoscale",
        "deploy",
        "ledger",
        "-n",
        "payments",
        "--min=2",
        "--max=5",
        "--cpu-percent=60",
    ]);
    assert_eq!(
        out.trim(),
        "horizontalpodautoscaler.autoscaling/ledger autoscaled"
    );
    let h = s.state("payments", "ledger").hpa.expect("an HPA now");
    assert_eq!(
        (h.min_replicas, h.max_replicas, h.target_cpu_pct),
        (2, 5, Some(60))
    );
    let e = s.fails(&[
        "autoscale",
        "deploy",
        "ledger",
        "-n",
        "payments",
        "--min=2",
        "--max=5",
    ]);
    assert!(
        e.contains(r#"horizontalpodautoscalers.autoscaling "ledger" already exists"#),
        "{e}"
    );
    let out = s.ok(&["delete", "hpa", "ledger", "-n", "payments"]);
    assert_eq!(
        out.trim(),
        r#"horizontalpodautoscaler.autoscaling "ledger" deleted"#
    );
    assert!(s.state("payments", "ledger").hpa.is_none());

    // From a manifest (JSON through the dynamic client), with a memory target.
    let manifest = s.dir.path().join("hpa.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ledger-hpa
  namespace: payments
  labels: {team: payments}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ledger}
  minReplicas: 3
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 75}}
",
    )
    .expect("manifest");
    let out = s.ok(&["create", "-f", path(&manifest)]);
    assert_eq!(
        out.trim(),
        "horizontalpodautoscaler.autoscaling/ledger-hpa created"
    );
    let h = s.state("payments", "ledger").hpa.expect("created");
    assert_eq!(
        (h.min_replicas, h.max_replicas, h.target_mem_pct),
        (3, 6, Some(75))
    );
    let got = s.json(&["get", "hpa", "ledger-hpa", "-n", "payments", "-o", "json"]);
    assert_eq!(got["metadata"]["labels"]["team"], "payments");
    let e = s.fails(&["create", "-f", path(&manifest)]);
    assert!(e.contains("(AlreadyExists)"), "{e}");

    // kubectl leaves validation to the server (fieldValidation=Strict), found via /openapi/v3.
    let text = std::fs::read_to_string(&manifest).expect("read");
    std::fs::write(
        &manifest,
        text.replace("ledger-hpa", "other")
            .replace("  maxReplicas: 6\n", "  maxReplicas: 6\n  maxReplica: 7\n"),
    )
    .expect("write");
    let e = s.fails(&["create", "-f", path(&manifest)]);
    assert!(
        e.contains(r#"strict decoding error: unknown field "spec.maxReplica""#),
        "{e}"
    );
}

#[test]
fn hpa_rescales_show_as_events() {
    let s = serve();
    // Raising the floor makes the HPA scale up at its next sync.
    s.ok(&[
        "patch",
        "hpa",
        "checkout",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":10}}"#,
    ]);
    s.sim.advance(15);
    assert_eq!(s.state("shop", "checkout").desired_replicas, 10);
    let out = s.ok(&[
        "get",
        "events",
        "-n",
        "shop",
        "--field-selector",
        "involvedObject.name=checkout",
    ]);
    assert!(
        out.contains("SuccessfulRescale")
            && out.contains("horizontalpodautoscaler/checkout")
            && out.contains(
                "New size: 10; reason: Current number of replicas below Spec.MinReplicas"
            ),
        "{out}"
    );
    let describe = s.ok(&["describe", "hpa", "checkout", "-n", "shop"]);
    assert!(describe.contains("SucceededRescale"), "{describe}");
}

#[test]
fn a_read_only_server_forbids_writes() {
    let s = serve_with(simserve::Options {
        read_only: true,
        ..simserve::Options::default()
    });
    let e = s.fails(&["scale", "deploy/ledger", "-n", "payments", "--replicas=5"]);
    assert!(
        e.contains(
            r#"Error from server (Forbidden): deployments.apps "ledger" is forbidden: User "system:anonymous" cannot patch resource "deployments/scale" in API group "apps" in the namespace "payments""#
        ),
        "{e}"
    );
    assert_eq!(s.state("payments", "ledger").desired_replicas, 3);
    s.ok(&["get", "deploy", "-A"]);
}

#[test]
fn kube_rs_lists_watches_and_scales() {
    use futures::{StreamExt, TryStreamExt};
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::watcher;

    let s = serve();
    let kubeconfig = kube::config::Kubeconfig::read_from(s.kubeconfig()).expect("kubeconfig");
    s.runtime.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let all: Api<Deployment> = Api::all(client.clone());
        assert_eq!(
            all.list(&Default::default())
                .await
                .expect("list")
                .items
                .len(),
            14
        );
        // Discovery (kube-rs uses the legacy documents).
        let discovery = kube::Discovery::new(client.clone())
            .run()
            .await
            .expect("discovery");
        let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
        for g in ["", "apps", "autoscaling", "metrics.k8s.io"] {
            assert!(groups.iter().any(|x| x == g), "{g} in {groups:?}");
        }
        let (hpa, _) = discovery
            .groups()
            .find(|g| g.name() == "autoscaling")
            .and_then(|g| g.recommended_kind("HorizontalPodAutoscaler"))
            .expect("HPA kind");
        assert_eq!(hpa.version, "v2");

        // A streaming-list watch: initial events end with the annotated bookmark.
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "shop");
        let mut stream = watcher(pods, watcher::Config::default().streaming_lists()).boxed();
        let mut initial = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await {
                Ok(Ok(Some(watcher::Event::InitApply(_)))) => initial += 1,
                Ok(Ok(Some(watcher::Event::InitDone))) => break,
                Ok(Ok(Some(_))) => {}
                other => panic!("streaming watcher: {other:?}"),
            }
        }
        assert!(initial > 10, "{initial} pods in shop");

        let payments: Api<Deployment> = Api::namespaced(client, "payments");
        let err = payments.get("nope").await.expect_err("404");
        match err {
            kube::Error::Api(e) => {
                assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
                assert_eq!(e.message, r#"deployments.apps "nope" not found"#);
            }
            other => panic!("{other:?}"),
        }
        let mut events = watcher(payments.clone(), watcher::Config::default()).boxed();
        let mut initial = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await {
                Ok(Ok(Some(watcher::Event::InitApply(_)))) => initial += 1,
                Ok(Ok(Some(watcher::Event::InitDone))) => break,
                Ok(Ok(Some(_))) => {}
                other => panic!("watcher: {other:?}"),
            }
        }
        assert_eq!(initial, 3, "payments has three deployments");
        payments
            .patch_scale(
                "ledger",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
            )
            .await
            .expect("scale");
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await {
                Ok(Ok(Some(watcher::Event::Apply(d))))
                    if d.metadata.name.as_deref() == Some("ledger") =>
                {
                    assert_eq!(d.spec.and_then(|s| s.replicas), Some(5));
                    break;
                }
                Ok(Ok(Some(_))) => {}
                other => panic!("watcher: {other:?}"),
            }
        }
    });
}

#[test]
fn the_cli_serves_and_writes_a_kubeconfig() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .args(["--data-dir", path(&dir.path().join("data")), "--seed", "7"])
        .args([
            "sim",
            "serve",
            "--port",
            "0",
            "--write-kubeconfig",
            path(&kubeconfig),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ai4k8s");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < 2 {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => lines.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("ai4k8s sim serve printed {lines:?}");
            }
        }
    }
    let result = std::panic::catch_unwind(|| {
        assert!(
            lines[0].starts_with("ai4k8s sim serve: listening on http://127.0.0.1:"),
            "{lines:?}"
        );
        assert!(lines[1].contains("context ai4k8s-sim"), "{lines:?}");
        let out = Command::new(kubectl_binary())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(["get", "deploy", "-n", "shop", "-o", "name"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        let out = wait_bounded(out, "kubectl get deploy");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("deployment.apps/frontend"), "{text}");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

// ---- Writes that cannot hurt: limits, timeouts, Host check and fault injection ----

/// A raw HTTP/1.1 answer, for what kubectl cannot send (any Host, huge parameters).
struct RawResponse {
    status: u16,
    body: Vec<u8>,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on its own connection (`Connection: close`), read to the end; a body is sent
/// as a merge patch.
fn raw(addr: std::net::SocketAddr, host: &str, head: &str, body: &str) -> RawResponse {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let content_type = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/merge-patch+json\r\n".to_string()
    };
    let request = format!(
        "{head} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\
         {content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line of {head}"));
    RawResponse {
        status,
        body: answer[split + 4..].to_vec(),
    }
}

/// Bytes of a streaming answer until `until` holds of them, the connection ends, or `limit`.
fn stream_until(
    addr: std::net::SocketAddr,
    path: &str,
    limit: Duration,
    until: impl Fn(&str) -> bool,
) -> (String, bool, Duration) {
    use std::io::{Read, Write};
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: application/json\r\n\r\n",
        addr.port()
    )
    .expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if until(&text) {
            return (text, false, started.elapsed());
        }
        if started.elapsed() > limit {
            panic!("no end within {limit:?}: {text}");
        }
        match stream.read(&mut buf) {
            Ok(0) => return (text, true, started.elapsed()),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (text, true, started.elapsed()),
        }
    }
}

#[test]
fn replicas_above_the_limit_are_invalid_everywhere() {
    let s = serve();
    let before = s.state("shop", "frontend").desired_replicas;
    // kubectl scale goes through the /scale subresource.
    let e = s.fails(&[
        "scale",
        "deploy/frontend",
        "-n",
        "shop",
        "--replicas=1000000",
    ]);
    assert!(
        e.contains(
            r#"The Scale "frontend" is invalid: spec.replicas: Invalid value: 1000000: must be less than or equal to 10000 (the ai4k8s simulator's limit)"#
        ),
        "{e}"
    );
    assert_eq!(s.state("shop", "frontend").desired_replicas, before);
    // A patch of the Deployment itself: the 422 in the apiserver's wire format.
    let r = raw(
        s.addr,
        &s.addr.to_string(),
        "PATCH /apis/apps/v1/namespaces/shop/deployments/frontend",
        r#"{"spec":{"replicas":1000000}}"#,
    );
    assert_eq!(r.status, 422);
    let v = r.json();
    assert_eq!(v["kind"], "Status");
    assert_eq!(v["reason"], "Invalid");
    assert_eq!(v["code"], 422);
    assert_eq!(v["details"]["kind"], "Deployment");
    assert_eq!(v["details"]["name"], "frontend");
    assert_eq!(v["details"]["causes"][0]["field"], "spec.replicas");
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueInvalid");
    assert_eq!(s.state("shop", "frontend").desired_replicas, before);
    // HPA bounds, through v2 and the v1 view.
    let e = s.fails(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"maxReplicas":1000000}}"#,
    ]);
    assert!(
        e.contains(r#"The HorizontalPodAutoscaler "frontend" is invalid: spec.maxReplicas: Invalid value: 1000000: must be less than or equal to 10000"#),
        "{e}"
    );
    let r = raw(
        s.addr,
        "localhost",
        "PATCH /apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers/frontend",
        r#"{"spec":{"minReplicas":20000,"maxReplicas":30000}}"#,
    );
    assert_eq!(r.status, 422);
    let v = r.json();
    let fields: Vec<&str> = v["details"]["causes"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["spec.minReplicas", "spec.maxReplicas"], "{v}");
    let v = s.json(&["get", "hpa", "frontend", "-n", "shop", "-o", "json"]);
    assert_eq!(v["spec"]["maxReplicas"], 20, "nothing applied");
    // Within the limit, the same routes work.
    s.ok(&["scale", "deploy/frontend", "-n", "shop", "--replicas=6"]);
    assert_eq!(s.state("shop", "frontend").desired_replicas, 6);
}

#[test]
fn a_huge_watch_timeout_is_clamped_not_a_panic() {
    let s = serve();
    // i64::MAX seconds from now overflows the clock (99999999999999999 does on macOS).
    for timeout in ["99999999999999999", "9223372036854775807"] {
        let (text, ended, _) = stream_until(
            s.addr,
            &format!(
                "/apis/apps/v1/namespaces/payments/deployments?watch=true&timeoutSeconds={timeout}"
            ),
            Duration::from_secs(20),
            |t| t.contains(r#""type":"ADDED""#),
        );
        assert!(!ended, "the watch with {timeout} is served: {text}");
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    }
    // Beyond i64 it is a 400, as the apiserver answers a parameter it cannot parse.
    let r = raw(
        s.addr,
        "127.0.0.1",
        "GET /apis/apps/v1/deployments?watch=true&timeoutSeconds=99999999999999999999999",
        "",
    );
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (400, "BadRequest".into())
    );
    s.ok(&["get", "deploy", "-n", "payments"]);
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use std::io::{Read, Write};
    let s = serve_with(simserve::Options {
        header_read_timeout: Duration::from_secs(1),
        ..simserve::Options::default()
    });
    let mut stream = std::net::TcpStream::connect(s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let started = Instant::now();
    stream
        .write_all(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .expect("half a header");
    let mut rest = Vec::new();
    // EOF (or a reset) before the read timeout: the server hung up.
    match stream.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "still connected after {:?}",
            started.elapsed()
        ),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "{rest:?}"
    );
    // Whole requests on the same server are answered.
    s.ok(&["get", "deploy", "-n", "shop"]);
}

#[test]
fn only_loopback_hosts_are_answered() {
    let s = serve();
    let port = s.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_string(),
    ] {
        let r = raw(s.addr, &host, "GET /api/v1/namespaces", "");
        assert_eq!(r.status, 200, "{host}");
        assert_eq!(r.json()["kind"], "NamespaceList", "{host}");
    }
    for host in [
        format!("rebound.example:{port}"),
        "attacker.example".to_string(),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let r = raw(s.addr, &host, "GET /api/v1/namespaces", "");
        assert_eq!(r.status, 403, "{host}");
        let v = r.json();
        assert_eq!(
            (v["kind"].as_str(), v["reason"].as_str()),
            (Some("Status"), Some("Forbidden"))
        );
        let message = v["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("host {host:?} is not a loopback name"))
                && message.contains("DNS rebinding"),
            "{message}"
        );
    }
    // A refused write changes nothing.
    let r = raw(
        s.addr,
        "rebound.example",
        "PATCH /apis/apps/v1/namespaces/payments/deployments/ledger/scale",
        r#"{"spec":{"replicas":9}}"#,
    );
    assert_eq!(r.status, 403);
    assert_eq!(s.state("payments", "ledger").desired_replicas, 3);
}

fn serve_faulty(faults: &[&str]) -> Served {
    serve_with(simserve::Options {
        faults: simserve::Faults::new(faults.iter().map(|f| f.parse().expect("fault"))),
        ..simserve::Options::default()
    })
}

#[test]
fn fault_403_forbids_listing_and_watching_hpas_in_both_versions() {
    let s = serve_faulty(&["hpas=403"]);
    let e = s.fails(&["get", "hpa", "-A"]);
    assert_eq!(
        e.trim(),
        r#"Error from server (Forbidden): horizontalpodautoscalers.autoscaling is forbidden: User "system:anonymous" cannot list resource "horizontalpodautoscalers" in API group "autoscaling" at the cluster scope"#
    );
    let e = s.fails(&["get", "hpa.v1.autoscaling", "-n", "shop"]);
    assert!(
        e.contains(r#"cannot list resource "horizontalpodautoscalers" in API group "autoscaling" in the namespace "shop""#),
        "{e}"
    );
    for path in [
        "/apis/autoscaling/v2/horizontalpodautoscalers?watch=true",
        "/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers?watch=1&resourceVersion=0",
    ] {
        let r = raw(s.addr, "127.0.0.1", &format!("GET {path}"), "");
        assert_eq!(r.status, 403, "{path}");
        let v = r.json();
        assert_eq!(
            (v["kind"].as_str(), v["reason"].as_str()),
            (Some("Status"), Some("Forbidden"))
        );
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot watch resource")),
            "{v}"
        );
    }
    let e = s.fails(&[
        "patch",
        "hpa",
        "frontend",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReplicas":3}}"#,
    ]);
    // kubectl reads before it patches: the get is refused; so is the write itself.
    assert!(
        e.contains(r#"horizontalpodautoscalers.autoscaling "frontend" is forbidden: User "system:anonymous" cannot get resource "horizontalpodautoscalers""#),
        "{e}"
    );
    let r = raw(
        s.addr,
        "127.0.0.1",
        "PATCH /apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/frontend",
        r#"{"spec":{"minReplicas":3}}"#,
    );
    assert_eq!(r.status, 403);
    let v = r.json();
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains(r#"cannot patch resource "horizontalpodautoscalers""#)),
        "{v}"
    );
    assert_eq!(
        s.state("shop", "frontend").min_replicas,
        2,
        "nothing applied"
    );
    // Other resources are served as usual.
    let out = s.ok(&["get", "deploy", "-n", "shop", "-o", "name"]);
    assert!(out.contains("deployment.apps/frontend"), "{out}");
}

#[test]
fn fault_404_and_409_and_500_answer_with_status_objects() {
    let s = serve_faulty(&["scale=409"]);
    // (kubectl scale retries conflicts for minutes, as it would against a real cluster.)
    let r = raw(
        s.addr,
        "127.0.0.1",
        "PATCH /apis/apps/v1/namespaces/payments/deployments/ledger/scale",
        r#"{"spec":{"replicas":5}}"#,
    );
    assert_eq!(r.status, 409);
    let v = r.json();
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["code"].as_u64()),
        (Some("Status"), Some("Conflict"), Some(409))
    );
    assert!(
        v["message"].as_str().is_some_and(|m| m.starts_with(
            r#"Operation cannot be fulfilled on deployments.apps "ledger": the object has been modified"#
        )),
        "{v}"
    );
    assert_eq!(
        s.state("payments", "ledger").desired_replicas,
        3,
        "not scaled"
    );
    // The Deployment itself is not the scale subresource.
    s.ok(&["get", "deploy", "ledger", "-n", "payments"]);
    drop(s);

    let s = serve_faulty(&["deployments=404", "pods=500"]);
    let e = s.fails(&["get", "deploy", "ledger", "-n", "payments"]);
    assert_eq!(
        e.trim(),
        r#"Error from server (NotFound): deployments.apps "ledger" not found"#
    );
    let r = raw(s.addr, "127.0.0.1", "GET /apis/apps/v1/deployments", "");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["message"],
        "the server could not find the requested resource"
    );

    let e = s.fails(&["get", "pods", "-n", "shop"]);
    assert!(
        e.contains("Error from server (InternalError): Internal error occurred: injected by `ai4k8s sim serve --fault pods=500`"),
        "{e}"
    );
    let r = raw(
        s.addr,
        "127.0.0.1",
        "GET /api/v1/namespaces/shop/pods?watch=true",
        "",
    );
    assert_eq!(r.status, 500);
    let v = r.json();
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["code"].as_u64()),
        (Some("Status"), Some("InternalError"), Some(500))
    );
    assert!(v["details"]["causes"][0]["message"].is_string(), "{v}");
    // Events are not faulted.
    s.ok(&["get", "events", "-n", "shop"]);
}

#[test]
fn fault_drop_cuts_open_watches_within_seconds() {
    let s = serve_faulty(&["deployments=drop"]);
    let (text, ended, after) = stream_until(
        s.addr,
        "/apis/apps/v1/namespaces/payments/deployments?watch=true&timeoutSeconds=60",
        Duration::from_secs(15),
        |_| false,
    );
    assert!(ended, "{text}");
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.contains(r#""type":"ADDED""#),
        "{text}"
    );
    assert!(
        after >= simserve::DROP_WATCHES_AFTER - Duration::from_millis(100)
            && after < simserve::DROP_WATCHES_AFTER + Duration::from_secs(5),
        "cut after {after:?}"
    );
    // Cut, not ended: no last chunk of the chunked body.
    assert!(!text.ends_with("0\r\n\r\n"), "{text:?}");
    // Lists and writes work.
    s.ok(&["get", "deploy", "-n", "payments"]);
    s.ok(&["scale", "deploy/ledger", "-n", "payments", "--replicas=4"]);
    assert_eq!(s.state("payments", "ledger").desired_replicas, 4);
}

#[test]
fn the_cli_refuses_a_bad_fault_and_documents_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .args(["sim", "serve", "--fault", "hpas=418"])
        .stdin(Stdio::null())
        .output()
        .expect("ai4k8s");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'hpas=418' for '--fault <RESOURCE=STATUS>': unknown status \"418\": one of 403, 404, 409, 500, drop"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .args(["sim", "serve", "--help"])
        .stdin(Stdio::null())
        .output()
        .expect("ai4k8s");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--fault <RESOURCE=STATUS>") && help.contains("drop (every watch of the"),
        "{help}"
    );
}

#[test]
fn get_and_describe_nodes_show_the_worlds_capacity() {
    let s = serve();
    let (nodes, on_first) = {
        let w = s.sim.world();
        let per = w.requested_per_node();
        (w.nodes().to_vec(), per[0])
    };
    assert!(nodes.len() >= 3, "{}", nodes.len());
    let out = s.ok(&["get", "nodes"]);
    let header: Vec<_> = out
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(out.lines().count() - 1, nodes.len(), "{out}");
    let first = row(&out, "sim-node-1");
    assert_eq!((first[1], first[4]), ("Ready", "v1.33.0"), "{first:?}");
    // Labels select, as on a managed node group.
    let typed = s.ok(&[
        "get",
        "no",
        "-l",
        "node.kubernetes.io/instance-type=m5.4xlarge",
        "-o",
        "name",
    ]);
    assert_eq!(typed.lines().count(), nodes.len(), "{typed}");
    let json = s.json(&["get", "node", "sim-node-1", "-o", "json"]);
    assert_eq!(json["status"]["allocatable"]["cpu"], "15890m");
    assert_eq!(json["status"]["allocatable"]["memory"], "61Gi");
    assert_eq!(json["status"]["allocatable"]["pods"], "234");
    assert_eq!(json["status"]["capacity"]["cpu"], "16");
    assert_eq!(
        json["metadata"]["labels"]["kubernetes.io/hostname"],
        "sim-node-1"
    );
    // describe lists the pods the world placed on the node (a field selector on spec.nodeName)
    // and their requests against allocatable.
    let d = s.ok(&["describe", "node", "sim-node-1"]);
    assert!(d.contains("Allocatable:"), "{d}");
    assert!(
        d.contains(&format!(
            "Non-terminated Pods:          ({} in total)",
            on_first.pods
        )),
        "{d}"
    );
    let cpu_pct = on_first.cpu_millis * 100 / 15_890;
    assert!(
        d.contains(&format!(
            "cpu                {}m ({cpu_pct}%)",
            on_first.cpu_millis
        )),
        "{d}"
    );
    let e = s.fails(&["get", "node", "sim-node-999"]);
    assert!(e.contains("NotFound") || e.contains("not found"), "{e}");
}
