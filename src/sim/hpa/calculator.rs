//! The replica calculator: a port of `replica_calculator.go` and the metrics client's
//! `GetResourceUtilizationRatio`. From the pods' usage and a utilization target it proposes a
//! replica count, treating unready, pending, missing and just-started pods as Go does.

use std::fmt;

use crate::model::UnixSeconds;

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

pub(super) fn to_u32(replicas: i64) -> u32 {
    u32::try_from(replicas.max(0)).unwrap_or(u32::MAX)
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
}
