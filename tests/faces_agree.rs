//! The faces agree (issue 11): the same policy, applied the same way. A simulated deployment
//! driven by a trace runs a day under the autopilot (the app's path: pipeline inputs, the
//! advisor, the autopilot's gate, `Actions` on the simulated cluster), and the backtest replays
//! the same segment of its history through its `ai4k8s` policy. Their replica-hours agree
//! within 5 %; the same inputs give the same recommendation through the card's path and
//! through `recommend`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;

use ai4k8s::actions::{Actions, Autopilot, AutopilotOptions, Journal};
use ai4k8s::advisor::Advisor;
use ai4k8s::backtest::{self, ModelOptions, Options, PolicyKind};
use ai4k8s::config::{ActionsConfig, AdvisorConfig, Config};
use ai4k8s::forecast::ForecastOptions;
use ai4k8s::metrics::{HISTORY_MINUTES, History, HistoryBackend};
use ai4k8s::model::Sample;
use ai4k8s::pipeline;
use ai4k8s::sim::scenario::{DemandSpec, DeploymentSpec, HpaSpecSim};
use ai4k8s::sim::{SimCluster, SimWorld};

/// Four days: calibration scores its training only where the forecasts are confident (two
/// days of history), so with three both faces would keep the defaults.
const WARMUP_HOURS: u32 = 96;

fn spec() -> DeploymentSpec {
    DeploymentSpec {
        namespace: "shop",
        name: "web",
        cpu_request_millis: 500,
        mem_request_mib: 256,
        mem_base_mib: 100.0,
        mem_per_core_mib: 50.0,
        min_replicas: 1,
        max_replicas: 60,
        initial_replicas: 4,
        hpa: Some(HpaSpecSim {
            target_cpu_pct: Some(70),
            target_mem_pct: None,
        }),
        startup_seconds: 60,
        demand: DemandSpec {
            trace: "crane_input0_1m",
            p99_cores: 8.0,
            phase_hours: 0.0,
            growth_per_day: 0.0,
            noise: 0.0,
        },
        predictive: true,
    }
}

#[tokio::test]
async fn the_autopilot_and_the_backtest_spend_the_same_replica_hours_on_the_same_day() {
    let data = tempfile::tempdir().expect("tempdir");
    let sim = SimCluster::new(SimWorld::warmed_up(7, vec![spec()], WARMUP_HOURS));
    let cfg = Config::default();
    let journal = Arc::new(Journal::open(data.path()).expect("journal"));
    let actions = Actions::new(Arc::new(sim.clone()), journal, cfg.limits(), false);
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let mut pilot = Autopilot::new(AutopilotOptions::from_config(
        &ActionsConfig::default(),
        false,
    ));
    let (key, warm) = sim
        .world()
        .history()
        .into_iter()
        .next()
        .expect("one deployment");
    let mut history = History::with_capacity(HISTORY_MINUTES);
    history.extend(warm);

    // The engine's cadence: forecasts every 5 min, decisions every minute, calibration once a
    // day (here: at the start of the day, from the warm-up; the backtest's walk-forward
    // calibration runs at the same instant).
    let snap = sim.world().snapshot();
    let state = snap.deployments[0].clone();
    let calibration =
        pipeline::calibration_of(&history, &state, advisor.config()).expect("four days calibrate");
    let mut forecasts = pipeline::Forecasts::default();
    let mut pod_seconds = 0.0;
    let mut changes = 0;
    for step in 1..=(24 * 3600 / 15) {
        sim.advance(15);
        let snap = sim.world().snapshot();
        let d = &snap.deployments[0];
        pod_seconds += d.total_pods as f64 * 15.0;
        history.observe(
            snap.time,
            d.cpu_pct,
            d.mem_pct,
            d.desired_replicas,
            d.ready_replicas,
        );
        if step % 20 == 1 {
            forecasts = pipeline::forecast_history(&history, ForecastOptions::default());
        }
        if step % 4 != 0 {
            continue;
        }
        let inputs = pipeline::inputs(d, &forecasts, Some(&history), Some(&calibration), snap.time);
        let rec = advisor.recommend(&inputs).await;
        if pilot.act(&actions, d, &rec, snap.time).await.is_some() {
            changes += 1;
        }
    }
    let autopilot_hours = pod_seconds / 3600.0;
    assert!(changes > 0, "the autopilot acted during the day");

    // The backtest of the same segment: the deployment's own minute history (what its pods
    // served), the warm-up unscored, the day scored.
    let samples: Vec<Sample> = history.iter().collect();
    let trace = backtest::history_trace(&samples, &key.to_string()).expect("history trace");
    let opts = Options {
        model: ModelOptions {
            p99_replicas: None,
            min_replicas: 1,
            max_replicas: 60,
            target_pct: 70,
            warmup_seconds: WARMUP_HOURS as i64 * 3600,
            ..ModelOptions::default()
        },
        ..Options::default()
    };
    let d = backtest::demand(&trace, &opts.model).expect("demand");
    // Scored from the end of the warm-up exactly (the CLI caps a warm-up at half the trace).
    let from = (WARMUP_HOURS as i64 * 3600 / d.tick_seconds) as usize;
    let shared = backtest::policy::Shared::new(&d, &opts.model, &opts.policy, from);
    let bt_advisor = Advisor::rules_only(opts.policy.advisor.clone(), "backtest");
    let (ours, _, bt_calibration) = backtest::policy::run_ai4k8s(&shared, &bt_advisor);
    let ours = &ours;
    // The same history gives the same parameters: the faces decide with the same policy.
    assert_eq!(
        bt_calibration.map(|c| c.params),
        Some(calibration.params),
        "the backtest calibrated otherwise than the app"
    );
    let hpa = &backtest::policy::run(PolicyKind::Hpa, &shared);
    assert!(
        (d.len() - from) as i64 * d.tick_seconds >= 23 * 3600,
        "the scored part is the autopilot's day"
    );
    let gap = (ours.replica_hours - autopilot_hours).abs() / autopilot_hours;
    eprintln!(
        "autopilot {autopilot_hours:.1} replica-h ({changes} changes), backtest ai4k8s {:.1}, \
         hpa {:.1}: {:.1} % apart",
        ours.replica_hours,
        hpa.replica_hours,
        gap * 100.0
    );
    assert!(
        gap <= 0.05,
        "autopilot {autopilot_hours:.1} vs backtest {:.1} replica-h",
        ours.replica_hours
    );
}

#[tokio::test]
async fn the_card_and_recommend_give_the_same_recommendation_for_the_same_inputs() {
    let sim = SimCluster::new(SimWorld::warmed_up(7, vec![spec()], WARMUP_HOURS));
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    // recommend: one-shot, from the cluster's own history.
    let recommended = pipeline::recommend(&sim, &HistoryBackend::default(), &advisor, None)
        .await
        .expect("recommend");
    let from_cli = &recommended[0];
    // The card: the engine's path, from the same snapshot and history.
    let snap = sim.world().snapshot();
    let state = &snap.deployments[0];
    let (_, warm) = sim.world().history().into_iter().next().expect("history");
    let mut history = History::with_capacity(HISTORY_MINUTES);
    history.extend(warm);
    let forecasts = pipeline::forecast_history(&history, ForecastOptions::default());
    let calibration = pipeline::calibration_of(&history, state, advisor.config()).ok();
    let card = advisor
        .recommend(&pipeline::inputs(
            state,
            &forecasts,
            Some(&history),
            calibration.as_ref(),
            snap.time,
        ))
        .await;
    assert_eq!(card.change, from_cli.recommendation.change);
    assert_eq!(card.decision, from_cli.recommendation.decision);
    // And `a` would write exactly what recommend lists.
    let plan = ai4k8s::actions::plan::plan_apply(state, &card).ok();
    let listed: Vec<String> = from_cli.changes.iter().map(|c| c.kubectl.clone()).collect();
    assert_eq!(plan.map(|p| p.kubectl()).unwrap_or_default(), listed);
}
