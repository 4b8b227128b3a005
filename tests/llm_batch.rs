//! Issue 13, "batch": several deployments in one request, against a loopback fake that reads
//! the sections like a model would and enforces a free tier (`common::llm::FleetFake`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;

use ai4k8s::advisor::Advisor;
use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::model::{AdvisorInputs, DeploymentState, RecommendationSource, ReviewStatus};
use common::llm::{FleetFake, bodies};
use secrecy::SecretString;
use serde_json::Value;
use wiremock::MockServer;

const T0: i64 = 1_700_006_400;

fn llm_config(server: &MockServer) -> LlmConfig {
    LlmConfig {
        base_url: format!("{}/openai/v1", server.uri()),
        structured_output: "json_schema".into(),
        ..LlmConfig::default()
    }
}

fn advisor(llm: &LlmConfig, dir: &std::path::Path) -> Advisor {
    let cfg = AdvisorConfig::default();
    let llm = LlmAdvisor::new(
        llm,
        &cfg,
        None,
        dir,
        SecretString::from("gsk_Q7vXz9TestOnlyKey".to_string()),
    )
    .expect("advisor")
    .with_wall_clock(|| T0);
    Advisor::with_llm(cfg, Arc::new(llm))
}

/// Busy deployments: the policy proposes a scale-up for each, so each is asked.
fn busy(n: usize) -> Vec<AdvisorInputs> {
    (1..=n)
        .map(|i| {
            DeploymentState::fixture("shop", &format!("web-{i}"))
                .with_replicas(4)
                .with_bounds(2, 20)
                .with_usage(Some(95.0), Some(40.0))
                .inputs_at(T0)
        })
        .collect()
}

fn user_prompt(body: &Value) -> &str {
    body["messages"][1]["content"].as_str().unwrap_or("")
}

#[tokio::test]
async fn one_request_carries_five_deployments_and_a_bad_item_falls_back_alone() {
    let mut fake = FleetFake::new(1000, 100_000);
    fake.omit = vec!["web-2".into()];
    fake.malformed = vec!["web-4".into()];
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = advisor(&llm_config(&server), dir.path());
    let fleet = busy(5);
    let recs = a.recommend_many(&fleet).await;

    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1, "one request for five deployments");
    let body = &sent[0];
    let format = &body["response_format"]["json_schema"];
    assert_eq!(format["name"], "scaling_decisions");
    assert_eq!(
        format["schema"]["properties"]["recommendations"]["maxItems"],
        5
    );
    let prompt = user_prompt(body);
    for i in 1..=5 {
        assert!(prompt.contains(&format!("- Name: web-{i}\n")), "{prompt}");
        assert!(
            prompt.contains(&format!("### Deployment {i} of 5")),
            "{prompt}"
        );
    }
    assert_eq!(prompt.matches("- Namespace: shop").count(), 5);
    assert!(body["max_tokens"].as_u64().unwrap_or(0) > 1000, "{body}");

    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.name, format!("web-{}", i + 1), "in the fleet's order");
        assert!(r.decision.target_replicas <= r.max_replicas);
    }
    for i in [0, 2, 4] {
        assert_eq!(recs[i].source, RecommendationSource::Llm, "{:?}", recs[i]);
        assert_eq!(
            recs[i].llm_review.as_ref().map(|v| v.status),
            Some(ReviewStatus::Asked)
        );
    }
    let reason = |i: usize| recs[i].fallback_reason.clone().unwrap_or_default();
    assert_eq!(recs[1].source, RecommendationSource::Policy);
    assert!(
        reason(1).contains("the batch reply has no item for shop/web-2 (batch of 5)"),
        "{}",
        reason(1)
    );
    assert_eq!(recs[3].source, RecommendationSource::Policy);
    assert!(reason(3).contains("(batch of 5)"), "{}", reason(3));

    // The answers filled each deployment's cache entry: the same inputs again cost nothing.
    let again = a.recommend_many(&fleet).await;
    assert_eq!(bodies(&server).await.len(), 1, "no second request");
    for i in [0, 2, 4] {
        assert_eq!(
            again[i].llm_review.as_ref().map(|v| v.status),
            Some(ReviewStatus::Reused),
            "{:?}",
            again[i]
        );
    }
}

#[tokio::test]
async fn one_deployment_goes_out_in_the_seeds_single_form() {
    let fake = FleetFake::new(1000, 100_000);
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = advisor(&llm_config(&server), dir.path());
    let recs = a.recommend_many(&busy(1)).await;
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["response_format"]["json_schema"]["name"],
        "scaling_decision"
    );
    assert!(!user_prompt(&sent[0]).contains("{\"recommendations\""));
    assert_eq!(sent[0]["max_tokens"], 1000);
    assert_eq!(recs[0].source, RecommendationSource::Llm, "{:?}", recs[0]);
}

#[tokio::test]
async fn anonymized_sections_carry_placeholders_and_cards_the_real_names() {
    let mut fake = FleetFake::new(1000, 100_000);
    // Placeholders in planning order on a fresh data dir: web-2 is deploy-2.
    fake.omit = vec!["deploy-2".into()];
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = llm_config(&server);
    cfg.anonymize = Some(true);
    let a = advisor(&cfg, dir.path());
    let recs = a.recommend_many(&busy(3)).await;
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    let prompt = user_prompt(&sent[0]);
    assert!(
        !prompt.contains("shop") && !prompt.contains("web-"),
        "{prompt}"
    );
    assert!(prompt.contains("- Name: deploy-1") && prompt.contains("- Namespace: ns-1"));
    assert_eq!(recs[0].source, RecommendationSource::Llm);
    assert_eq!(recs[2].source, RecommendationSource::Llm);
    let reason = recs[1].fallback_reason.clone().unwrap_or_default();
    assert!(reason.contains("no item for shop/web-2"), "{reason}");
}

#[tokio::test]
async fn json_object_mode_asks_for_the_list_in_words() {
    let fake = FleetFake::new(1000, 100_000);
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = llm_config(&server);
    cfg.structured_output = "json_object".into();
    let a = advisor(&cfg, dir.path());
    let recs = a.recommend_many(&busy(3)).await;
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["response_format"]["type"], "json_object");
    assert!(user_prompt(&sent[0]).contains("{\"recommendations\": [ … ]}"));
    assert!(recs.iter().all(|r| r.source == RecommendationSource::Llm));
}

#[tokio::test]
async fn a_small_context_gets_small_batches() {
    let fake = FleetFake::new(1000, 100_000);
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = llm_config(&server);
    cfg.context_tokens = 3072;
    let a = advisor(&cfg, dir.path());
    let recs = a.recommend_many(&busy(6)).await;
    let ledger = fake.ledger();
    println!(
        "context 3072: deployments per request {:?}, tokens {:?}",
        ledger.sections, ledger.request_tokens
    );
    // The first request, sized on cautious guesses, carries one; later ones what the
    // replies' usage says fits, never more than the context.
    assert_eq!(ledger.sections[0], 1, "{ledger:?}");
    assert!(
        ledger.request_tokens.iter().all(|&t| t <= 3072),
        "{ledger:?}"
    );
    assert!(ledger.sections.iter().all(|&n| n <= 4), "{ledger:?}");
    assert_eq!(ledger.sections.iter().sum::<usize>(), 6);
    assert!(recs.iter().all(|r| r.source == RecommendationSource::Llm));
}

#[tokio::test]
async fn the_minutes_tokens_are_never_overspent_and_the_rest_say_why() {
    // 4,000 tokens a minute: not enough for twelve deployments at once.
    let fake = FleetFake::new(1000, 4000);
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = advisor(&llm_config(&server), dir.path());
    // One deployment first: the reply's headers teach the limit and its usage the sizes.
    let first = a.recommend_many(&busy(1)).await;
    assert_eq!(first[0].source, RecommendationSource::Llm);
    let fleet: Vec<AdvisorInputs> = busy(12)
        .into_iter()
        .map(|i| AdvisorInputs {
            observed_at: T0 + 60,
            ..i
        })
        .skip(1)
        .collect();
    fake.now.store(T0 + 60, std::sync::atomic::Ordering::SeqCst);
    let recs = a.recommend_many(&fleet).await;
    let ledger = fake.ledger();
    println!("4,000 TPM: {ledger:?}");
    assert_eq!(
        ledger.rejected, 0,
        "never a 429: the advisor kept within the minute"
    );
    let asked = recs
        .iter()
        .filter(|r| r.source == RecommendationSource::Llm)
        .count();
    assert!((2..11).contains(&asked), "some fit, not all: {asked}");
    let waiting: Vec<&str> = recs
        .iter()
        .filter_map(|r| r.fallback_reason.as_deref())
        .collect();
    assert_eq!(waiting.len(), 11 - asked);
    assert!(
        waiting
            .iter()
            .all(|w| w.starts_with("tokens-per-minute limit reached: next request in")),
        "{waiting:?}"
    );
}

/// `recommend --demo --all` for the 14 demo deployments, all asked on a fresh data dir: at
/// most 3 requests, and every deployment answered by the LLM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommend_demo_all_needs_at_most_three_requests() {
    let fake = FleetFake::new(1000, 100_000);
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[llm]\nbase_url = \"{}/openai/v1\"\napi_key_env = \"AI4K8S_TEST_BATCH_KEY\"\n\
             [demo]\nhistory_hours = 24\n",
            server.uri()
        ),
    )
    .expect("config");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::BIN)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["recommend", "--demo", "--all", "-o", "json"])
            .env("AI4K8S_TEST_BATCH_KEY", "gsk_Q7vXz9TestOnlyKey")
            .env_remove("GROQ_API_KEY")
            .env_remove("AI4K8S_CONFIG")
            .env_remove("AI4K8S_LLM_BASE_URL")
            .env_remove("AI4K8S_LLM_MODEL")
            .output()
    })
    .await
    .expect("join")
    .expect("ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let recs = recs.as_array().expect("a list");
    assert_eq!(recs.len(), 14);
    let ledger = fake.ledger();
    println!(
        "recommend --demo --all: {} requests, deployments per request {:?}",
        ledger.requests, ledger.sections
    );
    assert!(ledger.requests <= 3, "{ledger:?}");
    let from_llm = recs.iter().filter(|r| r["source"] == "llm").count();
    assert_eq!(from_llm, 14, "{}", String::from_utf8_lossy(&out.stdout));
}

/// A batch that times out makes later batches smaller (a slow local server answers a smaller
/// one in time); after two timeouts in a row the endpoint pauses and the rest say so.
#[tokio::test]
async fn a_batch_that_times_out_halves_the_next() {
    let server = MockServer::start().await;
    common::llm::chat()
        .respond_with(common::llm::ok("{}").set_delay(std::time::Duration::from_millis(2500)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = llm_config(&server);
    cfg.timeout_seconds = 1;
    cfg.max_batch = 6;
    let a = advisor(&cfg, dir.path());
    let recs = a.recommend_many(&busy(12)).await;
    let sections: Vec<usize> = bodies(&server)
        .await
        .iter()
        .map(|b| user_prompt(b).matches("<<<CLUSTER DATA").count())
        .collect();
    // Halved after the timeout (and sized to the speed it showed: at least 1/6 s a
    // deployment, so half the timeout holds at most 3), then paused.
    assert_eq!(sections.len(), 2, "{sections:?}");
    assert_eq!(sections[0], 6, "{sections:?}");
    assert!((1..=3).contains(&sections[1]), "{sections:?}");
    assert!(
        recs.iter()
            .all(|r| r.source == RecommendationSource::Policy)
    );
    let reasons: Vec<&str> = recs
        .iter()
        .filter_map(|r| r.fallback_reason.as_deref())
        .collect();
    // Every deployment of the two batches that went out says it timed out; the rest, that
    // the endpoint paused.
    let sent: usize = sections.iter().sum();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.starts_with("timeout after 1 s (batch of"))
            .count(),
        sent
    );
    assert!(
        reasons[sent..]
            .iter()
            .all(|r| r.starts_with("LLM failing: 2 timeouts in a row")),
        "{reasons:?}"
    );
}
