//! Who else owns a simulated deployment (KEDA, a VPA, GitOps), and the small KEDA operator:
//! at every step it rewrites a KEDA-owned HPA's bounds from its ScaledObject, as KEDA's
//! reconcile loop does, so a patch of the HPA itself is undone within a step.

use super::{SimDeployment, SimWorld};
use crate::cluster::{ClusterError, ScaledObjectExpect};
use crate::model::ownership::{
    ARGOCD_INSTANCE_LABEL, FLUX_KUSTOMIZE_NAME_LABEL, FLUX_KUSTOMIZE_NAMESPACE_LABEL, GitOpsTool,
};
use crate::model::{DeploymentKey, Ownership};

impl SimWorld {
    /// Give the deployment other owners (the scenario's `--owners`): a ScaledObject, a VPA,
    /// GitOps tracking labels on the deployment. The KEDA loop takes over its HPA's bounds.
    pub fn set_ownership(
        &mut self,
        key: &DeploymentKey,
        ownership: Ownership,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        let d = &mut self.deployments[i];
        if let Some(g) = &ownership.gitops {
            // The labels the controller would have stamped on what it applied.
            match g.tool {
                GitOpsTool::ArgoCd => {
                    d.labels
                        .insert(ARGOCD_INSTANCE_LABEL.into(), app_of(&g.detail));
                }
                GitOpsTool::Flux => {
                    d.labels
                        .insert(FLUX_KUSTOMIZE_NAME_LABEL.into(), app_of(&g.detail));
                    d.labels
                        .insert(FLUX_KUSTOMIZE_NAMESPACE_LABEL.into(), "flux-system".into());
                }
            }
        }
        d.ownership = ownership;
        keda_sync(d);
        self.generation += 1;
        Ok(())
    }

    /// The ScaledObject of a KEDA-owned deployment, or the API server's 404.
    pub fn scaled_object(
        &self,
        key: &DeploymentKey,
    ) -> Result<&crate::model::ownership::ScaledObjectRef, ClusterError> {
        let i = self.find(key)?;
        self.deployments[i]
            .ownership
            .keda
            .as_ref()
            .ok_or_else(|| not_found(&key.name))
    }

    /// Merge-patch the ScaledObject's counts (None: kept) while it shows what `expect` says;
    /// KEDA carries them into the HPA at once, as its operator reconciles on the change.
    pub fn patch_scaled_object(
        &mut self,
        key: &DeploymentKey,
        expect: &ScaledObjectExpect,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Result<(), ClusterError> {
        let so = self.scaled_object(key)?;
        if so.name != expect.name {
            return Err(not_found(&expect.name));
        }
        expect.check(so.min_replica_count, so.max_replica_count)?;
        let new_min = min.unwrap_or(so.min_replica_count);
        let new_max = max.unwrap_or(so.max_replica_count);
        if new_max < 1 || new_min > new_max {
            return Err(ClusterError::Invalid(format!(
                "spec.minReplicaCount {new_min} must be at most spec.maxReplicaCount {new_max}, \
                 which must be at least 1"
            )));
        }
        self.take_fault()?;
        let i = self.find(key)?;
        let d = &mut self.deployments[i];
        if let Some(k) = d.ownership.keda.as_mut() {
            k.min_replica_count = new_min;
            k.max_replica_count = new_max;
        }
        keda_sync(d);
        self.generation += 1;
        Ok(())
    }
}

/// KEDA's reconcile of one deployment: its HPA's bounds are the ScaledObject's counts (an HPA
/// cannot go below 1; KEDA itself scales to zero, which the simulator does not model).
pub(super) fn keda_sync(d: &mut SimDeployment) {
    let (Some(k), Some(hpa)) = (&d.ownership.keda, d.hpa.as_mut()) else {
        return;
    };
    hpa.config.min_replicas = k.min_replica_count.max(1);
    hpa.config.max_replicas = k.max_replica_count.max(hpa.config.min_replicas);
}

/// "application shop-checkout" → "shop-checkout": the name the tracking label carries.
fn app_of(detail: &str) -> String {
    detail
        .split_whitespace()
        .last()
        .unwrap_or(detail)
        .rsplit('/')
        .next()
        .unwrap_or(detail)
        .to_string()
}

fn not_found(name: &str) -> ClusterError {
    ClusterError::NotFound(format!("scaledobjects.keda.sh \"{name}\" not found"))
}

#[cfg(test)]
mod tests {
    use crate::model::ownership::ScaledObjectRef;
    use crate::model::{DeploymentKey, Ownership};
    use crate::sim::SimWorld;

    #[test]
    fn the_keda_loop_puts_the_hpa_back_and_carries_a_scaled_object_patch_into_it() {
        let mut w = SimWorld::demo(7, 1);
        let key = DeploymentKey::new("shop", "frontend");
        let so = ScaledObjectRef {
            name: "frontend".into(),
            min_replica_count: 3,
            max_replica_count: 15,
        };
        w.set_ownership(
            &key,
            Ownership {
                keda: Some(so),
                ..Ownership::default()
            },
        )
        .expect("frontend");
        let bounds = |w: &SimWorld| {
            let s = w.snapshot();
            let h = s
                .deployments
                .iter()
                .find(|d| d.key == key)
                .and_then(|d| d.hpa.clone())
                .expect("hpa");
            (h.min_replicas, h.max_replicas)
        };
        assert_eq!(bounds(&w), (3, 15), "KEDA took the HPA over at once");
        w.patch_hpa(&key, Some(6), None).expect("a direct patch");
        assert_eq!(bounds(&w), (6, 15));
        w.step();
        assert_eq!(bounds(&w), (3, 15), "undone at the next step");
        let expect = crate::cluster::ScaledObjectExpect {
            name: "frontend".into(),
            min_replica_count: Some(3),
            max_replica_count: None,
        };
        w.patch_scaled_object(&key, &expect, Some(5), None)
            .expect("the ScaledObject");
        w.advance(60);
        assert_eq!(bounds(&w), (5, 15), "held through KEDA's loop");
        assert!(
            w.patch_scaled_object(&key, &expect, Some(4), None).is_err(),
            "from a value it no longer shows"
        );
        assert!(
            w.patch_scaled_object(
                &DeploymentKey::new("payments", "ledger"),
                &expect,
                Some(4),
                None
            )
            .is_err(),
            "no ScaledObject there"
        );
    }
}
