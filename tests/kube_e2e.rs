//! End to end on the kube-rs path against `ai4k8s sim serve`: the simulated cluster behind a
//! Kubernetes REST front, started from the built binary on a free loopback port with a written
//! kubeconfig, read and written through `KubeCluster`, and the binary's
//! `recommend -o json --kubeconfig F`. The served world's clock is all but stopped, so the API
//! must show exactly what an in-process `SimWorld` with the same seed and warm-up holds. The TUI
//! itself runs on that path in tmux.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ai4k8s::cluster::kube::{KubeCluster, KubeOptions};
use ai4k8s::cluster::{Change, Cluster, ClusterError, HpaSpec};
use ai4k8s::model::{ClusterSnapshot, DeploymentKey, DeploymentState};
use ai4k8s::sim::SimWorld;

use common::BIN;
use common::sim_serve::{HISTORY_HOURS, SEED, SimServe, sim_serve, sim_serve_with};

/// The world the server holds (its clock all but stopped).
fn same_world() -> SimWorld {
    SimWorld::demo(SEED, HISTORY_HOURS)
}

async fn connect(kubeconfig: &Path) -> KubeCluster {
    KubeCluster::connect(KubeOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        metrics_every: Duration::from_millis(200),
        ..KubeOptions::default()
    })
    .await
    .expect("connect")
}

fn find<'a>(s: &'a ClusterSnapshot, key: &DeploymentKey) -> &'a DeploymentState {
    s.deployments
        .iter()
        .find(|d| &d.key == key)
        .unwrap_or_else(|| {
            panic!(
                "{key} in {:?}",
                s.deployments.iter().map(|d| &d.key).collect::<Vec<_>>()
            )
        })
}

/// Poll the kube snapshot until `f` holds (watch events take a moment).
async fn until(
    c: &KubeCluster,
    what: &str,
    f: impl Fn(&ClusterSnapshot) -> bool,
) -> ClusterSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = c.snapshot().await
            && f(&s)
        {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: {what}; status {:?}",
            c.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn near(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 0.5,
        (None, None) => true,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_snapshot_equals_the_sim_world() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve(dir.path(), None, "0.001");
    let kubeconfig = server.kubeconfig.clone();
    let c = connect(&kubeconfig).await;
    let want = same_world().snapshot();
    let got = until(&c, "metrics for every deployment that has them", |s| {
        s.capacity.is_some()
            && want.deployments.iter().all(|w| {
                s.deployments
                    .iter()
                    .any(|g| g.key == w.key && g.cpu_pct.is_some() == w.cpu_pct.is_some())
            })
    })
    .await;
    assert_eq!(got.deployments.len(), want.deployments.len());
    // The nodes' allocatable and every pod's requests, read through the Node and Pod watches.
    assert_eq!(got.capacity, want.capacity, "capacity");
    for w in &want.deployments {
        let g = find(&got, &w.key);
        let k = &w.key;
        assert_eq!(
            (g.desired_replicas, g.ready_replicas, g.total_pods),
            (w.desired_replicas, w.ready_replicas, w.total_pods),
            "{k} replicas"
        );
        assert_eq!(
            (g.min_replicas, g.max_replicas),
            (w.min_replicas, w.max_replicas),
            "{k} bounds"
        );
        assert_eq!(
            (g.cpu_request_millis, g.mem_request_mib),
            (w.cpu_request_millis, w.mem_request_mib),
            "{k} requests"
        );
        assert!(
            near(g.cpu_pct, w.cpu_pct),
            "{k} cpu {:?} vs {:?}",
            g.cpu_pct,
            w.cpu_pct
        );
        assert!(
            near(g.mem_pct, w.mem_pct),
            "{k} mem {:?} vs {:?}",
            g.mem_pct,
            w.mem_pct
        );
        assert_eq!(g.predictive_enabled, w.predictive_enabled, "{k} predictive");
        match (&g.hpa, &w.hpa) {
            (Some(gh), Some(wh)) => {
                assert_eq!(
                    (
                        gh.min_replicas,
                        gh.max_replicas,
                        gh.target_cpu_pct,
                        gh.target_mem_pct
                    ),
                    (
                        wh.min_replicas,
                        wh.max_replicas,
                        wh.target_cpu_pct,
                        wh.target_mem_pct
                    ),
                    "{k} hpa"
                );
                assert_eq!(gh.desired_replicas, wh.desired_replicas, "{k} hpa desired");
            }
            (None, None) => {}
            (g, w) => panic!("{k}: hpa {g:?} vs {w:?}"),
        }
    }
    let status = c.status();
    assert!(status.summary().is_none(), "every source fine: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_writes_change_the_sim_world() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve(dir.path(), None, "0.001");
    let c = connect(&server.kubeconfig).await;
    let first = c.snapshot().await.expect("synced");
    let ledger = DeploymentKey::new("payments", "ledger");
    let frontend = DeploymentKey::new("shop", "frontend");
    // A fresh list (a new client), not the watch cache: what the server's world holds now.
    let fresh = || async {
        let c = connect(&server.kubeconfig).await;
        c.snapshot().await.expect("fresh snapshot")
    };

    // Dry run: validated by the server, nothing changes.
    let before = find(&first, &ledger).desired_replicas;
    let scale = Change::Scale {
        from: before,
        to: before + 2,
    };
    c.dry_run(&ledger, &scale).await.expect("dry run");
    assert_eq!(find(&fresh().await, &ledger).desired_replicas, before);

    c.write(&ledger, &scale).await.expect("scale");
    assert_eq!(find(&fresh().await, &ledger).desired_replicas, before + 2);
    until(&c, "scale seen by the watch", |s| {
        find(s, &ledger).desired_replicas == before + 2
    })
    .await;

    let hpa_before = find(&fresh().await, &frontend)
        .hpa
        .clone()
        .expect("frontend's HPA");
    let min = Change::HpaMin {
        hpa: hpa_before.name.clone(),
        from: hpa_before.min_replicas,
        to: 5,
    };
    c.write(&frontend, &min).await.expect("patch hpa");
    let hpa = find(&fresh().await, &frontend)
        .hpa
        .clone()
        .expect("frontend's HPA");
    assert_eq!(hpa.min_replicas, 5);
    until(&c, "hpa min seen", |s| find(s, &frontend).min_replicas == 5).await;

    // The policy's target move: only the CPU metric's averageUtilization changes.
    let target_before = hpa.target_cpu_pct.expect("frontend scales on CPU");
    let target_after = if target_before == 85 { 80 } else { 85 };
    let target = |to: u32| Change::HpaTarget {
        hpa: hpa.name.clone(),
        from: target_before,
        to,
    };
    c.write(&frontend, &target(target_after))
        .await
        .expect("patch hpa target");
    let h = find(&fresh().await, &frontend)
        .hpa
        .clone()
        .expect("frontend's HPA");
    assert_eq!(h.target_cpu_pct, Some(target_after));
    assert_eq!(
        (h.min_replicas, h.max_replicas, h.target_mem_pct),
        (5, hpa.max_replicas, hpa.target_mem_pct),
        "nothing else moved"
    );
    let e = c
        .write(&frontend, &target(0))
        .await
        .expect_err("a 0 % target");
    assert!(matches!(e, ClusterError::Invalid(_)), "{e:?}");

    // The floor's mark round-trips through the API as the snapshot's floor_mark.
    let mark = ai4k8s::model::FloorMark {
        raised: true,
        at: first.time,
        until: Some(first.time + 600),
    };
    let floor = Change::FloorMark {
        from: None,
        to: Some(mark),
    };
    c.write(&frontend, &floor).await.expect("annotate floor");
    assert_eq!(find(&fresh().await, &frontend).floor_mark, Some(mark));

    let predictive = Change::Predictive {
        from: false,
        to: true,
    };
    c.write(&ledger, &predictive).await.expect("annotate");
    assert!(find(&fresh().await, &ledger).predictive_enabled);
    let off = Change::Predictive {
        from: true,
        to: false,
    };
    c.write(&ledger, &off).await.expect("remove");
    assert!(!find(&fresh().await, &ledger).predictive_enabled);

    let spec = HpaSpec {
        min_replicas: 2,
        max_replicas: 6,
        target_cpu_pct: Some(70),
        target_mem_pct: None,
    };
    c.write(&ledger, &Change::CreateHpa { spec })
        .await
        .expect("create hpa");
    let h = find(&fresh().await, &ledger)
        .hpa
        .clone()
        .expect("the world has the HPA");
    assert_eq!(
        (h.min_replicas, h.max_replicas, h.target_cpu_pct),
        (2, 6, Some(70))
    );
    until(&c, "hpa seen", |s| find(s, &ledger).hpa.is_some()).await;

    let e = c
        .write(
            &DeploymentKey::new("shop", "nope"),
            &Change::Scale { from: 1, to: 1 },
        )
        .await
        .expect_err("unknown deployment");
    assert!(matches!(e, ClusterError::NotFound(_)), "{e:?}");
    // From the minReplicas of 5 set above.
    let e = c
        .write(
            &frontend,
            &Change::HpaMin {
                hpa: hpa_before.name.clone(),
                from: 5,
                to: 50,
            },
        )
        .await
        .expect_err("min above max");
    assert!(matches!(e, ClusterError::Invalid(_)), "{e:?}");
}

/// `ai4k8s recommend shop/frontend -o json` against `server`, as JSON (it must succeed).
async fn recommend_frontend_json(server: &SimServe, dir: &Path) -> serde_json::Value {
    let (kubeconfig, data) = (server.kubeconfig.clone(), dir.join("data"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["recommend", "shop/frontend", "-o", "json", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("GROQ_API_KEY")
            .env_remove("AI4K8S_CONFIG")
            .env_remove("KUBECONFIG")
            .output()
    })
    .await
    .expect("join")
    .expect("run ai4k8s");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_hpas_forbidden_the_recommendation_says_why_nothing_can_be_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve_with(dir.path(), None, "0.001", &["--fault", "hpas=403"]);
    let v = recommend_frontend_json(&server, dir.path()).await;
    // frontend has an HPA the app cannot see: no write of any kind is offered.
    let why = v["nothing_to_apply"].as_str().unwrap_or("");
    assert!(
        why.contains("its HPA is unknown") && why.contains("forbidden"),
        "{v}"
    );
    assert_eq!(v["changes"], serde_json::json!([]), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommend_json_runs_end_to_end_on_the_kube_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve(dir.path(), None, "0.001");
    let v = recommend_frontend_json(&server, dir.path()).await;
    let want = find(
        &same_world().snapshot(),
        &DeploymentKey::new("shop", "frontend"),
    )
    .clone();
    assert_eq!(v["namespace"], "shop");
    assert_eq!(v["name"], "frontend");
    assert_eq!(v["current_replicas"], want.desired_replicas);
    assert_eq!(v["min_replicas"], want.min_replicas);
    assert_eq!(v["max_replicas"], want.max_replicas);
    assert_eq!(v["source"], "policy");
    let action = v["action"].as_str().unwrap_or("");
    assert!(
        ["scale_up", "scale_down", "maintain", "at_max"].contains(&action),
        "{v}"
    );
    let t = v["target_replicas"].as_u64().unwrap_or(0) as u32;
    assert!(t >= want.min_replicas && t <= want.max_replicas, "{v}");
    assert!(
        v["inputs"]["cpu_pct"].is_number(),
        "metrics reached the advisor: {v}"
    );
    assert_eq!(v["inputs"]["hpa"]["metrics"][0]["kind"], "Resource", "{v}");
}

/// Resident memory of a process, KiB, from /proc (VmRSS, VmHWM).
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .expect("tmux must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The app on the kube-rs path in a terminal: every deployment listed under the server's
/// context, the card follows the selection, the filter works, `b` explains why a cluster
/// without stored history has nothing to replay, and `q` exits 0. Prometheus is turned off:
/// the sim's would backfill two weeks (`prometheus_proxy_tmux.rs` covers that path).
#[test]
fn the_tui_runs_end_to_end_on_the_kube_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve(dir.path(), None, "1");
    let socket = format!("ai4k8s-kube-tui-{}", std::process::id());
    let config = dir.path().join("app.toml");
    std::fs::write(&config, "[prometheus]\nenabled = false\n").expect("config");
    let cmd = format!(
        "env -u GROQ_API_KEY -u AI4K8S_CONFIG {BIN} --kubeconfig {} --config {} --data-dir {}; \
         echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 30",
        server.kubeconfig.display(),
        config.display(),
        dir.path().join("data").display()
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "36",
            &cmd,
        ],
    );
    let screen = || tmux(&socket, &["capture-pane", "-p", "-t", "t"]);
    let wait = |what: &str, pred: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                tmux(&socket, &["kill-server"]);
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let mut keys = same_world().deployment_keys();
    keys.sort();
    let n = keys.len();
    let s = wait("every deployment", &|s| s.contains(&format!("{n}/{n}")));
    assert!(
        s.contains("ai4k8s-sim"),
        "the status bar names the context:\n{s}"
    );
    let second = &keys[1];
    tmux(&socket, &["send-keys", "-t", "t", "j"]);
    wait("the card of the second deployment", &|s| {
        s.contains(&format!("{second} ·"))
    });
    tmux(&socket, &["send-keys", "-t", "t", "/", "ledger", "Enter"]);
    wait("the filter", &|s| s.contains(&format!("1/{n}")));
    // Esc clears the filter; a key sent right after an Esc would read as alt-key.
    tmux(&socket, &["send-keys", "-t", "t", "Escape"]);
    wait("the filter cleared", &|s| s.contains(&format!("{n}/{n}")));
    tmux(&socket, &["send-keys", "-t", "t", "b"]);
    wait("the backtest's reason", &|s| s.contains("No backtest:"));
    tmux(&socket, &["send-keys", "-t", "t", "Escape"]);
    wait("the overlay closed", &|s| !s.contains("No backtest:"));
    tmux(&socket, &["send-keys", "-t", "t", "q"]);
    let s = wait("a clean exit", &|s| {
        s.contains("EXIT=") && s.lines().any(|l| l.trim().ends_with("icanon"))
    });
    tmux(&socket, &["kill-server"]);
    assert!(s.contains("EXIT=0"), "{s}");
    // Canonical mode is back on (raw mode would print -icanon).
    assert!(
        s.lines().any(|l| l.trim() == "icanon"),
        "terminal restored:\n{s}"
    );
}

/// The closing note's figure: the TUI on the kube path against `sim serve` with 1,000
/// deployments — time from start to the first frame, to the first frame with every
/// deployment, and resident memory then and 30 s later. Run with
/// `cargo test --release --test kube_e2e -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: prints figures"]
fn figure_tui_start_to_first_frame_and_memory_with_1000_deployments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 1000;
    let server = sim_serve(dir.path(), Some(n), "1");
    let kubeconfig = server.kubeconfig.clone();
    let socket = format!("ai4k8s-kube-fig-{}", std::process::id());
    let cmd = format!(
        "exec env -u GROQ_API_KEY -u AI4K8S_CONFIG {BIN} --kubeconfig {} --data-dir {}",
        kubeconfig.display(),
        dir.path().join("data").display()
    );
    let started = Instant::now();
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "fig",
            "-x",
            "160",
            "-y",
            "48",
            &cmd,
        ],
    );
    let pid: u32 = tmux(&socket, &["list-panes", "-t", "fig", "-F", "#{pane_pid}"])
        .trim()
        .parse()
        .expect("pane pid");
    let wait = |pred: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let screen = tmux(&socket, &["capture-pane", "-p", "-t", "fig"]);
            if pred(&screen) {
                return (started.elapsed(), screen);
            }
            assert!(Instant::now() < deadline, "timed out; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let (first_frame, _) = wait(&|s| s.contains("Deployments"));
    let full = format!("{n}/{n}");
    let (first_data, screen) = wait(&|s| s.contains(&full));
    let (rss_first, _) = rss_kib(pid);
    std::thread::sleep(Duration::from_secs(30));
    let (rss_30s, hwm) = rss_kib(pid);
    tmux(&socket, &["kill-server"]);
    println!("kube path, sim serve with {n} deployments (160x48 terminal):");
    println!(
        "  start to first frame:               {:>6.0} ms",
        first_frame.as_secs_f64() * 1e3
    );
    println!(
        "  start to first frame with all rows: {:>6.0} ms",
        first_data.as_secs_f64() * 1e3
    );
    println!(
        "  resident memory at that frame:      {:>6.1} MiB",
        rss_first as f64 / 1024.0
    );
    println!(
        "  resident memory 30 s later:         {:>6.1} MiB (peak {:.1} MiB)",
        rss_30s as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    assert!(screen.contains(&full));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nodes_forbidden_capacity_is_unknown_and_the_status_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sim_serve_with(dir.path(), None, "0.001", &["--fault", "nodes=403"]);
    let c = connect(&server.kubeconfig).await;
    let s = until(&c, "deployments", |s| !s.deployments.is_empty()).await;
    assert_eq!(s.capacity, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let summary = c.status().summary().unwrap_or_default();
        if summary.contains("nodes missing") {
            assert!(
                summary.contains("forbidden") && summary.contains("scale-ups are not capped"),
                "{summary}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{summary}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
