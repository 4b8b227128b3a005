//! The guard every write passes, whoever asks (TUI, autopilot, undo). Every change kind goes
//! through the same three checks:
//! 1. the deployment may be written at all (its HPA is known and is only one, and `/scale` is
//!    never used on a deployment an HPA scales: the HPA would undo it or fight it);
//! 2. the change starts from what the cluster shows now (otherwise someone else changed it:
//!    re-read and ask again);
//! 3. its effect stays inside the limits: the replica count it moves the deployment to is
//!    within [min, max], within the cap and within the maximum step of today's count, and the
//!    bounds it sets are 1 ≤ min ≤ max ≤ the cap.

use crate::model::DeploymentState;

use super::plan::Plan;
use crate::cluster::change::{Change, replicas_after};

/// Limits the guard enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest change of replicas one write may make.
    pub max_step: u32,
    /// Highest replica count or bound any write may set (`[actions] replicas_cap`), whatever
    /// the annotations say: anyone who can patch the deployment can set those.
    pub replicas_cap: u32,
}

// Beside `Limits` rather than in config.rs: config sits below actions and does not know them.
impl crate::config::Config {
    /// The guard's limits from `[advisor] max_step` and `[actions] replicas_cap`.
    pub fn limits(&self) -> Limits {
        Limits {
            max_step: self.advisor.max_step,
            replicas_cap: self.actions.replicas_cap,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_step: 10,
            replicas_cap: 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    OutOfBounds(String),
    #[error("changed on the server since it was read ({0}); re-read and ask again")]
    Stale(String),
    /// What the app cannot know makes any write unsafe (unknown or ambiguous HPA).
    #[error("{0}")]
    Blocked(String),
    #[error("nothing to change")]
    Empty,
}

/// Check `plan` against the live `state` of its deployment.
pub fn check(plan: &Plan, state: &DeploymentState, limits: Limits) -> Result<(), Refusal> {
    if plan.changes.is_empty() {
        return Err(Refusal::Empty);
    }
    if let Some(block) = &state.write_block {
        return Err(Refusal::Blocked(block.to_string()));
    }
    for change in &plan.changes {
        check_target(change, state)?;
        check_from(change, state)?;
        check_effect(change, state, limits)?;
    }
    Ok(())
}

/// The object the change writes is the one the deployment has: `/scale` only without an HPA,
/// HPA fields only on the HPA that scales it.
fn check_target(change: &Change, state: &DeploymentState) -> Result<(), Refusal> {
    let hpa_named = |name: &str| match &state.hpa {
        None => Err(Refusal::Stale("the HPA is gone".into())),
        Some(h) if h.name != name => Err(Refusal::Stale(format!(
            "the deployment is scaled by hpa/{} now, not hpa/{name}",
            h.name
        ))),
        Some(_) => Ok(()),
    };
    match change {
        Change::Scale { .. } => match &state.hpa {
            Some(h) => Err(Refusal::Blocked(format!(
                "hpa/{} scales this deployment: a /scale would fight it; edit min/max or apply \
                 a floor instead",
                h.name
            ))),
            None => Ok(()),
        },
        Change::HpaMin { hpa, .. }
        | Change::HpaBounds { hpa, .. }
        | Change::HpaTarget { hpa, .. } => {
            hpa_named(hpa)?;
            // KEDA rewrites its HPA from the ScaledObject: a patch of the HPA would be undone.
            match &state.ownership.keda {
                Some(k) => Err(Refusal::Blocked(format!(
                    "hpa/{hpa} is KEDA's (scaledobject/{}): KEDA would undo a patch of the HPA; \
                     change the ScaledObject instead",
                    k.name
                ))),
                None => Ok(()),
            }
        }
        Change::ScaledObjectMin { scaled_object, .. }
        | Change::ScaledObjectBounds { scaled_object, .. } => match &state.ownership.keda {
            None => Err(Refusal::Stale(format!(
                "scaledobject/{scaled_object} no longer owns the deployment's HPA"
            ))),
            Some(k) if &k.name != scaled_object => Err(Refusal::Stale(format!(
                "the HPA is owned by scaledobject/{} now, not scaledobject/{scaled_object}",
                k.name
            ))),
            Some(_) => Ok(()),
        },
        Change::CreateHpa { .. } => match &state.hpa {
            Some(h) => Err(Refusal::Stale(format!(
                "the deployment has hpa/{} now",
                h.name
            ))),
            None => Ok(()),
        },
        Change::FloorMark { .. } | Change::BoundsAnnotations { .. } | Change::Predictive { .. } => {
            Ok(())
        }
    }
}

/// The change starts from the value the cluster shows now.
fn check_from(change: &Change, state: &DeploymentState) -> Result<(), Refusal> {
    let stale = |m: String| Err(Refusal::Stale(m));
    let hpa = state.hpa.as_ref();
    match change {
        Change::Scale { from, .. } if *from != state.desired_replicas => stale(format!(
            "replicas are {} now, not {from}",
            state.desired_replicas
        )),
        Change::HpaMin { from, .. } => match hpa {
            Some(h) if h.min_replicas != *from => {
                stale(format!("minReplicas is {} now, not {from}", h.min_replicas))
            }
            _ => Ok(()),
        },
        Change::HpaBounds { from, .. } => match hpa {
            Some(h) if (h.min_replicas, h.max_replicas) != *from => stale(format!(
                "bounds are [{}, {}] now, not [{}, {}]",
                h.min_replicas, h.max_replicas, from.0, from.1
            )),
            _ => Ok(()),
        },
        Change::HpaTarget { from, .. } => match hpa {
            Some(h) if h.target_cpu_pct != Some(*from) => stale(format!(
                "the CPU target is {} now, not {from} %",
                h.target_cpu_pct
                    .map_or("unset".to_string(), |t| format!("{t} %"))
            )),
            _ => Ok(()),
        },
        Change::FloorMark { from, .. } if *from != state.floor_mark => {
            stale("the floor mark changed".into())
        }
        Change::BoundsAnnotations { from, .. } if *from != state.annotated_bounds => {
            stale(format!(
                "the bound annotations are {} now, not {}",
                pair(state.annotated_bounds),
                pair(*from)
            ))
        }
        Change::Predictive { from, .. } if *from != state.predictive_enabled => {
            stale("the predictive annotation changed".into())
        }
        Change::ScaledObjectMin { from, .. } => match &state.ownership.keda {
            Some(k) if k.min_replica_count != *from => stale(format!(
                "minReplicaCount is {} now, not {from}",
                k.min_replica_count
            )),
            _ => Ok(()),
        },
        Change::ScaledObjectBounds { from, .. } => match &state.ownership.keda {
            Some(k) if (k.min_replica_count, k.max_replica_count) != *from => stale(format!(
                "the ScaledObject's counts are [{}, {}] now, not [{}, {}]",
                k.min_replica_count, k.max_replica_count, from.0, from.1
            )),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn pair((min, max): (Option<u32>, Option<u32>)) -> String {
    let v = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
    format!("[{}, {}]", v(min), v(max))
}

/// The change's effect stays within the deployment's bounds, the cap and the maximum step.
fn check_effect(change: &Change, state: &DeploymentState, limits: Limits) -> Result<(), Refusal> {
    let out = |m: String| Err(Refusal::OutOfBounds(m));
    let cap = limits.replicas_cap;
    match change {
        Change::Scale { to, .. } => {
            let (min, max) = (state.min_replicas, state.max_replicas);
            if !(min..=max).contains(to) {
                return out(format!("{to} replicas is outside [{min}, {max}]"));
            }
        }
        Change::HpaMin { to, .. } | Change::ScaledObjectMin { to, .. } => {
            // The deployment's bounds (the seed's annotations when set) frame the HPA's min
            // (a ScaledObject's minReplicaCount is that min, through KEDA).
            let hpa_max = state.hpa.as_ref().map_or(u32::MAX, |h| h.max_replicas);
            let hpa_max = match (change, &state.ownership.keda) {
                (Change::ScaledObjectMin { .. }, Some(k)) => hpa_max.min(k.max_replica_count),
                _ => hpa_max,
            };
            let (lo, hi) = (state.min_replicas.max(1), state.max_replicas.min(hpa_max));
            if !(lo..=hi).contains(to) {
                return out(format!("minReplicas {to} is outside [{lo}, {hi}]"));
            }
            // The floor is what the deployment runs once the HPA acts again, even when it is
            // scaled to zero today (and so moves nothing now).
            if *to > cap {
                return out(format!("minReplicas {to} is above the cap of {cap}"));
            }
        }
        Change::HpaBounds { to, .. } | Change::ScaledObjectBounds { to, .. } => {
            check_bounds(to.0, to.1, limits)?
        }
        Change::HpaTarget { to, .. } => {
            if !(1..=100).contains(to) {
                return out(format!("a CPU target of {to} % is outside 1..=100 %"));
            }
        }
        Change::BoundsAnnotations { to, .. } => {
            if let Some(min) = to.0
                && min < 1
            {
                return out("min must be at least 1".into());
            }
            if let Some(max) = to.1
                && max > cap
            {
                return out(format!("max {max} is above the cap of {cap}"));
            }
            if let (Some(min), Some(max)) = *to {
                check_bounds(min, max, limits)?;
            }
        }
        Change::CreateHpa { spec } => check_bounds(spec.min_replicas, spec.max_replicas, limits)?,
        Change::FloorMark { .. } | Change::Predictive { .. } => {}
    }
    if let Some(after) = replicas_after(change, state) {
        let now = state.desired_replicas;
        if after > cap {
            return out(format!("{after} replicas is above the cap of {cap}"));
        }
        if now.abs_diff(after) > limits.max_step {
            return out(format!(
                "{now} → {after} replicas exceeds the maximum step of {}",
                limits.max_step
            ));
        }
    }
    Ok(())
}

/// 1 ≤ min ≤ max ≤ cap.
pub fn check_bounds(min: u32, max: u32, limits: Limits) -> Result<(), Refusal> {
    if min < 1 {
        return Err(Refusal::OutOfBounds("min must be at least 1".into()));
    }
    if min > max {
        return Err(Refusal::OutOfBounds(format!(
            "min {min} is above max {max}"
        )));
    }
    if max > limits.replicas_cap {
        return Err(Refusal::OutOfBounds(format!(
            "max {max} is above the cap of {}",
            limits.replicas_cap
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::plan::Intent;
    use crate::model::{DeploymentKey, HpaState};

    const LIMITS: Limits = Limits {
        max_step: 4,
        replicas_cap: 100,
    };

    fn state(replicas: u32, hpa: bool) -> DeploymentState {
        DeploymentState::fixture("ns", "app")
            .with_replicas(replicas)
            .with_bounds(2, 10)
            .with_usage(Some(50.0), Some(50.0))
            .with_hpa(hpa.then(|| HpaState::fixture("app", 2, 10).steady_at(replicas)))
    }

    fn plan(change: Change) -> Plan {
        Plan {
            key: DeploymentKey::new("ns", "app"),
            intent: Intent::Apply,
            changes: vec![change],
            reason: String::new(),
            recommendation: None,
            warning: None,
            ownership: Default::default(),
        }
    }

    #[test]
    fn scale_must_stay_in_bounds_and_step_and_start_from_the_live_value() {
        let s = state(4, false);
        assert_eq!(
            check(&plan(Change::Scale { from: 4, to: 7 }), &s, LIMITS),
            Ok(())
        );
        assert!(matches!(
            check(&plan(Change::Scale { from: 4, to: 11 }), &s, LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("outside [2, 10]")
        ));
        assert!(matches!(
            check(&plan(Change::Scale { from: 4, to: 1 }), &s, LIMITS),
            Err(Refusal::OutOfBounds(_))
        ));
        assert!(matches!(
            check(&plan(Change::Scale { from: 4, to: 9 }), &s, LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("maximum step")
        ));
        assert!(matches!(
            check(&plan(Change::Scale { from: 3, to: 5 }), &s, LIMITS),
            Err(Refusal::Stale(_))
        ));
    }

    #[test]
    fn hpa_min_is_bounded_by_the_hpa_max_and_the_step() {
        let s = state(4, true);
        let min = |to| Change::HpaMin {
            hpa: "app".into(),
            from: 2,
            to,
        };
        assert_eq!(check(&plan(min(8)), &s, LIMITS), Ok(()));
        assert!(check(&plan(min(11)), &s, LIMITS).is_err());
        assert!(check(&plan(min(0)), &s, LIMITS).is_err());
        assert!(
            check(&plan(min(9)), &s, LIMITS).is_err(),
            "4 → 9 is a step of 5"
        );
        assert!(matches!(
            check(&plan(min(3)), &state(4, false), LIMITS),
            Err(Refusal::Stale(_))
        ));
    }

    #[test]
    fn a_floor_above_the_cap_is_refused_even_at_zero_replicas() {
        // Found by write_properties: at zero replicas an HPA moves nothing, so the effect check
        // saw no replica count to hold against the cap, and minReplicas 11 went through with a
        // cap of 1. The HPA would run 11 as soon as the deployment is scaled up.
        let limits = Limits {
            max_step: 4,
            replicas_cap: 6,
        };
        let mut s = state(0, true).with_bounds(1, 20);
        if let Some(h) = s.hpa.as_mut() {
            h.max_replicas = 20;
        }
        let min = |to| Change::HpaMin {
            hpa: "app".into(),
            from: 2,
            to,
        };
        assert_eq!(check(&plan(min(6)), &s, limits), Ok(()));
        assert!(matches!(
            check(&plan(min(11)), &s, limits),
            Err(Refusal::OutOfBounds(m)) if m.contains("above the cap of 6")
        ));
    }

    #[test]
    fn hpa_target_and_floor_mark_must_start_from_what_the_cluster_shows() {
        let s = state(4, true);
        let target = |from, to| Change::HpaTarget {
            hpa: "app".into(),
            from,
            to,
        };
        assert_eq!(check(&plan(target(70, 85)), &s, LIMITS), Ok(()));
        assert!(matches!(
            check(&plan(target(60, 85)), &s, LIMITS),
            Err(Refusal::Stale(m)) if m.contains("70 %")
        ));
        assert!(matches!(
            check(&plan(target(70, 140)), &s, LIMITS),
            Err(Refusal::OutOfBounds(_))
        ));
        assert!(matches!(
            check(&plan(target(70, 85)), &state(4, false), LIMITS),
            Err(Refusal::Stale(_))
        ));
        let mark = crate::model::FloorMark {
            raised: true,
            at: 100,
            until: None,
        };
        let set = |from| Change::FloorMark {
            from,
            to: Some(mark),
        };
        assert_eq!(check(&plan(set(None)), &s, LIMITS), Ok(()));
        assert!(matches!(
            check(&plan(set(Some(mark))), &s, LIMITS),
            Err(Refusal::Stale(_))
        ));
    }

    #[test]
    fn bounds_edits_respect_min_max_and_cap() {
        let s = state(4, true);
        let b = |to| Change::HpaBounds {
            hpa: "app".into(),
            from: (2, 10),
            to,
        };
        assert_eq!(check(&plan(b((3, 50))), &s, LIMITS), Ok(()));
        assert!(check(&plan(b((0, 5))), &s, LIMITS).is_err());
        assert!(check(&plan(b((6, 5))), &s, LIMITS).is_err());
        assert!(check(&plan(b((1, 101))), &s, LIMITS).is_err());
        assert_eq!(
            check(
                &Plan {
                    changes: vec![],
                    ..plan(b((1, 2)))
                },
                &s,
                LIMITS
            ),
            Err(Refusal::Empty)
        );
    }

    #[test]
    fn nothing_is_written_to_a_deployment_whose_hpa_is_unknown_or_ambiguous() {
        use crate::model::WriteBlock;
        let blocks = [
            WriteBlock::HpaUnknown("forbidden: cannot list horizontalpodautoscalers".into()),
            WriteBlock::AmbiguousHpa(vec!["a".into(), "b".into()]),
        ];
        for block in blocks {
            let s = DeploymentState {
                write_block: Some(block.clone()),
                ..state(4, false)
            };
            let changes = [
                Change::Scale { from: 4, to: 5 },
                Change::BoundsAnnotations {
                    from: (None, None),
                    to: (Some(2), Some(8)),
                },
                Change::Predictive {
                    from: false,
                    to: true,
                },
                Change::CreateHpa {
                    spec: crate::cluster::HpaSpec {
                        min_replicas: 2,
                        max_replicas: 8,
                        target_cpu_pct: Some(70),
                        target_mem_pct: None,
                    },
                },
            ];
            for c in changes {
                assert_eq!(
                    check(&plan(c.clone()), &s, LIMITS),
                    Err(Refusal::Blocked(block.to_string())),
                    "{c:?}"
                );
            }
        }
    }

    #[test]
    fn a_deployment_an_hpa_scales_is_never_written_through_scale() {
        let e = check(
            &plan(Change::Scale { from: 4, to: 5 }),
            &state(4, true),
            LIMITS,
        );
        assert!(
            matches!(&e, Err(Refusal::Blocked(m)) if m.contains("hpa/app scales this deployment")),
            "{e:?}"
        );
    }

    #[test]
    fn hpa_bounds_edits_may_not_move_the_replicas_past_the_step() {
        // Running 8: a max of 3 would drop 5 pods at the HPA's next sync.
        let s = state(8, true);
        let b = |to| Change::HpaBounds {
            hpa: "app".into(),
            from: (2, 10),
            to,
        };
        assert!(matches!(
            check(&plan(b((2, 3))), &s, LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("8 → 3 replicas exceeds the maximum step of 4")
        ));
        assert_eq!(check(&plan(b((2, 4))), &s, LIMITS), Ok(()));
        // A min of 14 would add 6.
        let s = state(8, true);
        let wide = Change::HpaBounds {
            hpa: "app".into(),
            from: (2, 10),
            to: (14, 20),
        };
        assert!(check(&plan(wide), &s, LIMITS).is_err());
        // Creating an HPA clamps the replicas the same way.
        let create = Change::CreateHpa {
            spec: crate::cluster::HpaSpec {
                min_replicas: 1,
                max_replicas: 3,
                target_cpu_pct: Some(70),
                target_mem_pct: None,
            },
        };
        assert!(matches!(
            check(&plan(create), &state(8, false), LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("maximum step")
        ));
    }

    #[test]
    fn the_cap_holds_whatever_the_max_annotation_says() {
        // Anyone who can patch the deployment can set ai4k8s.io/max-replicas to 100000.
        let s = DeploymentState {
            desired_replicas: 98,
            max_replicas: 100_000,
            annotated_bounds: (None, Some(100_000)),
            ..state(98, false)
        };
        assert!(matches!(
            check(&plan(Change::Scale { from: 98, to: 102 }), &s, LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("above the cap of 100")
        ));
        assert_eq!(
            check(&plan(Change::Scale { from: 98, to: 100 }), &s, LIMITS),
            Ok(())
        );
        let mut h = state(98, true);
        h.max_replicas = 100_000;
        if let Some(hpa) = h.hpa.as_mut() {
            hpa.max_replicas = 100_000;
        }
        let min = Change::HpaMin {
            hpa: "app".into(),
            from: 2,
            to: 101,
        };
        assert!(matches!(
            check(&plan(min), &h, LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("cap")
        ));
        let annotate = Change::BoundsAnnotations {
            from: (None, Some(100_000)),
            to: (None, Some(200_000)),
        };
        assert!(matches!(
            check(&plan(annotate), &s, LIMITS),
            Err(Refusal::OutOfBounds(m)) if m.contains("cap")
        ));
    }

    #[test]
    fn bound_annotations_and_hpa_names_must_match_what_the_cluster_shows() {
        let s = state(4, true);
        let annotate = Change::BoundsAnnotations {
            from: (Some(1), Some(5)),
            to: (Some(2), Some(8)),
        };
        assert!(matches!(
            check(&plan(annotate), &s, LIMITS),
            Err(Refusal::Stale(m)) if m.contains("[-, -] now, not [1, 5]")
        ));
        let other = Change::HpaMin {
            hpa: "other".into(),
            from: 2,
            to: 3,
        };
        assert!(matches!(
            check(&plan(other), &s, LIMITS),
            Err(Refusal::Stale(m)) if m.contains("hpa/app now, not hpa/other")
        ));
    }
}
