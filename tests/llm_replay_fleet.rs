//! Issue 13's goal: 200 deployments, built from the shared traces, advised every 60 cluster
//! seconds for 24 h through `Advisor::recommend_many` (the policy proposes, the LLM is asked
//! only when it matters, the asks batched and ordered by what is at stake), against a loopback
//! fake with gpt-oss-20b's free tier: 1,000 requests a day and 8,000 tokens a minute, enforced
//! on the replay's clock with 429s and Groq's `x-ratelimit-*` headers, `usage` in the OpenAI
//! wire format (`common::llm::FleetFake`).
//!
//! Each deployment takes one of the embedded traces (in turn), shifted by its own phase and
//! scaled by its own factor, both from its index (a fixed multiplicative hash), so the fleet
//! is varied and the same every run; nothing is tuned to a trace. Replicas follow the HPA
//! formula on the current load at once; the forecast is the trace itself over the next 6 h.
//!
//! The fast test (2 h) asserts the invariants; the day, for the figures in
//! docs/benchmarks.md, is `cargo test --release --test llm_replay_fleet -- --ignored --nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::advisor::{Advisor, consult};
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::model::{
    AdvisorInputs, DeploymentState, ForecastSummary, RecommendationSource, ReviewStatus, Trend,
};
use ai4k8s::traces::{self, Trace};
use common::llm::{FleetFake, FleetLedger};
use secrecy::SecretString;

const STEP: i64 = 60;
/// A midnight (UTC), so a day's replay is exactly one budget day.
const START: i64 = 1_700_006_400;
const REQUESTS_PER_DAY: u64 = 1000;
const TOKENS_PER_MINUTE: u64 = 8000;

struct Workload {
    name: String,
    trace: Arc<Trace>,
    /// Seconds the trace is shifted by.
    phase: i64,
    /// Trace value that needs 1 % of one pod.
    scale: f64,
    max: u32,
    replicas: u32,
}

impl Workload {
    fn demand(&self, t: i64) -> f64 {
        let at = self.trace.start + self.phase + (t - START);
        (self.trace.value_at_wrapping(at) / self.scale).max(0.0)
    }

    fn inputs(&mut self, t: i64) -> AdvisorInputs {
        let demand = self.demand(t);
        self.replicas = ((demand / 70.0).ceil() as u32).clamp(2, self.max);
        let r = self.replicas as f64;
        let cpu = demand / r;
        let hourly: Vec<f64> = (1..=6).map(|h| self.demand(t + h * 3600) / r).collect();
        let peak = (0..=24)
            .map(|q| self.demand(t + q * 900) / r)
            .fold(cpu, f64::max);
        let trend = if hourly[0] > cpu * 1.1 {
            Trend::Increasing
        } else if hourly[0] < cpu * 0.9 {
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
            ..DeploymentState::fixture("fleet", &self.name)
                .with_replicas(self.replicas)
                .with_bounds(2, self.max)
                .with_usage(Some(cpu), Some(35.0))
                .inputs_at(t)
        }
    }
}

/// A fixed multiplicative hash of the index, in [0, 1).
fn unit(i: usize, salt: u64) -> f64 {
    let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    (h.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 11) as f64 / (1u64 << 53) as f64
}

fn fleet(n: usize) -> Vec<Workload> {
    let traces: Vec<Arc<Trace>> = traces::embedded::NAMES
        .iter()
        .filter_map(|n| traces::embedded::load(n))
        .map(Arc::new)
        .collect();
    assert_eq!(traces.len(), 8);
    (0..n)
        .map(|i| {
            let trace = traces[i % traces.len()].clone();
            let median = trace.quantile(0.5).max(1e-9);
            // Median load of 1.5 to 4.5 pods' worth, max 10 to 30 replicas.
            let pods = 1.5 + 3.0 * unit(i, 1);
            Workload {
                name: format!("{}-{i:03}", trace.name.replace('_', "-").to_lowercase()),
                phase: (unit(i, 2) * 86_400.0) as i64,
                scale: median / (70.0 * pods),
                max: 10 + (unit(i, 3) * 20.0) as u32,
                replicas: 3,
                trace,
            }
        })
        .collect()
}

struct Figures {
    decisions: usize,
    reviewed: usize,
    without_request: usize,
    by_status: BTreeMap<&'static str, usize>,
    fallbacks: BTreeMap<String, usize>,
    ledger: FleetLedger,
    out_of_bounds: usize,
    seconds: f64,
    /// Decision points by what the proposal alone calls for (a change, low confidence), or
    /// neither (then the LLM is asked only when no review matches the inputs).
    by_proposal: BTreeMap<&'static str, usize>,
    /// Reviews that stood in for an ask the budget or the minute could not serve.
    stood_in: usize,
}

async fn replay(n: usize, hours: i64) -> Figures {
    let fake = FleetFake::new(REQUESTS_PER_DAY, TOKENS_PER_MINUTE);
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let llm_cfg = LlmConfig {
        base_url: format!("{}/openai/v1", server.uri()),
        daily_budget: REQUESTS_PER_DAY as u32,
        ..LlmConfig::default()
    };
    let advisor_cfg = AdvisorConfig {
        // The fleet's cache: one entry per deployment and a few to spare.
        cache_capacity: 2 * n as u64,
        ..AdvisorConfig::default()
    };
    let llm = LlmAdvisor::new(
        &llm_cfg,
        &advisor_cfg,
        None,
        dir.path(),
        SecretString::from("gsk_Q7vXz9TestOnlyKey".to_string()),
    )
    .expect("advisor")
    .with_wall_clock(|| START);
    let advisor = Advisor::with_llm(advisor_cfg, Arc::new(llm));
    let mut workloads = fleet(n);
    let mut f = Figures {
        decisions: 0,
        reviewed: 0,
        without_request: 0,
        by_status: BTreeMap::new(),
        fallbacks: BTreeMap::new(),
        ledger: FleetLedger::default(),
        out_of_bounds: 0,
        seconds: 0.0,
        by_proposal: BTreeMap::new(),
        stood_in: 0,
    };
    let cfg = AdvisorConfig::default();
    let started = Instant::now();
    let mut t = START;
    while t < START + hours * 3600 {
        fake.now.store(t, Ordering::SeqCst);
        let inputs: Vec<AdvisorInputs> = workloads.iter_mut().map(|w| w.inputs(t)).collect();
        for i in &inputs {
            let proposal = ai4k8s::advisor::policy::decide(i, &cfg);
            let kind = match consult::proposal_needs_review(&proposal, 0.6) {
                Some(consult::Why::Change) => "change",
                Some(_) => "low confidence",
                None => "no change, confident",
            };
            *f.by_proposal.entry(kind).or_default() += 1;
        }
        let recs = advisor.recommend_many(&inputs).await;
        assert_eq!(recs.len(), inputs.len());
        for r in &recs {
            f.decisions += 1;
            let t = r.decision.target_replicas;
            if t < r.min_replicas || t > r.max_replicas {
                f.out_of_bounds += 1;
            }
            match (&r.llm_review, r.source) {
                (Some(review), RecommendationSource::Llm) => {
                    f.reviewed += 1;
                    *f.by_status.entry(review.status.as_str()).or_default() += 1;
                    if review.status != ReviewStatus::Asked {
                        f.without_request += 1;
                    }
                    if review.why.ends_with(": the last review stands") {
                        f.stood_in += 1;
                    }
                }
                _ => {
                    let reason = r.fallback_reason.as_deref().unwrap_or("");
                    let kind = reason.split([':', '(']).next().unwrap_or("").trim();
                    *f.fallbacks.entry(kind.to_string()).or_default() += 1;
                }
            }
        }
        t += STEP;
    }
    f.seconds = started.elapsed().as_secs_f64();
    f.ledger = fake.ledger();
    f
}

fn report(n: usize, hours: i64, f: &Figures) {
    let l = &f.ledger;
    let per_request = l.sections.iter().sum::<usize>() as f64 / l.sections.len().max(1) as f64;
    println!(
        "{n} deployments, {hours} h, advice every {STEP} s: {} decision points ({:.1} s)",
        f.decisions, f.seconds
    );
    println!(
        "requests: {} (most in a day {}, limit {REQUESTS_PER_DAY}); 429s: {}",
        l.requests, l.max_day_requests, l.rejected
    );
    println!(
        "tokens: {} ({:.0} per request; most in a minute {}, limit {TOKENS_PER_MINUTE})",
        l.tokens,
        l.tokens as f64 / l.requests.max(1) as f64,
        l.max_minute_tokens
    );
    println!(
        "deployments per request: mean {per_request:.1}, most {}",
        l.sections.iter().max().copied().unwrap_or(0)
    );
    println!(
        "decision points with an LLM review: {} ({:.1} %)",
        f.reviewed,
        100.0 * f.reviewed as f64 / f.decisions as f64
    );
    println!(
        "answered without a request (review stands, or cache): {} ({:.1} %)",
        f.without_request,
        100.0 * f.without_request as f64 / f.decisions as f64
    );
    println!("LLM reviews: {:?}", f.by_status);
    println!(
        "of those not asked, stood in for an ask the budget or the minute could not serve: {} \
         ({:.1} % of decision points)",
        f.stood_in,
        100.0 * f.stood_in as f64 / f.decisions as f64
    );
    println!("the policy's proposals: {:?}", f.by_proposal);
    println!("policy answered instead: {:?}", f.fallbacks);
}

fn assert_invariants(f: &Figures) {
    let l = &f.ledger;
    assert_eq!(
        l.rejected, 0,
        "the advisor never ran into the server's limits"
    );
    assert!(l.max_day_requests <= REQUESTS_PER_DAY, "{l:?}");
    assert!(l.max_minute_tokens <= TOKENS_PER_MINUTE, "{l:?}");
    assert_eq!(f.out_of_bounds, 0, "every target within [min, max]");
    let per_request = l.sections.iter().sum::<usize>() as f64 / l.sections.len().max(1) as f64;
    assert!(per_request >= 4.0, "batched: {per_request:.1} per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hours_of_two_hundred_deployments_keep_within_the_free_tier() {
    let (n, hours) = (200, 2);
    let f = replay(n, hours).await;
    report(n, hours, &f);
    assert_invariants(&f);
    assert!(
        f.reviewed * 2 > f.decisions,
        "most decision points reviewed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figures for docs/benchmarks.md; run with --release --ignored --nocapture"]
async fn a_day_of_two_hundred_deployments_on_a_free_tier() {
    let (n, hours) = (200, 24);
    let f = replay(n, hours).await;
    report(n, hours, &f);
    assert_invariants(&f);
    let reuse = f.without_request as f64 / f.decisions as f64;
    assert!(reuse >= 0.9, "reuse {:.1} %", 100.0 * reuse);
}
