//! A plan as a patch to put in git, for deployments a GitOps controller (Argo CD, Flux) would
//! put back: one YAML document per object the plan changes, each with apiVersion, kind,
//! metadata (name, namespace) and only the changed fields, as a kustomize patch or
//! `kubectl patch --type merge --patch-file` takes it. Written to the data dir, never applied.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::plan::Plan;
use crate::cluster::change::Change;
use crate::cluster::{HpaSpec, annotations};

/// One object's part of the patch: (apiVersion, kind, name, merge patch of its fields).
type Part = (&'static str, &'static str, String, Value);

/// Merge `patch` into `into` (objects key by key, everything else replaced).
fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn hpa_spec(spec: &HpaSpec, target: &str) -> Value {
    let metric = |name: &str, pct: u32| {
        json!({"type": "Resource", "resource": {"name": name,
            "target": {"type": "Utilization", "averageUtilization": pct}}})
    };
    let metrics: Vec<Value> = [
        ("cpu", spec.target_cpu_pct),
        ("memory", spec.target_mem_pct),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.map(|p| metric(n, p)))
    .collect();
    json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": spec.min_replicas, "maxReplicas": spec.max_replicas, "metrics": metrics})
}

/// The object and fields one change sets.
fn part(plan: &Plan, change: &Change) -> Part {
    let deployment = |annotations: Map<String, Value>| -> Part {
        (
            "apps/v1",
            "Deployment",
            plan.key.name.clone(),
            json!({"metadata": {"annotations": annotations}}),
        )
    };
    let annotation = |key: &str, v: Option<String>| {
        let mut m = Map::new();
        m.insert(key.to_string(), v.map_or(Value::Null, Value::String));
        m
    };
    let hpa = |name: &str, spec: Value| -> Part {
        (
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            name.to_string(),
            json!({ "spec": spec }),
        )
    };
    let scaled_object = |name: &str, spec: Value| -> Part {
        (
            "keda.sh/v1alpha1",
            "ScaledObject",
            name.to_string(),
            json!({ "spec": spec }),
        )
    };
    match change {
        Change::Scale { to, .. } => (
            "apps/v1",
            "Deployment",
            plan.key.name.clone(),
            json!({"spec": {"replicas": to}}),
        ),
        Change::HpaMin { hpa: h, to, .. } => hpa(h, json!({ "minReplicas": to })),
        Change::HpaBounds { hpa: h, to, .. } => {
            hpa(h, json!({"minReplicas": to.0, "maxReplicas": to.1}))
        }
        // The whole list: a merge patch replaces lists, and git holds the list anyway.
        Change::HpaTarget { hpa: h, to, .. } => hpa(
            h,
            json!({"metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": to}}}]}),
        ),
        Change::FloorMark { to, .. } => deployment(annotation(
            annotations::FLOOR,
            to.map(|m| m.to_annotation()),
        )),
        Change::BoundsAnnotations { to, .. } => {
            let mut m = annotation(annotations::MIN_REPLICAS, to.0.map(|v| v.to_string()));
            m.extend(annotation(
                annotations::MAX_REPLICAS,
                to.1.map(|v| v.to_string()),
            ));
            deployment(m)
        }
        Change::Predictive { to, .. } => deployment(annotation(
            annotations::PREDICTIVE,
            to.then(|| "true".to_string()),
        )),
        Change::CreateHpa { spec } => hpa(&plan.key.name, hpa_spec(spec, &plan.key.name)),
        Change::ScaledObjectMin {
            scaled_object: so,
            to,
            ..
        } => scaled_object(so, json!({ "minReplicaCount": to })),
        Change::ScaledObjectBounds {
            scaled_object: so,
            to,
            ..
        } => scaled_object(
            so,
            json!({"minReplicaCount": to.0, "maxReplicaCount": to.1}),
        ),
    }
}

/// The plan's changes, merged per object, as YAML documents (objects in the plan's order).
pub fn patch_documents(plan: &Plan) -> Vec<Value> {
    let mut objects: Vec<(&str, &str, String, Value)> = Vec::new();
    for c in &plan.changes {
        let (api_version, kind, name, fields) = part(plan, c);
        match objects
            .iter_mut()
            .find(|(a, k, n, _)| *a == api_version && *k == kind && *n == name)
        {
            Some((_, _, _, v)) => merge(v, fields),
            None => {
                let mut v = json!({"apiVersion": api_version, "kind": kind,
                    "metadata": {"name": name, "namespace": plan.key.namespace}});
                merge(&mut v, fields);
                objects.push((api_version, kind, name, v));
            }
        }
    }
    objects.into_iter().map(|(_, _, _, v)| v).collect()
}

/// A JSON value as block YAML. Scalars are written as JSON (a JSON string is a YAML
/// double-quoted scalar), so nothing needs YAML's own quoting rules.
fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = Value::String(k.clone());
                match v {
                    Value::Object(c) if !c.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(v, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(v, indent, out);
                    }
                    scalar => out.push_str(&format!("{pad}{key}: {scalar}\n")),
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                let mut inner = String::new();
                yaml(item, indent + 2, &mut inner);
                // The first line of the item follows the dash.
                let body = inner.get(indent + 2..).unwrap_or_default();
                out.push_str(&format!("{pad}- {body}"));
            }
        }
        scalar => out.push_str(&format!("{pad}{scalar}\n")),
    }
}

/// The patch as one YAML file: a comment saying what it is, then one document per object.
pub fn patch_yaml(plan: &Plan) -> String {
    let mut out = format!(
        "# ai4k8s: the change to {} as a patch for git ({}).\n\
         # Commit it where the GitOps controller reads this object's manifest.\n",
        plan.key, plan.reason
    );
    for doc in patch_documents(plan) {
        out.push_str("---\n");
        yaml(&doc, 0, &mut out);
    }
    out
}

/// Write the patch under `data_dir/gitops/` as NS-NAME-TIME.yaml (never over another one);
/// returns its path.
pub fn write_patch(data_dir: &Path, plan: &Plan, now: i64) -> io::Result<PathBuf> {
    let dir = data_dir.join("gitops");
    std::fs::create_dir_all(&dir)?;
    let stem = format!("{}-{}-{now}", plan.key.namespace, plan.key.name);
    // Two patches in one second keep both: the second gets a suffix.
    let mut n = 0;
    loop {
        let name = match n {
            0 => format!("{stem}.yaml"),
            n => format!("{stem}-{n}.yaml"),
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(patch_yaml(plan).as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::plan::Intent;
    use crate::model::{DeploymentKey, FloorMark};

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            key: DeploymentKey::new("shop", "web"),
            intent: Intent::Apply,
            changes,
            reason: "floor for the noon peak".into(),
            recommendation: None,
            warning: None,
            ownership: Default::default(),
        }
    }

    #[test]
    fn changes_to_one_object_are_one_document_with_only_the_changed_fields() {
        let p = plan(vec![
            Change::BoundsAnnotations {
                from: (None, None),
                to: (Some(2), Some(10)),
            },
            Change::HpaMin {
                hpa: "web".into(),
                from: 2,
                to: 6,
            },
            Change::FloorMark {
                from: None,
                to: Some(FloorMark {
                    raised: true,
                    at: 100,
                    until: Some(900),
                }),
            },
        ]);
        let docs = patch_documents(&p);
        assert_eq!(docs.len(), 2, "{docs:?}");
        assert_eq!(docs[0]["kind"], "Deployment");
        let a = &docs[0]["metadata"]["annotations"];
        assert_eq!(a[annotations::MIN_REPLICAS], "2");
        assert!(a[annotations::FLOOR].as_str().is_some());
        assert_eq!(docs[1]["kind"], "HorizontalPodAutoscaler");
        assert_eq!(docs[1]["spec"], json!({"minReplicas": 6}));
        assert_eq!(docs[1]["metadata"]["namespace"], "shop");
    }

    #[test]
    fn the_yaml_is_block_style_with_json_scalars() {
        let p = plan(vec![
            Change::ScaledObjectMin {
                scaled_object: "web".into(),
                from: 2,
                to: 4,
            },
            Change::HpaTarget {
                hpa: "web".into(),
                from: 70,
                to: 60,
            },
        ]);
        let y = patch_yaml(&p);
        assert!(y.starts_with("# ai4k8s: the change to shop/web"), "{y}");
        assert!(
            y.contains(
                "---\n\"apiVersion\": \"keda.sh/v1alpha1\"\n\"kind\": \"ScaledObject\"\n\"metadata\":\n  \"name\": \"web\"\n  \"namespace\": \"shop\"\n\"spec\":\n  \"minReplicaCount\": 4\n"
            ),
            "{y}"
        );
        assert!(
            y.contains("  \"metrics\":\n  - \"resource\":\n      \"name\": \"cpu\"\n"),
            "{y}"
        );
    }
}
