//! `ai4k8s autopilot --leader-elect` as Kubernetes would run it: replicas of the built binary
//! against `ai4k8s sim serve` (the apiserver emulator, Leases and Events included), watched
//! through their `--metrics-addr` endpoints and the cluster's Events, refereed by kubectl.
//! Short leases (3 s, renewed every 1 s) keep the suite fast.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::BIN;
use common::prometheus::{free_port, tool};
use common::sim_serve::{SimServe, sim_serve_with};
use serde_json::Value;

// Long enough that a replica starved for 2 s by a loaded CI machine (two cores, the suite's
// other binaries running) still renews in time: at 3 s / 1 s the margin was 0.75 s, and under
// load the leader stepped down (correctly) while the test expected it to lead.
const LEASE_SECONDS: u64 = 6;
const RENEW_SECONDS: f64 = 2.0;
const LEASE: &str = "ai4k8s-autopilot";

/// One autopilot replica, SIGKILLed (by its own pid) when dropped.
struct Pilot {
    child: Child,
    metrics: SocketAddr,
    data: PathBuf,
}

impl Drop for Pilot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Acts on every predictive deployment at once: no confidence floor, no cooldown.
fn pilot_config(dir: &Path) -> PathBuf {
    let path = dir.join("pilot.toml");
    std::fs::write(
        &path,
        "[actions]\nautopilot_min_confidence = 0.0\nautopilot_cooldown_seconds = 0\n",
    )
    .expect("config");
    path
}

fn start_pilot(dir: &Path, kubeconfig: &Path, identity: &str) -> Pilot {
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let data = dir.join(identity);
    let log = std::fs::File::create(dir.join(format!("{identity}.out"))).expect("log");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(pilot_config(dir))
        .arg("--data-dir")
        .arg(&data)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["autopilot", "--leader-elect", "--identity", identity])
        .args(["--lease-duration", &LEASE_SECONDS.to_string()])
        .args(["--renew-every", &RENEW_SECONDS.to_string()])
        .args(["--metrics-addr", &metrics.to_string()])
        .env_remove("GROQ_API_KEY")
        .env_remove("AI4K8S_CONFIG")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the autopilot");
    Pilot {
        child,
        metrics,
        data,
    }
}

/// A plain HTTP/1.1 GET: (status, body), or None while nothing listens.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// One unlabelled sample from `/metrics`.
fn metric(p: &Pilot, name: &str) -> Option<f64> {
    let (_, body) = http_get(p.metrics, "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// The last lines of a replica's log, for a failure's message.
fn log_tail(p: &Pilot) -> String {
    let log = std::fs::read_to_string(p.data.join("logs").join("ai4k8s.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn leads(p: &Pilot) -> bool {
    metric(p, "ai4k8s_autopilot_leader") == Some(1.0)
}

/// Poll `f` every 50 ms until it holds; how long that took, or None after `limit`.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--request-timeout", "20s"])
        .args(args)
        .output()
        .expect("run kubectl (installed on the dev machines and in CI)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An Event the autopilot recorded: who, when (its eventTime), on what, and its message.
#[derive(Debug, Clone)]
struct PilotEvent {
    instance: String,
    at: DateTime<Utc>,
    namespace: String,
    name: String,
    reason: String,
    message: String,
}

fn pilot_events(kubeconfig: &Path) -> Vec<PilotEvent> {
    let v: Value =
        serde_json::from_str(&kubectl(kubeconfig, &["get", "events", "-A", "-o", "json"]))
            .expect("events json");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["reportingComponent"] == "ai4k8s-autopilot")
        .map(|e| PilotEvent {
            instance: e["reportingInstance"].as_str().unwrap_or_default().into(),
            at: DateTime::parse_from_rfc3339(e["eventTime"].as_str().expect("eventTime"))
                .expect("rfc3339")
                .with_timezone(&Utc),
            namespace: e["involvedObject"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .into(),
            name: e["involvedObject"]["name"]
                .as_str()
                .unwrap_or_default()
                .into(),
            reason: e["reason"].as_str().unwrap_or_default().into(),
            message: e["message"].as_str().unwrap_or_default().into(),
        })
        .collect()
}

/// Successful autopilot writes in a replica's journal: (wall time, namespace/name).
fn journal_writes(p: &Pilot) -> Vec<(DateTime<Utc>, String)> {
    let text = std::fs::read_to_string(p.data.join("journal.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "autopilot" && e["outcome"]["ok"] == true)
        .map(|e| {
            let at = DateTime::parse_from_rfc3339(e["time"].as_str().expect("time"))
                .expect("rfc3339")
                .with_timezone(&Utc);
            (
                at,
                format!(
                    "{}/{}",
                    e["namespace"].as_str().unwrap(),
                    e["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

fn holder(kubeconfig: &Path) -> String {
    kubectl(
        kubeconfig,
        &[
            "get",
            "lease",
            LEASE,
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    )
}

fn served(dir: &Path, extra: &[&str]) -> SimServe {
    let serve = sim_serve_with(dir, None, "60", extra);
    kubectl(
        &serve.kubeconfig,
        &[
            "annotate",
            "deploy",
            "--all",
            "-A",
            "ai4k8s.io/predictive-autoscaling=true",
            "--overwrite",
        ],
    );
    serve
}

#[test]
fn two_replicas_elect_one_leader_and_after_sigkill_the_standby_leads_with_never_two_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = served(dir.path(), &[]);
    let kc = &serve.kubeconfig;
    let mut a = start_pilot(dir.path(), kc, "a");
    assert!(
        wait_for(Duration::from_secs(30), || leads(&a)).is_some(),
        "a alone leads"
    );
    let b = start_pilot(dir.path(), kc, "b");
    assert!(
        wait_for(Duration::from_secs(40), || http_get(b.metrics, "/readyz")
            .is_some_and(|(s, _)| s == 200))
        .is_some(),
        "b becomes ready as a standby"
    );
    // Several renewals long, exactly one of them leads, and the Lease names it.
    for _ in 0..20 {
        assert_eq!((leads(&a), leads(&b)), (true, false));
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(holder(kc), "a");
    assert!(
        wait_for(Duration::from_secs(60), || pilot_events(kc)
            .iter()
            .any(|e| e.instance == "a"))
        .is_some(),
        "the leader changed something and recorded it"
    );

    let killed_at = Utc::now();
    let kill = Instant::now();
    a.child.kill().expect("SIGKILL the leader");
    let _ = a.child.wait();
    wait_for(Duration::from_secs(15), || leads(&b)).expect("b takes over");
    let took = kill.elapsed();
    println!(
        "standby took over {:.2} s after the SIGKILL",
        took.as_secs_f64()
    );
    assert!(
        took <= Duration::from_secs_f64(LEASE_SECONDS as f64 + 2.0 * RENEW_SECONDS),
        "took over in {took:?}: a lease duration plus a retry or two"
    );
    assert_eq!(holder(kc), "b");

    // Undo a's scale-downs by hand, so the new leader has something to do.
    for e in pilot_events(kc).iter().filter(|e| e.instance == "a") {
        if let Some((target, rest)) = e
            .message
            .split_once("deployment/")
            .and_then(|(_, r)| r.split_once(" scale: spec.replicas "))
        {
            let from = rest.split(' ').next().unwrap_or("1");
            kubectl(
                kc,
                &[
                    "scale",
                    "deploy",
                    target,
                    "-n",
                    &e.namespace,
                    "--replicas",
                    from,
                ],
            );
        }
    }
    // Generous: the new leader forecasts before it acts, and a debug build beside three other
    // tests' servers and replicas once needed more than a minute for that (CI, 2 cores).
    assert!(
        wait_for(Duration::from_secs(180), || pilot_events(kc)
            .iter()
            .any(|e| e.instance == "b"))
        .is_some(),
        "the new leader acts; its log ends:\n{}",
        log_tail(&b)
    );

    let events = pilot_events(kc);
    // What an operator sees: the holder in `kubectl get lease`, the change in `kubectl get
    // events` and `kubectl describe deploy`.
    let leases = kubectl(kc, &["get", "lease", "-n", "default"]);
    assert!(
        leases.starts_with("NAME") && leases.contains("HOLDER"),
        "{leases}"
    );
    assert!(
        leases
            .lines()
            .any(|l| l.split_whitespace().take(2).eq([LEASE, "b"])),
        "{leases}"
    );
    // Labelled as the autopilot's, so the TUI can mark what it manages.
    let labelled = kubectl(
        kc,
        &[
            "get",
            "lease",
            "-n",
            "default",
            "-l",
            "app.kubernetes.io/managed-by=ai4k8s-autopilot",
            "-o",
            "name",
        ],
    );
    assert_eq!(
        labelled.trim(),
        format!("lease.coordination.k8s.io/{LEASE}")
    );
    let e = events
        .iter()
        .find(|e| e.instance == "b")
        .expect("an event by b");
    assert!(
        e.reason.starts_with("Autopilot") && e.message.contains(" → "),
        "{e:?}"
    );
    let table = kubectl(kc, &["get", "events", "-n", &e.namespace]);
    assert!(
        table.contains(&e.reason) && table.contains(&format!("deployment/{}", e.name)),
        "{table}"
    );
    let describe = kubectl(kc, &["describe", "deploy", &e.name, "-n", &e.namespace]);
    assert!(
        describe.contains(&e.reason) && describe.contains("ai4k8s-autopilot"),
        "{describe}"
    );
    let by = |who: &str| -> Vec<DateTime<Utc>> {
        events
            .iter()
            .filter(|e| e.instance == who)
            .map(|e| e.at)
            .collect()
    };
    let (of_a, of_b) = (by("a"), by("b"));
    assert!(
        of_a.iter().all(|t| *t < killed_at),
        "a wrote only while alive: {of_a:?}"
    );
    assert!(
        of_b.iter().all(|t| *t > killed_at),
        "b wrote only after a died: {of_b:?}"
    );
    assert_eq!(of_a.len() + of_b.len(), events.len(), "no third writer");
    // The journals tell the same story, a write for every Event. The Event follows the
    // write, so SIGKILL may fall between a's last write and its Event (at most one short),
    // and b, still running, may have written since its Events were read.
    let killed_second = killed_at.timestamp();
    let (ja, jb) = (journal_writes(&a), journal_writes(&b));
    assert!(
        ja.len() == of_a.len() || ja.len() == of_a.len() + 1,
        "{} journalled writes, {} Events: {ja:?}",
        ja.len(),
        of_a.len()
    );
    assert!(
        jb.len() >= of_b.len(),
        "{} journalled writes, {} Events: {jb:?}",
        jb.len(),
        of_b.len()
    );
    assert!(ja.iter().all(|(t, _)| t.timestamp() <= killed_second));
    assert!(jb.iter().all(|(t, _)| t.timestamp() >= killed_second));
}

#[test]
fn a_leader_stopped_with_sigterm_hands_the_lease_over_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = served(dir.path(), &[]);
    let kc = &serve.kubeconfig;
    let mut a = start_pilot(dir.path(), kc, "a");
    assert!(wait_for(Duration::from_secs(30), || leads(&a)).is_some());
    let b = start_pilot(dir.path(), kc, "b");
    assert!(
        wait_for(Duration::from_secs(40), || http_get(b.metrics, "/readyz")
            .is_some_and(|(s, _)| s == 200))
        .is_some()
    );
    assert!(!leads(&b));
    let pid = a.child.id().to_string();
    let term = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = a.child.wait().expect("a exits");
    assert!(status.success(), "a stops cleanly on SIGTERM: {status:?}");
    wait_for(Duration::from_secs(10), || leads(&b)).expect("b takes over");
    let took = term.elapsed();
    println!(
        "standby took over {:.2} s after SIGTERM",
        took.as_secs_f64()
    );
    // Released: b need not wait out the lease.
    assert!(
        took < Duration::from_secs(LEASE_SECONDS),
        "took {took:?}, no faster than a lease running out"
    );
    assert_eq!(holder(kc), "b");
    let out = std::fs::read_to_string(dir.path().join("a.out")).expect("a's output");
    assert!(out.contains("autopilot stopped after"), "{out}");
}

#[test]
fn a_leader_that_cannot_renew_stops_writing_before_its_lease_could_expire_for_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Leases answer 500 from 12 s after the server started: time to elect, then no renewal.
    let fault_after = Duration::from_secs(12);
    let started = Instant::now();
    let serve = served(dir.path(), &["--fault", "leases=500@12s"]);
    let kc = serve.kubeconfig.clone();
    let a = start_pilot(dir.path(), &kc, "a");
    assert!(
        wait_for(Duration::from_secs(10), || leads(&a)).is_some(),
        "a leads"
    );

    // Watch the Lease (a watch opened before the fault keeps streaming) and note every
    // renewal a wrote: the renewTime it sent.
    let renewals: Arc<Mutex<Vec<DateTime<Utc>>>> = Arc::default();
    let seen = renewals.clone();
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["get", "lease", LEASE, "-n", "default", "-w", "-o"])
        .arg("jsonpath={.spec.renewTime}{\"\\n\"}")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl watch");
    let out = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(t) = DateTime::parse_from_rfc3339(line.trim()) {
                seen.lock().unwrap().push(t.with_timezone(&Utc));
            }
        }
    });

    let until_fault = fault_after.saturating_sub(started.elapsed());
    std::thread::sleep(until_fault.saturating_sub(Duration::from_millis(500)));
    assert!(leads(&a), "a still leads just before the fault");
    let stopped = wait_for(Duration::from_secs(10), || !leads(&a)).expect("a steps down");
    let stopped_at = Utc::now();
    let _ = watch.kill();
    let _ = watch.wait();
    let last_renewal = *renewals
        .lock()
        .unwrap()
        .iter()
        .max()
        .expect("renewals were watched");
    let expires_for_others = last_renewal + chrono::Duration::seconds(LEASE_SECONDS as i64);
    println!(
        "stepped down {:.2} s after watching from 0.5 s before the fault; {} ms before the lease could expire for others",
        stopped.as_secs_f64(),
        (expires_for_others - stopped_at).num_milliseconds()
    );
    assert!(
        stopped_at < expires_for_others,
        "stopped at {stopped_at}, the lease renewed at {last_renewal} stood until {expires_for_others}"
    );
    let (status, why) = http_get(a.metrics, "/readyz").expect("readyz");
    assert_eq!(status, 200, "still ready (a standby now): {why}");
    // No write after it stepped down: its journal ends before.
    assert!(
        journal_writes(&a)
            .iter()
            .all(|(t, _)| t.timestamp() <= stopped_at.timestamp())
    );
}

#[test]
fn readiness_waits_for_the_first_sync_and_the_leader_state_and_metrics_pass_promtool() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A kubeconfig for a server that is not there yet.
    let port = free_port();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .expect("kubeconfig");
    let a = start_pilot(dir.path(), &kc, "a");
    assert!(
        wait_for(Duration::from_secs(20), || http_get(a.metrics, "/healthz")
            .is_some_and(|(s, _)| s == 200))
        .is_some(),
        "alive while the API is down"
    );
    let (status, why) = http_get(a.metrics, "/readyz").expect("readyz");
    assert_eq!(status, 503);
    assert!(why.contains("waiting for the first cluster sync"), "{why}");
    assert_eq!(metric(&a, "ai4k8s_autopilot_ready"), Some(0.0));
    assert_eq!(metric(&a, "ai4k8s_autopilot_leader"), Some(0.0));

    // The API comes up on that port: ready once synced and elected.
    let served = Command::new(BIN)
        .args(["sim", "serve", "--port", &port.to_string(), "--speed", "60"])
        .arg("--data-dir")
        .arg(dir.path().join("server"))
        .env_remove("AI4K8S_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sim serve");
    let _server = Pilot {
        child: served,
        metrics: a.metrics,
        data: dir.path().join("server"),
    };
    let took = wait_for(Duration::from_secs(60), || {
        http_get(a.metrics, "/readyz").is_some_and(|(s, _)| s == 200)
    })
    .expect("ready once the API answers");
    println!("ready {:.2} s after the API came up", took.as_secs_f64());
    assert_eq!(metric(&a, "ai4k8s_autopilot_ready"), Some(1.0));
    assert!(wait_for(Duration::from_secs(10), || leads(&a)).is_some());

    let (_, text) = http_get(a.metrics, "/metrics").expect("metrics");
    let mut check = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for family in [
        "ai4k8s_autopilot_decisions_total",
        "ai4k8s_autopilot_writes_total",
        "ai4k8s_autopilot_refusals_total",
        "ai4k8s_autopilot_llm_answers_total",
        "ai4k8s_autopilot_leader",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} in\n{text}"
        );
    }
}
