//! The controller: a port of `horizontal.go`. Each sync asks the calculator for every metric,
//! takes the largest proposal, stabilizes it over the recommendation window, limits the change
//! by the behavior's policies (or the legacy caps), clamps it to the bounds and tells why.

use super::behavior::{
    Behavior, DEFAULT_DOWNSCALE_STABILIZATION_SECONDS, PolicyKind, ScalingRules, SelectPolicy,
};
use super::calculator::{PodSample, ReplicaCalculator, Resource, to_u32};
use crate::model::UnixSeconds;

/// Target the API server defaults to when an HPA lists no metrics.
pub const DEFAULT_CPU_UTILIZATION: u32 = 80;
/// Legacy (no `spec.behavior`) scale-up cap: max(2 × current, 4) per sync.
const SCALE_UP_LIMIT_FACTOR: f64 = 2.0;
const SCALE_UP_LIMIT_MINIMUM: f64 = 4.0;

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
    use crate::sim::hpa::ScalingPolicy;

    const NOW: UnixSeconds = 1_700_000_000;

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
