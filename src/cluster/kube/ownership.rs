//! Who else owns a live deployment's scaling: KEDA ScaledObjects (keda.sh/v1alpha1) and
//! VerticalPodAutoscalers (autoscaling.k8s.io/v1), listed as dynamic objects and kept as the
//! few fields the snapshot needs, and the GitOps tracking labels and annotations of Argo CD and
//! Flux on the deployment or its HPA. A cluster without those CRDs answers 404: that is normal
//! and silent. A 403 is a notice: KEDA-owned HPAs are then known by their label or owner only.
//! Also the one write to a ScaledObject: a merge patch of its counts, under a precondition.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::slim_deployment::SlimDeployment as Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use super::errors;
use super::sources::{Shared, lock};
use crate::cluster::{ClusterError, ScaledObjectExpect, SourceState, SourceStatus};
use crate::model::ownership::{
    ARGOCD_INSTANCE_LABEL, ARGOCD_TRACKING_ANNOTATION, AUTOPILOT_LEASE_LABEL,
    AUTOPILOT_LEASE_LABEL_VALUE, AUTOPILOT_SCOPE_ANNOTATION, AutopilotRef, FLUX_HELM_NAME_LABEL,
    FLUX_HELM_NAMESPACE_LABEL, FLUX_KUSTOMIZE_NAME_LABEL, FLUX_KUSTOMIZE_NAMESPACE_LABEL, GitOps,
    GitOpsTool, KEDA_DEFAULT_MAX, KEDA_DEFAULT_MIN, SCALED_OBJECT_LABEL, ScaledObjectRef, VpaMode,
    VpaRef,
};
use crate::model::{DeploymentKey, Ownership, UnixSeconds};

pub fn scaled_objects_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("keda.sh", "v1alpha1", "ScaledObject"),
        "scaledobjects",
    )
}

pub fn vpas_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler"),
        "verticalpodautoscalers",
    )
}

/// (namespace, deployment name).
type Target = (String, String);

/// The ScaledObjects and VPAs seen at the last poll, by the deployment they target.
#[derive(Clone, Debug, Default)]
pub struct OwnersIndex {
    /// By (namespace, ScaledObject name), with the deployment it scales.
    pub scaled_objects: HashMap<(String, String), (String, ScaledObjectRef)>,
    pub vpas: HashMap<Target, VpaRef>,
    /// Live in-cluster autopilots, from their Leases.
    pub autopilots: Vec<AutopilotRef>,
}

/// Whether a CRD's objects could be listed.
#[derive(Clone, Debug, Default)]
pub enum CrdState {
    /// Not polled yet.
    #[default]
    Unknown,
    /// The server does not serve it (404): the CRD is not installed.
    Absent,
    Listed,
    /// Forbidden or failing: the reason.
    Failed(ClusterError),
}

#[derive(Debug, Default)]
pub struct OwnersState {
    pub index: OwnersIndex,
    pub keda: CrdState,
    pub vpa: CrdState,
}

impl OwnersState {
    /// Notices for the status bar: a failed list (403, 5xx), never an absent CRD.
    pub fn statuses(&self) -> Vec<SourceStatus> {
        let status = |source: &str, st: &CrdState, without: &str| match st {
            CrdState::Failed(e) => Some(SourceStatus {
                source: source.into(),
                state: SourceState::Missing,
                detail: Some(format!("{e}; {without}")),
                updated_at: None,
            }),
            _ => None,
        };
        [
            status(
                "scaledobjects",
                &self.keda,
                "KEDA-owned HPAs known by their label only",
            ),
            status(
                "verticalpodautoscalers",
                &self.vpa,
                "VPA conflicts not shown",
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn count(v: &Value, pointer: &str) -> Option<u32> {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// A ScaledObject that scales a Deployment: (namespace, its name, the deployment, its counts
/// with KEDA's defaults).
pub fn parse_scaled_object(o: &DynamicObject) -> Option<(String, String, ScaledObjectRef)> {
    let ns = o.metadata.namespace.clone()?;
    let name = o.metadata.name.clone()?;
    let target = text(&o.data, "/spec/scaleTargetRef/name")?.to_string();
    // scaleTargetRef.kind defaults to Deployment; other kinds are not the app's.
    if text(&o.data, "/spec/scaleTargetRef/kind").is_some_and(|k| k != "Deployment") {
        return None;
    }
    let so = ScaledObjectRef {
        name,
        min_replica_count: count(&o.data, "/spec/minReplicaCount").unwrap_or(KEDA_DEFAULT_MIN),
        max_replica_count: count(&o.data, "/spec/maxReplicaCount").unwrap_or(KEDA_DEFAULT_MAX),
    };
    Some((ns, target, so))
}

/// A VPA targeting a Deployment: (namespace, the deployment, mode and controlled resources).
/// The resources are those of its container policies (controlledResources, default cpu and
/// memory; a policy with mode Off controls nothing), all of them when it has none.
pub fn parse_vpa(o: &DynamicObject) -> Option<(String, String, VpaRef)> {
    let ns = o.metadata.namespace.clone()?;
    if text(&o.data, "/spec/targetRef/kind").is_some_and(|k| k != "Deployment") {
        return None;
    }
    let target = text(&o.data, "/spec/targetRef/name")?.to_string();
    let mode = VpaMode::parse(text(&o.data, "/spec/updatePolicy/updateMode"));
    let default = || vec!["cpu".to_string(), "memory".to_string()];
    let policies = o
        .data
        .pointer("/spec/resourcePolicy/containerPolicies")
        .and_then(Value::as_array);
    let mut resources: Vec<String> = match policies {
        None => default(),
        Some(ps) if ps.is_empty() => default(),
        Some(ps) => ps
            .iter()
            .filter(|p| text(p, "/mode") != Some("Off"))
            .flat_map(
                |p| match p.get("controlledResources").and_then(Value::as_array) {
                    Some(r) => r
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect(),
                    None => default(),
                },
            )
            .collect(),
    };
    resources.sort();
    resources.dedup();
    let vpa = VpaRef {
        name: o.metadata.name.clone()?,
        mode,
        resources,
    };
    Some((ns, target, vpa))
}

/// The GitOps controller that tracks an object by its labels or annotations; `object` names
/// it in the detail ("deployment/web").
pub fn gitops_of(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    object: &str,
) -> Option<GitOps> {
    let argo = |detail: String| GitOps {
        tool: GitOpsTool::ArgoCd,
        detail: format!("{detail} on {object}"),
    };
    let flux = |kind: &str, name: &String, ns: Option<&String>| GitOps {
        tool: GitOpsTool::Flux,
        detail: match ns {
            Some(ns) => format!("{kind} {ns}/{name} on {object}"),
            None => format!("{kind} {name} on {object}"),
        },
    };
    if let Some(app) = labels.get(ARGOCD_INSTANCE_LABEL) {
        return Some(argo(format!("application {app}")));
    }
    if let Some(id) = annotations.get(ARGOCD_TRACKING_ANNOTATION) {
        // "app:group/Kind:ns/name": the application is before the first colon.
        let app = id.split(':').next().unwrap_or(id);
        return Some(argo(format!("application {app}")));
    }
    if let Some(name) = labels.get(FLUX_KUSTOMIZE_NAME_LABEL) {
        return Some(flux(
            "kustomization",
            name,
            labels.get(FLUX_KUSTOMIZE_NAMESPACE_LABEL),
        ));
    }
    if let Some(name) = labels.get(FLUX_HELM_NAME_LABEL) {
        return Some(flux(
            "helmrelease",
            name,
            labels.get(FLUX_HELM_NAMESPACE_LABEL),
        ));
    }
    // app.kubernetes.io/instance alone is every Helm chart's label: it is Argo CD's only with
    // the tracking-id annotation above beside it.
    None
}

/// The ScaledObject that owns an HPA: its ownerReference of kind ScaledObject, else KEDA's
/// label.
pub fn keda_owner(h: &HorizontalPodAutoscaler) -> Option<String> {
    h.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.kind == "ScaledObject")
        .map(|r| r.name.clone())
        .or_else(|| {
            h.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SCALED_OBJECT_LABEL).cloned())
        })
}

/// Who else owns the deployment's scaling, from the deployment, the HPA that targets it and
/// the listed ScaledObjects and VPAs.
pub fn ownership_of(
    d: &Deployment,
    hpa: Option<&HorizontalPodAutoscaler>,
    index: &OwnersIndex,
) -> Ownership {
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let name = d.metadata.name.clone().unwrap_or_default();
    let empty = BTreeMap::new();
    let keda = hpa.and_then(|h| {
        let so = keda_owner(h)?;
        match index.scaled_objects.get(&(ns.clone(), so.clone())) {
            Some((_, r)) => Some(r.clone()),
            // The ScaledObject cannot be read (forbidden): its counts are the HPA's, as KEDA
            // writes them.
            None => {
                let spec = h.spec.as_ref();
                Some(ScaledObjectRef {
                    name: so,
                    min_replica_count: spec
                        .and_then(|s| s.min_replicas)
                        .map_or(1, |m| m.max(0) as u32),
                    max_replica_count: spec
                        .map_or(KEDA_DEFAULT_MAX, |s| s.max_replicas.max(0) as u32),
                })
            }
        }
    });
    let on_deployment = gitops_of(
        d.metadata.labels.as_ref().unwrap_or(&empty),
        d.metadata.annotations.as_ref().unwrap_or(&empty),
        &format!("deployment/{name}"),
    );
    let gitops = on_deployment.or_else(|| {
        let h = hpa?;
        gitops_of(
            h.metadata.labels.as_ref().unwrap_or(&empty),
            h.metadata.annotations.as_ref().unwrap_or(&empty),
            &format!("hpa/{}", h.metadata.name.as_deref().unwrap_or("?")),
        )
    });
    Ownership {
        keda,
        vpa: index.vpas.get(&(ns.clone(), name)).cloned(),
        gitops,
        // The autopilot acts only on deployments with the predictive annotation.
        autopilot: predictive_enabled(d)
            .then(|| index.autopilots.iter().find(|a| a.covers(&ns)).cloned())
            .flatten(),
    }
}

fn predictive_enabled(d: &Deployment) -> bool {
    d.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(crate::cluster::annotations::PREDICTIVE))
        .is_some_and(|v| v == "true")
}

/// The autopilot a Lease shows, if one holds it and renewed it within twice its duration
/// (wall clocks, for display only: the write gate never reads this).
pub fn autopilot_of(lease: &Lease, now: UnixSeconds) -> Option<AutopilotRef> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref()?.0.as_second();
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15).max(1));
    if now - renewed > 2 * duration {
        return None;
    }
    let meta = &lease.metadata;
    Some(AutopilotRef {
        lease: format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        ),
        holder,
        scope: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(AUTOPILOT_SCOPE_ANNOTATION).cloned())
            .filter(|s| !s.is_empty()),
    })
}

/// The live autopilots in the cluster (in `ns` only when one namespace is watched), from the
/// Leases labelled as theirs; None when they cannot be listed (forbidden to this user, or
/// failing: no marker, nothing else changes).
async fn autopilot_leases(
    client: &Client,
    ns: Option<&str>,
    timeout: Duration,
) -> Option<Vec<AutopilotRef>> {
    let api: Api<Lease> = match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let lp = ListParams::default().labels(&format!(
        "{AUTOPILOT_LEASE_LABEL}={AUTOPILOT_LEASE_LABEL_VALUE}"
    ));
    match tokio::time::timeout(timeout, api.list(&lp)).await {
        Ok(Ok(l)) => {
            let now = chrono::Utc::now().timestamp();
            Some(
                l.items
                    .iter()
                    .filter_map(|x| autopilot_of(x, now))
                    .collect(),
            )
        }
        Ok(Err(e)) => {
            tracing::debug!("autopilot leases not listed: {e}");
            None
        }
        Err(_) => None,
    }
}

/// List one CRD's objects: Ok(None) when the server does not serve it (404).
async fn list(
    client: &Client,
    ns: Option<&str>,
    resource: &ApiResource,
    timeout: Duration,
) -> Result<Option<Vec<DynamicObject>>, ClusterError> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let what = format!("list {}", resource.plural);
    match tokio::time::timeout(timeout, api.list(&ListParams::default())).await {
        Err(_) => Err(ClusterError::Unavailable(format!(
            "{what}: no answer in time"
        ))),
        Ok(Ok(l)) => Ok(Some(l.items)),
        Ok(Err(e)) => match errors::map(&e, &what) {
            ClusterError::NotFound(_) => Ok(None),
            other => Err(other),
        },
    }
}

fn crd_state<T>(r: &Result<Option<T>, ClusterError>) -> CrdState {
    match r {
        Ok(Some(_)) => CrdState::Listed,
        Ok(None) => CrdState::Absent,
        Err(e) => CrdState::Failed(e.clone()),
    }
}

/// Poll the ScaledObjects and VPAs every `every` into `state` (they change rarely; a list
/// of a few small objects costs less than a watch per CRD kept open).
pub async fn poll_loop(
    client: Client,
    ns: Option<String>,
    state: Arc<Mutex<OwnersState>>,
    shared: Arc<Shared>,
    every: Duration,
    timeout: Duration,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (so_res, vpa_res) = (scaled_objects_resource(), vpas_resource());
    loop {
        tick.tick().await;
        let sos = list(&client, ns.as_deref(), &so_res, timeout).await;
        let vpas = list(&client, ns.as_deref(), &vpa_res, timeout).await;
        let autopilots = autopilot_leases(&client, ns.as_deref(), timeout).await;
        if sos.is_ok() || vpas.is_ok() {
            lock(&shared.liveness).answered();
        }
        let mut st = lock(&state);
        st.keda = crd_state(&sos);
        st.vpa = crd_state(&vpas);
        if let Ok(list) = &sos {
            st.index.scaled_objects = list
                .iter()
                .flatten()
                .filter_map(parse_scaled_object)
                .map(|(ns, target, so)| ((ns, so.name.clone()), (target, so)))
                .collect();
        }
        if let Some(a) = autopilots {
            st.index.autopilots = a;
        }
        if let Ok(list) = &vpas {
            st.index.vpas = list
                .iter()
                .flatten()
                .filter_map(parse_vpa)
                .map(|(ns, target, v)| ((ns, target), v))
                .collect();
        }
    }
}

/// Merge-patch the ScaledObject's counts while it still shows what `expect` says, at the
/// resourceVersion read (a concurrent change is a 409, never overwritten).
pub async fn patch_scaled_object(
    client: &Client,
    key: &DeploymentKey,
    expect: &ScaledObjectExpect,
    (min, max): (Option<u32>, Option<u32>),
    params: &PatchParams,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let res = scaled_objects_resource();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &key.namespace, &res);
    let what = format!("scaledobject {}/{}", key.namespace, expect.name);
    let current = bounded(&what, timeout, api.get(&expect.name)).await?;
    let shown_min = count(&current.data, "/spec/minReplicaCount").unwrap_or(KEDA_DEFAULT_MIN);
    let shown_max = count(&current.data, "/spec/maxReplicaCount").unwrap_or(KEDA_DEFAULT_MAX);
    expect.check(shown_min, shown_max)?;
    let (new_min, new_max) = (min.unwrap_or(shown_min), max.unwrap_or(shown_max));
    if new_max < 1 || new_min > new_max {
        return Err(ClusterError::Invalid(format!(
            "scaledobject {}/{}: minReplicaCount {new_min} must be at most maxReplicaCount {new_max}, at least 1",
            key.namespace, expect.name
        )));
    }
    let mut body = ScaledObjectExpect::patch_body(min, max);
    if let Some(rv) = &current.metadata.resource_version {
        body["metadata"] = serde_json::json!({ "resourceVersion": rv });
    }
    bounded(
        &what,
        timeout,
        api.patch(&expect.name, params, &Patch::Merge(body)),
    )
    .await?;
    Ok(())
}

async fn bounded<T>(
    what: &str,
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(|e| errors::map(&e, what)),
        Err(_) => Err(ClusterError::Unavailable(format!(
            "{what}: no answer within {} s",
            timeout.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ownership::APP_INSTANCE_LABEL;

    fn dynamic(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("object: {e}"))
    }

    #[test]
    fn scaled_objects_give_their_target_and_counts_with_kedas_defaults() {
        let so = dynamic(serde_json::json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "web-so", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"name": "web"}, "minReplicaCount": 3}
        }));
        let (ns, target, r) = parse_scaled_object(&so).expect("parsed");
        assert_eq!((ns.as_str(), target.as_str()), ("shop", "web"));
        assert_eq!(
            (r.name.as_str(), r.min_replica_count, r.max_replica_count),
            ("web-so", 3, 100)
        );
        let other = dynamic(serde_json::json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "s", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"name": "web", "kind": "StatefulSet"}}
        }));
        assert!(parse_scaled_object(&other).is_none());
    }

    #[test]
    fn vpa_modes_and_controlled_resources() {
        let vpa = |spec: Value| {
            parse_vpa(&dynamic(serde_json::json!({
                "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                "metadata": {"name": "v", "namespace": "shop"}, "spec": spec
            })))
            .map(|(_, target, v)| (target, v))
        };
        let target = serde_json::json!({"kind": "Deployment", "name": "web"});
        let (t, v) = vpa(serde_json::json!({"targetRef": target})).expect("unset mode");
        assert_eq!(t, "web");
        assert_eq!(v.mode, VpaMode::Auto, "unset is Auto");
        assert_eq!(v.resources, ["cpu", "memory"]);
        assert!(v.conflicts());
        let (_, v) = vpa(serde_json::json!({"targetRef": target,
            "updatePolicy": {"updateMode": "Recreate"},
            "resourcePolicy": {"containerPolicies": [{"containerName": "*", "controlledResources": ["memory"]}]}}))
        .expect("recreate");
        assert_eq!(
            (v.mode, v.resources.as_slice()),
            (VpaMode::Recreate, &["memory".to_string()][..])
        );
        assert!(v.conflicts());
        let (_, v) =
            vpa(serde_json::json!({"targetRef": target, "updatePolicy": {"updateMode": "Off"}}))
                .expect("off");
        assert!(!v.conflicts(), "recommendations only");
        let (_, v) = vpa(
            serde_json::json!({"targetRef": target, "updatePolicy": {"updateMode": "Initial"}}),
        )
        .expect("initial");
        assert!(!v.conflicts(), "sets requests at pod creation only");
        let (_, v) = vpa(serde_json::json!({"targetRef": target,
            "resourcePolicy": {"containerPolicies": [{"containerName": "*", "mode": "Off"}]}}))
        .expect("policy off");
        assert!(!v.conflicts(), "its only container policy is off");
        assert!(
            vpa(serde_json::json!({"targetRef": {"kind": "StatefulSet", "name": "db"}})).is_none()
        );
    }

    #[test]
    fn gitops_is_known_by_argo_and_flux_labels_and_annotations() {
        let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let none = BTreeMap::new();
        let g = gitops_of(
            &map(&[(ARGOCD_INSTANCE_LABEL, "shop")]),
            &none,
            "deployment/web",
        )
        .expect("argo label");
        assert_eq!(g.tool, GitOpsTool::ArgoCd);
        assert_eq!(g.detail, "application shop on deployment/web");
        let g = gitops_of(
            &map(&[(APP_INSTANCE_LABEL, "shop")]),
            &map(&[(ARGOCD_TRACKING_ANNOTATION, "shop:apps/Deployment:shop/web")]),
            "deployment/web",
        )
        .expect("argo annotation");
        assert_eq!(
            (g.tool, g.detail.as_str()),
            (GitOpsTool::ArgoCd, "application shop on deployment/web")
        );
        let g = gitops_of(
            &map(&[
                (FLUX_KUSTOMIZE_NAME_LABEL, "apps"),
                (FLUX_KUSTOMIZE_NAMESPACE_LABEL, "flux-system"),
            ]),
            &none,
            "hpa/web",
        )
        .expect("flux kustomization");
        assert_eq!(
            (g.tool, g.detail.as_str()),
            (
                GitOpsTool::Flux,
                "kustomization flux-system/apps on hpa/web"
            )
        );
        let g = gitops_of(
            &map(&[(FLUX_HELM_NAME_LABEL, "web")]),
            &none,
            "deployment/web",
        )
        .expect("flux helm");
        assert_eq!(g.detail, "helmrelease web on deployment/web");
        assert!(
            gitops_of(
                &map(&[(APP_INSTANCE_LABEL, "web")]),
                &none,
                "deployment/web"
            )
            .is_none(),
            "a Helm label alone is not GitOps"
        );
    }

    #[test]
    fn a_keda_hpa_is_known_by_owner_reference_or_label() {
        let hpa = |meta: Value| -> HorizontalPodAutoscaler {
            serde_json::from_value(serde_json::json!({
                "metadata": meta,
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 9}
            }))
            .unwrap_or_else(|e| panic!("hpa: {e}"))
        };
        let by_owner = hpa(
            serde_json::json!({"name": "keda-hpa-web", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "web-so", "uid": "u"}]}),
        );
        assert_eq!(keda_owner(&by_owner).as_deref(), Some("web-so"));
        let by_label = hpa(
            serde_json::json!({"name": "keda-hpa-web", "namespace": "shop",
            "labels": {SCALED_OBJECT_LABEL: "web-so"}}),
        );
        assert_eq!(keda_owner(&by_label).as_deref(), Some("web-so"));
        let plain = hpa(serde_json::json!({"name": "web", "namespace": "shop"}));
        assert_eq!(keda_owner(&plain), None);
        // Unreadable ScaledObjects: the counts are the HPA's.
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop"}
        }))
        .unwrap_or_else(|e| panic!("deployment: {e}"));
        let o = ownership_of(&d, Some(&by_label), &OwnersIndex::default());
        let k = o.keda.expect("keda");
        assert_eq!(
            (k.name.as_str(), k.min_replica_count, k.max_replica_count),
            ("web-so", 2, 9)
        );
        let mut index = OwnersIndex::default();
        index.scaled_objects.insert(
            ("shop".into(), "web-so".into()),
            (
                "web".into(),
                ScaledObjectRef {
                    name: "web-so".into(),
                    min_replica_count: 0,
                    max_replica_count: 30,
                },
            ),
        );
        let o = ownership_of(&d, Some(&by_owner), &index);
        assert_eq!(
            o.keda.map(|k| k.max_replica_count),
            Some(30),
            "the ScaledObject's own counts"
        );
        assert!(ownership_of(&d, Some(&plain), &index).is_empty());
    }

    #[test]
    fn an_absent_crd_is_silent_and_a_forbidden_one_is_a_notice() {
        let mut st = OwnersState {
            keda: CrdState::Absent,
            vpa: CrdState::Listed,
            ..OwnersState::default()
        };
        assert!(
            st.statuses().is_empty(),
            "no KEDA, a VPA listed: nothing to say"
        );
        st.keda = CrdState::Failed(ClusterError::Forbidden(
            "cannot list scaledobjects.keda.sh".into(),
        ));
        let s = st.statuses();
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].source.as_str(), s[0].state),
            ("scaledobjects", SourceState::Missing)
        );
        assert!(
            s[0].detail
                .as_deref()
                .is_some_and(|d| d.contains("forbidden") && d.contains("by their label only")),
            "{s:?}"
        );
    }
}
