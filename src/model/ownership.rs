//! Who else writes a deployment's scaling: a KEDA ScaledObject that owns its HPA, a VPA that
//! resizes its pods, a GitOps controller that puts back what its git source sets. The kube
//! path detects them (`cluster::kube::ownership`), the simulator sets them from its scenario;
//! plans, the guard, the card and the confirm dialog read them from here.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The label KEDA puts on the HPA it makes for a ScaledObject.
pub const SCALED_OBJECT_LABEL: &str = "scaledobject.keda.sh/name";
/// Argo CD's tracking: its default label, and the annotation of annotation-based tracking.
pub const ARGOCD_INSTANCE_LABEL: &str = "argocd.argoproj.io/instance";
pub const ARGOCD_TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// The instance label Argo CD can track by (`application.instanceLabelKey`).
pub const APP_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Flux's kustomize-controller and helm-controller labels.
pub const FLUX_KUSTOMIZE_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
pub const FLUX_KUSTOMIZE_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
pub const FLUX_HELM_NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
pub const FLUX_HELM_NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// The label the autopilot puts on its Lease, so the TUI can see one run in the cluster.
pub const AUTOPILOT_LEASE_LABEL: &str = "app.kubernetes.io/managed-by";
pub const AUTOPILOT_LEASE_LABEL_VALUE: &str = "ai4k8s-autopilot";
/// The Lease's annotation naming the one namespace the autopilot watches (absent: all).
pub const AUTOPILOT_SCOPE_ANNOTATION: &str = "ai4k8s.io/watch-namespace";

/// The other controllers that own part of a deployment's scaling (all None: nobody else).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    /// The ScaledObject whose HPA scales the deployment: KEDA rewrites the HPA's bounds from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keda: Option<ScaledObjectRef>,
    /// A VerticalPodAutoscaler that targets the deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpa: Option<VpaRef>,
    /// The GitOps controller tracking the deployment or its HPA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops: Option<GitOps>,
    /// An in-cluster autopilot that acts on this deployment (it has the predictive
    /// annotation and is in the autopilot's scope): a change by hand may be undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopilot: Option<AutopilotRef>,
}

/// A live in-cluster autopilot, seen from its Lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotRef {
    /// "NAMESPACE/NAME" of the Lease.
    pub lease: String,
    /// The replica holding it.
    pub holder: String,
    /// The one namespace it watches (None: all).
    pub scope: Option<String>,
}

impl AutopilotRef {
    pub fn covers(&self, namespace: &str) -> bool {
        self.scope.as_deref().is_none_or(|s| s == namespace)
    }
}

impl Ownership {
    pub fn is_empty(&self) -> bool {
        self == &Ownership::default()
    }

    /// The VPA when it fights the HPA or the app (it evicts pods to resize CPU or memory).
    pub fn vpa_conflict(&self) -> Option<&VpaRef> {
        self.vpa.as_ref().filter(|v| v.conflicts())
    }

    /// The short marker of a deployment's row: "K" KEDA, "V" a conflicting VPA, "G" GitOps.
    pub fn marker(&self) -> String {
        let mut m = String::new();
        if self.keda.is_some() {
            m.push('K');
        }
        if self.vpa_conflict().is_some() {
            m.push('V');
        }
        if self.gitops.is_some() {
            m.push('G');
        }
        if self.autopilot.is_some() {
            m.push('A');
        }
        m
    }
}

/// A KEDA ScaledObject (keda.sh/v1alpha1) and the bounds it gives its HPA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaledObjectRef {
    pub name: String,
    /// spec.minReplicaCount (KEDA's default 0 when unset).
    pub min_replica_count: u32,
    /// spec.maxReplicaCount (KEDA's default 100 when unset).
    pub max_replica_count: u32,
}

/// KEDA's defaults for a ScaledObject's unset counts.
pub const KEDA_DEFAULT_MIN: u32 = 0;
pub const KEDA_DEFAULT_MAX: u32 = 100;

/// A VerticalPodAutoscaler (autoscaling.k8s.io/v1) targeting the deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpaRef {
    pub name: String,
    pub mode: VpaMode,
    /// The resources it controls ("cpu", "memory"): both unless its container policies say.
    pub resources: Vec<String>,
}

impl VpaRef {
    /// It resizes running pods (Auto, Recreate, InPlaceOrRecreate) on CPU or memory: the known
    /// conflict with an HPA on the same metric, and requests that move under the forecasts.
    pub fn conflicts(&self) -> bool {
        self.mode.updates_pods() && self.resources.iter().any(|r| r == "cpu" || r == "memory")
    }
}

/// spec.updatePolicy.updateMode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VpaMode {
    Off,
    Initial,
    Recreate,
    Auto,
    InPlaceOrRecreate,
}

impl VpaMode {
    /// The mode as written in the VPA; unset or unknown is Auto (the VPA's default).
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("Off") => VpaMode::Off,
            Some("Initial") => VpaMode::Initial,
            Some("Recreate") => VpaMode::Recreate,
            Some("InPlaceOrRecreate") => VpaMode::InPlaceOrRecreate,
            _ => VpaMode::Auto,
        }
    }

    pub fn updates_pods(self) -> bool {
        matches!(
            self,
            VpaMode::Auto | VpaMode::Recreate | VpaMode::InPlaceOrRecreate
        )
    }
}

impl fmt::Display for VpaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Which GitOps controller tracks an object, and how it was recognised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitOps {
    pub tool: GitOpsTool,
    /// What tracks it, e.g. "application shop-frontend" or "kustomization flux-system/apps",
    /// and on which object ("on hpa/frontend").
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GitOpsTool {
    ArgoCd,
    Flux,
}

impl fmt::Display for GitOpsTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GitOpsTool::ArgoCd => "Argo CD",
            GitOpsTool::Flux => "Flux",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpa(mode: VpaMode, resources: &[&str]) -> VpaRef {
        VpaRef {
            name: "v".into(),
            mode,
            resources: resources.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn only_a_vpa_that_resizes_pods_on_cpu_or_memory_conflicts() {
        assert!(vpa(VpaMode::Auto, &["cpu", "memory"]).conflicts());
        assert!(vpa(VpaMode::Recreate, &["memory"]).conflicts());
        assert!(!vpa(VpaMode::Off, &["cpu"]).conflicts());
        assert!(!vpa(VpaMode::Initial, &["cpu"]).conflicts());
        assert!(!vpa(VpaMode::Auto, &[]).conflicts());
        assert_eq!(VpaMode::parse(None), VpaMode::Auto);
        assert_eq!(VpaMode::parse(Some("Off")), VpaMode::Off);
    }

    #[test]
    fn the_marker_names_each_owner_once() {
        let mut o = Ownership::default();
        assert!(o.is_empty());
        assert_eq!(o.marker(), "");
        o.keda = Some(ScaledObjectRef {
            name: "s".into(),
            min_replica_count: 1,
            max_replica_count: 5,
        });
        o.vpa = Some(vpa(VpaMode::Off, &["cpu"]));
        assert_eq!(o.marker(), "K", "a VPA in Off mode is no conflict");
        o.vpa = Some(vpa(VpaMode::Auto, &["cpu"]));
        o.gitops = Some(GitOps {
            tool: GitOpsTool::Flux,
            detail: "kustomization flux-system/apps".into(),
        });
        assert_eq!(o.marker(), "KVG");
    }
}
