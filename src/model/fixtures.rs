//! Test fixtures for the unit tests in `src/` and the tests in `tests/`: a deployment (its
//! HPA, the advisor's inputs made from it) with the fields a test names and the rest plain.
//! Hidden from the docs: not part of the API.

use super::{
    AdvisorInputs, Decision, DeploymentKey, DeploymentState, HpaState, Level, PerformanceImpact,
    ScalingAction, Timing, UnixSeconds,
};

#[doc(hidden)]
impl Decision {
    /// `action` to `target` at `confidence`, with no reasoning or factors, low risk and cost,
    /// neutral performance, timed now.
    pub fn fixture(action: ScalingAction, target: u32, confidence: f64) -> Self {
        Self {
            action,
            target_replicas: target,
            confidence,
            reasoning: String::new(),
            factors_considered: vec![],
            risk_assessment: Level::Low,
            cost_impact: Level::Low,
            performance_impact: PerformanceImpact::Neutral,
            recommended_timing: Timing::Immediate,
        }
    }
}

#[doc(hidden)]
impl DeploymentState {
    /// `namespace/name` at one ready replica, bounds [1, 10], requests of 100 m CPU and
    /// 100 MiB, no metrics, no HPA, no annotations.
    pub fn fixture(namespace: &str, name: &str) -> Self {
        Self {
            key: DeploymentKey::new(namespace, name),
            desired_replicas: 1,
            ready_replicas: 1,
            total_pods: 1,
            min_replicas: 1,
            max_replicas: 10,
            cpu_request_millis: 100,
            mem_request_mib: 100,
            cpu_pct: None,
            mem_pct: None,
            hpa: None,
            predictive_enabled: false,
            annotated_bounds: (None, None),
            floor_mark: None,
            write_block: None,
            ownership: Default::default(),
        }
    }

    /// `n` replicas, every one ready.
    pub fn with_replicas(mut self, n: u32) -> Self {
        (self.desired_replicas, self.ready_replicas, self.total_pods) = (n, n, n);
        self
    }

    pub fn with_bounds(mut self, min: u32, max: u32) -> Self {
        (self.min_replicas, self.max_replicas) = (min, max);
        self
    }

    pub fn with_requests(mut self, cpu_millis: u32, mem_mib: u32) -> Self {
        (self.cpu_request_millis, self.mem_request_mib) = (cpu_millis, mem_mib);
        self
    }

    /// CPU and memory usage, % of requests (None: no metrics).
    pub fn with_usage(mut self, cpu_pct: Option<f64>, mem_pct: Option<f64>) -> Self {
        (self.cpu_pct, self.mem_pct) = (cpu_pct, mem_pct);
        self
    }

    pub fn with_hpa(mut self, hpa: Option<HpaState>) -> Self {
        self.hpa = hpa;
        self
    }

    /// The seed's predictive-autoscaling annotation.
    pub fn with_predictive(mut self, enabled: bool) -> Self {
        self.predictive_enabled = enabled;
        self
    }

    /// Owned in part by KEDA, a VPA or a GitOps controller.
    pub fn with_ownership(mut self, ownership: super::Ownership) -> Self {
        self.ownership = ownership;
        self
    }

    /// Its HPA (bounds [min, max]) is KEDA's, made from ScaledObject `name` with those counts.
    pub fn keda_owned(mut self, name: &str, min: u32, max: u32) -> Self {
        self.ownership.keda = Some(super::ownership::ScaledObjectRef {
            name: name.into(),
            min_replica_count: min,
            max_replica_count: max,
        });
        self
    }

    /// The advisor's inputs for this deployment observed at `at`, without forecasts.
    pub fn inputs_at(&self, at: UnixSeconds) -> AdvisorInputs {
        AdvisorInputs::from_state(self, None, None, at)
    }
}

#[doc(hidden)]
impl HpaState {
    /// HPA `name` with bounds [min, max] and a 70 % CPU target; nothing observed yet.
    pub fn fixture(name: &str, min: u32, max: u32) -> Self {
        Self {
            name: name.into(),
            min_replicas: min,
            max_replicas: max,
            target_cpu_pct: Some(70),
            ..Self::default()
        }
    }

    /// Steady at `n` replicas: current and desired `n`, status "stable".
    pub fn steady_at(mut self, n: u32) -> Self {
        (self.current_replicas, self.desired_replicas) = (n, n);
        self.scaling_status = "stable".into();
        self
    }
}
