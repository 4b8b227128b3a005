//! The cluster's room for more pods: node allocatable against the requests of the pods placed
//! on the nodes, per resource, and whether a cluster autoscaler would add nodes. The policy
//! caps the fleet's scale-ups by it (`advisor::policy::capacity`).

use serde::{Deserialize, Serialize};

/// An amount of each schedulable resource.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_millis: u64,
    pub mem_mib: u64,
    pub pods: u64,
}

impl Resources {
    pub fn saturating_sub(self, o: Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_sub(o.cpu_millis),
            mem_mib: self.mem_mib.saturating_sub(o.mem_mib),
            pods: self.pods.saturating_sub(o.pods),
        }
    }

    pub fn saturating_add(self, o: Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_add(o.cpu_millis),
            mem_mib: self.mem_mib.saturating_add(o.mem_mib),
            pods: self.pods.saturating_add(o.pods),
        }
    }

    /// How many pods of `cpu_millis`/`mem_mib` requests fit in this (a zero request does
    /// not limit).
    pub fn fits(&self, cpu_millis: u32, mem_mib: u32) -> u64 {
        let by = |have: u64, each: u32| {
            if each == 0 {
                u64::MAX
            } else {
                have / u64::from(each)
            }
        };
        by(self.cpu_millis, cpu_millis)
            .min(by(self.mem_mib, mem_mib))
            .min(self.pods)
    }
}

/// The nodes' capacity as the scheduler sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterCapacity {
    /// Schedulable nodes counted.
    pub nodes: u32,
    /// Sum of the nodes' `status.allocatable`.
    pub allocatable: Resources,
    /// Sum of the requests of the pods placed on them that are not finished.
    pub requested: Resources,
    /// A cluster autoscaler (or Karpenter) adds nodes when pods do not fit.
    pub autoscaler: bool,
    /// The most common node's instance type and allocatable: what an autoscaler would add.
    pub node_type: Option<String>,
    pub node_allocatable: Option<Resources>,
}

impl ClusterCapacity {
    /// Allocatable minus requested, per resource.
    pub fn spare(&self) -> Resources {
        self.allocatable.saturating_sub(self.requested)
    }
}
