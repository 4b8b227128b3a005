//! The `llm` policy against a loopback fake OpenAI-compatible server: the advisor's answers,
//! brought into the policy's range, become the HPA's floor after the warm-up, the policy alone
//! answers during it, and the same path works from the CLI with a key from the environment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::Path;
use std::sync::Arc;

use ai4k8s::advisor::Advisor;
use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::backtest::{self, Options, PolicyKind};
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::traces::Trace;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SCALE_TO_12: &str = r#"{"action":"scale_up","target_replicas":12,"confidence":0.8,"reasoning":"The forecast peak needs more capacity than the current replicas can serve at the target.","factors_considered":["forecast"],"risk_assessment":"low","cost_impact":"medium","performance_impact":"positive","recommended_timing":"immediate"}"#;

async fn fake_llm() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "openai/gpt-oss-20b",
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": SCALE_TO_12}}],
            "usage": {"prompt_tokens": 400, "completion_tokens": 100, "total_tokens": 500}
        })))
        .mount(&server)
        .await;
    server
}

/// Two days at 5 minutes, flat at 2 replicas of demand: nothing but the LLM asks for 12.
fn flat_trace() -> Trace {
    Trace {
        name: "flat".into(),
        start: 1_700_006_400,
        step_seconds: 300,
        values: vec![2.0; 576],
    }
}

#[tokio::test]
async fn llm_answers_become_the_floor_within_the_policys_range_after_the_warm_up() {
    let server = fake_llm().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let llm_cfg = LlmConfig {
        base_url: format!("{}/v1", server.uri()),
        ..LlmConfig::default()
    };
    let llm = LlmAdvisor::new(
        &llm_cfg,
        &AdvisorConfig::default(),
        None,
        dir.path(),
        SecretString::from("gsk_backtest".to_string()),
    )
    .expect("advisor");
    let advisor = Advisor::with_llm(AdvisorConfig::default(), Arc::new(llm));
    let mut opts = Options::default();
    opts.model.p99_replicas = None;
    let r = backtest::run_with_advisor(
        &flat_trace(),
        &opts,
        &[PolicyKind::Hpa, PolicyKind::Llm, PolicyKind::Oracle100],
        &advisor,
    )
    .await
    .expect("replay");

    let calls = server.received_requests().await.unwrap_or_default().len();
    let llm = r
        .policies
        .iter()
        .find(|p| p.policy == "llm")
        .expect("llm row");
    let d = llm.decisions.expect("decision counts");
    assert!(d.llm >= 1 && calls >= 1, "{d:?}, {calls} calls");
    assert_eq!(
        d.llm as usize, calls,
        "every fresh LLM answer was one request"
    );
    assert!(d.warmup > 0, "the warm-up spent no LLM call: {d:?}");
    // One call per deployment per 300 s at most, over the scored day.
    assert!(calls <= 288, "{calls}");
    // The LLM asks for 12; the policy's range for 2 pods of flat demand ends at what the HPA's
    // 70 % target needs plus one (ceil(2 / 0.7) + 1 = 4), so the floor is 4 for the scored day,
    // where the HPA alone holds 3.
    let hpa = r.policy("hpa").expect("hpa");
    assert!(
        (llm.metrics.replica_hours - 4.0 * 24.0).abs() < 0.5,
        "{:?}",
        llm.metrics
    );
    assert!(hpa.replica_hours < 3.5 * 24.0, "{hpa:?}");
    assert_eq!(llm.metrics.under_provisioned_minutes, 0.0);
    assert!(r.goals.iter().any(|g| g.policy == "llm"));
}

fn write_flat_csv(dir: &Path) -> std::path::PathBuf {
    let t = flat_trace();
    let mut s = String::from("timestamp,value\n");
    for (i, v) in t.values.iter().enumerate() {
        s.push_str(&format!("{},{v}\n", t.start + i as i64 * 300));
    }
    let p = dir.join("flat.csv");
    std::fs::write(&p, s).expect("trace");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_runs_the_llm_policy_with_a_key_from_the_environment() {
    let server = fake_llm().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[llm]\nbase_url = \"{}/v1\"\napi_key_env = \"AI4K8S_BACKTEST_TEST_KEY\"\n",
            server.uri()
        ),
    )
    .expect("config");
    let trace = write_flat_csv(dir.path());
    let data = dir.path().join("data");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(&data)
            .args([
                "backtest",
                "--no-rescale",
                "--policies",
                "hpa,llm",
                "-o",
                "json",
                "--trace",
            ])
            .arg(&trace)
            .env("AI4K8S_BACKTEST_TEST_KEY", "gsk_from_env")
            .env_remove("AI4K8S_LLM_BASE_URL")
            .output()
    })
    .await
    .expect("joined")
    .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["policies"][1]["policy"], "llm");
    assert!(
        v["policies"][1]["decisions"]["llm"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );
    assert!(
        !server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}
