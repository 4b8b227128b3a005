//! One write, as one field of one object from one value to another: what a plan is made of,
//! what the guard checks, the journal records, undo inverts and the `Cluster` trait takes.
//! `Change::operation` is the one mapping from a change to what the API is asked to do, shared
//! by every implementation of the trait.

use serde::{Deserialize, Serialize};

use super::{HpaExpect, HpaSpec, annotations};
use crate::model::{DeploymentKey, DeploymentState, FloorMark};

/// One field of one object, from one value to another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// `deployments/scale` spec.replicas.
    Scale { from: u32, to: u32 },
    /// The HPA's spec.minReplicas (pre-scaling: the HPA keeps acting above it).
    HpaMin { hpa: String, from: u32, to: u32 },
    /// The HPA's CPU target (averageUtilization of its CPU Resource metric), % of requests.
    HpaTarget { hpa: String, from: u32, to: u32 },
    /// The policy's `ai4k8s.io/floor` mark on the deployment (None: absent).
    FloorMark {
        from: Option<FloorMark>,
        to: Option<FloorMark>,
    },
    /// The HPA's spec.minReplicas and spec.maxReplicas.
    HpaBounds {
        hpa: String,
        from: (u32, u32),
        to: (u32, u32),
    },
    /// The seed's min/max annotations on the deployment (None: absent).
    BoundsAnnotations {
        from: (Option<u32>, Option<u32>),
        to: (Option<u32>, Option<u32>),
    },
    /// The seed's predictive-autoscaling annotation.
    Predictive { from: bool, to: bool },
    /// A new HPA (the seed's HPA manager); undone by nothing: delete it with kubectl.
    CreateHpa { spec: HpaSpec },
    /// A KEDA ScaledObject's spec.minReplicaCount: the floor of a KEDA-owned HPA (KEDA
    /// rewrites the HPA's minReplicas from it, so the HPA itself is never patched).
    ScaledObjectMin {
        scaled_object: String,
        from: u32,
        to: u32,
    },
    /// A KEDA ScaledObject's spec.minReplicaCount and spec.maxReplicaCount: the bounds of a
    /// KEDA-owned HPA.
    ScaledObjectBounds {
        scaled_object: String,
        from: (u32, u32),
        to: (u32, u32),
    },
}

/// What the API is asked to do for a change (`Change::operation`): the calls a `Cluster`
/// implementation makes, each carrying what the object must still show where that matters.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    /// Set spec.replicas through the `/scale` subresource (absolute, like `kubectl scale`).
    Scale { replicas: u32 },
    /// Set the bounds (None: left as it is) of the deployment's HPA, the one `expect` names,
    /// while it shows the values `expect` gives.
    PatchHpa {
        expect: HpaExpect,
        min_replicas: Option<u32>,
        max_replicas: Option<u32>,
    },
    /// Set the CPU utilization target (% of requests) of the deployment's HPA, its other
    /// metrics untouched, under the same `expect` as `PatchHpa`.
    PatchHpaTarget { expect: HpaExpect, cpu_pct: u32 },
    /// Set (Some) or remove (None) annotations on the deployment.
    Annotate {
        changes: Vec<(String, Option<String>)>,
    },
    /// Create an HPA for a deployment that has none.
    CreateHpa { spec: HpaSpec },
    /// Merge-patch a KEDA ScaledObject's counts (None: left as it is), while it shows the
    /// values `expect` gives.
    PatchScaledObject {
        expect: ScaledObjectExpect,
        min_replica_count: Option<u32>,
        max_replica_count: Option<u32>,
    },
}

/// The ScaledObject a patch was planned on and the counts it starts from (None: not part of
/// the plan): like `HpaExpect`, a patch goes through only while the object still shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaledObjectExpect {
    pub name: String,
    pub min_replica_count: Option<u32>,
    pub max_replica_count: Option<u32>,
}

impl ScaledObjectExpect {
    /// What differs between the expectation and the ScaledObject as read (its counts with
    /// KEDA's defaults applied), as a `Conflict` saying "changed: scaledobject/web …".
    pub fn check(&self, min: u32, max: u32) -> Result<(), super::ClusterError> {
        let mut parts = Vec::new();
        if let Some(e) = self.min_replica_count.filter(|e| *e != min) {
            parts.push(format!("spec.minReplicaCount {e} → {min}"));
        }
        if let Some(e) = self.max_replica_count.filter(|e| *e != max) {
            parts.push(format!("spec.maxReplicaCount {e} → {max}"));
        }
        if parts.is_empty() {
            Ok(())
        } else {
            Err(super::ClusterError::Conflict(format!(
                "changed: scaledobject/{} {}",
                self.name,
                parts.join(", ")
            )))
        }
    }

    /// The merge patch that sets the counts.
    pub fn patch_body(min: Option<u32>, max: Option<u32>) -> serde_json::Value {
        let mut spec = serde_json::Map::new();
        if let Some(v) = min {
            spec.insert("minReplicaCount".into(), v.into());
        }
        if let Some(v) = max {
            spec.insert("maxReplicaCount".into(), v.into());
        }
        serde_json::json!({ "spec": spec })
    }
}

impl Change {
    /// What the API is asked to do: the one mapping every `Cluster` implementation follows.
    /// HPA patches expect the HPA the change names to still show the change's `from`, so a
    /// change made from values someone has since moved stops instead of overwriting theirs.
    pub fn operation(&self) -> Operation {
        let expect = |hpa: &str| HpaExpect {
            name: hpa.to_string(),
            ..HpaExpect::default()
        };
        match self {
            Change::Scale { to, .. } => Operation::Scale { replicas: *to },
            Change::HpaMin { hpa, from, to } => Operation::PatchHpa {
                expect: HpaExpect {
                    min_replicas: Some(*from),
                    ..expect(hpa)
                },
                min_replicas: Some(*to),
                max_replicas: None,
            },
            Change::HpaBounds { hpa, from, to } => Operation::PatchHpa {
                expect: HpaExpect {
                    min_replicas: Some(from.0),
                    max_replicas: Some(from.1),
                    ..expect(hpa)
                },
                min_replicas: Some(to.0),
                max_replicas: Some(to.1),
            },
            Change::HpaTarget { hpa, from, to } => Operation::PatchHpaTarget {
                expect: HpaExpect {
                    cpu_target_pct: Some(*from),
                    ..expect(hpa)
                },
                cpu_pct: *to,
            },
            Change::FloorMark { to, .. } => Operation::Annotate {
                changes: vec![(
                    annotations::FLOOR.to_string(),
                    to.map(|m| m.to_annotation()),
                )],
            },
            Change::BoundsAnnotations { to, .. } => Operation::Annotate {
                changes: vec![
                    (
                        annotations::MIN_REPLICAS.to_string(),
                        to.0.map(|v| v.to_string()),
                    ),
                    (
                        annotations::MAX_REPLICAS.to_string(),
                        to.1.map(|v| v.to_string()),
                    ),
                ],
            },
            Change::Predictive { to, .. } => Operation::Annotate {
                changes: vec![(
                    annotations::PREDICTIVE.to_string(),
                    to.then(|| "true".to_string()),
                )],
            },
            Change::CreateHpa { spec } => Operation::CreateHpa { spec: spec.clone() },
            Change::ScaledObjectMin {
                scaled_object,
                from,
                to,
            } => Operation::PatchScaledObject {
                expect: ScaledObjectExpect {
                    name: scaled_object.clone(),
                    min_replica_count: Some(*from),
                    max_replica_count: None,
                },
                min_replica_count: Some(*to),
                max_replica_count: None,
            },
            Change::ScaledObjectBounds {
                scaled_object,
                from,
                to,
            } => Operation::PatchScaledObject {
                expect: ScaledObjectExpect {
                    name: scaled_object.clone(),
                    min_replica_count: Some(from.0),
                    max_replica_count: Some(from.1),
                },
                min_replica_count: Some(to.0),
                max_replica_count: Some(to.1),
            },
        }
    }

    /// The change that restores what this one replaced; None when it cannot be undone here.
    pub fn inverse(&self) -> Option<Change> {
        Some(match self {
            Change::Scale { from, to } => Change::Scale {
                from: *to,
                to: *from,
            },
            Change::HpaMin { hpa, from, to } => Change::HpaMin {
                hpa: hpa.clone(),
                from: *to,
                to: *from,
            },
            Change::HpaBounds { hpa, from, to } => Change::HpaBounds {
                hpa: hpa.clone(),
                from: *to,
                to: *from,
            },
            Change::HpaTarget { hpa, from, to } => Change::HpaTarget {
                hpa: hpa.clone(),
                from: *to,
                to: *from,
            },
            Change::FloorMark { from, to } => Change::FloorMark {
                from: *to,
                to: *from,
            },
            Change::BoundsAnnotations { from, to } => Change::BoundsAnnotations {
                from: *to,
                to: *from,
            },
            Change::Predictive { from, to } => Change::Predictive {
                from: *to,
                to: *from,
            },
            Change::CreateHpa { .. } => return None,
            Change::ScaledObjectMin {
                scaled_object,
                from,
                to,
            } => Change::ScaledObjectMin {
                scaled_object: scaled_object.clone(),
                from: *to,
                to: *from,
            },
            Change::ScaledObjectBounds {
                scaled_object,
                from,
                to,
            } => Change::ScaledObjectBounds {
                scaled_object: scaled_object.clone(),
                from: *to,
                to: *from,
            },
        })
    }

    /// A line for the confirm dialog: the object, the field, before → after.
    pub fn describe(&self, key: &DeploymentKey) -> String {
        match self {
            Change::Scale { from, to } => {
                format!("deployment/{} scale: spec.replicas {from} → {to}", key.name)
            }
            Change::HpaMin { hpa, from, to } => {
                format!("hpa/{hpa}: spec.minReplicas {from} → {to}")
            }
            Change::HpaBounds { hpa, from, to } => format!(
                "hpa/{hpa}: spec.minReplicas {} → {}, spec.maxReplicas {} → {}",
                from.0, to.0, from.1, to.1
            ),
            Change::HpaTarget { hpa, from, to } => {
                format!("hpa/{hpa}: cpu averageUtilization {from} % → {to} %")
            }
            Change::FloorMark { from, to } => format!(
                "deployment/{}: annotation {} {} → {}",
                key.name,
                annotations::FLOOR,
                mark(from),
                mark(to)
            ),
            Change::BoundsAnnotations { from, to } => format!(
                "deployment/{}: annotations min {} → {}, max {} → {}",
                key.name,
                opt(from.0),
                opt(to.0),
                opt(from.1),
                opt(to.1)
            ),
            Change::Predictive { from, to } => format!(
                "deployment/{}: annotation {} {from} → {to}",
                key.name,
                annotations::PREDICTIVE
            ),
            Change::CreateHpa { spec } => format!(
                "create hpa/{}: min {} max {} cpu {} memory {}",
                key.name,
                spec.min_replicas,
                spec.max_replicas,
                spec.target_cpu_pct.map_or("-".into(), |c| format!("{c}%")),
                spec.target_mem_pct.map_or("-".into(), |m| format!("{m}%")),
            ),
            Change::ScaledObjectMin {
                scaled_object,
                from,
                to,
            } => format!(
                "scaledobject/{scaled_object} (keda.sh/v1alpha1, owns its HPA): \
                 spec.minReplicaCount {from} → {to}"
            ),
            Change::ScaledObjectBounds {
                scaled_object,
                from,
                to,
            } => format!(
                "scaledobject/{scaled_object} (keda.sh/v1alpha1, owns its HPA): \
                 spec.minReplicaCount {} → {}, spec.maxReplicaCount {} → {}",
                from.0, to.0, from.1, to.1
            ),
        }
    }

    /// (object, field, from, to) as `recommend -o json` reports them.
    pub fn fields(&self, key: &DeploymentKey) -> (String, String, String, String) {
        let dep = format!("deployment/{}", key.name);
        let o = |v: &Option<u32>| opt(*v);
        let m = |v: &Option<FloorMark>| v.map(|m| m.to_annotation()).unwrap_or_default();
        match self {
            Change::Scale { from, to } => (
                format!("{dep}/scale"),
                "spec.replicas".into(),
                from.to_string(),
                to.to_string(),
            ),
            Change::HpaMin { hpa, from, to } => (
                format!("hpa/{hpa}"),
                "spec.minReplicas".into(),
                from.to_string(),
                to.to_string(),
            ),
            Change::HpaTarget { hpa, from, to } => (
                format!("hpa/{hpa}"),
                "spec.metrics[cpu].target.averageUtilization".into(),
                from.to_string(),
                to.to_string(),
            ),
            Change::FloorMark { from, to } => (
                dep,
                format!("metadata.annotations[{}]", annotations::FLOOR),
                m(from),
                m(to),
            ),
            Change::HpaBounds { hpa, from, to } => (
                format!("hpa/{hpa}"),
                "spec.minReplicas,spec.maxReplicas".into(),
                format!("{},{}", from.0, from.1),
                format!("{},{}", to.0, to.1),
            ),
            Change::BoundsAnnotations { from, to } => (
                dep,
                format!(
                    "metadata.annotations[{},{}]",
                    annotations::MIN_REPLICAS,
                    annotations::MAX_REPLICAS
                ),
                format!("{},{}", o(&from.0), o(&from.1)),
                format!("{},{}", o(&to.0), o(&to.1)),
            ),
            Change::Predictive { from, to } => (
                dep,
                format!("metadata.annotations[{}]", annotations::PREDICTIVE),
                from.to_string(),
                to.to_string(),
            ),
            Change::CreateHpa { spec } => (
                format!("hpa/{}", key.name),
                "(new object)".into(),
                String::new(),
                format!("min {} max {}", spec.min_replicas, spec.max_replicas),
            ),
            Change::ScaledObjectMin {
                scaled_object,
                from,
                to,
            } => (
                format!("scaledobject/{scaled_object}"),
                "spec.minReplicaCount".into(),
                from.to_string(),
                to.to_string(),
            ),
            Change::ScaledObjectBounds {
                scaled_object,
                from,
                to,
            } => (
                format!("scaledobject/{scaled_object}"),
                "spec.minReplicaCount,spec.maxReplicaCount".into(),
                format!("{},{}", from.0, from.1),
                format!("{},{}", to.0, to.1),
            ),
        }
    }

    /// The `kubectl` command that makes the same change.
    pub fn kubectl(&self, key: &DeploymentKey) -> String {
        let ns = &key.namespace;
        let name = &key.name;
        match self {
            Change::Scale { to, .. } => {
                format!("kubectl -n {ns} scale deployment/{name} --replicas={to}")
            }
            Change::HpaMin { hpa, to, .. } => format!(
                "kubectl -n {ns} patch hpa/{hpa} --type=merge -p '{{\"spec\":{{\"minReplicas\":{to}}}}}'"
            ),
            Change::HpaBounds { hpa, to, .. } => format!(
                "kubectl -n {ns} patch hpa/{hpa} --type=merge -p '{{\"spec\":{{\"minReplicas\":{},\"maxReplicas\":{}}}}}'",
                to.0, to.1
            ),
            // A merge patch replaces the whole metrics list: kubectl edit is the safe equivalent.
            Change::HpaTarget { hpa, to, .. } => {
                format!("kubectl -n {ns} edit hpa/{hpa}   # cpu target.averageUtilization: {to}")
            }
            Change::FloorMark { to, .. } => match to {
                Some(m) => format!(
                    "kubectl -n {ns} annotate deployment/{name} --overwrite {}='{}'",
                    annotations::FLOOR,
                    m.to_annotation()
                ),
                None => format!(
                    "kubectl -n {ns} annotate deployment/{name} {}-",
                    annotations::FLOOR
                ),
            },
            Change::BoundsAnnotations { to, .. } => format!(
                "kubectl -n {ns} annotate deployment/{name} --overwrite {}={} {}={}",
                annotations::MIN_REPLICAS,
                opt(to.0),
                annotations::MAX_REPLICAS,
                opt(to.1)
            ),
            Change::Predictive { to, .. } => {
                if *to {
                    format!(
                        "kubectl -n {ns} annotate deployment/{name} --overwrite {}=true",
                        annotations::PREDICTIVE
                    )
                } else {
                    format!(
                        "kubectl -n {ns} annotate deployment/{name} {}-",
                        annotations::PREDICTIVE
                    )
                }
            }
            Change::CreateHpa { spec } => {
                let mut cmd = format!(
                    "kubectl -n {ns} autoscale deployment/{name} --min={} --max={}",
                    spec.min_replicas, spec.max_replicas
                );
                if let Some(c) = spec.target_cpu_pct {
                    cmd.push_str(&format!(" --cpu-percent={c}"));
                }
                cmd
            }
            Change::ScaledObjectMin {
                scaled_object, to, ..
            } => format!(
                "kubectl patch scaledobject {scaled_object} -n {ns} --type merge -p '{}'",
                ScaledObjectExpect::patch_body(Some(*to), None)
            ),
            Change::ScaledObjectBounds {
                scaled_object, to, ..
            } => format!(
                "kubectl patch scaledobject {scaled_object} -n {ns} --type merge -p '{}'",
                ScaledObjectExpect::patch_body(Some(to.0), Some(to.1))
            ),
        }
    }
}

fn opt(v: Option<u32>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn mark(m: &Option<FloorMark>) -> String {
    m.map_or("-".into(), |m| format!("\"{}\"", m.to_annotation()))
}

/// The replica count the deployment will run once the change is made, when it moves it: a
/// `/scale` sets it; an HPA clamps today's count into its new [min, max] at its next sync.
pub fn replicas_after(change: &Change, state: &DeploymentState) -> Option<u32> {
    let now = state.desired_replicas;
    // An HPA does nothing to a deployment scaled to zero (scaling is off until it is scaled up).
    let clamp = |min: u32, max: u32| (now > 0).then(|| now.clamp(min, max.max(min)));
    match change {
        Change::Scale { to, .. } => Some(*to),
        Change::HpaMin { to, .. } => {
            let max = state.hpa.as_ref().map_or(u32::MAX, |h| h.max_replicas);
            clamp(*to, max)
        }
        Change::HpaBounds { to, .. } | Change::ScaledObjectBounds { to, .. } => clamp(to.0, to.1),
        Change::ScaledObjectMin { to, .. } => {
            let max = state
                .ownership
                .keda
                .as_ref()
                .map_or(u32::MAX, |k| k.max_replica_count);
            clamp(*to, max)
        }
        Change::CreateHpa { spec } => clamp(spec.min_replicas, spec.max_replicas),
        Change::HpaTarget { .. }
        | Change::FloorMark { .. }
        | Change::BoundsAnnotations { .. }
        | Change::Predictive { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(hpa: &str) -> HpaExpect {
        HpaExpect {
            name: hpa.into(),
            ..HpaExpect::default()
        }
    }

    fn annotate(changes: &[(&str, Option<&str>)]) -> Operation {
        Operation::Annotate {
            changes: changes
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    #[test]
    fn replicas_and_hpa_changes_patch_what_they_name_from_what_they_start_from() {
        assert_eq!(
            Change::Scale { from: 3, to: 5 }.operation(),
            Operation::Scale { replicas: 5 }
        );
        let min = Change::HpaMin {
            hpa: "web".into(),
            from: 2,
            to: 4,
        };
        assert_eq!(
            min.operation(),
            Operation::PatchHpa {
                expect: HpaExpect {
                    min_replicas: Some(2),
                    ..expect("web")
                },
                min_replicas: Some(4),
                max_replicas: None,
            }
        );
        let bounds = Change::HpaBounds {
            hpa: "web".into(),
            from: (2, 10),
            to: (3, 8),
        };
        assert_eq!(
            bounds.operation(),
            Operation::PatchHpa {
                expect: HpaExpect {
                    min_replicas: Some(2),
                    max_replicas: Some(10),
                    ..expect("web")
                },
                min_replicas: Some(3),
                max_replicas: Some(8),
            }
        );
        let target = Change::HpaTarget {
            hpa: "web".into(),
            from: 70,
            to: 60,
        };
        assert_eq!(
            target.operation(),
            Operation::PatchHpaTarget {
                expect: HpaExpect {
                    cpu_target_pct: Some(70),
                    ..expect("web")
                },
                cpu_pct: 60,
            }
        );
        let spec = HpaSpec {
            min_replicas: 1,
            max_replicas: 4,
            target_cpu_pct: Some(70),
            target_mem_pct: None,
        };
        assert_eq!(
            Change::CreateHpa { spec: spec.clone() }.operation(),
            Operation::CreateHpa { spec }
        );
    }

    #[test]
    fn annotation_changes_set_their_keys_or_remove_them() {
        let mark = FloorMark {
            raised: true,
            at: 1_000,
            until: None,
        };
        let value = mark.to_annotation();
        let floor = |from, to| Change::FloorMark { from, to }.operation();
        assert_eq!(
            floor(None, Some(mark)),
            annotate(&[(annotations::FLOOR, Some(value.as_str()))])
        );
        assert_eq!(
            floor(Some(mark), None),
            annotate(&[(annotations::FLOOR, None)])
        );
        let bounds = Change::BoundsAnnotations {
            from: (None, Some(6)),
            to: (Some(2), None),
        };
        assert_eq!(
            bounds.operation(),
            annotate(&[
                (annotations::MIN_REPLICAS, Some("2")),
                (annotations::MAX_REPLICAS, None)
            ])
        );
        let predictive = |from, to| Change::Predictive { from, to }.operation();
        assert_eq!(
            predictive(false, true),
            annotate(&[(annotations::PREDICTIVE, Some("true"))])
        );
        assert_eq!(
            predictive(true, false),
            annotate(&[(annotations::PREDICTIVE, None)])
        );
    }

    #[test]
    fn scaled_object_changes_patch_the_scaled_object_from_what_it_shows() {
        let min = Change::ScaledObjectMin {
            scaled_object: "web-so".into(),
            from: 2,
            to: 5,
        };
        let Operation::PatchScaledObject {
            expect,
            min_replica_count,
            max_replica_count,
        } = min.operation()
        else {
            panic!("{:?}", min.operation());
        };
        assert_eq!(
            (expect.min_replica_count, expect.max_replica_count),
            (Some(2), None)
        );
        assert_eq!((min_replica_count, max_replica_count), (Some(5), None));
        assert_eq!(
            expect.check(2, 50),
            Ok(()),
            "only the planned field is checked"
        );
        assert!(matches!(
            expect.check(3, 50),
            Err(super::super::ClusterError::Conflict(m)) if m == "changed: scaledobject/web-so spec.minReplicaCount 2 → 3"
        ));
        let key = DeploymentKey::new("shop", "web");
        assert_eq!(
            min.kubectl(&key),
            r#"kubectl patch scaledobject web-so -n shop --type merge -p '{"spec":{"minReplicaCount":5}}'"#
        );
        assert_eq!(
            min.inverse().map(|c| c.operation()),
            Some(
                Change::ScaledObjectMin {
                    scaled_object: "web-so".into(),
                    from: 5,
                    to: 2,
                }
                .operation()
            )
        );
        let bounds = Change::ScaledObjectBounds {
            scaled_object: "web-so".into(),
            from: (2, 10),
            to: (3, 8),
        };
        assert_eq!(
            bounds.fields(&key),
            (
                "scaledobject/web-so".to_string(),
                "spec.minReplicaCount,spec.maxReplicaCount".to_string(),
                "2,10".to_string(),
                "3,8".to_string()
            )
        );
        let state = DeploymentState::fixture("shop", "web")
            .with_replicas(9)
            .keda_owned("web-so", 2, 10);
        assert_eq!(
            replicas_after(&bounds, &state),
            Some(8),
            "KEDA's HPA clamps 9 into [3, 8]"
        );
        assert_eq!(replicas_after(&min, &state), Some(9));
    }
}
