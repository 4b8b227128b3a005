use super::*;
use crate::config::AdvisorConfig;
use crate::model::{Recommendation, Sample};
use crate::sim::{SimCluster, SimWorld};

#[tokio::test]
async fn engine_backfills_polls_forecasts_and_recommends_every_deployment() {
    let sim = SimCluster::new(SimWorld::demo(42, 48));
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let opts = EngineOptions {
        poll_every: Duration::from_millis(20),
        ..EngineOptions::default()
    };
    let n = sim.world().snapshot().deployments.len();
    let (_cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
    let mut backfilled = 0;
    let mut snapshots = 0;
    let mut forecasts = HashSet::new();
    let mut recs = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while recs.len() < n {
        let u = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("updates keep coming")
            .expect("engine alive");
        match u {
            Update::Backfill(b) => backfilled = b.len(),
            Update::Snapshot(_) => {
                snapshots += 1;
                sim.advance(15);
            }
            Update::Forecasts(k, f) => {
                let cpu = f.cpu.as_ref().expect("48 h of history forecast");
                assert_eq!(cpu.points.len(), 360, "{k}");
                forecasts.insert(k);
            }
            Update::Recommendation(r) => {
                assert!(
                    forecasts.contains(&r.key()),
                    "recommended after its forecast"
                );
                assert!(r.inputs.cpu_forecast.is_some());
                recs.insert(r.key());
            }
            _ => {}
        }
    }
    assert_eq!(backfilled, n);
    assert!(snapshots >= 1);
    assert_eq!(forecasts.len(), n);
}

#[tokio::test]
async fn the_engines_cards_share_the_clusters_room_between_deployments() {
    let sim = crate::pipeline::tests::full_cluster();
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let opts = EngineOptions {
        poll_every: Duration::from_millis(20),
        ..EngineOptions::default()
    };
    let (_cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
    let mut cards: HashMap<DeploymentKey, Arc<Recommendation>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while cards.len() < 2 {
        let u = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("updates keep coming")
            .expect("engine alive");
        if let Update::Recommendation(r) = u {
            cards.insert(r.key(), r);
        }
    }
    // Each at 2 replicas; the node has room for 2 more pods between them.
    let added: u32 = cards
        .values()
        .map(|r| r.decision.target_replicas.saturating_sub(2))
        .sum();
    assert_eq!(added, 2, "{cards:?}");
    for r in cards.values() {
        assert!(r.inputs.policy.room.is_some(), "{r:?}");
        assert!(
            r.decision.reasoning.contains("(1000 m CPU spare"),
            "{}",
            r.decision.reasoning
        );
    }
}

/// A cluster of fixed deployments whose clock moves 15 s per snapshot; it refuses writes.
struct Fixed {
    deployments: Vec<crate::model::DeploymentState>,
    time: std::sync::atomic::AtomicI64,
}

#[async_trait::async_trait]
impl Cluster for Fixed {
    fn context(&self) -> String {
        "fixed".into()
    }
    async fn snapshot(&self) -> Result<ClusterSnapshot, crate::cluster::ClusterError> {
        let time = self.time.fetch_add(15, std::sync::atomic::Ordering::SeqCst);
        Ok(ClusterSnapshot {
            context: "fixed".into(),
            time,
            deployments: self.deployments.clone(),
            capacity: None,
        })
    }
    async fn history(
        &self,
    ) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, crate::cluster::ClusterError> {
        Ok(Vec::new())
    }
    async fn write(
        &self,
        _: &DeploymentKey,
        _: &crate::cluster::Change,
    ) -> Result<(), crate::cluster::ClusterError> {
        Err(crate::cluster::ClusterError::ReadOnly("fixed".into()))
    }
    async fn dry_run(
        &self,
        _: &DeploymentKey,
        _: &crate::cluster::Change,
    ) -> Result<(), crate::cluster::ClusterError> {
        Ok(())
    }
}

fn state(ns: &str, name: &str) -> crate::model::DeploymentState {
    crate::model::DeploymentState::fixture(ns, name)
        .with_replicas(3)
        .with_bounds(1, 12)
        .with_requests(100, 128)
        .with_usage(Some(50.0), Some(40.0))
}

#[tokio::test]
async fn a_panicking_recommendation_is_shown_and_retried_next_cycle() {
    use crate::advisor::test_panic::{PANIC_NAMESPACE, REMAINING};
    use crate::tui::app::{App, SessionInfo};
    use std::sync::atomic::Ordering;

    // Two panics: the batch's, then the deployment's own when each is recommended alone.
    REMAINING.store(2, Ordering::SeqCst);
    let boom = DeploymentKey::new(PANIC_NAMESPACE, "web");
    let cluster = Fixed {
        deployments: vec![state(PANIC_NAMESPACE, "web"), state("shop", "web")],
        time: std::sync::atomic::AtomicI64::new(1_700_000_000),
    };
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let opts = EngineOptions {
        poll_every: Duration::from_millis(20),
        ..EngineOptions::default()
    };
    let (_cmd, mut rx) = spawn(Arc::new(cluster), advisor, opts);
    let mut app = App::new(SessionInfo::default());
    let mut failed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let u = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the panicking deployment is recommended again")
            .expect("engine alive");
        match &u {
            Update::RecommendationFailed(k, why) => {
                assert_eq!(k, &boom);
                assert!(why.contains("injected advisor panic for web"), "{why}");
                app.on_update(u);
                failed = true;
                // The card and the status bar say so.
                let v = &app.deployments[&boom];
                assert!(app.recommendation_errors.contains_key(&v.state.key));
                assert!(
                    app.notices["advisor"].contains("no recommendation for panic-test/web"),
                    "{:?}",
                    app.notices
                );
                let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40))
                    .expect("terminal");
                crate::tui::ui::prepare(&mut app, ratatui::layout::Rect::new(0, 0, 120, 40));
                term.draw(|f| crate::tui::ui::render(f, &app))
                    .expect("draws");
                let screen: String = term
                    .backend()
                    .buffer()
                    .content()
                    .iter()
                    .map(|c| c.symbol())
                    .collect();
                assert!(screen.contains("Recommendation failed"), "{screen}");
            }
            Update::Recommendation(r) if r.key() == boom => {
                assert!(failed, "the first attempt panicked");
                app.on_update(u);
                assert!(!app.recommendation_errors.contains_key(&boom));
                assert!(!app.notices.contains_key("advisor"), "{:?}", app.notices);
                break;
            }
            _ => app.on_update(u),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_carry_the_deployments_calibration_once_it_has_run() {
    // 72 h of history: enough to calibrate (48 h) on the earlier part and judge on a day.
    let sim = SimCluster::new(SimWorld::demo(42, 72));
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let opts = EngineOptions {
        poll_every: Duration::from_millis(20),
        ..EngineOptions::default()
    };
    let (_cmd, mut rx) = spawn(Arc::new(sim.clone()), advisor, opts);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let u = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("a calibrated recommendation arrives")
            .expect("engine alive");
        match u {
            Update::Snapshot(_) => sim.advance(15),
            Update::Recommendation(r) => {
                if let Some(c) = &r.inputs.policy.calibration {
                    assert_eq!(c.held_out_hours, 24.0, "{c:?}");
                    assert!(c.history_hours >= 72.0, "{c:?}");
                    assert_eq!(r.inputs.policy.params, c.params, "it decides with them");
                    break;
                }
            }
            _ => {}
        }
    }
}
