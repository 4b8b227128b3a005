//! A 24 h replay of eight deployments (one per embedded workload trace) through the advisor
//! (`Advisor::recommend`: the policy proposes, the LLM is asked only when it matters) and the
//! LLM advisor against a loopback fake server, every 60 cluster seconds, for the issue's
//! figures: LLM calls per deployment per day, the share of decisions answered without a
//! request (a review that stands, or the cache), why the rules answered instead, and the
//! latency of an answer served without a request. About 25 s on two cores (two fsynced state
//! writes per LLM call), so it is not part of the default run:
//! `cargo test --test llm_replay -- --ignored --nocapture`.
//!
//! The cluster is deliberately simple: demand follows the trace (scaled so its median needs
//! 2.5 pods at 70 %), replicas follow the HPA formula on the current load at once, and the
//! forecast peak is the trace's own maximum over the next 6 hours.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai4k8s::advisor::Advisor;
use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::model::{
    AdvisorInputs, DeploymentState, ForecastSummary, RecommendationSource, ReviewStatus, Trend,
};
use ai4k8s::traces::{self, Trace};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DAY: i64 = 86_400;
const STEP: i64 = 60;
/// A midnight (UTC), so the replay is exactly one budget day.
const START: i64 = 1_700_006_400;

const REPLY: &str = r#"{"action":"maintain","target_replicas":4,"confidence":0.8,"reasoning":"Load sits near the target and the forecast peak stays within the current capacity.","factors_considered":["cpu"],"risk_assessment":"low","cost_impact":"low","performance_impact":"neutral","recommended_timing":"immediate"}"#;

struct Workload {
    name: String,
    trace: Trace,
    /// Trace value that needs 1 % of one pod.
    scale: f64,
    replicas: u32,
}

impl Workload {
    /// Demand at cluster time `t`, in % of one pod's CPU request.
    fn demand(&self, t: i64) -> f64 {
        let at = self.trace.start + (t - START);
        (self.trace.value_at_wrapping(at) / self.scale).max(0.0)
    }

    fn inputs(&mut self, t: i64) -> AdvisorInputs {
        let demand = self.demand(t);
        // The HPA on the current load, at once: ceil(demand / 70 %) within [2, 20].
        self.replicas = ((demand / 70.0).ceil() as u32).clamp(2, 20);
        let cpu = demand / self.replicas as f64;
        let hourly: Vec<f64> = (1..=6)
            .map(|h| self.demand(t + h * 3600) / self.replicas as f64)
            .collect();
        let peak = (0..=24)
            .map(|q| self.demand(t + q * 900) / self.replicas as f64)
            .fold(cpu, f64::max);
        let next_hour = hourly[0];
        let trend = if next_hour > cpu * 1.1 {
            Trend::Increasing
        } else if next_hour < cpu * 0.9 {
            Trend::Decreasing
        } else {
            Trend::Stable
        };
        AdvisorInputs {
            cpu_forecast: Some(ForecastSummary {
                current: cpu,
                peak,
                peak_at: t + 3600,
                trend,
                predictions: hourly,
                model: "oracle".into(),
                low_confidence: false,
            }),
            ..DeploymentState::fixture("replay", &self.name)
                .with_replicas(self.replicas)
                .with_bounds(2, 20)
                .with_usage(Some(cpu), Some(35.0))
                .inputs_at(t)
        }
    }
}

#[tokio::test]
#[ignore = "figures; run with --ignored --nocapture"]
async fn a_day_of_eight_deployments_stays_within_budget_and_mostly_hits_the_cache() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "openai/gpt-oss-20b",
            "service_tier": "on_demand",
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": REPLY}}],
            "usage": {"queue_time": 0.01, "total_tokens": 600},
            "x_groq": {"id": "req_1"}
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let llm_cfg = LlmConfig {
        base_url: format!("{}/v1", server.uri()),
        ..LlmConfig::default()
    };
    let advisor_cfg = AdvisorConfig::default();
    let llm = Arc::new(
        LlmAdvisor::new(
            &llm_cfg,
            &advisor_cfg,
            None,
            dir.path(),
            SecretString::from("gsk_replay".to_string()),
        )
        .expect("advisor")
        .with_wall_clock(|| START),
    );
    let advisor = Advisor::with_llm(advisor_cfg.clone(), llm);

    let mut workloads: Vec<Workload> = traces::embedded::NAMES
        .iter()
        .filter_map(|n| traces::embedded::load(n))
        .map(|trace| {
            let median = trace.quantile(0.5).max(1e-9);
            Workload {
                name: trace.name.replace('_', "-").to_lowercase(),
                scale: median / 175.0,
                trace,
                replicas: 3,
            }
        })
        .collect();
    assert_eq!(workloads.len(), 8);

    let mut hits = 0usize;
    let mut calls = 0usize;
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fallbacks: BTreeMap<String, usize> = BTreeMap::new();
    let mut hit_latency: Vec<Duration> = vec![];
    let mut t = START;
    while t < START + DAY {
        for w in &mut workloads {
            let inputs = w.inputs(t);
            let started = Instant::now();
            let rec = advisor.recommend(&inputs).await;
            let elapsed = started.elapsed();
            calls += 1;
            match (&rec.llm_review, rec.source) {
                (Some(review), RecommendationSource::Llm) => {
                    *by_status.entry(review.status.as_str()).or_default() += 1;
                    if review.status != ReviewStatus::Asked {
                        hits += 1;
                        hit_latency.push(elapsed);
                    }
                }
                _ => {
                    let reason = rec.fallback_reason.as_deref().unwrap_or("");
                    let kind = reason.split([':', '(']).next().unwrap_or("").trim();
                    *fallbacks.entry(kind.to_string()).or_default() += 1;
                }
            }
        }
        t += STEP;
    }

    let requests = server.received_requests().await.unwrap_or_default().len();
    hit_latency.sort();
    let mean_us = hit_latency.iter().map(Duration::as_micros).sum::<u128>()
        / hit_latency.len().max(1) as u128;
    let p99_us = hit_latency
        .get(hit_latency.len() * 99 / 100)
        .map(Duration::as_micros)
        .unwrap_or(0);
    println!("24 h replay, 8 deployments, advice every {STEP} s: {calls} advice requests");
    println!(
        "LLM calls: {requests} ({:.1} per deployment per day; budget {})",
        requests as f64 / 8.0,
        llm_cfg.daily_budget
    );
    println!(
        "answered without a request (review stands, or cache): {hits} ({:.1} %)",
        100.0 * hits as f64 / calls as f64
    );
    println!("LLM reviews: {by_status:?}");
    println!("rules answered instead: {fallbacks:?}");
    println!("latency of an answer without a request: mean {mean_us} µs, p99 {p99_us} µs");
    println!("status: {}", advisor.llm_status());

    assert!(requests <= llm_cfg.daily_budget as usize, "budget exceeded");
    assert!(
        requests <= 8 * (DAY / 300) as usize,
        "more than one call per deployment per 300 s"
    );
    assert!(
        hits > 0 && requests > 8,
        "both the cache and the LLM were used"
    );
}
