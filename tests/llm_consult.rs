//! "Ask only when it matters" (issue 13): the policy proposes, and the advisor asks the LLM
//! (a loopback wiremock server with Groq-shaped replies) only when that proposal is a change,
//! when its confidence is low, or when the inputs left the buckets of the deployment's last
//! review; otherwise that review stands, shown with its age, and no request is made.
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
use ai4k8s::model::{
    AdvisorInputs, DeploymentState, PolicyChange, Recommendation, RecommendationSource,
    ReviewStatus,
};
use common::llm::{chat_server, ok};
use secrecy::SecretString;
use tempfile::TempDir;
use wiremock::MockServer;

/// Noon (UTC) of a cluster day.
const T0: i64 = 1_700_006_400 + 43_200;
const MIN: i64 = 60;

const MAINTAIN: &str = r#"{"action":"maintain","target_replicas":4,"confidence":0.8,"reasoning":"Load sits below the 70% target on four replicas and nothing in the forecast asks for more.","factors_considered":["Current resource pressure"],"risk_assessment":"low","cost_impact":"low","performance_impact":"neutral","recommended_timing":"immediate"}"#;

/// Four replicas without an HPA, bounds [2, 10], at `cpu` % of requests.
fn inputs(cpu: f64, at: i64) -> AdvisorInputs {
    DeploymentState::fixture("shop", "web")
        .with_replicas(4)
        .with_bounds(2, 10)
        .with_usage(Some(cpu), Some(30.0))
        .inputs_at(at)
}

struct Fleet {
    server: MockServer,
    advisor: Advisor,
    dir: TempDir,
}

async fn fleet() -> Fleet {
    let server = chat_server(ok(MAINTAIN)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let advisor = advisor_on(&server, &dir);
    Fleet {
        server,
        advisor,
        dir,
    }
}

/// An advisor whose LLM is `server`, with its state in `dir`.
fn advisor_on(server: &MockServer, dir: &TempDir) -> Advisor {
    let llm_cfg = LlmConfig {
        base_url: format!("{}/openai/v1", server.uri()),
        timeout_seconds: 5,
        ..LlmConfig::default()
    };
    let cfg = AdvisorConfig::default();
    let llm = LlmAdvisor::new(
        &llm_cfg,
        &cfg,
        None,
        dir.path(),
        SecretString::from("gsk_consult_test".to_string()),
    )
    .expect("advisor")
    .with_wall_clock(|| T0);
    Advisor::with_llm(cfg, Arc::new(llm))
}

impl Fleet {
    async fn requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .len()
    }
}

fn status(r: &Recommendation) -> ReviewStatus {
    r.llm_review.as_ref().expect("an LLM review").status
}

/// Reviewed once at T0 (maintain, confidence 0.6 without a demand forecast, at the default
/// threshold of 0.6), then steady for 10 minutes.
async fn reviewed_and_steady(f: &Fleet, cpu: f64) {
    let first = f.advisor.recommend(&inputs(cpu, T0)).await;
    assert_eq!(first.source, RecommendationSource::Llm, "{first:?}");
    assert_eq!(first.change, PolicyChange::Maintain);
    assert_eq!(status(&first), ReviewStatus::Asked);
    for m in 1..=10 {
        let r = f.advisor.recommend(&inputs(cpu, T0 + m * MIN)).await;
        assert_eq!(status(&r), ReviewStatus::NotAsked, "minute {m}: {r:?}");
    }
    assert_eq!(f.requests().await, 1);
}

#[tokio::test]
async fn a_steady_deployment_is_reviewed_once_and_its_review_stands_with_its_age() {
    let f = fleet().await;
    // CPU wanders between 55 and 60 %: one bucket (50), and 4 replicas stay right at 70 %.
    for m in 0..120 {
        let cpu = 55.0 + (m % 6) as f64;
        let r = f.advisor.recommend(&inputs(cpu, T0 + m * MIN)).await;
        assert_eq!(r.change, PolicyChange::Maintain, "minute {m}");
        assert_eq!(r.source, RecommendationSource::Llm);
        let review = r.llm_review.as_ref().expect("review");
        if m == 0 {
            assert_eq!(review.status, ReviewStatus::Asked);
            assert!(!r.cached);
            continue;
        }
        assert_eq!(review.status, ReviewStatus::NotAsked, "minute {m}");
        assert!(r.cached);
        assert_eq!(review.age_seconds, m * MIN);
        assert_eq!(review.reviewed_at, "2023-11-15T12:00:00Z");
        if m == 14 {
            assert_eq!(review.age_text(), "reviewed 14 min ago");
            let text = ai4k8s::cli::text::recommendation(&r);
            assert!(
                text.contains("llm openai/gpt-oss-20b, reviewed 14 min ago"),
                "{text}"
            );
            assert!(
                text.contains(
                    "LLM not asked: the policy proposes no change (maintain, confidence 0.60); \
                     reviewed 14 min ago"
                ),
                "{text}"
            );
            let json = serde_json::to_value(&r).expect("json");
            assert_eq!(json["llm_review"]["status"], "not_asked");
            assert_eq!(json["llm_review"]["age_seconds"], 840);
            assert_eq!(json["cached"], true);
            assert_eq!(json["source"], "llm");
        }
    }
    assert_eq!(
        f.requests().await,
        1,
        "two hours in one bucket: one request"
    );
    // Nothing was spent after the first review.
    assert!(
        f.advisor.llm_status().contains("999/1000 left today"),
        "{}",
        f.advisor.llm_status()
    );
}

#[tokio::test]
async fn a_proposal_that_is_a_change_is_asked_even_in_the_same_bucket() {
    let f = fleet().await;
    // 63 % on 4 pods needs ceil(4 × 63 / 70) = 4; 80 % needs 5. Both round to the 75 % bucket.
    reviewed_and_steady(&f, 63.0).await;
    let rising = inputs(80.0, T0 + 11 * MIN);
    let proposal = ai4k8s::advisor::policy::decide(&rising, f.advisor.config());
    assert_eq!(proposal.change, PolicyChange::Replicas { from: 4, to: 5 });
    let r = f.advisor.recommend(&rising).await;
    // The LLM (which always says maintain 4) may choose within the policy's range.
    assert_eq!(r.policy_range, Some(proposal.range));
    let review = r.llm_review.as_ref().expect("review");
    assert_eq!(review.status, ReviewStatus::Asked, "{r:?}");
    assert_eq!(review.why, "the policy proposes a change");
    assert_eq!(f.requests().await, 2);
    assert!(
        ai4k8s::cli::text::recommendation(&r).contains("LLM asked: the policy proposes a change")
    );
}

#[tokio::test]
async fn low_confidence_is_asked_even_in_the_same_bucket() {
    let f = fleet().await;
    reviewed_and_steady(&f, 63.0).await;
    // A fifth pod starting (a rollout's surge): the same 4 ready pods carry the same load, but
    // the policy's confidence drops to 0.5, below 0.6. Replicas, load and bounds are those of
    // the stored review (same cache key).
    let unsure = AdvisorInputs {
        total_pods: 5,
        ..inputs(63.0, T0 + 11 * MIN)
    };
    let r = f.advisor.recommend(&unsure).await;
    assert_eq!(r.change, PolicyChange::Maintain);
    let review = r.llm_review.as_ref().expect("review");
    assert_eq!(review.status, ReviewStatus::Asked, "{r:?}");
    assert_eq!(review.why, "the policy's confidence 0.50 is below 0.60");
    assert_eq!(f.requests().await, 2);
}

#[tokio::test]
async fn inputs_leaving_their_bucket_are_asked() {
    let f = fleet().await;
    reviewed_and_steady(&f, 55.0).await;
    // Memory moves from the 30 % bucket to 45 %: the policy still maintains, confidently,
    // but no review matches these inputs.
    let moved = AdvisorInputs {
        mem_pct: Some(46.0),
        ..inputs(55.0, T0 + 11 * MIN)
    };
    let r = f.advisor.recommend(&moved).await;
    assert_eq!(r.change, PolicyChange::Maintain);
    let review = r.llm_review.as_ref().expect("review");
    assert_eq!(review.status, ReviewStatus::Asked, "{r:?}");
    assert!(review.why.starts_with("no LLM review for these inputs"));
    assert_eq!(f.requests().await, 2);
    // And that new review stands from then on.
    let r = f
        .advisor
        .recommend(&AdvisorInputs {
            mem_pct: Some(44.0),
            ..inputs(56.0, T0 + 20 * MIN)
        })
        .await;
    assert_eq!(status(&r), ReviewStatus::NotAsked);
    assert_eq!(r.llm_review.as_ref().map(|v| v.age_seconds), Some(9 * MIN));
    assert_eq!(f.requests().await, 2);
}

#[tokio::test]
async fn a_review_stands_for_its_bucket_after_the_inputs_come_back_and_after_a_restart() {
    let f = fleet().await;
    let at = |mem: f64, t: i64| AdvisorInputs {
        mem_pct: Some(mem),
        ..inputs(55.0, t)
    };
    assert_eq!(
        status(&f.advisor.recommend(&at(30.0, T0)).await),
        ReviewStatus::Asked
    );
    assert_eq!(
        status(&f.advisor.recommend(&at(46.0, T0 + 6 * MIN)).await),
        ReviewStatus::Asked
    );
    // Back in the first buckets long after the cache's TTL (300 s): that review stands.
    let r = f.advisor.recommend(&at(31.0, T0 + 40 * MIN)).await;
    let review = r.llm_review.as_ref().expect("review");
    assert_eq!(review.status, ReviewStatus::NotAsked, "{r:?}");
    assert_eq!(review.age_seconds, 40 * MIN);
    let r = f.advisor.recommend(&at(44.0, T0 + 50 * MIN)).await;
    assert_eq!(
        r.llm_review.map(|v| (v.status, v.age_seconds)),
        Some((ReviewStatus::NotAsked, 44 * MIN))
    );
    assert_eq!(f.requests().await, 2);
    // A restarted advisor on the same data dir finds both reviews: still no request.
    let restarted = advisor_on(&f.server, &f.dir);
    for (mem, reviewed) in [(30.0, T0), (46.0, T0 + 6 * MIN)] {
        let r = restarted.recommend(&at(mem, T0 + 90 * MIN)).await;
        assert_eq!(
            r.llm_review.map(|v| (v.status, v.age_seconds)),
            Some((ReviewStatus::NotAsked, T0 + 90 * MIN - reviewed))
        );
    }
    assert_eq!(f.requests().await, 2);
}

#[tokio::test]
async fn a_rules_only_advisor_has_no_review() {
    let a = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let r = a.recommend(&inputs(55.0, T0)).await;
    assert!(r.llm_review.is_none());
    let json = serde_json::to_value(&r).expect("json");
    assert!(json.get("llm_review").is_none(), "{json}");
}
