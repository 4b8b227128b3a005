use std::sync::Arc;

use super::*;
use crate::model::{
    DeploymentState, FloorMark, HpaState, PolicyContext, PolicyParams, ScalingAction,
};

const NOW: i64 = 1_700_000_000;

fn forecast(start: i64, step: u32, values: &[f64]) -> Forecast {
    sizing::test_forecast(start, step, values)
}

fn params() -> PolicyParams {
    PolicyParams {
        target_utilization: 1.0,
        band: 0.0,
        lookahead_seconds: 600,
        lower_lookahead_seconds: 1200,
        hold_seconds: 600,
        lower_hysteresis: 0.2,
        recent_seconds: 300,
        recent_utilization: 1.0,
        reverse_guard_seconds: 300,
        follow_hpa: false,
        hpa_target_pct: None,
    }
}

/// A deployment at `replicas` whose HPA (target 50 %) holds its floor at `floor`, bounds
/// [2, 50], demand `demand` now.
fn inputs(replicas: u32, floor: u32, demand: f64, f: Option<Forecast>) -> AdvisorInputs {
    let hpa = HpaState {
        target_cpu_pct: Some(50),
        ..HpaState::fixture("web", floor, 50).steady_at(replicas)
    };
    AdvisorInputs {
        policy: PolicyContext {
            demand_now: Some(demand),
            recent_peak: Some(demand),
            demand_forecast: f.map(Arc::new),
            params: params(),
            ..PolicyContext::default()
        },
        ..DeploymentState::fixture("shop", "web")
            .with_replicas(replicas)
            .with_bounds(2, 50)
            .with_usage(Some(100.0 * demand / replicas as f64), Some(30.0))
            .with_hpa(Some(hpa))
            .inputs_at(NOW)
    }
}

fn cfg() -> AdvisorConfig {
    AdvisorConfig {
        min_hpa_target_pct: 50,
        max_hpa_target_pct: 85,
        ..AdvisorConfig::default()
    }
}

#[test]
fn a_forecast_peak_raises_the_floor_at_once_and_says_so_with_its_numbers() {
    // Demand 4 now on 4 pods; 10 expected five minutes out.
    let i = inputs(
        4,
        2,
        4.0,
        Some(forecast(NOW, 300, &[4.0, 10.0, 10.0, 3.0, 3.0, 3.0])),
    );
    let o = decide(&i, &cfg());
    let PolicyChange::Floor {
        from, to, until, ..
    } = o.change
    else {
        panic!("{:?}", o.change);
    };
    assert_eq!((from, to), (2, 10));
    // The last point still needing 10 ends at NOW + 900, past the 600 s hold.
    assert_eq!(until, NOW + 900);
    assert_eq!(o.decision.action, ScalingAction::ScaleUp);
    assert_eq!(o.decision.target_replicas, 10);
    let r = &o.decision.reasoning;
    // 10 pods of demand on 4 ready = 250 % of today's pods, at NOW + 300 (22:18 UTC).
    assert!(r.contains("Forecast peak 250 %"), "{r}");
    assert!(r.contains("at 22:18"), "{r}");
    assert!(r.contains("10 pods carry it at 100 %"), "{r}");
    assert!(r.contains("until 22:28"), "{r}");
    assert_eq!(o.change.headline(), "floor 2 → 10 until 22:28");
}

#[test]
fn the_floor_comes_down_only_after_the_hold_by_a_margin_to_the_longer_windows_need() {
    let low = forecast(NOW, 300, &[4.0; 8]);
    let mut i = inputs(10, 10, 4.0, Some(low.clone()));
    // Raised 5 minutes ago: held.
    i.policy.floor_mark = Some(FloorMark {
        raised: true,
        at: NOW - 300,
        until: None,
    });
    let o = decide(&i, &cfg());
    assert_eq!(o.change, PolicyChange::Maintain);
    assert!(
        o.decision.reasoning.contains("holds for another 5 min"),
        "{}",
        o.decision.reasoning
    );
    // The hold over: down to what the 20-minute window needs.
    i.policy.floor_mark = Some(FloorMark {
        raised: true,
        at: NOW - 600,
        until: None,
    });
    let o = decide(&i, &cfg());
    assert!(
        matches!(
            o.change,
            PolicyChange::Release {
                from: 10,
                to: 4,
                ..
            }
        ),
        "{:?}",
        o.change
    );
    assert!(
        o.decision.reasoning.contains("needs 4 pods"),
        "{}",
        o.decision.reasoning
    );
    // A peak 15 minutes out is within the longer window: no lowering below it.
    let dip = forecast(NOW, 300, &[4.0, 4.0, 4.0, 9.0, 4.0]);
    i.policy.demand_forecast = Some(Arc::new(dip));
    // Within the margin (9 of 10 with 20 % hysteresis): kept.
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
    // The recent peak keeps it up too.
    i.policy.demand_forecast = Some(Arc::new(low));
    i.policy.recent_peak = Some(9.5);
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
}

#[test]
fn no_raise_within_the_reverse_guard_of_a_lowering() {
    let high = forecast(NOW, 300, &[12.0; 8]);
    let mut i = inputs(6, 6, 3.0, Some(high));
    i.policy.floor_mark = Some(FloorMark {
        raised: false,
        at: NOW - 60,
        until: None,
    });
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
    i.policy.floor_mark = Some(FloorMark {
        raised: false,
        at: NOW - 300,
        until: None,
    });
    assert!(matches!(
        decide(&i, &cfg()).change,
        PolicyChange::Floor { to: 12, .. }
    ));
}

#[test]
fn the_floor_follows_the_hpa_up_when_asked_to() {
    let low = forecast(NOW, 300, &[2.0; 8]);
    let mut i = inputs(9, 2, 4.0, Some(low));
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
    i.policy.params.follow_hpa = true;
    let o = decide(&i, &cfg());
    assert!(
        matches!(o.change, PolicyChange::Floor { from: 2, to: 9, .. }),
        "{:?}",
        o.change
    );
    assert!(o.decision.reasoning.contains("The HPA scaled to 9"));
}

#[test]
fn a_calibrated_target_moves_the_hpa_within_the_users_range_only() {
    let flat = forecast(NOW, 300, &[3.0; 8]);
    let mut i = inputs(4, 3, 3.0, Some(flat));
    i.policy.params.hpa_target_pct = Some(95);
    let o = decide(&i, &cfg());
    // Wanted 95, the user's range stops at 85.
    assert_eq!(
        o.change,
        PolicyChange::Target {
            hpa: "web".into(),
            from: 50,
            to: 85
        }
    );
    assert_eq!(o.decision.action, ScalingAction::Maintain);
    assert_eq!(o.range, (3, 3), "the LLM does not move a target change");
    assert_eq!(o.change.headline(), "HPA target 50 → 85 %");
    // Already there: nothing.
    if let Some(h) = i.hpa.as_mut() {
        h.target_cpu_pct = Some(85);
    }
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
}

#[test]
fn a_target_keda_makes_from_its_triggers_is_left_to_keda() {
    let flat = forecast(NOW, 300, &[3.0; 8]);
    let mut i = inputs(4, 3, 3.0, Some(flat));
    i.policy.params.hpa_target_pct = Some(80);
    assert!(matches!(
        decide(&i, &cfg()).change,
        PolicyChange::Target { .. }
    ));
    i.policy.target_owner = Some("scaledobject/web".into());
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
}

#[test]
fn inputs_of_a_keda_owned_deployment_name_its_scaled_object() {
    let s = crate::model::DeploymentState::fixture("ns", "web").keda_owned("web-so", 2, 20);
    let i = AdvisorInputs::from_state(&s, None, None, NOW);
    assert_eq!(
        i.policy.target_owner.as_deref(),
        Some("scaledobject/web-so")
    );
}

#[test]
fn without_an_hpa_the_policy_sizes_replicas_itself() {
    let mut i = inputs(4, 2, 6.0, None);
    i.hpa = None;
    // 6 pods of demand at the configured 70 % target: 9.
    let o = decide(&i, &cfg());
    assert_eq!(o.change, PolicyChange::Replicas { from: 4, to: 9 });
    assert!(
        o.decision.reasoning.contains("CPU is 150 %"),
        "{}",
        o.decision.reasoning
    );
    assert!(
        o.decision
            .reasoning
            .contains("9 pods carry it at the 70 % target")
    );
    // Within the 10 % tolerance (2.9 of 4 × 0.7): maintain.
    let mut i = inputs(4, 2, 2.9, None);
    i.hpa = None;
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
}

#[test]
fn missing_metrics_change_nothing_at_low_confidence() {
    let mut i = inputs(3, 2, 1.0, None);
    i.cpu_pct = None;
    i.policy.demand_now = None;
    let o = decide(&i, &cfg());
    assert_eq!(o.change, PolicyChange::Maintain);
    assert!(o.decision.confidence < 0.5);
}

#[test]
fn an_hpa_managed_deployment_is_never_given_a_replicas_change() {
    // Every combination of load, floor, forecast and mark on a small grid.
    let mut seen = std::collections::BTreeSet::new();
    for replicas in [1, 3, 10, 50] {
        for floor in [1, 2, 7, 60] {
            for demand in [0.0, 2.0, 9.0, 80.0] {
                for peak in [None, Some(1.0), Some(30.0)] {
                    for mark in [None, Some(true), Some(false)] {
                        let f = peak.map(|p| forecast(NOW, 300, &[p; 8]));
                        let mut i = inputs(replicas, floor, demand, f);
                        i.policy.floor_mark = mark.map(|raised| FloorMark {
                            raised,
                            at: NOW - 120,
                            until: None,
                        });
                        i.policy.params.follow_hpa = replicas == 10;
                        i.policy.params.hpa_target_pct = (floor == 7).then_some(85);
                        let o = decide(&i, &cfg());
                        assert!(!matches!(o.change, PolicyChange::Replicas { .. }), "{o:?}");
                        let (lo, hi) = o.range;
                        assert!(lo <= hi && lo >= 2 && hi <= 50, "{o:?}");
                        seen.insert(
                            o.change
                                .headline()
                                .split(" ")
                                .next()
                                .unwrap_or("")
                                .to_string(),
                        );
                    }
                }
            }
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["HPA", "at", "floor", "maintain", "release"],
        "the grid reaches every kind of HPA change"
    );
}

#[test]
fn the_llm_range_keeps_the_hold() {
    let low = forecast(NOW, 300, &[4.0; 8]);
    let mut i = inputs(10, 10, 4.0, Some(low));
    i.policy.floor_mark = Some(FloorMark {
        raised: true,
        at: NOW - 60,
        until: None,
    });
    let o = decide(&i, &cfg());
    assert!(o.range.0 >= 10, "no lowering while held: {:?}", o.range);
    // A target the LLM picks becomes the matching change.
    assert!(matches!(
        change_for_target(&i, &o.change, 12),
        PolicyChange::Floor {
            from: 10,
            to: 12,
            ..
        }
    ));
    assert!(matches!(
        change_for_target(&i, &o.change, 4),
        PolicyChange::Release {
            from: 10,
            to: 4,
            ..
        }
    ));
    assert_eq!(change_for_target(&i, &o.change, 10), o.change);
}

#[test]
fn a_need_beyond_the_maximum_step_is_stepped_and_the_card_says_so() {
    let i = inputs(4, 2, 4.0, Some(forecast(NOW, 300, &[20.0; 8])));
    let o = decide(&i, &cfg());
    // 20 pods needed, 2 + max_step 10 = 12 written.
    assert!(
        matches!(
            o.change,
            PolicyChange::Floor {
                from: 2,
                to: 12,
                ..
            }
        ),
        "{:?}",
        o.change
    );
    assert_eq!(o.decision.target_replicas, 12);
    let r = &o.decision.reasoning;
    assert!(r.contains("20 pods carry it"), "{r}");
    assert!(r.contains("limits this change to 12"), "{r}");
    assert!(r.contains("floor 2 → 12"), "{r}");
    // Validation has nothing left to correct.
    let mut d = o.decision.clone();
    assert!(crate::advisor::validate::validate(&mut d, &i, 10).is_empty());
}

#[test]
fn absurd_demand_and_replica_counts_from_the_cluster_decide_without_overflow() {
    // Sizing saturates at u32::MAX; the LLM range adds one pod of room on top of it.
    for (replicas, demand) in [(u32::MAX, 1e30), (i32::MAX as u32, f64::MAX), (1, 1e300)] {
        let mut i = inputs(replicas, 2, demand, None);
        i.max_replicas = u32::MAX;
        if let Some(h) = i.hpa.as_mut() {
            h.max_replicas = u32::MAX;
        }
        let out = decide(&i, &cfg());
        let (lo, hi) = out.range;
        assert!(lo <= hi, "{replicas} {demand}: {lo}..{hi}");
    }
}

/// Two deployments that each want more pods: `web` from 4 to 10 (+6), `api` from 4 to 8 (+4),
/// 500 m and 256 MiB each.
fn fleet() -> Vec<AdvisorInputs> {
    let web = inputs(
        4,
        2,
        4.0,
        Some(forecast(NOW, 300, &[4.0, 10.0, 10.0, 3.0, 3.0, 3.0])),
    );
    let mut api = inputs(
        4,
        2,
        4.0,
        Some(forecast(NOW, 300, &[4.0, 8.0, 8.0, 3.0, 3.0, 3.0])),
    );
    api.name = "api".into();
    if let Some(h) = api.hpa.as_mut() {
        h.name = "api".into();
    }
    vec![web, api]
}

fn tight(spare_cpu: u64, autoscaler: bool) -> crate::model::ClusterCapacity {
    use crate::model::Resources;
    crate::model::ClusterCapacity {
        nodes: 1,
        allocatable: Resources {
            cpu_millis: 8000,
            mem_mib: 16_000,
            pods: 110,
        },
        requested: Resources {
            cpu_millis: 8000 - spare_cpu,
            mem_mib: 4000,
            pods: 8,
        },
        autoscaler,
        node_type: Some("m5.large".into()),
        node_allocatable: Some(Resources {
            cpu_millis: 1930,
            mem_mib: 7000,
            pods: 29,
        }),
    }
}

fn decide_in(fleet: &[AdvisorInputs], cap: Option<&crate::model::ClusterCapacity>) -> Vec<Outcome> {
    let wants: Vec<capacity::Want> = fleet
        .iter()
        .filter_map(|i| capacity::want(i, &cfg(), 500, 256))
        .collect();
    let rooms = capacity::rooms(cap, &wants);
    fleet
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i.policy.room = rooms.get(&i.key()).cloned();
            decide(&i, &cfg())
        })
        .collect()
}

#[test]
fn scale_ups_that_do_not_fit_together_share_the_room_and_say_how_much_there_is() {
    let f = fleet();
    // Alone each is uncapped: 10 and 8.
    let free: Vec<u32> = decide_in(&f, None)
        .iter()
        .map(|o| o.decision.target_replicas)
        .collect();
    assert_eq!(free, vec![10, 8]);
    // 10 extra pods × 500 m = 5000 m wanted, 2500 m spare: half of each want.
    let o = decide_in(&f, Some(&tight(2500, false)));
    assert_eq!(o[0].decision.target_replicas, 7, "web +3 of +6");
    assert_eq!(o[1].decision.target_replicas, 6, "api +2 of +4");
    let r = &o[0].decision.reasoning;
    assert!(
        r.contains("the cluster has room for 3 more pods of this size (2500 m CPU spare"),
        "{r}"
    );
    assert_eq!(o[0].change.headline(), "floor 2 → 7 until 22:28");
    // An LLM may not go past the room either.
    assert!(o[0].range.1 <= 7, "{:?}", o[0].range);
    // Together they fit in what is spare.
    let used: u32 = o
        .iter()
        .map(|o| o.decision.target_replicas - 4)
        .sum::<u32>()
        * 500;
    assert!(used <= 2500);
}

#[test]
fn no_room_at_all_keeps_the_scale_up_to_the_pods_running_and_says_why() {
    let o = decide_in(&fleet(), Some(&tight(0, false)));
    // The floor may still hold the 4 pods running (that takes no room), not one more.
    assert_eq!(o[0].decision.target_replicas, 4);
    assert_eq!(o[0].change.headline(), "floor 2 → 4 until 22:28");
    assert!(
        o[0].decision
            .reasoning
            .contains("room for 0 more pods of this size (0 m CPU spare"),
        "{}",
        o[0].decision.reasoning
    );
}

#[test]
fn with_a_cluster_autoscaler_nothing_is_capped_and_the_nodes_needed_are_named() {
    let o = decide_in(&fleet(), Some(&tight(2500, true)));
    assert_eq!(o[0].decision.target_replicas, 10);
    assert_eq!(o[1].decision.target_replicas, 8);
    // 2500 m short (5000 − 2500) on 1930 m nodes: 2 nodes.
    let r = &o[0].decision.reasoning;
    assert!(r.contains("need about 2 more nodes of m5.large"), "{r}");
}

#[test]
fn scale_ups_that_fit_or_an_unknown_capacity_are_not_touched() {
    let f = fleet();
    let roomy = decide_in(&f, Some(&tight(5000, false)));
    let unknown = decide_in(&f, None);
    assert_eq!(roomy, unknown);
    assert!(!roomy[0].decision.reasoning.contains("room for"));
    let wants: Vec<capacity::Want> = f
        .iter()
        .filter_map(|i| capacity::want(i, &cfg(), 500, 256))
        .collect();
    assert!(capacity::rooms(Some(&tight(5000, false)), &wants).is_empty());
    assert!(capacity::rooms(None, &wants).is_empty());
}

#[test]
fn no_room_without_an_hpa_is_no_scale_up() {
    let mut i = inputs(4, 2, 8.0, None);
    i.hpa = None;
    let free = decide(&i, &cfg());
    assert!(
        matches!(free.change, PolicyChange::Replicas { from: 4, to } if to > 4),
        "{:?}",
        free.change
    );
    let o = decide_in(&[i], Some(&tight(0, false)));
    assert_eq!(o[0].change, PolicyChange::Maintain);
    assert_eq!(o[0].decision.target_replicas, 4);
    assert!(
        o[0].decision.reasoning.contains("room for 0 more pods"),
        "{}",
        o[0].decision.reasoning
    );
}

#[test]
fn a_cluster_that_holds_every_deployment_at_its_most_cannot_overflow() {
    let world = crate::sim::SimWorld::demo(1, 0);
    let snap = world.snapshot();
    let cap = snap.capacity.clone().unwrap_or_default();
    // The demo's nodes hold every deployment at its maximum: no fleet pass is needed.
    assert!(!capacity::can_overflow(&cap, &snap.deployments, 10));
    // A full one can.
    let mut full = cap.clone();
    full.requested = full.allocatable;
    assert!(capacity::can_overflow(&full, &snap.deployments, 10));
    // Nothing can grow with a step of 0 at the floor: nothing to overflow.
    let at_floor: Vec<_> = snap
        .deployments
        .iter()
        .filter(|d| {
            d.hpa
                .as_ref()
                .is_none_or(|h| h.min_replicas <= d.desired_replicas)
        })
        .cloned()
        .collect();
    assert!(!capacity::can_overflow(&full, &at_floor, 0));
}

#[test]
fn a_raise_the_hpas_own_tolerance_would_ignore_does_not_move_the_floor() {
    // 10 pods at the floor; the forecast peak 10.5 would run them at 105 % of the sizing
    // utilization (100 %): within the HPA's 10 % tolerance, so no event for it.
    let i = inputs(10, 10, 9.0, Some(forecast(NOW, 300, &[10.5; 8])));
    assert_eq!(decide(&i, &cfg()).change, PolicyChange::Maintain);
    // Outside it (12 on 10 pods: 120 %), the floor goes all the way to the need.
    let i = inputs(10, 10, 9.0, Some(forecast(NOW, 300, &[12.0; 8])));
    assert!(
        matches!(
            decide(&i, &cfg()).change,
            PolicyChange::Floor {
                from: 10,
                to: 12,
                ..
            }
        ),
        "{:?}",
        decide(&i, &cfg()).change
    );
    // The tolerance is counted from the pods running, not the floor: the HPA already holds 11
    // above a floor of 8, and 11.5 on 11 is within it.
    let i = inputs(11, 8, 10.0, Some(forecast(NOW, 300, &[11.5; 8])));
    assert!(
        !matches!(
            decide(&i, &cfg()).change,
            PolicyChange::Floor { to: 12, .. }
        ),
        "{:?}",
        decide(&i, &cfg()).change
    );
}
