//! Writes to the world, validated as the API server would: scale, HPA patches and replacement,
//! labels and annotations, and the faults tests inject into them.

use std::collections::BTreeMap;

use super::step::reconcile_pods;
use super::{HpaStatus, SimWorld};
use crate::cluster::{ClusterError, HpaExpect, HpaSpec};
use crate::model::DeploymentKey;
use crate::sim::hpa::{Behavior, HpaConfig, HpaController};
use crate::sim::nodes::SimNode;

impl SimWorld {
    /// Replace the nodes (tests of a full cluster) and say whether an autoscaler runs.
    pub fn set_nodes(&mut self, nodes: Vec<SimNode>, autoscaler: bool) {
        self.nodes = nodes;
        self.autoscaler = autoscaler;
        self.generation += 1;
    }

    /// Make the next write fail with `error` (tests of the 403/409 paths).
    pub fn inject_fault(&mut self, error: ClusterError) {
        self.inject_fault_after(0, error);
    }

    /// Let `successes` writes through, then fail one with `error` (tests of rollback).
    pub fn inject_fault_after(&mut self, successes: u32, error: ClusterError) {
        self.faults.push((successes, error));
    }

    pub(super) fn take_fault(&mut self) -> Result<(), ClusterError> {
        match self.faults.first_mut() {
            None => Ok(()),
            Some((skip, _)) if *skip > 0 => {
                *skip -= 1;
                Ok(())
            }
            Some(_) => Err(self.faults.remove(0).1),
        }
    }

    /// `/scale`: set spec.replicas (an HPA, if any, may move it again at its next sync).
    pub fn scale(&mut self, key: &DeploymentKey, replicas: u32) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        let from = self.deployments[i].replicas;
        self.deployments[i].replicas = replicas;
        let now = self.now;
        reconcile_pods(&mut self.deployments[i], now, &mut self.rng);
        self.record_scale(i, from, replicas, None);
        self.generation += 1;
        Ok(())
    }

    /// The HPA still shows what a patch was decided on (its name is the deployment's here).
    pub fn expect_hpa(&self, key: &DeploymentKey, expect: &HpaExpect) -> Result<(), ClusterError> {
        let i = self.find_hpa(key)?;
        let Some(hpa) = self.deployments[i].hpa.as_ref() else {
            return Err(ClusterError::NotFound(key.name.clone()));
        };
        let c = &hpa.config;
        expect.check(&key.name, c.min_replicas, c.max_replicas, c.target_cpu_pct)
    }

    pub fn patch_hpa(
        &mut self,
        key: &DeploymentKey,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Result<(), ClusterError> {
        let i = self.find_hpa(key)?;
        let Some(hpa) = self.deployments[i].hpa.as_ref() else {
            return Err(ClusterError::NotFound(key.name.clone()));
        };
        let new_min = min.unwrap_or(hpa.config.min_replicas);
        let new_max = max.unwrap_or(hpa.config.max_replicas);
        if new_min < 1 || new_min > new_max {
            return Err(ClusterError::Invalid(format!(
                "spec.minReplicas {new_min} must be at least 1 and at most spec.maxReplicas {new_max}"
            )));
        }
        self.take_fault()?;
        let hpa = self.deployments[i]
            .hpa
            .as_mut()
            .ok_or_else(|| ClusterError::NotFound(key.name.clone()))?;
        hpa.config.min_replicas = new_min;
        hpa.config.max_replicas = new_max;
        self.generation += 1;
        Ok(())
    }

    pub fn patch_hpa_target(
        &mut self,
        key: &DeploymentKey,
        cpu_pct: u32,
    ) -> Result<(), ClusterError> {
        let i = self.find_hpa(key)?;
        if self.deployments[i]
            .hpa
            .as_ref()
            .is_none_or(|h| h.config.target_cpu_pct.is_none())
        {
            return Err(ClusterError::Invalid(format!(
                "hpa {} has no CPU utilization target to move",
                key.name
            )));
        }
        if !(1..=100).contains(&cpu_pct) {
            return Err(ClusterError::Invalid(format!(
                "a CPU target of {cpu_pct} % is outside 1..=100"
            )));
        }
        self.take_fault()?;
        if let Some(hpa) = self.deployments[i].hpa.as_mut() {
            hpa.config.target_cpu_pct = Some(cpu_pct);
        }
        self.generation += 1;
        Ok(())
    }

    pub fn annotate(
        &mut self,
        key: &DeploymentKey,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        let d = &mut self.deployments[i];
        for (k, v) in changes {
            match v {
                Some(v) => d.annotations.insert(k.clone(), v.clone()),
                None => d.annotations.remove(k),
            };
        }
        self.generation += 1;
        Ok(())
    }

    pub fn create_hpa(&mut self, key: &DeploymentKey, spec: &HpaSpec) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        if self.deployments[i].hpa.is_some() {
            return Err(ClusterError::Conflict(format!(
                "horizontalpodautoscalers.autoscaling \"{}\" already exists",
                key.name
            )));
        }
        if spec.min_replicas < 1 || spec.min_replicas > spec.max_replicas {
            return Err(ClusterError::Invalid(format!(
                "spec.minReplicas {} must be at least 1 and at most spec.maxReplicas {}",
                spec.min_replicas, spec.max_replicas
            )));
        }
        if spec.target_cpu_pct.is_none() && spec.target_mem_pct.is_none() {
            return Err(ClusterError::Invalid(
                "spec.metrics: at least one target is required".into(),
            ));
        }
        self.take_fault()?;
        let d = &mut self.deployments[i];
        d.hpa = Some(HpaController::new(HpaConfig {
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            target_cpu_pct: spec.target_cpu_pct,
            target_mem_pct: spec.target_mem_pct,
            behavior: Behavior::default(),
        }));
        d.hpa_status = Some(HpaStatus {
            desired: d.replicas,
            reason: "DesiredWithinRange".into(),
            last_scale_time: None,
            last: None,
        });
        self.generation += 1;
        Ok(())
    }

    /// Replace the deployment's labels.
    pub fn set_labels(
        &mut self,
        key: &DeploymentKey,
        labels: BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        self.deployments[i].labels = labels;
        self.generation += 1;
        Ok(())
    }

    /// Replace the deployment's annotations.
    pub fn set_annotations(
        &mut self,
        key: &DeploymentKey,
        annotations: BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        self.deployments[i].annotations = annotations;
        self.generation += 1;
        Ok(())
    }

    /// Create the deployment's HPA, or replace its spec keeping the controller's memory
    /// (recommendations, scale events), as the real controller keeps it across spec updates.
    /// `with_behavior`: whether `spec.behavior` is set. The caller validates the config.
    pub fn put_hpa(
        &mut self,
        key: &DeploymentKey,
        config: HpaConfig,
        with_behavior: bool,
    ) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        self.take_fault()?;
        let d = &mut self.deployments[i];
        match d.hpa.as_mut() {
            Some(h) => h.set_config(config, with_behavior),
            None => {
                d.hpa = Some(if with_behavior {
                    HpaController::new(config)
                } else {
                    HpaController::without_behavior(config)
                });
                d.hpa_status = Some(HpaStatus {
                    desired: d.replicas,
                    reason: "DesiredWithinRange".into(),
                    last_scale_time: None,
                    last: None,
                });
            }
        }
        self.generation += 1;
        Ok(())
    }

    /// Remove the deployment's HPA.
    pub fn delete_hpa(&mut self, key: &DeploymentKey) -> Result<(), ClusterError> {
        let i = self.find(key)?;
        if self.deployments[i].hpa.is_none() {
            return Err(ClusterError::NotFound(format!(
                "horizontalpodautoscalers.autoscaling \"{}\" not found",
                key.name
            )));
        }
        self.take_fault()?;
        let d = &mut self.deployments[i];
        d.hpa = None;
        d.hpa_status = None;
        self.generation += 1;
        Ok(())
    }
}
