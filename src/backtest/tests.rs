//! Replays of hand-made traces with answers known in advance, the oracle on real traces, the
//! HPA's rules as seen through the replay, the JSON shape and the history replay.

use super::*;
use crate::model::Sample;

/// A trace in replica units (no rescaling): `values` at `step` seconds from 0.
fn trace(step: u32, values: Vec<f64>) -> Trace {
    Trace {
        name: "hand-made".into(),
        start: 0,
        step_seconds: step,
        values,
    }
}

fn unscaled() -> Options {
    Options {
        model: ModelOptions {
            p99_replicas: None,
            ..ModelOptions::default()
        },
        ..Options::default()
    }
}

fn one(trace: &Trace, opts: &Options, kind: PolicyKind) -> PolicyMetrics {
    let r = run(trace, opts, &[kind]).expect("replay");
    r.policies[0].metrics.clone()
}

/// 4 hours at 1 minute: 1 replica of demand for 3 h, then `high` for 1 h. The warm-up is half
/// (2 h), so the scored part is 1 h low then 1 h high.
fn step_up(high: f64) -> Trace {
    let mut v = vec![1.0; 180];
    v.extend(vec![high; 60]);
    trace(60, v)
}

fn events_of(trace: &Trace, opts: &Options, kind: PolicyKind) -> Vec<(i64, u32)> {
    let d = demand(trace, &opts.model).expect("demand");
    let from = scored_from(&d, &opts.model);
    let shared = policy::Shared::new(&d, &opts.model, &opts.policy, from);
    policy::run_with_events(kind, &shared).1
}

#[test]
fn demand_is_rescaled_to_the_p99_and_held_per_sample() {
    let t = trace(60, (1..=100).map(f64::from).collect());
    let d = demand(&t, &ModelOptions::default()).expect("demand");
    // 4 ticks per 60 s sample.
    assert_eq!(d.len(), 400);
    assert_eq!(d.values[0], d.values[3]);
    assert!(d.values[4] > d.values[3]);
    // p99 of 1..=100 is 99.01, which must need 20 replicas at 70 % = 14 units.
    assert!((99.01 / d.trace_units_per_replica - 14.0).abs() < 1e-9);
    let zero = trace(60, vec![0.0; 10]);
    assert!(demand(&zero, &ModelOptions::default()).is_err());
}

#[test]
fn warm_up_is_at_most_half_the_trace() {
    let m = ModelOptions::default();
    let d = demand(&step_up(5.0), &m).expect("demand");
    assert_eq!(scored_from(&d, &m), 480, "half of 960 ticks, not 7 days");
    let m = ModelOptions {
        warmup_seconds: 3600,
        ..m
    };
    assert_eq!(scored_from(&d, &m), 240);
}

#[test]
fn static_on_a_flat_trace_has_known_cost_and_idle_share() {
    let t = trace(60, vec![3.5; 240]);
    let m = one(&t, &unscaled(), PolicyKind::Static);
    // ceil(3.5 / 0.7) = 5 replicas for the 2 scored hours; 1.5 of 5 idle.
    assert!((m.replica_hours - 10.0).abs() < 1e-9, "{m:?}");
    assert!((m.overprovisioned_pct - 30.0).abs() < 1e-9);
    assert_eq!(
        (m.under_provisioned_minutes, m.unserved_pct, m.scale_events),
        (0.0, 0.0, 0)
    );
}

#[test]
fn oracle_on_a_step_pre_scales_exactly_the_start_up_and_lag_window() {
    let m = one(&step_up(10.0), &unscaled(), PolicyKind::Oracle100);
    // Ticks 480..960 scored; the step is at tick 720 and the window is 8 ticks (120 s): the
    // oracle sizes for it from tick 712 on, which shows from the next tick (a tick is scored
    // before the policy acts), so ticks 480..713 hold 1 replica and 713..960 hold 10.
    let expected = (233.0 + 247.0 * 10.0) * 15.0 / 3600.0;
    assert!((m.replica_hours - expected).abs() < 1e-9, "{m:?}");
    assert_eq!(
        (m.under_provisioned_minutes, m.scale_events, m.flaps),
        (0.0, 1, 0)
    );
    // At 70 %: ceil(1 / 0.7) = 2 and ceil(10 / 0.7) = 15.
    let m = one(&step_up(10.0), &unscaled(), PolicyKind::Oracle70);
    let expected = (233.0 * 2.0 + 247.0 * 15.0) * 15.0 / 3600.0;
    assert!((m.replica_hours - expected).abs() < 1e-9, "{m:?}");
}

#[test]
fn the_hpa_is_short_for_the_lag_plus_start_up_after_a_step() {
    let m = one(&step_up(1.3), &unscaled(), PolicyKind::Hpa);
    // 2 replicas (ceil(1 / 0.7)) carry 1.3 with no shortage: nothing to do.
    assert_eq!(m.under_provisioned_minutes, 0.0);
    let m = one(&step_up(2.5), &unscaled(), PolicyKind::Hpa);
    // Demand 2.5 on 2 ready pods: the HPA sees it 60 s late (plus the scrape window), and the
    // new pods serve 60 s after that, so the shortage lasts at least 2 minutes.
    assert!(m.under_provisioned_minutes >= 2.0, "{m:?}");
    assert!(m.under_provisioned_minutes <= 4.0, "{m:?}");
    assert!(
        (m.unserved_pct
            - 100.0 * 0.5 * (m.under_provisioned_minutes * 4.0) / (60.0 * 4.0 + 240.0 * 2.5))
            .abs()
            < 1.0
    );
}

#[test]
fn hpa_scale_up_is_limited_by_the_default_behavior() {
    // At a 20 % target a saturated pod asks for 5×, more than +100 % / +4 pods per 15 s allow.
    let mut opts = unscaled();
    opts.model.target_pct = 20;
    let ev = events_of(&step_up(20.0), &opts, PolicyKind::Hpa);
    // Initial size: ceil(1 / 0.2) = 5. The first step up may add max(4, 100 %) = 5 pods.
    let first_up = ev.iter().find(|&&(t, _)| t >= 3 * 3600).expect("scales up");
    assert_eq!(first_up.1, 10, "{ev:?}");
    // And never more than double per 15 s.
    let mut prev = 5;
    for &(_, n) in &ev {
        assert!(n <= (prev * 2).max(prev + 4), "{prev} → {n} in {ev:?}");
        prev = n;
    }
}

#[test]
fn hpa_scale_down_waits_for_the_stabilization_window() {
    // 3 h high, then 1 h low: the HPA keeps its size while any recommendation of the last
    // 300 s (strictly newer than now - 300 s, as in Go) is high.
    let mut v = vec![10.0; 180];
    v.extend(vec![1.0; 60]);
    let ev = events_of(&trace(60, v), &unscaled(), PolicyKind::Hpa);
    let drop_seen = 3 * 3600 + 60; // the metrics lag
    let first_down = ev
        .iter()
        .find(|&&(t, n)| t >= 3 * 3600 && n < 15)
        .expect("scales down");
    assert_eq!(first_down.0, drop_seen + 285, "{ev:?}");
}

#[test]
fn the_oracle_never_under_provisions_a_real_trace() {
    let mut opts = Options::default();
    opts.model.max_replicas = 100_000;
    for name in ["crane_input11_1m", "nab_twitter_volume_AMZN_5m"] {
        let t = crate::traces::embedded::load(name).expect("embedded trace");
        let r = run(&t, &opts, &[PolicyKind::Oracle100, PolicyKind::Oracle70]).expect("replay");
        for p in &r.policies {
            assert_eq!(
                p.metrics.under_provisioned_minutes, 0.0,
                "{name} {}",
                p.policy
            );
            assert_eq!(p.metrics.unserved_pct, 0.0, "{name} {}", p.policy);
        }
    }
}

#[test]
fn json_has_the_issues_shape_and_parses_back() {
    let r = run(&step_up(4.0), &unscaled(), &PolicyKind::defaults()).expect("replay");
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("valid JSON");
    assert_eq!(v["trace"], "hand-made");
    let policies = v["policies"].as_array().expect("policies");
    let names: Vec<&str> = policies
        .iter()
        .filter_map(|p| p["policy"].as_str())
        .collect();
    assert_eq!(
        names,
        ["hpa", "ai4k8s", "oracle-100", "oracle-70", "static"]
    );
    for p in policies {
        for k in [
            "under_provisioned_minutes",
            "unserved_pct",
            "overprovisioned_pct",
            "replica_hours",
            "scale_events",
            "flaps",
            "right_sized_pct",
        ] {
            assert!(p[k].is_number(), "{k} in {p}");
        }
    }
    let back: Report = serde_json::from_str(&r.to_json()).expect("round trip");
    for (a, b) in back.policies.iter().zip(&r.policies) {
        assert_eq!(
            (&a.policy, a.metrics.scale_events),
            (&b.policy, b.metrics.scale_events)
        );
        assert!((a.metrics.replica_hours - b.metrics.replica_hours).abs() < 1e-9);
    }
    assert_eq!(back.goals.len(), 5, "ai4k8s's five goals are checked");
    let table = r.to_table();
    assert!(
        table.contains("oracle-100") && table.contains("goals"),
        "{table}"
    );
}

#[test]
fn bad_options_are_refused() {
    let mut o = Options::default();
    o.model.lag_seconds = 20;
    assert!(o.validate().is_err(), "not a multiple of the tick");
    let mut o = Options::default();
    o.model.min_replicas = 5;
    o.model.max_replicas = 4;
    assert!(o.validate().is_err());
    let mut o = Options::default();
    o.model.tick_seconds = 0;
    assert!(
        run(&step_up(2.0), &o, &[PolicyKind::Hpa]).is_err(),
        "no division by zero"
    );
    assert!(demand(&step_up(2.0), &o.model).is_err());
    assert!(PolicyKind::parse_list("hpa,bogus").is_err());
    assert_eq!(
        PolicyKind::parse_list("oracle,hpa,oracle-70"),
        Ok(vec![
            PolicyKind::Oracle100,
            PolicyKind::Oracle70,
            PolicyKind::Hpa
        ])
    );
    assert_eq!(
        run(&step_up(2.0), &Options::default(), &[PolicyKind::Llm]),
        Err(BacktestError::NoAdvisor)
    );
}

#[test]
fn ai4k8s_pre_scales_a_daily_peak_the_hpa_reaches_late() {
    // Six days at 5 min: a flat 2 replicas of demand with a sharp one-hour peak of 12 at noon
    // every day. Seasonal naive knows it from the day before (once a day was served whole:
    // the policies only ever see served demand).
    let per_day = 288;
    let v: Vec<f64> = (0..6 * per_day)
        .map(|i| {
            if (144..156).contains(&(i % per_day)) {
                12.0
            } else {
                2.0
            }
        })
        .collect();
    let t = trace(300, v);
    let r = run(&t, &unscaled(), &[PolicyKind::Hpa, PolicyKind::Ai4k8s]).expect("replay");
    let hpa = r.policy("hpa").expect("hpa");
    let pred = r.policy("ai4k8s").expect("ai4k8s");
    assert!(hpa.under_provisioned_minutes >= 3.0 * 2.0, "{hpa:?}");
    assert_eq!(pred.under_provisioned_minutes, 0.0, "{pred:?}\n{hpa:?}");
    assert!(pred.forecasts_scored > 0, "{pred:?}");
    assert_eq!(pred.flips_within_300s, 0);
}

#[test]
fn a_deployments_history_replays_as_demand_in_request_units() {
    // Two days of minutes: 50 % CPU on 4 ready pods = 2 pods of demand, a gap in the middle.
    let samples: Vec<Sample> = (0..2 * 1440)
        .filter(|i| !(1000..1010).contains(i))
        .map(|i| Sample {
            timestamp: 1_700_000_000 + i * 60,
            cpu_pct: 50.0,
            mem_pct: 30.0,
            replicas: 4,
            ready: 4,
        })
        .collect();
    let r = replay_history(&samples, &HistoryReplayOptions::default()).expect("replay");
    assert_eq!(r.policies.len(), 5);
    assert_eq!(r.model.p99_replicas, None);
    let s = r.policy("static").expect("static");
    // ceil(2 / 0.7) = 3 replicas over the scored day.
    assert!((s.replica_hours - 3.0 * 24.0).abs() < 0.1, "{s:?}");
    assert!(replay_history(&[], &HistoryReplayOptions::default()).is_err());
}

#[test]
fn predictive_and_rules_are_no_longer_separate_policies() {
    for old in ["predictive", "rules"] {
        let e = PolicyKind::parse_list(old).expect_err("gone");
        assert!(e.contains("ai4k8s"), "{e}");
    }
    assert_eq!(
        PolicyKind::defaults(),
        vec![
            PolicyKind::Hpa,
            PolicyKind::Ai4k8s,
            PolicyKind::Oracle100,
            PolicyKind::Oracle70,
            PolicyKind::Static
        ]
    );
}
