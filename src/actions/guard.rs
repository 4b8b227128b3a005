//! The guard every write passes, whoever asks (TUI, autopilot, undo): replica counts stay within
//! the deployment's [min, max] and within the maximum step of the live value; bounds stay
//! within 1 ≤ min ≤ max ≤ the cap; and every change must start from what the cluster shows now
//! (otherwise someone else changed it: re-read and ask again).

use crate::model::DeploymentState;

use super::plan::{Change, Plan};

/// Limits the guard enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest change of replicas one write may make.
    pub max_step: u32,
    /// Highest maxReplicas an edit may set.
    pub replicas_cap: u32,
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
    #[error("nothing to change")]
    Empty,
}

/// Check `plan` against the live `state` of its deployment.
pub fn check(plan: &Plan, state: &DeploymentState, limits: Limits) -> Result<(), Refusal> {
    if plan.changes.is_empty() {
        return Err(Refusal::Empty);
    }
    for change in &plan.changes {
        check_change(change, state, limits)?;
    }
    Ok(())
}

fn check_change(change: &Change, state: &DeploymentState, limits: Limits) -> Result<(), Refusal> {
    let out = |m: String| Err(Refusal::OutOfBounds(m));
    let step_ok = |from: u32, to: u32| from.abs_diff(to) <= limits.max_step;
    match change {
        Change::Scale { from, to } => {
            if *from != state.desired_replicas {
                return Err(Refusal::Stale(format!(
                    "replicas are {} now, not {from}",
                    state.desired_replicas
                )));
            }
            let (min, max) = (state.min_replicas, state.max_replicas);
            if !(min..=max).contains(to) {
                return out(format!("{to} replicas is outside [{min}, {max}]"));
            }
            if !step_ok(*from, *to) {
                return out(format!(
                    "{from} → {to} exceeds the maximum step of {}",
                    limits.max_step
                ));
            }
        }
        Change::HpaMin { from, to, .. } => {
            let Some(h) = &state.hpa else {
                return Err(Refusal::Stale("the HPA is gone".into()));
            };
            if *from != h.min_replicas {
                return Err(Refusal::Stale(format!(
                    "minReplicas is {} now, not {from}",
                    h.min_replicas
                )));
            }
            // The deployment's bounds (the seed's annotations when set) frame the HPA's min.
            let (lo, hi) = (
                state.min_replicas.max(1),
                state.max_replicas.min(h.max_replicas),
            );
            if !(lo..=hi).contains(to) {
                return out(format!("minReplicas {to} is outside [{lo}, {hi}]"));
            }
            // Pre-scaling moves the replica count to `to`: bound the jump from today's count.
            if *to > state.desired_replicas && !step_ok(state.desired_replicas, *to) {
                return out(format!(
                    "{} → {to} exceeds the maximum step of {}",
                    state.desired_replicas, limits.max_step
                ));
            }
        }
        Change::HpaBounds { from, to, .. } => {
            let Some(h) = &state.hpa else {
                return Err(Refusal::Stale("the HPA is gone".into()));
            };
            if *from != (h.min_replicas, h.max_replicas) {
                return Err(Refusal::Stale(format!(
                    "bounds are [{}, {}] now",
                    h.min_replicas, h.max_replicas
                )));
            }
            check_bounds(to.0, to.1, limits)?;
        }
        Change::HpaTarget { from, to, .. } => {
            let Some(h) = &state.hpa else {
                return Err(Refusal::Stale("the HPA is gone".into()));
            };
            if h.target_cpu_pct != Some(*from) {
                return Err(Refusal::Stale(format!(
                    "the CPU target is {} now, not {from} %",
                    h.target_cpu_pct
                        .map_or("unset".to_string(), |t| format!("{t} %"))
                )));
            }
            if !(1..=100).contains(to) {
                return out(format!("a CPU target of {to} % is outside 1..=100 %"));
            }
        }
        Change::FloorMark { from, .. } => {
            if *from != state.floor_mark {
                return Err(Refusal::Stale("the floor mark changed".into()));
            }
        }
        Change::BoundsAnnotations { to, .. } => {
            if let (Some(min), Some(max)) = *to {
                check_bounds(min, max, limits)?;
            }
        }
        Change::Predictive { from, .. } => {
            if *from != state.predictive_enabled {
                return Err(Refusal::Stale("the predictive annotation changed".into()));
            }
        }
        Change::CreateHpa { spec } => {
            if state.hpa.is_some() {
                return Err(Refusal::Stale("the deployment has an HPA now".into()));
            }
            check_bounds(spec.min_replicas, spec.max_replicas, limits)?;
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
        DeploymentState {
            key: DeploymentKey::new("ns", "app"),
            desired_replicas: replicas,
            ready_replicas: replicas,
            total_pods: replicas,
            min_replicas: 2,
            max_replicas: 10,
            cpu_request_millis: 100,
            mem_request_mib: 100,
            cpu_pct: Some(50.0),
            mem_pct: Some(50.0),
            hpa: hpa.then(|| HpaState {
                name: "app".into(),
                min_replicas: 2,
                max_replicas: 10,
                target_cpu_pct: Some(70),
                target_mem_pct: None,
                current_replicas: replicas,
                desired_replicas: replicas,
                scaling_status: "stable".into(),
                last_scale_time: None,
                metrics: Vec::new(),
            }),
            predictive_enabled: false,
            annotated_bounds: (None, None),
            floor_mark: None,
        }
    }

    fn plan(change: Change) -> Plan {
        Plan {
            key: DeploymentKey::new("ns", "app"),
            intent: Intent::Apply,
            changes: vec![change],
            reason: String::new(),
            recommendation: None,
            warning: None,
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
}
