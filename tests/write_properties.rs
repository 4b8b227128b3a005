//! Property tests of the write path: random deployment states, HPAs, requests (a policy change
//! applied with `a`, a bounds edit, a scale, a new HPA, and the undo of each) and random key
//! sequences in the TUI never produce a write outside [min, max], above the cap, or a step
//! above `max_step`; unknown HPA state never produces a write.
//!
//! The effect of a plan is computed here by a model of its own (what each field does to the
//! running replicas once the HPA syncs), not by the guard's code, so the guard is checked
//! against something it does not share.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::sync::{Arc, Mutex};

use ai4k8s::actions::Change;
use ai4k8s::actions::plan::{self, Plan};
use ai4k8s::actions::{Actions, Journal, Limits, guard};
use ai4k8s::advisor::Advisor;
use ai4k8s::cluster::{HpaSpec, Operation, annotations, deployment_bounds};
use ai4k8s::config::AdvisorConfig;
use ai4k8s::engine::{Command, Update};
use ai4k8s::model::{AdvisorInputs, DeploymentState, HpaState, PolicyChange, WriteBlock};
use ai4k8s::sim::{SimCluster, SimWorld};
use ai4k8s::tui::app::{App, SessionInfo};
use ai4k8s::tui::handle_key;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;

fn arb_state() -> impl Strategy<Value = DeploymentState> {
    (
        0u32..60,
        proptest::option::of((0u32..30, 0u32..80, proptest::option::of(1u32..100))),
        (
            proptest::option::of(0u32..80),
            proptest::option::of(0u32..200_000),
        ),
        0u8..4,
        // Whether KEDA owns the HPA (its ScaledObject's counts are the HPA's bounds).
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(replicas, hpa, annotated, block, keda)| {
            let hpa = hpa.map(|(min, max, cpu)| HpaState {
                name: "app".into(),
                min_replicas: min,
                max_replicas: max,
                target_cpu_pct: cpu,
                current_replicas: replicas,
                desired_replicas: replicas,
                ..HpaState::default()
            });
            let (min, max) = deployment_bounds(annotated, hpa.as_ref(), replicas);
            let keda = hpa
                .as_ref()
                .filter(|_| keda)
                .map(|h| (h.min_replicas, h.max_replicas));
            let state = DeploymentState {
                annotated_bounds: annotated,
                write_block: match block {
                    0 => Some(WriteBlock::HpaUnknown("forbidden".into())),
                    1 => Some(WriteBlock::AmbiguousHpa(vec!["a".into(), "b".into()])),
                    _ => None,
                },
                ..DeploymentState::fixture("ns", "app")
                    .with_replicas(replicas)
                    .with_bounds(min, max)
                    .with_usage(Some(50.0), Some(50.0))
                    .with_hpa(hpa)
                    .with_predictive(true)
            };
            match keda {
                Some((min, max)) => state.keda_owned("app-so", min, max),
                None => state,
            }
        })
}

#[derive(Clone, Debug)]
enum Request {
    Apply(PolicyChange),
    EditBounds(u32, u32),
    Scale(u32),
    CreateHpa(u32, u32, u32),
}

fn arb_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (0u32..90).prop_map(|to| Request::Apply(PolicyChange::Floor {
            hpa: "app".into(),
            from: 0,
            to,
            until: 10_000,
        })),
        (0u32..90).prop_map(|to| Request::Apply(PolicyChange::Release {
            hpa: "app".into(),
            from: 0,
            to,
        })),
        (0u32..130).prop_map(|to| Request::Apply(PolicyChange::Target {
            hpa: "app".into(),
            from: 0,
            to,
        })),
        (0u32..90).prop_map(|to| Request::Apply(PolicyChange::Replicas { from: 0, to })),
        (0u32..90, 0u32..700).prop_map(|(a, b)| Request::EditBounds(a, b)),
        (0u32..100).prop_map(Request::Scale),
        (0u32..90, 0u32..700, 1u32..100).prop_map(|(a, b, c)| Request::CreateHpa(a, b, c)),
    ]
}

fn plan_for(state: &DeploymentState, req: &Request) -> Option<Plan> {
    match req {
        Request::Apply(change) => {
            plan::changes_for(state, change, 1_000)
                .ok()
                .map(|changes| Plan {
                    key: state.key.clone(),
                    intent: plan::Intent::Apply,
                    changes,
                    reason: String::new(),
                    recommendation: None,
                    warning: None,
                    ownership: Default::default(),
                })
        }
        Request::EditBounds(min, max) => Some(plan::plan_edit_bounds(
            state,
            *min,
            *max,
            state.annotated_bounds,
        )),
        Request::Scale(to) => Some(plan::plan_scale(state, *to)),
        Request::CreateHpa(min, max, cpu) => Some(plan::plan_create_hpa(
            state,
            HpaSpec {
                min_replicas: *min,
                max_replicas: *max,
                target_cpu_pct: Some(*cpu),
                target_mem_pct: None,
            },
        )),
    }
}

/// The running replicas once the plan is made and the HPA (old or new) has synced: a
/// `/scale` sets them, an HPA clamps them into its bounds (it does nothing at zero).
fn replicas_once_synced(state: &DeploymentState, plan: &Plan) -> u32 {
    let mut replicas = state.desired_replicas;
    let before = state.hpa.as_ref().map(|h| (h.min_replicas, h.max_replicas));
    let mut bounds = before;
    for c in &plan.changes {
        match c {
            Change::Scale { to, .. } => replicas = *to,
            Change::HpaMin { to, .. } => bounds = bounds.map(|(_, max)| (*to, max)),
            Change::HpaBounds { to, .. } => bounds = Some(*to),
            Change::CreateHpa { spec } => bounds = Some((spec.min_replicas, spec.max_replicas)),
            _ => {}
        }
    }
    // Bounds the plan leaves as they were move nothing the HPA was not already doing.
    match bounds {
        Some((lo, hi)) if replicas > 0 && bounds != before => replicas.max(lo).min(hi.max(lo)),
        _ => replicas,
    }
}

/// Every invariant a plan the guard let through must keep.
fn assert_safe(state: &DeploymentState, plan: &Plan, limits: Limits) -> Result<(), TestCaseError> {
    prop_assert!(
        state.write_block.is_none(),
        "a write with unknown HPA state"
    );
    let now = state.desired_replicas;
    let after = replicas_once_synced(state, plan);
    if after != now {
        prop_assert!(
            after <= limits.replicas_cap,
            "{now} → {after} above the cap"
        );
        prop_assert!(
            now.abs_diff(after) <= limits.max_step,
            "{now} → {after} beyond the step {}",
            limits.max_step
        );
    }
    for c in &plan.changes {
        // KEDA would undo any write to its HPA: only its ScaledObject is written.
        if state.ownership.keda.is_some() {
            prop_assert!(
                !matches!(
                    c,
                    Change::HpaMin { .. } | Change::HpaBounds { .. } | Change::HpaTarget { .. }
                ),
                "{c:?} written to a KEDA-owned HPA"
            );
        }
        match c {
            Change::Scale { to, .. } => {
                prop_assert!(state.hpa.is_none(), "a /scale on an HPA-scaled deployment");
                prop_assert!(
                    (state.min_replicas..=state.max_replicas).contains(to),
                    "{to} outside [{}, {}]",
                    state.min_replicas,
                    state.max_replicas
                );
            }
            Change::HpaMin { to, .. } | Change::ScaledObjectMin { to, .. } => {
                let hpa_max = state.hpa.as_ref().map_or(0, |h| h.max_replicas);
                prop_assert!(*to >= 1 && *to <= hpa_max && *to <= limits.replicas_cap);
                prop_assert!(*to >= state.min_replicas.max(1) && *to <= state.max_replicas);
            }
            Change::HpaBounds { to, .. } | Change::ScaledObjectBounds { to, .. } => {
                prop_assert!(1 <= to.0 && to.0 <= to.1 && to.1 <= limits.replicas_cap);
            }
            Change::CreateHpa { spec } => {
                prop_assert!(
                    1 <= spec.min_replicas
                        && spec.min_replicas <= spec.max_replicas
                        && spec.max_replicas <= limits.replicas_cap
                );
            }
            Change::BoundsAnnotations { to, .. } => {
                prop_assert!(to.0.is_none_or(|m| m >= 1));
                prop_assert!(to.1.is_none_or(|m| m <= limits.replicas_cap));
                if let (Some(a), Some(b)) = *to {
                    prop_assert!(a <= b);
                }
            }
            Change::HpaTarget { to, .. } => prop_assert!((1..=100).contains(to)),
            Change::FloorMark { .. } | Change::Predictive { .. } => {}
        }
    }
    Ok(())
}

/// The state once `plan` is made (for checking its undo from there).
fn state_after(state: &DeploymentState, plan: &Plan) -> DeploymentState {
    let mut s = state.clone();
    for c in &plan.changes {
        match c {
            Change::Scale { to, .. } => s.desired_replicas = *to,
            Change::HpaMin { to, .. } => {
                if let Some(h) = s.hpa.as_mut() {
                    h.min_replicas = *to;
                }
            }
            Change::HpaBounds { to, .. } => {
                if let Some(h) = s.hpa.as_mut() {
                    (h.min_replicas, h.max_replicas) = *to;
                }
            }
            // KEDA copies the counts into its HPA.
            Change::ScaledObjectMin { to, .. } => {
                if let Some(k) = s.ownership.keda.as_mut() {
                    k.min_replica_count = *to;
                }
                if let Some(h) = s.hpa.as_mut() {
                    h.min_replicas = *to;
                }
            }
            Change::ScaledObjectBounds { to, .. } => {
                if let Some(k) = s.ownership.keda.as_mut() {
                    (k.min_replica_count, k.max_replica_count) = *to;
                }
                if let Some(h) = s.hpa.as_mut() {
                    (h.min_replicas, h.max_replicas) = *to;
                }
            }
            Change::HpaTarget { to, .. } => {
                if let Some(h) = s.hpa.as_mut() {
                    h.target_cpu_pct = Some(*to);
                }
            }
            Change::FloorMark { to, .. } => s.floor_mark = *to,
            Change::BoundsAnnotations { to, .. } => s.annotated_bounds = *to,
            Change::Predictive { to, .. } => s.predictive_enabled = *to,
            Change::CreateHpa { .. } => {}
        }
    }
    (s.min_replicas, s.max_replicas) =
        deployment_bounds(s.annotated_bounds, s.hpa.as_ref(), s.desired_replicas);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn every_plan_the_guard_lets_through_stays_in_bounds_cap_and_step(
        state in arb_state(),
        req in arb_request(),
        max_step in 1u32..15,
        cap in 1u32..600,
    ) {
        let limits = Limits { max_step, replicas_cap: cap };
        let Some(plan) = plan_for(&state, &req) else { return Ok(()) };
        let verdict = guard::check(&plan, &state, limits);
        if state.write_block.is_some() {
            prop_assert!(verdict.is_err(), "unknown HPA state let {plan:?} through");
        }
        if verdict.is_ok() {
            assert_safe(&state, &plan, limits)?;
            // Its undo, from the state it leaves, is held to the same rules.
            if let Some(undo) = plan.inverse() {
                let after = state_after(&state, &plan);
                if guard::check(&undo, &after, limits).is_ok() {
                    assert_safe(&after, &undo, limits)?;
                }
            }
        }
    }
}

use common::intercepted::Intercepted;

/// What is wrong with `change` (as the API is asked to make it) on the deployment as it is
/// when the write arrives, if anything.
fn violation(change: &Change, s: &DeploymentState, limits: Limits) -> Option<String> {
    let now = s.desired_replicas;
    // The replicas once the HPA (old or new) syncs to what the write sets.
    let clamp = |lo: u32, hi: u32| {
        if now > 0 {
            now.clamp(lo, hi.max(lo))
        } else {
            0
        }
    };
    let moves_to = match change.operation() {
        Operation::Scale { replicas } => {
            if s.hpa.is_some() || !(s.min_replicas..=s.max_replicas).contains(&replicas) {
                return Some(format!("scale to {replicas} on {s:?}"));
            }
            Some(replicas)
        }
        Operation::PatchHpa {
            min_replicas,
            max_replicas,
            ..
        } => {
            let h = s.hpa.as_ref()?;
            let lo = min_replicas.unwrap_or(h.min_replicas);
            let hi = max_replicas.unwrap_or(h.max_replicas);
            if lo < 1 || lo > hi || (max_replicas.is_some() && hi > limits.replicas_cap) {
                return Some(format!("hpa bounds [{lo}, {hi}] on {s:?}"));
            }
            Some(clamp(lo, hi))
        }
        Operation::CreateHpa { spec } => Some(clamp(spec.min_replicas, spec.max_replicas)),
        Operation::Annotate { changes } => {
            for (k, v) in &changes {
                let n = v.as_deref().and_then(|v| v.parse::<u32>().ok());
                if (k == annotations::MAX_REPLICAS && n.is_some_and(|n| n > limits.replicas_cap))
                    || (k == annotations::MIN_REPLICAS && n == Some(0))
                {
                    return Some(format!("annotation {k}={v:?}"));
                }
            }
            None
        }
        Operation::PatchHpaTarget { .. } => None,
        Operation::PatchScaledObject {
            min_replica_count,
            max_replica_count,
            ..
        } => {
            let k = s.ownership.keda.as_ref()?;
            let lo = min_replica_count.unwrap_or(k.min_replica_count);
            let hi = max_replica_count.unwrap_or(k.max_replica_count);
            if lo < 1 || lo > hi || (max_replica_count.is_some() && hi > limits.replicas_cap) {
                return Some(format!("scaledobject counts [{lo}, {hi}] on {s:?}"));
            }
            Some(clamp(lo, hi))
        }
    };
    if s.write_block.is_some() {
        return Some(format!("a write with unknown HPA state: {change:?}"));
    }
    let after = moves_to?;
    let bad =
        after != now && (after > limits.replicas_cap || now.abs_diff(after) > limits.max_step);
    bad.then(|| format!("{now} → {after} replicas on {s:?}"))
}

fn arb_keys() -> impl Strategy<Value = Vec<KeyCode>> {
    // Weighted towards what writes: moving, applying, confirming, editing with digits.
    let key = prop_oneof![
        3 => Just(KeyCode::Char('j')),
        1 => Just(KeyCode::Char('k')),
        3 => Just(KeyCode::Char('a')),
        4 => Just(KeyCode::Char('y')),
        1 => Just(KeyCode::Char('n')),
        2 => Just(KeyCode::Char('e')),
        2 => Just(KeyCode::Char('s')),
        1 => Just(KeyCode::Char('H')),
        1 => Just(KeyCode::Char('u')),
        1 => Just(KeyCode::Char('p')),
        2 => Just(KeyCode::Tab),
        2 => Just(KeyCode::Backspace),
        3 => Just(KeyCode::Enter),
        1 => Just(KeyCode::Esc),
        4 => (0u32..10).prop_map(|d| KeyCode::Char(char::from_digit(d, 10).unwrap_or('0'))),
    ];
    proptest::collection::vec(key, 10..120)
}

/// Feed the app the cluster as it is and a recommendation per deployment.
async fn refresh(app: &mut App, sim: &SimCluster, advisor: &Advisor) {
    let snap = sim.world().snapshot();
    for d in &snap.deployments {
        let rec = advisor
            .recommend(&AdvisorInputs::from_state(d, None, None, snap.time))
            .await;
        app.on_update(Update::Snapshot(Arc::new(snap.clone())));
        app.on_update(Update::Recommendation(Arc::new(rec)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_key_sequences_never_write_outside_the_limits(
        keys in arb_keys(),
        seed in 0u64..1_000,
        max_step in 1u32..8,
        cap in 5u32..120,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let violations = rt.block_on(async {
            let sim = SimCluster::new(SimWorld::demo(seed, 1));
            let limits = Limits { max_step, replicas_cap: cap };
            let checked = Arc::new(Intercepted::new(sim.clone()));
            let found: Arc<Mutex<Vec<String>>> = Arc::default();
            let seen = found.clone();
            checked.hook(move |_, change, state| {
                if let Some(v) = state.and_then(|s| violation(change, s, limits)) {
                    seen.lock().expect("violations").push(v);
                }
            });
            let data = tempfile::tempdir().expect("tempdir");
            let actions = Actions::new(
                checked.clone(),
                Arc::new(Journal::open(data.path()).expect("journal")),
                limits,
                false,
            );
            let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
            let mut app = App::new(SessionInfo {
                context: "demo".into(),
                limits,
                ..SessionInfo::default()
            });
            refresh(&mut app, &sim, &advisor).await;
            for code in keys {
                let mods = match code {
                    KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
                    _ => KeyModifiers::NONE,
                };
                let cmd = handle_key(&mut app, KeyEvent::new(code, mods));
                let ran = match cmd {
                    Some(Command::Execute(p)) => {
                        let _ = actions.execute(*p, false).await;
                        true
                    }
                    Some(Command::Undo) => {
                        let _ = actions.undo_last().await;
                        true
                    }
                    _ => false,
                };
                if ran {
                    refresh(&mut app, &sim, &advisor).await;
                }
            }
            found.lock().expect("violations").clone()
        });
        prop_assert!(violations.is_empty(), "{violations:#?}");
    }
}
