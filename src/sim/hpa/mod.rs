//! The HorizontalPodAutoscaler controller (autoscaling/v2) of the simulated cluster: a port of
//! kubernetes `pkg/controller/podautoscaler` (`replica_calculator.go`, `horizontal.go` and the
//! metrics client's `GetResourceUtilizationRatio`), limited to Resource metrics with Utilization
//! targets for CPU and memory, which is all an HPA of this project can express.
//!
//! Pure and deterministic: the caller passes the time and the pods, nothing else is read.
//! Quantities are converted to the API's integer milli-units so that the controller's integer
//! truncations (utilization percent, fallback usage of missing pods, raw average) happen exactly
//! where they happen in Go; replica arithmetic uses the same `f64` expressions as Go, so even
//! its float edge cases are reproduced (usage at exactly 110 % of target is outside the 0.1
//! tolerance, at 90 % inside).

use std::fmt;

use crate::model::UnixSeconds;

/// Target the API server defaults to when an HPA lists no metrics.
pub const DEFAULT_CPU_UTILIZATION: u32 = 80;
/// `--horizontal-pod-autoscaler-downscale-stabilization`: the window of HPAs without
/// `spec.behavior`, and of a behavior's scale-down rules that leave the window unset.
pub const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS: u32 = 300;
/// Legacy (no `spec.behavior`) scale-up cap: max(2 × current, 4) per sync.
const SCALE_UP_LIMIT_FACTOR: f64 = 2.0;
const SCALE_UP_LIMIT_MINIMUM: f64 = 4.0;

const MIB: f64 = 1_048_576.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }

    /// Usage in milli-units, as the metrics client reads it; None when the sample is missing.
    fn usage_milli(self, pod: &PodSample) -> Option<i64> {
        let value = match self {
            Resource::Cpu => pod.cpu_usage,
            Resource::Memory => pod.mem_usage,
        }?;
        value.is_finite().then(|| self.to_milli(value.max(0.0)))
    }

    /// Request in milli-units; None when the pod has no (positive) request for the resource.
    fn request_milli(self, pod: &PodSample) -> Option<i64> {
        let value = match self {
            Resource::Cpu => pod.cpu_request,
            Resource::Memory => pod.mem_request,
        };
        (value.is_finite() && value > 0.0).then(|| self.to_milli(value))
    }

    fn to_milli(self, value: f64) -> i64 {
        match self {
            // metrics-server reports nanocores; Quantity.MilliValue() rounds up.
            Resource::Cpu => {
                let nanos = (value * 1e6).round() as u64;
                i64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(i64::MAX)
            }
            // Bytes are whole numbers; MilliValue() is exact for them.
            Resource::Memory => ((value * MIB).round() as i64).saturating_mul(1000),
        }
    }

    fn milli_to_unit(self, milli: i64) -> f64 {
        match self {
            Resource::Cpu => milli as f64,
            Resource::Memory => milli as f64 / 1000.0 / MIB,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One pod as the HPA sees it (pod status + its metrics-server sample).
#[derive(Clone, Debug, PartialEq)]
pub struct PodSample {
    /// Phase Pending.
    pub pending: bool,
    /// deletionTimestamp set or phase Failed: ignored entirely.
    pub deleting: bool,
    /// Status of the Ready condition.
    pub ready: bool,
    pub start_time: UnixSeconds,
    /// lastTransitionTime of the Ready condition.
    pub ready_transition: UnixSeconds,
    /// Millicores; None = missing from the metrics API (NaN is treated the same).
    pub cpu_usage: Option<f64>,
    /// MiB; None = missing.
    pub mem_usage: Option<f64>,
    pub metric_timestamp: UnixSeconds,
    pub metric_window_seconds: i64,
    /// Millicores; 0 (or less) means the pod has no CPU request.
    pub cpu_request: f64,
    /// MiB; 0 (or less) means the pod has no memory request.
    pub mem_request: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HpaError {
    #[error("invalid target utilization {0}%: must be positive")]
    InvalidTarget(u32),
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    #[error(
        "unable to get metrics for resource {0}: no metrics returned from resource metrics API"
    )]
    NoMetricsFromApi(Resource),
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoReadyMetrics,
    /// `pod` is the index in the slice given to the calculator.
    #[error("missing request for {resource} in pod #{pod}")]
    MissingRequest { resource: Resource, pod: usize },
    #[error("no metrics returned matched known pods")]
    NoMatchingMetrics,
}

/// The replica calculator's tunables (kube-controller-manager flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicaCalculator {
    /// `--horizontal-pod-autoscaler-tolerance`
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`, seconds.
    pub cpu_initialization_period: i64,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`, seconds.
    pub delay_of_initial_readiness_status: i64,
}

impl Default for ReplicaCalculator {
    fn default() -> Self {
        Self {
            tolerance: 0.1,
            cpu_initialization_period: 300,
            delay_of_initial_readiness_status: 30,
        }
    }
}

/// What one utilization metric proposes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourceReplicas {
    pub replicas: u32,
    /// Average utilization of the pods counted as ready, % of their requests, truncated.
    pub utilization: u32,
    /// Their average usage, in the input unit (millicores or MiB).
    pub raw_utilization: f64,
}

/// groupPods: how each pod takes part in the calculation.
#[derive(Debug, Default, PartialEq)]
struct PodGroups {
    /// (pod index, usage in milli-units) of pods whose sample is used as is.
    ready: Vec<(usize, i64)>,
    /// Pending pods and, for CPU, pods whose sample may be start-up noise.
    unready: Vec<usize>,
    /// Pods without a sample.
    missing: Vec<usize>,
    /// Deleted or failed pods.
    ignored: Vec<usize>,
}

impl ReplicaCalculator {
    fn within_tolerance(&self, usage_ratio: f64) -> bool {
        (1.0 - usage_ratio).abs() <= self.tolerance
    }

    fn group_pods(&self, now: UnixSeconds, resource: Resource, pods: &[PodSample]) -> PodGroups {
        let mut groups = PodGroups::default();
        for (i, pod) in pods.iter().enumerate() {
            if pod.deleting {
                groups.ignored.push(i);
            } else if pod.pending {
                groups.unready.push(i);
            } else if let Some(usage) = resource.usage_milli(pod) {
                // Only CPU spikes at start-up, so only CPU samples are screened for readiness.
                if resource == Resource::Cpu && self.cpu_sample_unready(now, pod) {
                    groups.unready.push(i);
                } else {
                    groups.ready.push((i, usage));
                }
            } else {
                groups.missing.push(i);
            }
        }
        groups
    }

    fn cpu_sample_unready(&self, now: UnixSeconds, pod: &PodSample) -> bool {
        if pod
            .start_time
            .saturating_add(self.cpu_initialization_period)
            > now
        {
            // Still initializing: distrust an unready pod, or a sample whose window began
            // before the pod turned ready.
            !pod.ready
                || pod.metric_timestamp
                    < pod
                        .ready_transition
                        .saturating_add(pod.metric_window_seconds)
        } else {
            // Afterwards only a pod that has never been ready is distrusted.
            !pod.ready
                && pod
                    .start_time
                    .saturating_add(self.delay_of_initial_readiness_status)
                    > pod.ready_transition
        }
    }

    /// GetResourceReplicas: the replica count that brings the average utilization of
    /// `resource` to `target_utilization` % of requests.
    pub fn resource_replicas(
        &self,
        now: UnixSeconds,
        current_replicas: u32,
        target_utilization: u32,
        resource: Resource,
        pods: &[PodSample],
    ) -> Result<ResourceReplicas, HpaError> {
        if target_utilization == 0 {
            return Err(HpaError::InvalidTarget(target_utilization));
        }
        if pods.is_empty() {
            // Go asks the metrics API first and would report its empty answer; with no pods
            // at all this message says more.
            return Err(HpaError::NoPods);
        }
        // The metrics API answers with nothing when no pod has any sample at all.
        if pods.iter().all(|p| {
            Resource::Cpu.usage_milli(p).is_none() && Resource::Memory.usage_milli(p).is_none()
        }) {
            return Err(HpaError::NoMetricsFromApi(resource));
        }

        let groups = self.group_pods(now, resource, pods);
        if groups.ready.is_empty() {
            return Err(HpaError::NoReadyMetrics);
        }
        // Every pod needs a request, ignored ones included, as in calculatePodRequests.
        let requests = pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                resource
                    .request_milli(p)
                    .ok_or(HpaError::MissingRequest { resource, pod: i })
            })
            .collect::<Result<Vec<i64>, _>>()?;

        let mut samples: Vec<(i64, i64)> = groups
            .ready
            .iter()
            .map(|&(i, usage)| (usage, requests[i]))
            .collect();
        let (usage_ratio, utilization, raw) = utilization_ratio(&samples, target_utilization)?;
        let result = |replicas: u32| ResourceReplicas {
            replicas,
            utilization,
            raw_utilization: resource.milli_to_unit(raw),
        };

        let scale_up_with_unready = !groups.unready.is_empty() && usage_ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if self.within_tolerance(usage_ratio) {
                return Ok(result(current_replicas));
            }
            return Ok(result(ceil_replicas(usage_ratio, groups.ready.len())));
        }

        // Assume the worst for the direction we are going, so that pods we know nothing about
        // dampen the change rather than cause it.
        if !groups.missing.is_empty() {
            if usage_ratio < 1.0 {
                let fallback = i64::from(target_utilization.max(100));
                for &i in &groups.missing {
                    samples.push((requests[i].saturating_mul(fallback) / 100, requests[i]));
                }
            } else if usage_ratio > 1.0 {
                samples.extend(groups.missing.iter().map(|&i| (0, requests[i])));
            }
        }
        if scale_up_with_unready {
            samples.extend(groups.unready.iter().map(|&i| (0, requests[i])));
        }

        let (new_usage_ratio, _, _) = utilization_ratio(&samples, target_utilization)?;
        if self.within_tolerance(new_usage_ratio)
            || (usage_ratio < 1.0 && new_usage_ratio > 1.0)
            || (usage_ratio > 1.0 && new_usage_ratio < 1.0)
        {
            // Too small a change, or the assumptions flipped the direction.
            return Ok(result(current_replicas));
        }
        let new_replicas = ceil_replicas(new_usage_ratio, samples.len());
        if (new_usage_ratio < 1.0 && new_replicas > current_replicas)
            || (new_usage_ratio > 1.0 && new_replicas < current_replicas)
        {
            // Counting more pods than spec.replicas (e.g. a surge) flipped the direction.
            return Ok(result(current_replicas));
        }
        Ok(result(new_replicas))
    }
}

/// GetResourceUtilizationRatio over (usage, request) pairs in milli-units: the usage ratio, the
/// utilization truncated to a whole percent (the ratio is computed from the truncated value),
/// and the truncated average usage.
fn utilization_ratio(samples: &[(i64, i64)], target: u32) -> Result<(f64, u32, i64), HpaError> {
    let usage: i128 = samples.iter().map(|&(u, _)| i128::from(u)).sum();
    let requests: i128 = samples.iter().map(|&(_, r)| i128::from(r)).sum();
    if requests == 0 || samples.is_empty() {
        return Err(HpaError::NoMatchingMetrics);
    }
    let utilization =
        u32::try_from((usage * 100 / requests).clamp(0, i128::from(i32::MAX))).unwrap_or(u32::MAX);
    let raw = i64::try_from(usage / samples.len() as i128).unwrap_or(i64::MAX);
    Ok((f64::from(utilization) / f64::from(target), utilization, raw))
}

fn ceil_replicas(usage_ratio: f64, pods: usize) -> u32 {
    // `as` saturates (NaN → 0) where Go's int32 conversion would be undefined.
    (usage_ratio * pods as f64).ceil() as u32
}

fn to_u32(replicas: i64) -> u32 {
    u32::try_from(replicas.max(0)).unwrap_or(u32::MAX)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Add/remove at most `value` pods per period.
    Pods,
    /// Add/remove at most `value` % of the replicas at the start of the period.
    Percent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    pub kind: PolicyKind,
    pub value: u32,
    pub period_seconds: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the biggest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    pub stabilization_window_seconds: u32,
    pub select: SelectPolicy,
    pub policies: Vec<ScalingPolicy>,
}

impl ScalingRules {
    /// The API's default scale-up rules: no window, the larger of +4 pods and +100 % per 15 s.
    pub fn default_scale_up() -> Self {
        Self {
            stabilization_window_seconds: 0,
            select: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period_seconds: 15,
                },
                ScalingPolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period_seconds: 15,
                },
            ],
        }
    }

    /// The API's default scale-down rules, with the controller's default 300 s window.
    pub fn default_scale_down() -> Self {
        Self {
            stabilization_window_seconds: DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
            select: SelectPolicy::Max,
            policies: vec![ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_seconds: 15,
            }],
        }
    }

    fn longest_period(&self) -> i64 {
        self.policies
            .iter()
            .map(|p| i64::from(p.period_seconds))
            .max()
            .unwrap_or(0)
    }
}

/// `spec.behavior`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            scale_up: ScalingRules::default_scale_up(),
            scale_down: ScalingRules::default_scale_down(),
        }
    }
}

/// The HPA's spec. The caller may change it between syncs (patching the HPA); every sync reads
/// it afresh. Like the API server, callers must keep `min_replicas <= max_replicas`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpaConfig {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Target average CPU utilization, % of requests. When neither target is set the API's
    /// default of CPU 80 % applies.
    pub target_cpu_pct: Option<u32>,
    pub target_mem_pct: Option<u32>,
    pub behavior: Behavior,
}

/// The outcome of one sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconcile {
    /// What spec.replicas should become (== current when unchanged).
    pub desired_replicas: u32,
    /// Why: the ScalingLimited reason ("DesiredWithinRange", "ScaleUpLimit", "ScaleDownLimit",
    /// "TooManyReplicas", "TooFewReplicas"), except "ScaleUpStabilized"/"ScaleDownStabilized"
    /// when only the stabilization window held the metrics' proposal back, "ScalingDisabled"
    /// when the target is at 0 replicas, and "FailedGetResourceMetric" when no usable proposal
    /// could be computed (replicas unchanged). "TooManyReplicas"/"TooFewReplicas" are also given
    /// when the current count was outside [min, max] and is brought back without metrics.
    pub reason: &'static str,
    /// Current average CPU utilization, % of request; None when not computed this sync.
    pub cpu_utilization: Option<u32>,
    pub mem_utilization: Option<u32>,
    /// The metrics' proposal before stabilization and rate limits (the largest across metrics).
    pub recommended_replicas: Option<u32>,
    /// Set when a metric could not be computed. With reason "FailedGetResourceMetric" the
    /// controller gave up this sync; otherwise it scaled on the remaining metric.
    pub metrics_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimestampedRecommendation {
    replicas: i64,
    timestamp: UnixSeconds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ScaleEvent {
    /// Always positive: replicas added (scale-up list) or removed (scale-down list).
    change: i64,
    timestamp: UnixSeconds,
    /// Older than the longest policy period: free to be overwritten.
    outdated: bool,
}

/// The controller's state for one HPA.
#[derive(Clone, Debug)]
pub struct HpaController {
    pub config: HpaConfig,
    pub calculator: ReplicaCalculator,
    /// False for an HPA without `spec.behavior`, which the controller normalizes differently.
    with_behavior: bool,
    /// Unstabilized recommendations; entries are reused once outside both windows.
    recommendations: Vec<TimestampedRecommendation>,
    scale_up_events: Vec<ScaleEvent>,
    scale_down_events: Vec<ScaleEvent>,
    last_scale_time: Option<UnixSeconds>,
}

impl HpaController {
    /// An HPA with `spec.behavior` set to `config.behavior`.
    pub fn new(config: HpaConfig) -> Self {
        Self {
            config,
            calculator: ReplicaCalculator::default(),
            with_behavior: true,
            recommendations: Vec::new(),
            scale_up_events: Vec::new(),
            scale_down_events: Vec::new(),
            last_scale_time: None,
        }
    }

    /// An HPA whose `spec.behavior` is unset (e.g. made by `kubectl autoscale`): the controller
    /// then caps scale-up at max(2 × current, 4) per sync, stabilizes scale-down over 300 s and
    /// does not limit its rate; `config.behavior` is ignored.
    pub fn without_behavior(config: HpaConfig) -> Self {
        Self {
            with_behavior: false,
            ..Self::new(config)
        }
    }

    pub fn uses_behavior(&self) -> bool {
        self.with_behavior
    }

    /// A spec update: the new config, with or without `spec.behavior`; the controller keeps its
    /// recommendations and scale events, as the real one keeps them across updates.
    pub fn set_config(&mut self, config: HpaConfig, with_behavior: bool) {
        self.config = config;
        self.with_behavior = with_behavior;
    }

    pub fn last_scale_time(&self) -> Option<UnixSeconds> {
        self.last_scale_time
    }

    /// One sync period (the caller calls this every 15 s of cluster time).
    pub fn reconcile(
        &mut self,
        now: UnixSeconds,
        current_replicas: u32,
        pods: &[PodSample],
    ) -> Reconcile {
        let current = i64::from(current_replicas);
        if self.recommendations.is_empty() {
            // recordInitialRecommendation: the size found at the first sync counts as a
            // recommendation, so a new HPA does not scale down at once.
            self.recommendations.push(TimestampedRecommendation {
                replicas: current,
                timestamp: now,
            });
        }
        let min = i64::from(self.config.min_replicas);
        let max = i64::from(self.config.max_replicas);
        let mut out = Reconcile {
            desired_replicas: current_replicas,
            reason: "DesiredWithinRange",
            cpu_utilization: None,
            mem_utilization: None,
            recommended_replicas: None,
            metrics_error: None,
        };

        let desired = if current == 0 && min != 0 {
            out.reason = "ScalingDisabled";
            return out;
        } else if current > max {
            out.reason = "TooManyReplicas";
            max
        } else if current < min {
            out.reason = "TooFewReplicas";
            min
        } else {
            let metrics = self.compute_replicas_for_metrics(now, current_replicas, pods);
            out.cpu_utilization = metrics.cpu_utilization;
            out.mem_utilization = metrics.mem_utilization;
            out.metrics_error = metrics.error;
            let Some(proposal) = metrics.replicas else {
                out.reason = "FailedGetResourceMetric";
                return out;
            };
            out.recommended_replicas = Some(proposal);
            let (desired, reason) = if self.with_behavior {
                self.normalize_with_behaviors(now, current, i64::from(proposal), min, max)
            } else {
                self.normalize_without_behavior(now, current, i64::from(proposal), min, max)
            };
            out.reason = reason;
            desired
        };

        if desired != current {
            if self.with_behavior {
                self.store_scale_event(now, current, desired);
            }
            self.last_scale_time = Some(now);
        }
        out.desired_replicas = to_u32(desired);
        out
    }

    /// Metric targets in spec order (CPU first).
    fn metric_targets(&self) -> Vec<(Resource, u32)> {
        let mut targets = Vec::with_capacity(2);
        if let Some(t) = self.config.target_cpu_pct {
            targets.push((Resource::Cpu, t));
        }
        if let Some(t) = self.config.target_mem_pct {
            targets.push((Resource::Memory, t));
        }
        if targets.is_empty() {
            targets.push((Resource::Cpu, DEFAULT_CPU_UTILIZATION));
        }
        targets
    }

    /// computeReplicasForMetrics: the largest proposal, or None when the controller gives up.
    fn compute_replicas_for_metrics(
        &self,
        now: UnixSeconds,
        current_replicas: u32,
        pods: &[PodSample],
    ) -> MetricsOutcome {
        let targets = self.metric_targets();
        let mut outcome = MetricsOutcome::default();
        let mut invalid = 0usize;
        let mut first_error = None;
        for &(resource, target) in &targets {
            match self
                .calculator
                .resource_replicas(now, current_replicas, target, resource, pods)
            {
                Ok(r) => {
                    match resource {
                        Resource::Cpu => outcome.cpu_utilization = Some(r.utilization),
                        Resource::Memory => outcome.mem_utilization = Some(r.utilization),
                    }
                    if outcome.replicas.is_none_or(|p| r.replicas > p) {
                        outcome.replicas = Some(r.replicas);
                    }
                }
                Err(e) => {
                    invalid += 1;
                    first_error.get_or_insert_with(|| {
                        format!(
                            "failed to get {resource} resource metric value: \
                             failed to get {resource} utilization: {e}"
                        )
                    });
                }
            }
        }
        if let Some(first) = first_error {
            outcome.error = Some(format!(
                "invalid metrics ({invalid} invalid out of {}), first error is: {first}",
                targets.len()
            ));
        }
        // A metric that cannot be read must not let the others scale down.
        if invalid > 0 && outcome.replicas.is_some_and(|r| r < current_replicas) {
            outcome.replicas = None;
        }
        outcome
    }

    /// normalizeDesiredReplicasWithBehaviors.
    fn normalize_with_behaviors(
        &mut self,
        now: UnixSeconds,
        current: i64,
        proposal: i64,
        min: i64,
        max: i64,
    ) -> (i64, &'static str) {
        let stabilized = self.stabilize_with_behaviors(now, current, proposal);
        let (desired, reason) = convert_with_behavior_rate(
            now,
            current,
            stabilized,
            min,
            max,
            &self.config.behavior,
            &self.scale_up_events,
            &self.scale_down_events,
        );
        if desired == stabilized && stabilized != proposal {
            let reason = if proposal >= current {
                "ScaleUpStabilized"
            } else {
                "ScaleDownStabilized"
            };
            return (desired, reason);
        }
        (desired, reason)
    }

    /// stabilizeRecommendationWithBehaviors: hold the recommendation between the lowest one of
    /// the scale-up window and the highest one of the scale-down window, then record it.
    fn stabilize_with_behaviors(&mut self, now: UnixSeconds, current: i64, proposal: i64) -> i64 {
        let behavior = &self.config.behavior;
        let up_cutoff = now - i64::from(behavior.scale_up.stabilization_window_seconds);
        let down_cutoff = now - i64::from(behavior.scale_down.stabilization_window_seconds);
        let mut up_recommendation = proposal;
        let mut down_recommendation = proposal;
        let mut old_sample = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if rec.timestamp > up_cutoff {
                up_recommendation = up_recommendation.min(rec.replicas);
            }
            if rec.timestamp > down_cutoff {
                down_recommendation = down_recommendation.max(rec.replicas);
            }
            if rec.timestamp < up_cutoff && rec.timestamp < down_cutoff {
                old_sample = Some(i);
            }
        }
        self.record_recommendation(old_sample, proposal, now);
        current.max(up_recommendation).min(down_recommendation)
    }

    /// normalizeDesiredReplicas, for HPAs without `spec.behavior`.
    fn normalize_without_behavior(
        &mut self,
        now: UnixSeconds,
        current: i64,
        proposal: i64,
        min: i64,
        max: i64,
    ) -> (i64, &'static str) {
        let stabilized = self.stabilize_recommendation(now, proposal);
        let (desired, reason) = convert_desired_replicas_with_rules(current, stabilized, min, max);
        if desired == stabilized && stabilized != proposal {
            return (desired, "ScaleDownStabilized");
        }
        (desired, reason)
    }

    /// stabilizeRecommendation: the highest recommendation of the last 300 s.
    fn stabilize_recommendation(&mut self, now: UnixSeconds, proposal: i64) -> i64 {
        let cutoff = now - i64::from(DEFAULT_DOWNSCALE_STABILIZATION_SECONDS);
        let mut max_recommendation = proposal;
        let mut old_sample = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if rec.timestamp < cutoff {
                old_sample = Some(i);
            } else if rec.replicas > max_recommendation {
                max_recommendation = rec.replicas;
            }
        }
        self.record_recommendation(old_sample, proposal, now);
        max_recommendation
    }

    /// Reuse one expired slot if there is one, which keeps the list as long as one window.
    fn record_recommendation(
        &mut self,
        old_sample: Option<usize>,
        replicas: i64,
        now: UnixSeconds,
    ) {
        let rec = TimestampedRecommendation {
            replicas,
            timestamp: now,
        };
        match old_sample.and_then(|i| self.recommendations.get_mut(i)) {
            Some(slot) => *slot = rec,
            None => self.recommendations.push(rec),
        }
    }

    /// storeScaleEvent: remember the change for the rate limits, reusing an outdated slot.
    fn store_scale_event(&mut self, now: UnixSeconds, previous: i64, new: i64) {
        let (events, rules) = if new > previous {
            (&mut self.scale_up_events, &self.config.behavior.scale_up)
        } else {
            (
                &mut self.scale_down_events,
                &self.config.behavior.scale_down,
            )
        };
        let cutoff = now - rules.longest_period();
        let mut old_sample = None;
        for (i, event) in events.iter_mut().enumerate() {
            if event.timestamp < cutoff {
                event.outdated = true;
            }
            if event.outdated {
                old_sample = Some(i);
            }
        }
        let event = ScaleEvent {
            change: (new - previous).abs(),
            timestamp: now,
            outdated: false,
        };
        match old_sample.and_then(|i| events.get_mut(i)) {
            Some(slot) => *slot = event,
            None => events.push(event),
        }
    }
}

#[derive(Debug, Default)]
struct MetricsOutcome {
    replicas: Option<u32>,
    cpu_utilization: Option<u32>,
    mem_utilization: Option<u32>,
    error: Option<String>,
}

/// getReplicasChangePerPeriod: replicas changed by events newer than `period_seconds`.
fn replicas_change_per_period(now: UnixSeconds, period_seconds: u32, events: &[ScaleEvent]) -> i64 {
    let cutoff = now - i64::from(period_seconds);
    events
        .iter()
        .filter(|e| e.timestamp > cutoff)
        .map(|e| e.change)
        .sum()
}

/// calculateScaleUpLimitWithScalingRules: the most replicas the policies allow now, counted
/// from the size at the start of each policy's period.
fn scale_up_limit(
    now: UnixSeconds,
    current: i64,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
) -> i64 {
    let (mut result, select): (i64, fn(i64, i64) -> i64) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i64::from(i32::MAX), i64::min),
        SelectPolicy::Max => (i64::from(i32::MIN), i64::max),
    };
    for policy in &rules.policies {
        let period_start = current
            - replicas_change_per_period(now, policy.period_seconds, up_events)
            + replicas_change_per_period(now, policy.period_seconds, down_events);
        let proposed = match policy.kind {
            PolicyKind::Pods => period_start + i64::from(policy.value),
            // Rounded up, or a small percentage of few pods would never add one.
            PolicyKind::Percent => {
                (period_start as f64 * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i64
            }
        };
        result = select(result, proposed);
    }
    result
}

/// calculateScaleDownLimitWithBehaviors: the fewest replicas the policies allow now.
fn scale_down_limit(
    now: UnixSeconds,
    current: i64,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
) -> i64 {
    // "Min" means the smallest change, which for scaling down is the highest count.
    let (mut result, select): (i64, fn(i64, i64) -> i64) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i64::from(i32::MIN), i64::max),
        SelectPolicy::Max => (i64::from(i32::MAX), i64::min),
    };
    for policy in &rules.policies {
        let period_start = current
            - replicas_change_per_period(now, policy.period_seconds, up_events)
            + replicas_change_per_period(now, policy.period_seconds, down_events);
        let proposed = match policy.kind {
            PolicyKind::Pods => period_start - i64::from(policy.value),
            // Truncated, as Go's int32 conversion does.
            PolicyKind::Percent => {
                (period_start as f64 * (1.0 - f64::from(policy.value) / 100.0)) as i64
            }
        };
        result = select(result, proposed);
    }
    result
}

/// convertDesiredReplicasWithBehaviorRate: apply the rate limits and [min, max].
#[allow(clippy::too_many_arguments)]
fn convert_with_behavior_rate(
    now: UnixSeconds,
    current: i64,
    desired: i64,
    min: i64,
    max: i64,
    behavior: &Behavior,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
) -> (i64, &'static str) {
    if desired > current {
        // Never below current: policies changed after many scale-ups must not scale down.
        let limit =
            scale_up_limit(now, current, up_events, down_events, &behavior.scale_up).max(current);
        let (allowed, reason) = if max > limit {
            (limit, "ScaleUpLimit")
        } else {
            (max, "TooManyReplicas")
        };
        if desired > allowed {
            return (allowed, reason);
        }
    } else if desired < current {
        let limit = scale_down_limit(now, current, up_events, down_events, &behavior.scale_down)
            .min(current);
        let (allowed, reason) = if min < limit {
            (limit, "ScaleDownLimit")
        } else {
            (min, "TooFewReplicas")
        };
        if desired < allowed {
            return (allowed, reason);
        }
    }
    (desired, "DesiredWithinRange")
}

/// convertDesiredReplicasWithRules, for HPAs without `spec.behavior`.
fn convert_desired_replicas_with_rules(
    current: i64,
    desired: i64,
    min: i64,
    max: i64,
) -> (i64, &'static str) {
    let scale_up_limit =
        (SCALE_UP_LIMIT_FACTOR * current as f64).max(SCALE_UP_LIMIT_MINIMUM) as i64;
    let (max_allowed, reason) = if max > scale_up_limit {
        (scale_up_limit, "ScaleUpLimit")
    } else {
        (max, "TooManyReplicas")
    };
    if desired < min {
        (min, "TooFewReplicas")
    } else if desired > max_allowed {
        (max_allowed, reason)
    } else {
        (desired, "DesiredWithinRange")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixSeconds = 1_700_000_000;

    /// The Go tests' calculator: defaultTestingTolerance, defaultTestingCPUInitializationPeriod
    /// (2 min) and defaultTestingDelayOfInitialReadinessStatus (10 s).
    fn go_calc() -> ReplicaCalculator {
        ReplicaCalculator {
            tolerance: 0.1,
            cpu_initialization_period: 120,
            delay_of_initial_readiness_status: 10,
        }
    }

    /// A pod as replica_calculator_test.go builds it: two containers each requesting
    /// `request_cores` and using `level` millicores (so pod totals are doubled), Running,
    /// Ready, start and Ready transition at the zero time, metric window 1 min.
    fn go_pod(request_cores: f64, level: Option<i64>) -> PodSample {
        PodSample {
            pending: false,
            deleting: false,
            ready: true,
            start_time: 0,
            ready_transition: 0,
            cpu_usage: level.map(|l| 2.0 * l as f64),
            mem_usage: None,
            metric_timestamp: 0,
            metric_window_seconds: 60,
            cpu_request: 2000.0 * request_cores,
            mem_request: 0.0,
        }
    }

    /// `n` pods requesting 1 core per container, with metrics for the first `levels.len()`.
    fn go_pods(n: usize, levels: &[i64]) -> Vec<PodSample> {
        (0..n)
            .map(|i| go_pod(1.0, levels.get(i).copied()))
            .collect()
    }

    fn unready(mut pod: PodSample) -> PodSample {
        pod.ready = false;
        pod
    }

    /// hotCPUCreationTime: started now.
    fn hot(mut pod: PodSample) -> PodSample {
        pod.start_time = NOW;
        pod
    }

    /// coolCPUCreationTime: started 3 min ago.
    fn cool(mut pod: PodSample) -> PodSample {
        pod.start_time = NOW - 180;
        pod
    }

    fn pending(mut pod: PodSample) -> PodSample {
        pod.pending = true;
        pod
    }

    fn deleting(mut pod: PodSample) -> PodSample {
        pod.deleting = true;
        pod
    }

    #[track_caller]
    fn assert_cpu(
        current: u32,
        target: u32,
        pods: &[PodSample],
        replicas: u32,
        utilization: u32,
        raw: f64,
    ) {
        let got = go_calc()
            .resource_replicas(NOW, current, target, Resource::Cpu, pods)
            .unwrap();
        assert_eq!(
            got,
            ResourceReplicas {
                replicas,
                utilization,
                raw_utilization: raw
            }
        );
    }

    // ---- replica_calculator_test.go ----

    #[test]
    fn k8s_test_replica_calc_scale_up() {
        // 3 pods at 300/500/700m of 1 core, target 30 % → 5 replicas, 50 %, raw 2 × 500.
        assert_cpu(3, 30, &go_pods(3, &[300, 500, 700]), 5, 50, 1000.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_up_unready_less_scale() {
        // The unready pod's 300m is dropped (60 %), then counted at 0 on the scale-up:
        // 1200/3000 = 40 % → ceil(4/3 × 3) = 4 instead of 6.
        let mut pods = go_pods(3, &[300, 500, 700]);
        pods[0] = unready(pods[0].clone());
        assert_cpu(3, 30, &pods, 4, 60, 1200.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_up_hot_cpu_less_scale() {
        // A pod in its CPU initialization period whose sample predates Ready + window is
        // treated like an unready one.
        let pods = go_pods(3, &[300, 500, 700]);
        let pods = vec![
            hot(pods[0].clone()),
            cool(pods[1].clone()),
            cool(pods[2].clone()),
        ];
        assert_cpu(3, 30, &pods, 4, 60, 1200.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_up_unready_no_scale() {
        // 400m ready → 40 % wants up; counting the two unready at 0 gives 13 % < target: the
        // direction flips, so current replicas are kept.
        let mut pods = go_pods(3, &[400, 500, 700]);
        pods[1] = unready(pods[1].clone());
        pods[2] = unready(pods[2].clone());
        assert_cpu(3, 30, &pods, 3, 40, 800.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_hot_cpu_no_scale() {
        let pods = go_pods(3, &[400, 500, 700]);
        let pods = vec![
            cool(pods[0].clone()),
            hot(unready(pods[1].clone())),
            hot(unready(pods[2].clone())),
        ];
        assert_cpu(3, 30, &pods, 3, 40, 800.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_up_ignores_failed_pods() {
        // Two failed pods (no metrics) are ignored, not counted as missing.
        let mut pods = go_pods(4, &[500, 700]);
        pods[2] = deleting(unready(pods[2].clone()));
        pods[3] = deleting(unready(pods[3].clone()));
        assert_cpu(2, 30, &pods, 4, 60, 1200.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_up_ignores_deletion_pods() {
        let mut pods = go_pods(4, &[500, 700]);
        pods[2] = deleting(unready(pods[2].clone()));
        pods[3] = deleting(unready(pods[3].clone()));
        assert_cpu(2, 30, &pods, 4, 60, 1200.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_down() {
        // 1400/5000 = 28 % of a 50 % target → ceil(0.56 × 5) = 3.
        assert_cpu(5, 50, &go_pods(5, &[100, 300, 500, 250, 250]), 3, 28, 560.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_down_exclude_unready_pods() {
        // Unready pods do not count on a scale-down: 900/3000 = 30 % → ceil(0.6 × 3) = 2.
        let mut pods = go_pods(5, &[100, 300, 500, 250, 250]);
        pods[3] = unready(pods[3].clone());
        pods[4] = unready(pods[4].clone());
        assert_cpu(5, 50, &pods, 2, 30, 600.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_down_exclude_unscheduled_pods() {
        let pods: Vec<_> = go_pods(5, &[100])
            .into_iter()
            .enumerate()
            .map(|(i, p)| if i == 0 { p } else { pending(unready(p)) })
            .collect();
        assert_cpu(5, 50, &pods, 1, 10, 200.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_down_ignore_hot_cpu_pods() {
        let pods: Vec<_> = go_pods(5, &[100, 300, 500, 250, 250])
            .into_iter()
            .enumerate()
            .map(|(i, p)| if i < 3 { cool(p) } else { hot(p) })
            .collect();
        assert_cpu(5, 50, &pods, 2, 30, 600.0);
    }

    #[test]
    fn k8s_test_replica_calc_scale_down_ignores_failed_pods() {
        let mut pods = go_pods(7, &[100, 300, 500, 250, 250]);
        pods[5] = deleting(unready(pods[5].clone()));
        pods[6] = deleting(unready(pods[6].clone()));
        assert_cpu(5, 50, &pods, 3, 28, 560.0);
    }

    #[test]
    fn k8s_test_replica_calc_tolerance() {
        // 6120/6000 = 102 %: inside the 10 % tolerance.
        let pods = vec![
            go_pod(0.9, Some(1010)),
            go_pod(1.0, Some(1030)),
            go_pod(1.1, Some(1020)),
        ];
        assert_cpu(3, 100, &pods, 3, 102, 2040.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics() {
        // 990/4000 ready = 24 %; on a scale-down the 2 missing pods count at 100 %:
        // (990 + 4000)/8000 = 62 % → ceil(0.62 × 4) = 3.
        assert_cpu(4, 100, &go_pods(4, &[400, 95]), 3, 24, 495.0);
    }

    #[test]
    fn k8s_test_replica_calc_empty_cpu_request() {
        let mut pod = go_pod(1.0, Some(200));
        pod.cpu_request = 0.0;
        let err = go_calc()
            .resource_replicas(NOW, 1, 100, Resource::Cpu, &[pod])
            .unwrap_err();
        assert_eq!(
            err,
            HpaError::MissingRequest {
                resource: Resource::Cpu,
                pod: 0
            }
        );
        assert!(err.to_string().starts_with("missing request for cpu"));
    }

    #[test]
    fn k8s_test_replica_calc_empty_metrics() {
        let err = go_calc()
            .resource_replicas(NOW, 4, 100, Resource::Cpu, &go_pods(3, &[]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to get metrics for resource cpu: no metrics returned from resource metrics API"
        );
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_no_change_eq() {
        // Exactly on target: missing pods are not even filled in.
        assert_cpu(2, 100, &go_pods(2, &[1000]), 2, 100, 2000.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_no_change_gt() {
        // 190 % wants up; the missing pod at 0 % gives 95 %, inside tolerance.
        assert_cpu(2, 100, &go_pods(2, &[1900]), 2, 190, 3800.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_no_change_lt() {
        // 60 % wants down; the missing pod at 100 % gives 80 % → ceil(0.8 × 2) = 2.
        assert_cpu(2, 100, &go_pods(2, &[600]), 2, 60, 1200.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_unready_change() {
        // 45 % of a 50 % target wants down; the missing pod at 100 % makes it 72 % (up):
        // the direction flips, keep 3.
        let mut pods = go_pods(3, &[100, 450]);
        pods[0] = unready(pods[0].clone());
        assert_cpu(3, 50, &pods, 3, 45, 900.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_unready_scale_up() {
        // 200 % wants up; missing and unready pods at 0 % give 66 % → ceil(1.32 × 3) = 4.
        let mut pods = go_pods(3, &[100, 2000]);
        pods[0] = unready(pods[0].clone());
        assert_cpu(3, 50, &pods, 4, 200, 4000.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_hot_cpu_scale_up() {
        let mut pods = go_pods(3, &[100, 2000]);
        pods[0] = hot(unready(pods[0].clone()));
        pods[1] = cool(pods[1].clone());
        pods[2] = cool(pods[2].clone());
        assert_cpu(3, 50, &pods, 4, 200, 4000.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_unready_scale_down() {
        // Unready pods are left out on a scale-down, the missing one counts at 100 %:
        // (400 + 2000)/6000 = 40 % → ceil(0.8 × 3) = 3.
        let mut pods = go_pods(4, &[100, 100, 100]);
        pods[0] = unready(pods[0].clone());
        assert_cpu(4, 50, &pods, 3, 10, 200.0);
    }

    #[test]
    fn k8s_test_replica_calc_missing_metrics_scale_down_target_over100() {
        // With a 300 % target the missing pod counts at 300 % of its request, not 100 %:
        // 12400/10000 = 124 % → ceil(0.4133 × 3) = 2.
        let pods = vec![
            unready(go_pod(1.0, Some(200))),
            go_pod(1.0, Some(100)),
            go_pod(2.0, Some(100)),
            go_pod(2.0, None),
        ];
        assert_cpu(4, 300, &pods, 2, 6, 200.0);
    }

    #[test]
    fn k8s_test_replica_calc_during_rolling_update_with_max_surge() {
        // 3 pods for spec 2: the fill-in gives ceil(0.8 × 3) = 3 > 2 while usage is below
        // target, so current replicas are kept.
        assert_cpu(2, 50, &go_pods(3, &[100, 100]), 2, 10, 200.0);
    }

    #[test]
    fn k8s_test_replica_calc_computed_tolerance_alg_implementation() {
        // 10 pods using 150m of ~300m; target int32((1/(2 × 0.9) + 0.01) × 100) = 56 % gives
        // 50/56 = 0.893 (just outside tolerance) → 9; a target of 55 % (+0.004) stays at 10.
        let requests = [
            400.0, 200.0, 310.0, 290.0, 302.0, 298.0, 301.0, 299.0, 300.0, 300.0,
        ];
        let pods: Vec<_> = requests
            .iter()
            .map(|r| go_pod(r / 1000.0, Some(150)))
            .collect();
        assert_cpu(10, 56, &pods, 9, 50, 300.0);
        assert_cpu(10, 55, &pods, 10, 50, 300.0);
    }

    /// One case of TestGroupPods: a CPU pod with metrics, in the Go test's relative times.
    fn group_one(
        start_ago: i64,
        transition_ago: i64,
        ready: bool,
        window: i64,
        sample_ago: i64,
    ) -> PodGroups {
        let pod = PodSample {
            start_time: NOW - start_ago,
            ready_transition: NOW - transition_ago,
            ready,
            metric_window_seconds: window,
            metric_timestamp: NOW - sample_ago,
            ..go_pod(1.0, Some(1))
        };
        go_calc().group_pods(NOW, Resource::Cpu, &[pod])
    }

    fn ready_only() -> PodGroups {
        PodGroups {
            ready: vec![(0, 2)],
            ..PodGroups::default()
        }
    }

    fn unready_only() -> PodGroups {
        PodGroups {
            unready: vec![0],
            ..PodGroups::default()
        }
    }

    #[test]
    fn k8s_test_group_pods() {
        // "count in a ready pod with fresh metrics during initialization period - CPU"
        assert_eq!(group_one(60, 30, true, 30, 0), ready_only());
        // "unready a ready pod without fresh metrics during initialization period - CPU"
        assert_eq!(group_one(60, 30, true, 60, 0), unready_only());
        // "unready an unready pod during initialization period - CPU" (never ready: went
        // unready 6 s after start, within the 10 s delay)
        assert_eq!(group_one(600, 594, false, 60, 0), unready_only());
        // "count in a ready pod without fresh metrics after initialization period - CPU"
        assert_eq!(group_one(180, 180, true, 60, 120), ready_only());
        // "count in an unready pod that was ready after initialization period - CPU"
        assert_eq!(group_one(600, 540, false, 60, 0), ready_only());
        // "unready pod that has never been ready after initialization period - CPU": the
        // transition exactly 10 s after start is not *after* the delay, so it counts.
        assert_eq!(group_one(600, 590, false, 60, 0), ready_only());

        // "count in a ready pod - memory": readiness is not looked at for memory.
        let mem_pod = PodSample {
            ready: false,
            start_time: NOW,
            mem_usage: Some(1.0),
            ..go_pod(1.0, None)
        };
        let groups = go_calc().group_pods(NOW, Resource::Memory, &[mem_pod]);
        assert_eq!(groups.ready.len(), 1);

        // "a missing pod", "pending pods are unreadied", "ignore pods with deletion
        // timestamps" / "ignore pods in a failed state", "several pods".
        let pods = vec![
            go_pod(1.0, None),
            pending(go_pod(1.0, None)),
            deleting(pending(go_pod(1.0, Some(1)))),
            hot(go_pod(1.0, Some(1))),
            cool(go_pod(1.0, Some(1))),
        ];
        assert_eq!(
            go_calc().group_pods(NOW, Resource::Cpu, &pods),
            PodGroups {
                ready: vec![(4, 2)],
                unready: vec![1, 3],
                missing: vec![0],
                ignored: vec![2],
            }
        );
    }

    // ---- behaviour of the calculator beyond the Go tables ----

    #[test]
    fn desired_is_ceil_of_ready_times_ratio() {
        // 4 pods at 90 % of a 60 % target: ceil(1.5 × 4) = 6.
        assert_cpu(4, 60, &go_pods(4, &[900, 900, 900, 900]), 6, 90, 1800.0);
        // 4 pods at 20 %: ceil(0.4 × 4) = 2.
        assert_cpu(4, 50, &go_pods(4, &[200, 200, 200, 200]), 2, 20, 400.0);
    }

    #[test]
    fn tolerance_band_is_inclusive_and_uses_go_float_arithmetic() {
        // 109 % and 91 % of a 100 % target are within 0.1.
        assert_cpu(10, 100, &go_pods(10, &[1090; 10]), 10, 109, 2180.0);
        assert_cpu(10, 100, &go_pods(10, &[910; 10]), 10, 91, 1820.0);
        // 111 % leaves it: ceil(1.11 × 10) = 12.
        assert_cpu(10, 100, &go_pods(10, &[1110; 10]), 12, 111, 2220.0);
        // In f64 (as in Go) |1 − 1.1| > 0.1 but |1 − 0.9| < 0.1: exactly 110 % scales, 90 %
        // does not.
        assert_cpu(10, 100, &go_pods(10, &[1100; 10]), 11, 110, 2200.0);
        assert_cpu(10, 100, &go_pods(10, &[900; 10]), 10, 90, 1800.0);
    }

    #[test]
    fn utilization_is_truncated_before_the_ratio() {
        // 3036/4000 = 75.9 % → 75 %: ratio 1.5 → ceil(6.0) = 6 (75.9 % would give 7).
        assert_cpu(4, 50, &go_pods(4, &[759, 759, 759, 759]), 6, 75, 1518.0);
        // 1099/1000 = 109.9 % → 109 %: inside the tolerance, no change.
        assert_cpu(1, 100, &go_pods(1, &[1099]), 1, 109, 2198.0);
    }

    #[test]
    fn tolerance_boundary_is_inclusive() {
        // With a tolerance that is exact in binary, 75 % and 125 % of target sit on the edge.
        let calc = ReplicaCalculator {
            tolerance: 0.25,
            ..go_calc()
        };
        for (level, utilization) in [(750, 75), (1250, 125)] {
            let r = calc
                .resource_replicas(NOW, 4, 100, Resource::Cpu, &go_pods(4, &[level; 4]))
                .unwrap();
            assert_eq!((r.replicas, r.utilization), (4, utilization));
        }
        let r = calc
            .resource_replicas(NOW, 4, 100, Resource::Cpu, &go_pods(4, &[740; 4]))
            .unwrap();
        assert_eq!(r.replicas, 3);
    }

    #[test]
    fn missing_pods_never_turn_a_scale_down_into_a_scale_up() {
        // 1 ready pod at 40 % of a 50 % target wants down; the 4 missing ones at 100 % make
        // it 88 % (ratio 1.76, which would ask for 9): the direction flipped, keep 5.
        assert_cpu(5, 50, &go_pods(5, &[400]), 5, 40, 800.0);
    }

    #[test]
    fn unready_pods_count_at_zero_only_on_scale_up() {
        // Scale-up: the unready pod joins at 0 % (see unready_less_scale); scale-down: it is
        // left out entirely, so 2 ready pods at 20 % of 50 % → ceil(0.4 × 2) = 1, not 2.
        let mut pods = go_pods(3, &[200, 200, 1000]);
        pods[2] = unready(pods[2].clone());
        assert_cpu(3, 50, &pods, 1, 20, 400.0);
    }

    #[test]
    fn missing_pods_count_at_zero_on_scale_up() {
        // 2 ready at 150 % of 50 % (ratio 3), 2 missing at 0 %: 75 % → ceil(1.5 × 4) = 6.
        assert_cpu(4, 50, &go_pods(4, &[1500, 1500]), 6, 150, 3000.0);
    }

    #[test]
    fn missing_pods_count_at_target_when_target_above_100_on_scale_down() {
        // Ready 2 pods at 100 % of a 200 % target (ratio 0.5); 2 missing pods at 200 %:
        // 150 % → ratio 0.75 → ceil(0.75 × 4) = 3. At 100 % fill-in it would be 2.
        assert_cpu(4, 200, &go_pods(4, &[1000, 1000]), 3, 100, 2000.0);
    }

    #[test]
    fn pending_pods_are_counted_at_zero_on_scale_up() {
        // Pending pods have no metrics yet; on a scale-up they dilute the ratio.
        let mut pods = go_pods(4, &[1000, 1000]);
        pods[2] = pending(pods[2].clone());
        pods[3] = pending(pods[3].clone());
        // 100 % of a 50 % target wants 4; with the pending pods at 0 % it is 50 %, on target.
        assert_cpu(2, 50, &pods, 2, 100, 2000.0);
    }

    #[test]
    fn cpu_initialization_period_rule() {
        let calc = ReplicaCalculator::default();
        let base = PodSample {
            start_time: NOW - 60,
            ready_transition: NOW - 40,
            metric_window_seconds: 30,
            metric_timestamp: NOW - 5,
            ..go_pod(1.0, Some(500))
        };
        // Within the 300 s period, ready, sample window (NOW−35..NOW−5) began after turning
        // ready at NOW−40: trusted.
        assert!(!calc.cpu_sample_unready(NOW, &base));
        // Sample window began before the Ready transition: distrusted.
        let stale = PodSample {
            metric_timestamp: NOW - 15,
            ..base.clone()
        };
        assert!(calc.cpu_sample_unready(NOW, &stale));
        // The period ends *at* start + 300 s: from then on a ready pod is trusted again.
        let settled = PodSample {
            start_time: NOW - 300,
            ready_transition: NOW - 20,
            ..stale.clone()
        };
        assert!(!calc.cpu_sample_unready(NOW, &settled));
        assert!(calc.cpu_sample_unready(NOW - 1, &settled));
        // Unready within the period: distrusted.
        assert!(calc.cpu_sample_unready(NOW, &unready(base.clone())));
        // After the period, an unready pod that was ready once (transition well after the
        // 30 s delay) is trusted; one that never became ready is not.
        let late = PodSample {
            start_time: NOW - 400,
            ready_transition: NOW - 100,
            ..unready(base.clone())
        };
        assert!(!calc.cpu_sample_unready(NOW, &late));
        let never = PodSample {
            ready_transition: NOW - 390,
            ..late.clone()
        };
        assert!(calc.cpu_sample_unready(NOW, &never));
        // Memory ignores readiness altogether.
        let mem = |p: PodSample| PodSample {
            mem_usage: Some(256.0),
            mem_request: 512.0,
            ..p
        };
        let pods = vec![mem(unready(hot(base.clone()))), mem(base)];
        let got = calc
            .resource_replicas(NOW, 2, 50, Resource::Memory, &pods)
            .unwrap();
        assert_eq!(got.replicas, 2);
        assert_eq!(got.utilization, 50);
        assert_eq!(got.raw_utilization, 256.0);
    }

    #[test]
    fn errors_for_no_pods_no_ready_metrics_and_zero_target() {
        let calc = go_calc();
        assert_eq!(
            calc.resource_replicas(NOW, 1, 50, Resource::Cpu, &[]),
            Err(HpaError::NoPods)
        );
        let err = calc
            .resource_replicas(
                NOW,
                1,
                50,
                Resource::Cpu,
                &[unready(hot(go_pod(1.0, Some(100))))],
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "did not receive metrics for targeted pods (pods might be unready)"
        );
        assert_eq!(
            calc.resource_replicas(NOW, 1, 0, Resource::Cpu, &go_pods(1, &[100])),
            Err(HpaError::InvalidTarget(0))
        );
    }

    #[test]
    fn cpu_usage_is_rounded_up_to_whole_millicores() {
        // 100.2m reads as 101m (MilliValue rounds up): 101/200 = 50 %, not 50.1 → 50 either
        // way; 199.0000001m (float noise) stays 199m.
        let pod = |usage: f64| PodSample {
            cpu_usage: Some(usage),
            cpu_request: 200.0,
            ..go_pod(1.0, None)
        };
        let r = go_calc()
            .resource_replicas(NOW, 1, 100, Resource::Cpu, &[pod(100.2)])
            .unwrap();
        assert_eq!(r.raw_utilization, 101.0);
        let r = go_calc()
            .resource_replicas(NOW, 1, 100, Resource::Cpu, &[pod(199.000_000_1)])
            .unwrap();
        assert_eq!(r.raw_utilization, 199.0);
        assert_eq!(r.utilization, 99);
    }

    // ---- horizontal_test.go ----

    /// generateScalingRules: Max select, a Pods and/or a Percent policy.
    fn rules(
        pods: u32,
        pods_period: u32,
        percent: u32,
        percent_period: u32,
        window: u32,
    ) -> ScalingRules {
        let mut policies = Vec::new();
        if pods != 0 {
            policies.push(ScalingPolicy {
                kind: PolicyKind::Pods,
                value: pods,
                period_seconds: pods_period,
            });
        }
        if percent != 0 {
            policies.push(ScalingPolicy {
                kind: PolicyKind::Percent,
                value: percent,
                period_seconds: percent_period,
            });
        }
        ScalingRules {
            stabilization_window_seconds: window,
            select: SelectPolicy::Max,
            policies,
        }
    }

    /// generateEventsUniformDistribution: events centred in equal slices of the last
    /// `period` seconds, oldest first (whole seconds, as Go's Duration conversion truncates).
    fn uniform_events(changes: &[i64], period: i64) -> Vec<ScaleEvent> {
        let segment = period as f64 / changes.len() as f64;
        changes
            .iter()
            .enumerate()
            .map(|(i, &change)| {
                let ago = (period as f64 - segment * (i + 1) as f64 + segment / 2.0) as i64;
                ScaleEvent {
                    change,
                    timestamp: NOW - ago,
                    outdated: false,
                }
            })
            .collect()
    }

    fn recs(list: &[(i64, i64)]) -> Vec<TimestampedRecommendation> {
        list.iter()
            .map(|&(replicas, ago)| TimestampedRecommendation {
                replicas,
                timestamp: NOW - ago,
            })
            .collect()
    }

    struct RateCase {
        name: &'static str,
        up_events: Vec<ScaleEvent>,
        down_events: Vec<ScaleEvent>,
        min: i64,
        max: i64,
        up: Option<ScalingRules>,
        down: Option<ScalingRules>,
        current: i64,
        desired: i64,
        expected: i64,
        reason: &'static str,
    }

    fn rate_case(name: &'static str, current: i64, desired: i64, min: i64, max: i64) -> RateCase {
        RateCase {
            name,
            up_events: Vec::new(),
            down_events: Vec::new(),
            min,
            max,
            up: None,
            down: None,
            current,
            desired,
            expected: 0,
            reason: "",
        }
    }

    impl RateCase {
        fn up(mut self, rules: ScalingRules) -> Self {
            self.up = Some(rules);
            self
        }
        fn down(mut self, rules: ScalingRules) -> Self {
            self.down = Some(rules);
            self
        }
        fn events(mut self, up: Vec<ScaleEvent>, down: Vec<ScaleEvent>) -> Self {
            self.up_events = up;
            self.down_events = down;
            self
        }
        fn expect(mut self, expected: i64, reason: &'static str) -> Self {
            self.expected = expected;
            self.reason = reason;
            self
        }
    }

    #[test]
    fn k8s_test_scaling_with_rules() {
        let none = Vec::new;
        let cases = vec![
            rate_case("prenormalized desired replicas within range", 5, 7, 3, 8)
                .expect(7, "DesiredWithinRange"),
            rate_case("prenormalized desired replicas < minReplicas", 3, 1, 2, 8)
                .expect(2, "TooFewReplicas"),
            rate_case("prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10)
                .expect(0, "DesiredWithinRange"),
            rate_case("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10)
                .expect(10, "TooManyReplicas"),
            rate_case("desired replica count is more than the maximum replica count", 100, 1000, 100, 150)
                .expect(150, "TooManyReplicas"),
            rate_case("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", 3, 1000, 1, 2000)
                .up(rules(0, 0, 1, 60, 0))
                .expect(4, "ScaleUpLimit"),
            // Marked testThis (skipped) in Go; 1000 − 20 pods.
            rate_case("scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies", 1000, 3, 3, 2000)
                .down(rules(20, 60, 0, 0, 0))
                .expect(980, "ScaleDownLimit"),
            rate_case("scaleUp with default behavior", 10, 50, 1, 1000).expect(20, "ScaleUpLimit"),
            rate_case("scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000)
                .up(rules(100, 60, 100, 60, 0))
                .expect(110, "ScaleUpLimit"),
            rate_case("scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000)
                .up(rules(2, 60, 100, 60, 0))
                .expect(20, "ScaleUpLimit"),
            rate_case("scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000)
                .up(rules(100, 60, 0, 0, 0))
                .expect(50, "DesiredWithinRange"),
            rate_case("scaleUp with pod policy limitation", 10, 50, 1, 1000)
                .up(rules(30, 60, 0, 0, 0))
                .expect(40, "ScaleUpLimit"),
            rate_case("scaleUp with percent policy limitation", 10, 50, 1, 1000)
                .up(rules(0, 0, 200, 60, 0))
                .expect(30, "ScaleUpLimit"),
            rate_case("scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000)
                .down(rules(20, 60, 1, 60, 300))
                .expect(80, "ScaleDownLimit"),
            rate_case("scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000)
                .down(rules(2, 60, 1, 60, 300))
                .expect(98, "ScaleDownLimit"),
            rate_case("scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000)
                .down(rules(0, 0, 100, 60, 300))
                .expect(5, "TooFewReplicas"),
            rate_case("scaleDown with pod policy limitation", 10, 2, 1, 1000)
                .down(rules(5, 60, 0, 0, 300))
                .expect(5, "ScaleDownLimit"),
            rate_case("scaleDown with percent policy limitation", 10, 5, 1, 1000)
                .down(rules(0, 0, 50, 60, 300))
                .expect(5, "DesiredWithinRange"),
            rate_case("scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200)
                .up(rules(300, 60, 0, 0, 0))
                .events(uniform_events(&[1, 5, 9], 120), none())
                .expect(200, "TooManyReplicas"),
            rate_case("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", 100, 500, 1, 1000)
                .up(rules(5, 120, 0, 0, 0))
                .events(uniform_events(&[1, 5, 9], 120), none())
                .expect(100, "ScaleUpLimit"),
            rate_case("scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000)
                .up(rules(150, 120, 0, 0, 0))
                .events(uniform_events(&[1, 5, 9], 120), none())
                .expect(235, "ScaleUpLimit"),
            rate_case("scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000)
                .up(rules(0, 0, 200, 120, 0))
                .events(uniform_events(&[1, 5, 9], 120), none())
                .expect(255, "ScaleUpLimit"),
            rate_case("scaleUp with percent policy and previous scale up and down events", 6, 24, 1, 1000)
                .up(rules(0, 0, 300, 300, 0))
                .events(uniform_events(&[4], 120), uniform_events(&[2], 120))
                .expect(16, "ScaleUpLimit"),
            rate_case("scaleDown with default policy and previous events", 10, 5, 1, 1000)
                .events(none(), uniform_events(&[1, 5, 9], 120))
                .expect(5, "DesiredWithinRange"),
            rate_case("scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000)
                .down(rules(130, 120, 0, 0, 300))
                .events(none(), uniform_events(&[1, 5, 9], 120))
                .expect(5, "TooFewReplicas"),
            rate_case("scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000)
                .down(rules(5, 120, 0, 0, 300))
                .events(none(), uniform_events(&[1, 5, 9], 120))
                .expect(100, "ScaleDownLimit"),
            rate_case("scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000)
                .down(rules(0, 0, 50, 120, 300))
                .events(none(), uniform_events(&[2, 4, 6], 120))
                .expect(56, "ScaleDownLimit"),
            rate_case("scaleDown with percent policy and previous scale up and down events", 10, 1, 1, 1000)
                .down(rules(0, 0, 50, 180, 0))
                .events(uniform_events(&[2], 120), uniform_events(&[4], 120))
                .expect(6, "ScaleDownLimit"),
            rate_case("scaleDown with previous events preventing further scale down", 100, 0, 1, 1000)
                .down(rules(0, 0, 10, 120, 300))
                .events(none(), uniform_events(&[10, 10, 10], 120))
                .expect(100, "ScaleDownLimit"),
            rate_case("scaleDown with with previous events still allowing more scale down", 10, 5, 1, 1000)
                .down(rules(0, 0, 1000, 120, 300))
                .events(none(), uniform_events(&[10, 10, 10], 120))
                .expect(5, "DesiredWithinRange"),
            rate_case("check 'outdated' flag for events for one behavior for up", 100, 200, 1, 1000)
                .up(rules(1000, 60, 0, 0, 0))
                .events(uniform_events(&[8, 12, 9, 11], 120), none())
                .expect(200, "DesiredWithinRange"),
        ];
        for case in cases {
            let behavior = Behavior {
                scale_up: case.up.unwrap_or_else(ScalingRules::default_scale_up),
                scale_down: case.down.unwrap_or_else(ScalingRules::default_scale_down),
            };
            let got = convert_with_behavior_rate(
                NOW,
                case.current,
                case.desired,
                case.min,
                case.max,
                &behavior,
                &case.up_events,
                &case.down_events,
            );
            assert_eq!(got, (case.expected, case.reason), "{}", case.name);
        }
    }

    #[test]
    fn k8s_test_calculate_scale_up_limit_with_scaling_rules() {
        // Min of {+2 pods, +50 %} from 1 replica: min(3, ceil(1.5)) = 2.
        let mut min_rules = rules(2, 60, 50, 60, 300);
        min_rules.select = SelectPolicy::Min;
        assert_eq!(scale_up_limit(NOW, 1, &[], &[], &min_rules), 2);
    }

    #[test]
    fn k8s_test_calculate_scale_down_limit_with_behaviors() {
        // Min change of {−2 pods, −50 %} from 5: max(3, int(2.5)) = 3.
        let mut min_rules = rules(2, 60, 50, 60, 300);
        min_rules.select = SelectPolicy::Min;
        assert_eq!(scale_down_limit(NOW, 5, &[], &[], &min_rules), 3);
        // A percentage of pods to remove is truncated: 5 − 50 % = 2.5 → 2.
        assert_eq!(
            scale_down_limit(NOW, 5, &[], &[], &rules(0, 0, 50, 60, 0)),
            2
        );
        // Disabled keeps the current count either way.
        min_rules.select = SelectPolicy::Disabled;
        assert_eq!(scale_down_limit(NOW, 5, &[], &[], &min_rules), 5);
        assert_eq!(scale_up_limit(NOW, 5, &[], &[], &min_rules), 5);
    }

    fn controller_with(up_window: u32, down_window: u32, history: &[(i64, i64)]) -> HpaController {
        let mut behavior = Behavior::default();
        behavior.scale_up.stabilization_window_seconds = up_window;
        behavior.scale_down.stabilization_window_seconds = down_window;
        let mut ctl = HpaController::new(HpaConfig {
            min_replicas: 1,
            max_replicas: 1000,
            target_cpu_pct: Some(50),
            target_mem_pct: None,
            behavior,
        });
        ctl.recommendations = recs(history);
        ctl
    }

    fn stored(ctl: &HpaController) -> Vec<i64> {
        ctl.recommendations.iter().map(|r| r.replicas).collect()
    }

    #[test]
    fn k8s_test_normalize_desired_replicas_with_behavior() {
        // (name, history (replicas, seconds ago), current, desired, up window, down window,
        //  expected, expected stored recommendations)
        type Case = (
            &'static str,
            Vec<(i64, i64)>,
            i64,
            i64,
            u32,
            u32,
            i64,
            Vec<i64>,
        );
        let cases: Vec<Case> = vec![
            (
                "empty recommendations for scaling down",
                vec![],
                100,
                5,
                0,
                0,
                5,
                vec![5],
            ),
            (
                "simple scale down stabilization",
                vec![(4, 120), (5, 60)],
                100,
                3,
                0,
                180,
                5,
                vec![4, 5, 3],
            ),
            (
                "simple scale up stabilization",
                vec![(4, 120), (5, 60)],
                1,
                7,
                300,
                0,
                4,
                vec![4, 5, 7],
            ),
            (
                "no scale down stabilization",
                vec![(1, 120), (2, 60)],
                100,
                3,
                300,
                0,
                3,
                vec![1, 2, 3],
            ),
            (
                "no scale up stabilization",
                vec![(4, 120), (5, 60)],
                1,
                3,
                0,
                300,
                3,
                vec![4, 5, 3],
            ),
            (
                "no scale down stabilization, reuse recommendation element",
                vec![(10, 600), (9, 540)],
                100,
                3,
                0,
                0,
                3,
                vec![10, 3],
            ),
            (
                "no scale up stabilization, reuse recommendation element",
                vec![(10, 600), (9, 540)],
                1,
                100,
                0,
                0,
                100,
                vec![10, 100],
            ),
            (
                "scale down stabilization, reuse one of obsolete recommendation element",
                vec![(10, 600), (4, 60), (5, 120), (9, 540)],
                100,
                3,
                0,
                180,
                5,
                vec![10, 4, 5, 3],
            ),
            (
                "scale up stabilization, reuse one of obsolete recommendation element",
                vec![(10, 6000), (6, 60), (5, 120), (9, 180)],
                1,
                100,
                300,
                0,
                5,
                vec![100, 6, 5, 9],
            ),
            (
                "scale up and down stabilization, do not scale up when prenormalized rec goes down",
                vec![(2, 6000), (3, 180)],
                2,
                1,
                300,
                300,
                2,
                vec![1, 3],
            ),
            (
                "scale up and down stabilization, do not scale down when prenormalized rec goes up",
                vec![(2, 6000), (1, 180)],
                2,
                3,
                300,
                300,
                2,
                vec![3, 1],
            ),
        ];
        for (name, history, current, desired, up, down, expected, stored_after) in cases {
            let mut ctl = controller_with(up, down, &history);
            assert_eq!(
                ctl.stabilize_with_behaviors(NOW, current, desired),
                expected,
                "{name}"
            );
            assert_eq!(stored(&ctl), stored_after, "{name}");
        }
    }

    #[test]
    fn k8s_test_normalize_desired_replicas() {
        // Without spec.behavior: max over the controller's 5 min window.
        // (name, history (replicas, seconds ago), desired, expected, stored count)
        type Case = (&'static str, Vec<(i64, i64)>, i64, i64, usize);
        let cases: Vec<Case> = vec![
            ("empty log", vec![], 5, 5, 1),
            ("stabilize", vec![(4, 120), (5, 60)], 3, 5, 3),
            ("no stabilize", vec![(1, 120), (2, 60)], 3, 3, 3),
            (
                "no stabilize - old recommendations",
                vec![(10, 600), (9, 540)],
                3,
                3,
                2,
            ),
            (
                "stabilize - old recommendations",
                vec![(10, 600), (4, 60), (5, 120), (9, 540)],
                3,
                5,
                4,
            ),
        ];
        for (name, history, desired, expected, len) in cases {
            let mut ctl = controller_with(0, 0, &history);
            assert_eq!(
                ctl.stabilize_recommendation(NOW, desired),
                expected,
                "{name}"
            );
            assert_eq!(ctl.recommendations.len(), len, "{name}");
        }
    }

    #[test]
    fn k8s_test_convert_desired_replicas_with_rules() {
        // (current, desired, min, max) → (replicas, reason); scaleUpLimit(3) = max(6, 4).
        let cases = [
            ((5, 7, 3, 8), (7, "DesiredWithinRange")),
            ((3, 1, 2, 8), (2, "TooFewReplicas")),
            ((1, 0, 0, 10), (0, "DesiredWithinRange")),
            ((20, 1000, 1, 10), (10, "TooManyReplicas")),
            ((3, 1000, 1, 2000), (6, "ScaleUpLimit")),
        ];
        for ((current, desired, min, max), expected) in cases {
            assert_eq!(
                convert_desired_replicas_with_rules(current, desired, min, max),
                expected
            );
        }
    }

    #[test]
    fn k8s_test_store_scale_events() {
        // (name, previous events (change, seconds ago), rules, change within 60 s before,
        //  stored afterwards (change, outdated))
        type Case = (
            &'static str,
            Vec<(i64, i64)>,
            ScalingRules,
            i64,
            Vec<(i64, bool)>,
        );
        let cases: Vec<Case> = vec![
            (
                "empty entries with two-policy-behavior",
                vec![],
                rules(10, 60, 100, 60, 0),
                0,
                vec![(5, false)],
            ),
            (
                "one outdated entry to be replaced with behavior",
                vec![(7, 61)],
                rules(10, 60, 100, 60, 0),
                0,
                vec![(5, false)],
            ),
            (
                "one actual entry to be not touched with behavior",
                vec![(7, 58)],
                rules(10, 60, 100, 60, 0),
                7,
                vec![(7, false), (5, false)],
            ),
            (
                "two entries, one of them to be replaced",
                vec![(7, 61), (6, 59)],
                rules(10, 60, 0, 0, 0),
                6,
                vec![(5, false), (6, false)],
            ),
            (
                "replace one entry, use policies with different periods",
                vec![(8, 29), (6, 59), (7, 61), (9, 61)],
                rules(10, 60, 100, 30, 0),
                14,
                vec![(8, false), (6, false), (7, true), (5, false)],
            ),
            (
                "two entries, both actual",
                vec![(7, 58), (6, 59)],
                rules(10, 120, 100, 30, 0),
                13,
                vec![(7, false), (6, false), (5, false)],
            ),
        ];
        for (name, previous, scaling_rules, change_before, expected) in cases {
            let events: Vec<ScaleEvent> = previous
                .iter()
                .map(|&(change, ago)| ScaleEvent {
                    change,
                    timestamp: NOW - ago,
                    outdated: false,
                })
                .collect();
            assert_eq!(
                replicas_change_per_period(NOW, 60, &events),
                change_before,
                "{name}"
            );
            let got = |list: &[ScaleEvent]| -> Vec<(i64, bool)> {
                list.iter().map(|e| (e.change, e.outdated)).collect()
            };

            let mut up = controller_with(0, 0, &[]);
            up.config.behavior.scale_up = scaling_rules.clone();
            up.scale_up_events = events.clone();
            up.store_scale_event(NOW, 10, 15);
            assert_eq!(got(&up.scale_up_events), expected, "up: {name}");
            assert!(up.scale_down_events.is_empty());

            let mut down = controller_with(0, 0, &[]);
            down.config.behavior.scale_down = scaling_rules;
            down.scale_down_events = events;
            down.store_scale_event(NOW, 10, 5);
            assert_eq!(got(&down.scale_down_events), expected, "down: {name}");
            assert!(down.scale_up_events.is_empty());
        }
    }

    // Whole-controller cases from horizontal_test.go. Unless the Go case sets scaleUpRules,
    // its HPA has no spec.behavior, so those run `without_behavior`.

    /// A pod the way the controller tests see one: running and ready long since.
    fn cpu_pod(request_m: f64, usage_m: Option<f64>) -> PodSample {
        PodSample {
            pending: false,
            deleting: false,
            ready: true,
            start_time: NOW - 3600,
            ready_transition: NOW - 3590,
            cpu_usage: usage_m,
            mem_usage: None,
            metric_timestamp: NOW,
            metric_window_seconds: 60,
            cpu_request: request_m,
            mem_request: 0.0,
        }
    }

    fn config(min: u32, max: u32, cpu: u32) -> HpaConfig {
        HpaConfig {
            min_replicas: min,
            max_replicas: max,
            target_cpu_pct: Some(cpu),
            target_mem_pct: None,
            behavior: Behavior::default(),
        }
    }

    /// The Go cases that set `recommendations: []` start with no recommendation in the window.
    fn no_initial_recommendation(mut ctl: HpaController) -> HpaController {
        ctl.recommendations = recs(&[(0, 100_000)]);
        ctl
    }

    #[test]
    fn k8s_test_zero_replicas() {
        let mut ctl = HpaController::without_behavior(config(3, 5, 90));
        let r = ctl.reconcile(NOW, 0, &[]);
        assert_eq!((r.desired_replicas, r.reason), (0, "ScalingDisabled"));
        assert_eq!(ctl.last_scale_time(), None);
    }

    #[test]
    fn k8s_test_too_few_replicas() {
        let mut ctl = HpaController::without_behavior(config(3, 5, 90));
        let r = ctl.reconcile(NOW, 2, &[]);
        assert_eq!((r.desired_replicas, r.reason), (3, "TooFewReplicas"));
        assert_eq!(r.cpu_utilization, None);
        assert_eq!(ctl.last_scale_time(), Some(NOW));
    }

    #[test]
    fn k8s_test_too_many_replicas() {
        // Brought back to max without consulting metrics; with a behavior the change is
        // recorded as a scale-down event.
        let mut ctl = HpaController::new(config(3, 5, 90));
        let r = ctl.reconcile(NOW, 10, &[]);
        assert_eq!((r.desired_replicas, r.reason), (5, "TooManyReplicas"));
        assert_eq!(r.metrics_error, None);
        assert_eq!(ctl.scale_down_events.len(), 1);
        assert_eq!(ctl.scale_down_events[0].change, 5);
    }

    #[test]
    fn k8s_test_scale_down_rc_immediately() {
        // spec 6 > max 5 → 5 at once, whatever the metrics say.
        let pods = [
            cpu_pod(900.0, Some(8000.0)),
            cpu_pod(1000.0, Some(9500.0)),
            cpu_pod(1100.0, Some(1000.0)),
        ];
        let mut ctl = HpaController::without_behavior(config(2, 5, 50));
        assert_eq!(ctl.reconcile(NOW, 6, &pods).desired_replicas, 5);
    }

    #[test]
    fn k8s_test_max_replicas() {
        // 18500/3000 = 616 % of 90 % wants 21 → max 5.
        let pods = [
            cpu_pod(900.0, Some(8000.0)),
            cpu_pod(1000.0, Some(9500.0)),
            cpu_pod(1100.0, Some(1000.0)),
        ];
        let mut ctl = HpaController::without_behavior(config(2, 5, 90));
        let r = ctl.reconcile(NOW, 3, &pods);
        assert_eq!((r.desired_replicas, r.reason), (5, "TooManyReplicas"));
        assert_eq!(r.cpu_utilization, Some(616));
        assert_eq!(r.recommended_replicas, Some(21));
    }

    #[test]
    fn k8s_test_missing_metrics() {
        let pods = [
            cpu_pod(1000.0, Some(400.0)),
            cpu_pod(1000.0, Some(95.0)),
            cpu_pod(1000.0, None),
            cpu_pod(1000.0, None),
        ];
        let mut ctl = no_initial_recommendation(HpaController::without_behavior(config(2, 6, 100)));
        let r = ctl.reconcile(NOW, 4, &pods);
        assert_eq!((r.desired_replicas, r.reason), (3, "DesiredWithinRange"));
    }

    #[test]
    fn k8s_test_empty_metrics() {
        let pods = vec![cpu_pod(1000.0, None); 4];
        let mut ctl = HpaController::without_behavior(config(2, 6, 100));
        let r = ctl.reconcile(NOW, 4, &pods);
        assert_eq!(
            (r.desired_replicas, r.reason),
            (4, "FailedGetResourceMetric")
        );
        assert_eq!(
            r.metrics_error.as_deref(),
            Some(
                "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource \
                 metric value: failed to get cpu utilization: unable to get metrics for resource \
                 cpu: no metrics returned from resource metrics API"
            )
        );
        assert_eq!(ctl.last_scale_time(), None);
    }

    #[test]
    fn k8s_test_empty_cpu_request() {
        let mut ctl = HpaController::without_behavior(config(1, 5, 100));
        let r = ctl.reconcile(NOW, 1, &[cpu_pod(0.0, Some(200.0))]);
        assert_eq!(
            (r.desired_replicas, r.reason),
            (1, "FailedGetResourceMetric")
        );
        assert!(r.metrics_error.unwrap().contains("missing request for cpu"));
    }

    #[test]
    fn k8s_test_event_created() {
        let mut ctl = HpaController::without_behavior(config(1, 5, 50));
        let r = ctl.reconcile(NOW, 1, &[cpu_pod(200.0, Some(200.0))]);
        assert_eq!(r.desired_replicas, 2);
        assert_eq!(ctl.last_scale_time(), Some(NOW));
    }

    #[test]
    fn k8s_test_event_not_created() {
        let pods = vec![cpu_pod(400.0, Some(200.0)); 2];
        let mut ctl = HpaController::without_behavior(config(1, 5, 50));
        let r = ctl.reconcile(NOW, 2, &pods);
        assert_eq!((r.desired_replicas, r.reason), (2, "DesiredWithinRange"));
        assert_eq!(ctl.last_scale_time(), None);
    }

    #[test]
    fn k8s_test_missing_reports() {
        // One pod reports 100 % of a 50 % target: 4 → ceil(2 × 1) = 2.
        let mut ctl = no_initial_recommendation(HpaController::without_behavior(config(1, 5, 50)));
        let r = ctl.reconcile(NOW, 4, &[cpu_pod(200.0, Some(200.0))]);
        assert_eq!(r.desired_replicas, 2);
    }

    #[test]
    fn k8s_test_upscale_cap() {
        // 600/300 = 200 % of 10 % wants 60; +700 % per 60 s allows ceil(3 × 8) = 24.
        let pods = [
            cpu_pod(100.0, Some(100.0)),
            cpu_pod(100.0, Some(200.0)),
            cpu_pod(100.0, Some(300.0)),
        ];
        let mut cfg = config(1, 100, 10);
        cfg.behavior.scale_up = rules(0, 0, 700, 60, 0);
        let mut ctl = HpaController::new(cfg.clone());
        let r = ctl.reconcile(NOW, 3, &pods);
        assert_eq!((r.desired_replicas, r.reason), (24, "ScaleUpLimit"));

        // k8s_test_upscale_cap_greater_than_max_replicas: same with max 20.
        cfg.max_replicas = 20;
        let mut ctl = HpaController::new(cfg);
        let r = ctl.reconcile(NOW, 3, &pods);
        assert_eq!((r.desired_replicas, r.reason), (20, "TooManyReplicas"));
    }

    #[test]
    fn k8s_test_more_replicas_than_spec_no_scale() {
        // A 25 % surge: 5 pods for spec 4, all on target → stays 4.
        let pods = vec![cpu_pod(1000.0, Some(500.0)); 5];
        let mut ctl = HpaController::without_behavior(config(1, 8, 50));
        let r = ctl.reconcile(NOW, 4, &pods);
        assert_eq!((r.desired_replicas, r.reason), (4, "DesiredWithinRange"));
    }

    // ---- scenarios over several syncs ----

    /// `n` ready pods of 1 core each at `pct` % CPU.
    fn pods_at(n: u32, pct: f64) -> Vec<PodSample> {
        vec![cpu_pod(1000.0, Some(pct * 10.0)); n as usize]
    }

    #[test]
    fn scale_up_is_limited_to_4_pods_or_100_percent_per_15_s() {
        let mut ctl = HpaController::new(config(1, 100, 50));
        let mut t = NOW;
        // 1000 % of a 50 % target: the metrics always want 20 × current.
        let r = ctl.reconcile(t, 2, &pods_at(2, 1000.0));
        assert_eq!((r.desired_replicas, r.reason), (6, "ScaleUpLimit")); // max(2 + 4, 2 × 2)
        // A sync inside the same 15 s period: the +4 already spent counts.
        let r = ctl.reconcile(t + 5, 6, &pods_at(6, 1000.0));
        assert_eq!((r.desired_replicas, r.reason), (6, "ScaleUpLimit"));
        // 15 s later the event has left the period: max(6 + 4, 2 × 6) = 12, and so on.
        let mut current = 6;
        for expected in [12, 24, 48, 96] {
            t += 15;
            let r = ctl.reconcile(t, current, &pods_at(current, 1000.0));
            assert_eq!((r.desired_replicas, r.reason), (expected, "ScaleUpLimit"));
            current = expected;
        }
        t += 15;
        let r = ctl.reconcile(t, current, &pods_at(current, 1000.0));
        assert_eq!((r.desired_replicas, r.reason), (100, "TooManyReplicas"));
        assert_eq!(ctl.last_scale_time(), Some(t));
    }

    #[test]
    fn scale_down_waits_for_the_highest_recommendation_of_300_s() {
        let mut ctl = HpaController::new(config(1, 10, 50));
        let t0 = NOW;
        // On target at 6.
        let r = ctl.reconcile(t0, 6, &pods_at(6, 50.0));
        assert_eq!((r.desired_replicas, r.reason), (6, "DesiredWithinRange"));
        // Load drops (15 % → wants 2); one sync at 30 % (wants 4) in the middle.
        for t in (t0 + 15..t0 + 300).step_by(15) {
            let pct = if t == t0 + 105 { 30.0 } else { 15.0 };
            let r = ctl.reconcile(t, 6, &pods_at(6, pct));
            assert_eq!(r.desired_replicas, 6, "at +{}", t - t0);
            assert_eq!(r.reason, "ScaleDownStabilized");
            assert!(r.recommended_replicas.unwrap() < 6);
        }
        // At +300 the 6 recorded at t0 leaves the window; the 4 from +105 is now the highest.
        let r = ctl.reconcile(t0 + 300, 6, &pods_at(6, 15.0));
        assert_eq!((r.desired_replicas, r.reason), (4, "ScaleDownStabilized"));
        for t in (t0 + 315..t0 + 405).step_by(15) {
            let r = ctl.reconcile(t, 4, &pods_at(4, 15.0));
            assert_eq!(r.desired_replicas, 4, "at +{}", t - t0);
        }
        // 300 s after the 4 was recorded only the 2s remain.
        let r = ctl.reconcile(t0 + 405, 4, &pods_at(4, 15.0));
        assert_eq!((r.desired_replicas, r.reason), (2, "DesiredWithinRange"));
    }

    #[test]
    fn initial_size_is_held_for_the_scale_down_window() {
        // A fresh controller counts the size it first sees as a recommendation.
        let mut ctl = HpaController::new(config(1, 10, 50));
        let r = ctl.reconcile(NOW, 5, &pods_at(5, 10.0));
        assert_eq!((r.desired_replicas, r.reason), (5, "ScaleDownStabilized"));
        assert_eq!(r.recommended_replicas, Some(1));
        let r = ctl.reconcile(NOW + 300, 5, &pods_at(5, 10.0));
        assert_eq!(r.desired_replicas, 1);
    }

    #[test]
    fn clamps_to_min_and_max_with_the_right_reason() {
        let mut cfg = config(2, 5, 50);
        cfg.behavior.scale_down.stabilization_window_seconds = 0;
        let mut ctl = HpaController::new(cfg);
        let r = ctl.reconcile(NOW, 3, &pods_at(3, 400.0));
        assert_eq!((r.desired_replicas, r.reason), (5, "TooManyReplicas"));
        let r = ctl.reconcile(NOW + 15, 3, &pods_at(3, 5.0));
        assert_eq!((r.desired_replicas, r.reason), (2, "TooFewReplicas"));
        let r = ctl.reconcile(NOW + 30, 3, &pods_at(3, 35.0));
        assert_eq!((r.desired_replicas, r.reason), (3, "DesiredWithinRange")); // ceil(0.7 × 3)
    }

    #[test]
    fn bounds_are_read_at_every_sync() {
        let mut ctl = HpaController::new(config(1, 10, 50));
        assert_eq!(ctl.reconcile(NOW, 5, &pods_at(5, 50.0)).desired_replicas, 5);
        ctl.config.max_replicas = 3;
        let r = ctl.reconcile(NOW + 15, 5, &pods_at(5, 50.0));
        assert_eq!((r.desired_replicas, r.reason), (3, "TooManyReplicas"));
        ctl.config.min_replicas = 4;
        ctl.config.max_replicas = 8;
        let r = ctl.reconcile(NOW + 30, 3, &pods_at(3, 50.0));
        assert_eq!((r.desired_replicas, r.reason), (4, "TooFewReplicas"));
    }

    fn cpu_mem_pod(cpu_pct: f64, mem_pct: Option<f64>) -> PodSample {
        PodSample {
            mem_usage: mem_pct.map(|p| p * 5.12),
            mem_request: 512.0,
            ..cpu_pod(1000.0, Some(cpu_pct * 10.0))
        }
    }

    #[test]
    fn the_largest_proposal_across_metrics_wins() {
        let mut cfg = config(1, 20, 50);
        cfg.target_mem_pct = Some(60);
        let mut ctl = HpaController::new(cfg);
        // CPU 20 % of 50 wants 2, memory 90 % of 60 wants ceil(1.5 × 4) = 6.
        let r = ctl.reconcile(NOW, 4, &vec![cpu_mem_pod(20.0, Some(90.0)); 4]);
        assert_eq!(r.desired_replicas, 6);
        assert_eq!(r.recommended_replicas, Some(6));
        assert_eq!((r.cpu_utilization, r.mem_utilization), (Some(20), Some(90)));
        assert_eq!(r.metrics_error, None);
    }

    #[test]
    fn a_failing_metric_blocks_scale_down_but_not_scale_up() {
        let mut cfg = config(1, 20, 50);
        cfg.target_mem_pct = Some(60);
        cfg.behavior.scale_down.stabilization_window_seconds = 0;
        // Memory samples are missing from every pod: that metric fails.
        let mut ctl = HpaController::new(cfg.clone());
        let r = ctl.reconcile(NOW, 4, &vec![cpu_mem_pod(100.0, None); 4]);
        assert_eq!((r.desired_replicas, r.reason), (8, "DesiredWithinRange"));
        let err = r.metrics_error.unwrap();
        assert!(
            err.starts_with("invalid metrics (1 invalid out of 2)"),
            "{err}"
        );
        assert!(
            err.contains("did not receive metrics for targeted pods"),
            "{err}"
        );

        let mut ctl = HpaController::new(cfg);
        let r = ctl.reconcile(NOW, 4, &vec![cpu_mem_pod(10.0, None); 4]);
        assert_eq!(
            (r.desired_replicas, r.reason),
            (4, "FailedGetResourceMetric")
        );
        assert_eq!(r.cpu_utilization, Some(10));
        assert!(r.metrics_error.is_some());
    }

    #[test]
    fn cpu_80_percent_is_the_default_target() {
        let mut cfg = config(1, 20, 80);
        cfg.target_cpu_pct = None;
        let mut ctl = HpaController::new(cfg);
        // 120 % of 80 % = 1.5 → 6; against 50 % it would be 10.
        let r = ctl.reconcile(NOW, 4, &pods_at(4, 120.0));
        assert_eq!(r.desired_replicas, 6);
    }

    #[test]
    fn scaling_from_zero_with_min_zero_needs_pods() {
        let mut ctl = HpaController::new(config(0, 5, 50));
        let r = ctl.reconcile(NOW, 0, &[]);
        assert_eq!(
            (r.desired_replicas, r.reason),
            (0, "FailedGetResourceMetric")
        );
        assert!(
            r.metrics_error
                .unwrap()
                .contains("no pods returned by selector")
        );
    }

    #[test]
    fn without_behavior_uses_the_legacy_limits() {
        // Legacy cap max(2 × 1, 4) = 4; the default behavior allows max(1 + 4, 2) = 5.
        let mut legacy = HpaController::without_behavior(config(1, 100, 50));
        let r = legacy.reconcile(NOW, 1, &pods_at(1, 1000.0));
        assert_eq!((r.desired_replicas, r.reason), (4, "ScaleUpLimit"));
        assert!(legacy.scale_up_events.is_empty());
        assert!(!legacy.uses_behavior());

        let mut with = HpaController::new(config(1, 100, 50));
        let r = with.reconcile(NOW, 1, &pods_at(1, 1000.0));
        assert_eq!((r.desired_replicas, r.reason), (5, "ScaleUpLimit"));
        assert_eq!(with.scale_up_events.len(), 1);

        // Legacy scale-down: held by the initial size for 300 s (that window includes its
        // edge, unlike the behavior one), then not rate limited.
        let mut legacy = HpaController::without_behavior(config(1, 100, 50));
        let r = legacy.reconcile(NOW, 10, &pods_at(10, 5.0));
        assert_eq!((r.desired_replicas, r.reason), (10, "ScaleDownStabilized"));
        let r = legacy.reconcile(NOW + 300, 10, &pods_at(10, 5.0));
        assert_eq!((r.desired_replicas, r.reason), (10, "ScaleDownStabilized"));
        let r = legacy.reconcile(NOW + 315, 10, &pods_at(10, 5.0));
        assert_eq!((r.desired_replicas, r.reason), (1, "DesiredWithinRange"));
    }

    #[test]
    fn state_stays_bounded_over_a_long_run() {
        let mut ctl = HpaController::new(config(1, 50, 50));
        let mut current = 3;
        for step in 0..5000_i64 {
            // A load that swings up and down every ten minutes.
            let pct = if (step / 40) % 2 == 0 { 200.0 } else { 10.0 };
            let r = ctl.reconcile(NOW + step * 15, current, &pods_at(current, pct));
            current = r.desired_replicas;
            assert!((1..=50).contains(&current));
        }
        // Slots for the syncs of one window (300 s / 15 s + 1) plus the initial recommendation,
        // which shares the first sync's timestamp; a couple per event period.
        assert_eq!(ctl.recommendations.len(), 22);
        assert!(
            ctl.scale_up_events.len() <= 2,
            "{}",
            ctl.scale_up_events.len()
        );
        assert!(
            ctl.scale_down_events.len() <= 2,
            "{}",
            ctl.scale_down_events.len()
        );
    }

    #[test]
    fn last_scale_time_moves_only_when_replicas_change() {
        let mut ctl = HpaController::new(config(1, 10, 50));
        assert_eq!(ctl.last_scale_time(), None);
        ctl.reconcile(NOW, 2, &pods_at(2, 100.0));
        assert_eq!(ctl.last_scale_time(), Some(NOW));
        ctl.reconcile(NOW + 15, 4, &pods_at(4, 50.0));
        assert_eq!(ctl.last_scale_time(), Some(NOW));
    }

    #[test]
    fn behavior_defaults_match_the_api() {
        let b = Behavior::default();
        assert_eq!(b.scale_up.stabilization_window_seconds, 0);
        assert_eq!(b.scale_up.select, SelectPolicy::Max);
        assert_eq!(
            b.scale_up.policies,
            vec![
                ScalingPolicy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period_seconds: 15
                },
                ScalingPolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period_seconds: 15
                },
            ]
        );
        assert_eq!(b.scale_down.stabilization_window_seconds, 300);
        assert_eq!(
            b.scale_down.policies,
            vec![ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_seconds: 15
            }]
        );
        let calc = ReplicaCalculator::default();
        assert_eq!(
            (
                calc.tolerance,
                calc.cpu_initialization_period,
                calc.delay_of_initial_readiness_status
            ),
            (0.1, 300, 30)
        );
    }
}
