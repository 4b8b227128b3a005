//! Issue 13, "cards as each batch answers": the engine sends a batch's cards as soon as its
//! request answers, not when the poll's slowest batch does. Against the loopback fake
//! (`common::llm::FleetFake`) whose second request takes 3 s.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai4k8s::advisor::Advisor;
use ai4k8s::advisor::llm::LlmAdvisor;
use ai4k8s::config::{AdvisorConfig, LlmConfig};
use ai4k8s::engine::{self, EngineOptions, Update};
use ai4k8s::model::RecommendationSource;
use ai4k8s::sim::{SimCluster, SimWorld};
use common::llm::FleetFake;
use secrecy::SecretString;

const BATCH: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_batchs_cards_arrive_while_the_second_batch_is_still_out() {
    let mut fake = FleetFake::new(1000, 1_000_000);
    fake.delays = vec![Duration::ZERO, Duration::from_secs(3), Duration::ZERO];
    let server = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let llm = LlmConfig {
        base_url: format!("{}/openai/v1", server.uri()),
        structured_output: "json_schema".into(),
        max_batch: BATCH,
        max_in_flight: Some(1),
        anonymize: Some(false),
        ..LlmConfig::default()
    };
    let cfg = AdvisorConfig::default();
    let llm = LlmAdvisor::new(
        &llm,
        &cfg,
        None,
        dir.path(),
        SecretString::from("gsk_Q7vXz9TestOnlyKey".to_string()),
    )
    .expect("advisor");
    let advisor = Advisor::with_llm(cfg, Arc::new(llm));
    // No warm-up history: the forecasts land at once, so the whole demo is asked together.
    let sim = SimCluster::new(SimWorld::demo(42, 0));
    let n = sim.world().snapshot().deployments.len();
    let opts = EngineOptions {
        // One poll within the test: every card comes from its recommendations.
        poll_every: Duration::from_secs(600),
        ..EngineOptions::default()
    };
    let (_commands, mut updates) = engine::spawn(Arc::new(sim), advisor, opts);

    let mut arrived: HashMap<String, Instant> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while arrived.len() < n {
        let u = tokio::time::timeout_at(deadline, updates.recv())
            .await
            .expect("every card arrives")
            .expect("engine alive");
        if let Update::Recommendation(r) = u {
            assert_eq!(r.source, RecommendationSource::Llm, "{r:?}");
            arrived
                .entry(r.key().to_string())
                .or_insert_with(Instant::now);
        }
    }

    let ledger = fake.ledger();
    assert!(ledger.names.len() >= 3, "{:?}", ledger.names);
    let (first, second) = (&ledger.names[0], &ledger.names[1]);
    assert_eq!(first.len(), BATCH, "{:?}", ledger.names);
    assert_eq!(second.len(), BATCH, "{:?}", ledger.names);
    // The second reply went out 3 s after its request came in.
    let second_answered = ledger.replied_at[1];
    for name in first {
        let at = arrived[name];
        assert!(
            at < second_answered,
            "{name} of the first batch arrived {:?} after the second batch answered",
            at - second_answered
        );
    }
    for name in second {
        assert!(
            arrived[name] >= second_answered,
            "{name} of the second batch arrived before its reply"
        );
    }
    // The later batches were not held back by their own rounds either: every card landed.
    assert_eq!(ledger.names.iter().map(Vec::len).sum::<usize>(), n);
}
