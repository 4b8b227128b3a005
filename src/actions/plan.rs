//! What a write will change, before it is made: a `Plan` is a list of `Change`s on one
//! deployment, each naming the object and field, with the equivalent `kubectl` command. The
//! confirm dialog shows it, the guard checks it, the journal records it, undo inverts it.

use serde::{Deserialize, Serialize};

use crate::cluster::HpaSpec;
use crate::cluster::change::{Change, replicas_after};
use crate::model::{
    DeploymentKey, DeploymentState, FloorMark, Ownership, PolicyChange, Recommendation,
};

/// What kind of user action a plan carries out (journal `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Apply,
    Edit,
    Scale,
    Undo,
    Predictive,
    CreateHpa,
    Autopilot,
}

/// A set of changes to one deployment, checked and journalled as one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub key: DeploymentKey,
    pub intent: Intent,
    pub changes: Vec<Change>,
    /// Why: the recommendation's reasoning, or what the user asked for.
    pub reason: String,
    /// The recommendation being applied, if any.
    pub recommendation: Option<Box<Recommendation>>,
    /// A note for the dialog (e.g. "the HPA will override a manual scale").
    pub warning: Option<String>,
    /// Who else owns the deployment's scaling when the plan was made (KEDA, a VPA, GitOps):
    /// the dialog warns from it and offers the change as a patch for git.
    #[serde(default, skip_serializing_if = "Ownership::is_empty")]
    pub ownership: Ownership,
}

impl Plan {
    pub fn describe(&self) -> Vec<String> {
        self.changes.iter().map(|c| c.describe(&self.key)).collect()
    }

    pub fn kubectl(&self) -> Vec<String> {
        self.changes.iter().map(|c| c.kubectl(&self.key)).collect()
    }

    /// The plan that restores the state before this one; None if something cannot be undone.
    pub fn inverse(&self) -> Option<Plan> {
        let changes: Option<Vec<Change>> = self.changes.iter().rev().map(Change::inverse).collect();
        Some(Plan {
            key: self.key.clone(),
            intent: Intent::Undo,
            changes: changes?,
            reason: format!("undo {:?}", self.intent).to_lowercase(),
            recommendation: None,
            warning: None,
            ownership: self.ownership.clone(),
        })
    }
}

/// Why a recommendation has nothing to apply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NothingToApply {
    #[error("maintain: nothing to change")]
    Maintain,
    #[error("at max ({0}): raise the maximum with e, nothing to apply")]
    AtMax(u32),
    #[error("already at {0} replicas")]
    AlreadyThere(u32),
    #[error("the HPA's minReplicas is already {0}")]
    HpaAlreadyThere(u32),
    #[error("the HPA's CPU target is already {0} %")]
    TargetAlreadyThere(u32),
    #[error("the recommendation was made for an HPA the deployment no longer has")]
    NoHpa,
    #[error("the HPA has no CPU utilization target to move")]
    NoCpuTarget,
    #[error("hpa/{0} scales this deployment: a /scale would be undone; apply a floor instead")]
    HpaManaged(String),
    /// The app cannot know a write is safe (see `WriteBlock`).
    #[error("nothing applied: {0}")]
    Blocked(String),
    /// KEDA makes the HPA's metrics from the ScaledObject's triggers and would put a moved CPU
    /// target back: the app leaves triggers to their owner.
    #[error(
        "scaledobject/{0} owns the HPA's metrics (its triggers): change the trigger there; nothing applied"
    )]
    KedaTriggers(String),
}

/// The changes that carry out a policy change on the deployment as it is now: the HPA's
/// minReplicas (a floor, with the `ai4k8s.io/floor` mark the hold times are read from) or its
/// CPU target when it has an HPA, never spec.replicas (the HPA would undo it); `/scale` when
/// it has none. The user's bounds are kept in the seed's annotations before the first floor
/// moves, so a release can bring minReplicas back to them. `at` is the decision's time.
pub fn changes_for(
    state: &DeploymentState,
    change: &PolicyChange,
    at: crate::model::UnixSeconds,
) -> Result<Vec<Change>, NothingToApply> {
    let mark = |raised: bool, until: Option<i64>| Change::FloorMark {
        from: state.floor_mark,
        to: Some(FloorMark { raised, at, until }),
    };
    let keep_bounds = |h: &crate::model::HpaState| {
        (state.annotated_bounds == (None, None)).then_some(Change::BoundsAnnotations {
            from: (None, None),
            to: (Some(h.min_replicas), Some(h.max_replicas)),
        })
    };
    let floor = |to: u32, raised: bool, until: Option<i64>| {
        let h = state.hpa.as_ref().ok_or(NothingToApply::NoHpa)?;
        // A KEDA-owned HPA's floor is its ScaledObject's minReplicaCount (KEDA copies it in).
        let (from, write) = match &state.ownership.keda {
            Some(k) => (
                k.min_replica_count,
                Change::ScaledObjectMin {
                    scaled_object: k.name.clone(),
                    from: k.min_replica_count,
                    to,
                },
            ),
            None => (
                h.min_replicas,
                Change::HpaMin {
                    hpa: h.name.clone(),
                    from: h.min_replicas,
                    to,
                },
            ),
        };
        if from == to {
            return Err(NothingToApply::HpaAlreadyThere(to));
        }
        let mut out: Vec<Change> = keep_bounds(h).into_iter().collect();
        out.push(write);
        out.push(mark(raised, until));
        Ok(out)
    };
    if let Some(block) = &state.write_block {
        return Err(NothingToApply::Blocked(block.to_string()));
    }
    match change {
        PolicyChange::Maintain => Err(NothingToApply::Maintain),
        PolicyChange::AtMax => Err(NothingToApply::AtMax(state.max_replicas)),
        PolicyChange::Floor { to, until, .. } => floor(*to, true, Some(*until)),
        PolicyChange::Release { to, .. } => floor(*to, false, None),
        PolicyChange::Target { to, .. } => {
            let h = state.hpa.as_ref().ok_or(NothingToApply::NoHpa)?;
            if let Some(k) = &state.ownership.keda {
                return Err(NothingToApply::KedaTriggers(k.name.clone()));
            }
            let from = h.target_cpu_pct.ok_or(NothingToApply::NoCpuTarget)?;
            if from == *to {
                return Err(NothingToApply::TargetAlreadyThere(from));
            }
            Ok(vec![Change::HpaTarget {
                hpa: h.name.clone(),
                from,
                to: *to,
            }])
        }
        PolicyChange::Replicas { to, .. } => {
            if let Some(h) = &state.hpa {
                return Err(NothingToApply::HpaManaged(h.name.clone()));
            }
            if state.desired_replicas == *to {
                return Err(NothingToApply::AlreadyThere(*to));
            }
            Ok(vec![
                Change::Scale {
                    from: state.desired_replicas,
                    to: *to,
                },
                mark(*to > state.desired_replicas, None),
            ])
        }
    }
}

/// How a recommendation is applied: its policy change, carried out on the deployment as it is
/// now (`changes_for`).
pub fn plan_apply(state: &DeploymentState, rec: &Recommendation) -> Result<Plan, NothingToApply> {
    let changes = changes_for(state, &rec.change, rec.inputs.observed_at)?;
    Ok(Plan {
        key: state.key.clone(),
        intent: Intent::Apply,
        changes,
        reason: rec.decision.reasoning.clone(),
        recommendation: Some(Box::new(rec.clone())),
        warning: None,
        ownership: state.ownership.clone(),
    })
}

/// Editing min/max: the HPA's bounds when there is one, and the seed's annotations always (so
/// the bounds survive an HPA being removed and apply to deployments without one).
pub fn plan_edit_bounds(
    state: &DeploymentState,
    min: u32,
    max: u32,
    annotated: (Option<u32>, Option<u32>),
) -> Plan {
    let mut changes = Vec::new();
    if let Some(k) = &state.ownership.keda {
        // KEDA writes the HPA's bounds from its ScaledObject: that is where they change.
        let from = (k.min_replica_count, k.max_replica_count);
        if from != (min, max) {
            changes.push(Change::ScaledObjectBounds {
                scaled_object: k.name.clone(),
                from,
                to: (min, max),
            });
        }
    } else if let Some(h) = &state.hpa
        && (h.min_replicas, h.max_replicas) != (min, max)
    {
        changes.push(Change::HpaBounds {
            hpa: h.name.clone(),
            from: (h.min_replicas, h.max_replicas),
            to: (min, max),
        });
    }
    if annotated != (Some(min), Some(max)) {
        changes.push(Change::BoundsAnnotations {
            from: annotated,
            to: (Some(min), Some(max)),
        });
    }
    // Say when the HPA will move the running replicas to fit the new bounds.
    let now = state.desired_replicas;
    let warning = changes
        .iter()
        .find_map(|c| match (c, replicas_after(c, state)) {
            (Change::HpaBounds { hpa, .. }, Some(after)) if after != now => Some(format!(
                "hpa/{hpa} will move the running replicas {now} → {after} at its next sync"
            )),
            (Change::ScaledObjectBounds { scaled_object, .. }, Some(after)) if after != now => {
                Some(format!(
                    "KEDA will copy scaledobject/{scaled_object}'s counts into its HPA, which \
                     moves the running replicas {now} → {after}"
                ))
            }
            _ => None,
        });
    Plan {
        key: state.key.clone(),
        intent: Intent::Edit,
        changes,
        reason: format!("bounds set to [{min}, {max}] by hand"),
        recommendation: None,
        warning,
        ownership: state.ownership.clone(),
    }
}

/// Scaling by hand through `/scale` (the guard refuses it when an HPA scales the deployment).
pub fn plan_scale(state: &DeploymentState, replicas: u32) -> Plan {
    Plan {
        key: state.key.clone(),
        intent: Intent::Scale,
        changes: vec![Change::Scale {
            from: state.desired_replicas,
            to: replicas,
        }],
        reason: format!("scaled to {replicas} by hand"),
        recommendation: None,
        warning: None,
        ownership: state.ownership.clone(),
    }
}

pub fn plan_predictive(state: &DeploymentState) -> Plan {
    let to = !state.predictive_enabled;
    Plan {
        key: state.key.clone(),
        intent: Intent::Predictive,
        changes: vec![Change::Predictive {
            from: state.predictive_enabled,
            to,
        }],
        reason: if to {
            "predictive autoscaling enabled".into()
        } else {
            "predictive autoscaling disabled".into()
        },
        recommendation: None,
        warning: None,
        ownership: state.ownership.clone(),
    }
}

pub fn plan_create_hpa(state: &DeploymentState, spec: HpaSpec) -> Plan {
    Plan {
        key: state.key.clone(),
        intent: Intent::CreateHpa,
        changes: vec![Change::CreateHpa { spec }],
        reason: "HPA created by hand".into(),
        recommendation: None,
        warning: None,
        ownership: state.ownership.clone(),
    }
}

/// What moved between the plan the user confirmed and the same request re-made from a fresh
/// read, field by field: "hpa/web spec.minReplicas 2 → 5" (the value planned from → now).
pub fn what_changed(confirmed: &Plan, again: &Plan) -> Vec<String> {
    let key = &confirmed.key;
    let mut out = Vec::new();
    for c in &confirmed.changes {
        let (object, field, from, _) = c.fields(key);
        let now = again.changes.iter().find_map(|a| {
            let (o, f, from, _) = a.fields(key);
            (o == object && f == field).then_some(from)
        });
        match now {
            Some(now) if now != from => out.push(format!("{object} {field} {from} → {now}")),
            Some(_) => {}
            None => out.push(format!("{object} {field}: no longer part of the change")),
        }
    }
    out
}

/// The same request made again from a fresh read of the deployment (after a 409): the targets
/// stay, the "from" values are today's. None when the request no longer applies.
pub fn replan(plan: &Plan, fresh: &DeploymentState) -> Option<Plan> {
    match plan.intent {
        Intent::Apply | Intent::Autopilot => {
            let rec = plan.recommendation.as_deref()?;
            plan_apply(fresh, rec).ok().map(|p| Plan {
                intent: plan.intent,
                ..p
            })
        }
        Intent::Edit => plan
            .changes
            .iter()
            .find_map(|c| match c {
                Change::HpaBounds { to, .. } | Change::ScaledObjectBounds { to, .. } => Some(*to),
                Change::BoundsAnnotations {
                    to: (Some(min), Some(max)),
                    ..
                } => Some((*min, *max)),
                _ => None,
            })
            .map(|(min, max)| plan_edit_bounds(fresh, min, max, fresh.annotated_bounds)),
        Intent::Scale => plan.changes.iter().find_map(|c| match c {
            Change::Scale { to, .. } => Some(plan_scale(fresh, *to)),
            _ => None,
        }),
        Intent::Predictive => Some(plan_predictive(fresh)),
        Intent::Undo | Intent::CreateHpa => None,
    }
}

/// After a 409 or a stale read: what changed under the user ("changed: hpa/web
/// spec.minReplicas 2 → 5"), and whether the same request, re-made, waits for a confirmation.
pub fn conflict_message(reason: &str, original: Option<&Plan>, again: Option<&Plan>) -> String {
    let changed = original
        .zip(again)
        .map(|(o, a)| what_changed(o, a))
        .unwrap_or_default();
    let what = if changed.is_empty() {
        format!("changed on the server ({reason})")
    } else {
        format!("changed: {}", changed.join("; "))
    };
    if again.is_some() {
        format!("{what}: nothing applied; confirm again")
    } else {
        format!("{what}: nothing applied, and the request no longer applies")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HpaState;

    fn state(hpa: bool) -> DeploymentState {
        DeploymentState::fixture("shop", "web")
            .with_replicas(4)
            .with_bounds(2, 10)
            .with_usage(Some(50.0), None)
            .with_hpa(hpa.then(|| HpaState::fixture("web", 2, 10)))
            .with_predictive(true)
    }

    #[test]
    fn policy_changes_become_hpa_writes_and_never_a_scale_on_an_hpa() {
        let s = state(true);
        let floor = PolicyChange::Floor {
            hpa: "web".into(),
            from: 2,
            to: 6,
            until: 900,
        };
        let c = changes_for(&s, &floor, 100).expect("a floor");
        assert_eq!(
            c,
            vec![
                Change::BoundsAnnotations {
                    from: (None, None),
                    to: (Some(2), Some(10))
                },
                Change::HpaMin {
                    hpa: "web".into(),
                    from: 2,
                    to: 6
                },
                Change::FloorMark {
                    from: None,
                    to: Some(FloorMark {
                        raised: true,
                        at: 100,
                        until: Some(900)
                    })
                },
            ]
        );
        let target = PolicyChange::Target {
            hpa: "web".into(),
            from: 70,
            to: 85,
        };
        assert_eq!(
            changes_for(&s, &target, 100),
            Ok(vec![Change::HpaTarget {
                hpa: "web".into(),
                from: 70,
                to: 85
            }])
        );
        let replicas = PolicyChange::Replicas { from: 4, to: 6 };
        assert_eq!(
            changes_for(&s, &replicas, 100),
            Err(NothingToApply::HpaManaged("web".into()))
        );
        // Without an HPA the same change is a /scale (with the mark the hold is read from).
        let c = changes_for(&state(false), &replicas, 100).expect("a scale");
        assert_eq!(c[0], Change::Scale { from: 4, to: 6 });
        assert!(matches!(c[1], Change::FloorMark { to: Some(m), .. } if m.raised));
        assert_eq!(
            changes_for(&state(false), &floor, 100),
            Err(NothingToApply::NoHpa)
        );
        assert_eq!(
            changes_for(&s, &PolicyChange::Maintain, 100),
            Err(NothingToApply::Maintain)
        );
    }

    #[test]
    fn a_keda_owned_hpa_is_changed_through_its_scaled_object_and_its_triggers_are_left_alone() {
        let s = state(true).keda_owned("web-so", 2, 10);
        let floor = PolicyChange::Floor {
            hpa: "web".into(),
            from: 2,
            to: 6,
            until: 900,
        };
        let c = changes_for(&s, &floor, 100).expect("a floor");
        assert_eq!(
            c[1],
            Change::ScaledObjectMin {
                scaled_object: "web-so".into(),
                from: 2,
                to: 6
            }
        );
        assert!(!c.iter().any(|c| matches!(c, Change::HpaMin { .. })));
        let target = PolicyChange::Target {
            hpa: "web".into(),
            from: 70,
            to: 85,
        };
        assert_eq!(
            changes_for(&s, &target, 100),
            Err(NothingToApply::KedaTriggers("web-so".into()))
        );
        let edit = plan_edit_bounds(&s, 3, 12, (None, None));
        assert_eq!(
            edit.changes[0],
            Change::ScaledObjectBounds {
                scaled_object: "web-so".into(),
                from: (2, 10),
                to: (3, 12)
            }
        );
        assert_eq!(edit.ownership, s.ownership, "the dialog knows the owners");
        // Undo restores the ScaledObject, not the HPA.
        let undo = edit.inverse().expect("undoable");
        assert!(matches!(
            undo.changes.last(),
            Some(Change::ScaledObjectBounds { to: (2, 10), .. })
        ));
    }
}
