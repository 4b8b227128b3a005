//! The 15-second step: demand from traces, readiness, the scrape, the HPA sync, the ReplicaSet's
//! pod churn and the minute samples.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    CPU_LIMIT_FACTOR, EPOCH, FIRST_METRICS_AFTER, HpaStatus, Pod, STARTUP_CPU_SHARE, STEP_SECONDS,
    SimDeployment, SimWorld,
};
use crate::model::UnixSeconds;
use crate::sim::hpa::{DEFAULT_CPU_UTILIZATION, HpaConfig, PodSample, Reconcile};
use crate::sim::scenario;

impl SimWorld {
    /// Step the world forward by whole 15-second steps covering `seconds`.
    pub fn advance(&mut self, seconds: i64) {
        for _ in 0..(seconds / STEP_SECONDS) {
            self.step();
        }
    }

    /// One 15-second step: demand, readiness, scrape, HPA sync, pod churn, minute samples.
    pub fn step(&mut self) {
        self.now += STEP_SECONDS;
        self.generation += 1;
        let now = self.now;
        let mut rescaled = Vec::new();
        for (i, d) in self.deployments.iter_mut().enumerate() {
            let demand = demand_cores(self.seed, i, d, now);
            let pods = scrape(d, demand, now);
            d.minute.add(d.cpu_pct, d.mem_pct);

            // KEDA's operator puts its HPA's bounds back before the HPA syncs.
            super::keda::keda_sync(d);
            if let Some(hpa) = d.hpa.as_mut() {
                let r = hpa.reconcile(now, d.replicas, &pods);
                let status = d.hpa_status.get_or_insert_with(HpaStatus::default);
                status.desired = r.desired_replicas;
                status.reason = match &r.metrics_error {
                    Some(e) => format!("metrics: {e}"),
                    None => r.reason.to_string(),
                };
                if r.desired_replicas != d.replicas {
                    let reason = rescale_reason(&r, d.replicas, &hpa.config);
                    rescaled.push((i, d.replicas, r.desired_replicas, reason));
                    d.replicas = r.desired_replicas;
                    status.last_scale_time = Some(now);
                }
                status.last = Some(r);
            }
            reconcile_pods(d, now, &mut self.rng);

            if now % 60 == 0 {
                let ready = d.pods.iter().filter(|p| p.ready(now)).count() as u32;
                let sample = d.minute.take(now, d.replicas, ready);
                if self.recording {
                    self.history[i].push(sample);
                }
            }
        }
        for (i, from, to, reason) in rescaled {
            self.record_scale(i, from, to, Some(reason));
        }
    }
}

/// The reason in the controller's SuccessfulRescale event ("New size: N; reason: …").
fn rescale_reason(r: &Reconcile, current: u32, config: &HpaConfig) -> String {
    if r.reason == "TooManyReplicas" && current > config.max_replicas {
        return "Current number of replicas above Spec.MaxReplicas".into();
    }
    if r.reason == "TooFewReplicas" && current < config.min_replicas {
        return "Current number of replicas below Spec.MinReplicas".into();
    }
    if r.desired_replicas < current {
        return "All metrics below target".into();
    }
    // The metric that asked for the most replicas: the highest usage-to-target ratio.
    let ratio = |u: Option<u32>, t: Option<u32>| match (u, t) {
        (Some(u), Some(t)) if t > 0 => f64::from(u) / f64::from(t),
        _ => f64::NEG_INFINITY,
    };
    let cpu_target = match (config.target_cpu_pct, config.target_mem_pct) {
        (None, None) => Some(DEFAULT_CPU_UTILIZATION),
        (c, _) => c,
    };
    let metric =
        if ratio(r.mem_utilization, config.target_mem_pct) > ratio(r.cpu_utilization, cpu_target) {
            "memory"
        } else {
            "cpu"
        };
    format!("{metric} resource utilization (percentage of request) above target")
}

/// Demand in cores for deployment `i` at `now`, with seeded per-minute noise.
fn demand_cores(seed: u64, i: usize, d: &SimDeployment, now: UnixSeconds) -> f64 {
    demand_at(seed, i, &d.spec.demand, &d.trace, d.trace_p99, now)
}

/// `demand_cores` from the deployment's demand spec alone (the history before the epoch too).
pub(super) fn demand_at(
    seed: u64,
    i: usize,
    spec: &scenario::DemandSpec,
    trace: &crate::traces::Trace,
    p99: f64,
    now: UnixSeconds,
) -> f64 {
    let base = scenario::base_demand(spec, trace, p99, now - EPOCH);
    let minute = (now - EPOCH).div_euclid(60) as u64;
    // Noise depends only on (seed, deployment, minute): replays and restarts agree.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((i as u64 + 1) << 40) ^ minute);
    let n = spec.noise;
    base * (1.0 + rng.random_range(-n..=n)).max(0.0)
}

/// metrics-server's view of the deployment's pods; updates the deployment's averages.
fn scrape(d: &mut SimDeployment, demand: f64, now: UnixSeconds) -> Vec<PodSample> {
    let ready = d.pods.iter().filter(|p| p.ready(now)).count();
    let cpu_req = d.spec.cpu_request_millis as f64;
    let mem_req = d.spec.mem_request_mib as f64;
    let limit = cpu_req * CPU_LIMIT_FACTOR;
    let per_pod = if ready > 0 {
        demand * 1000.0 / ready as f64
    } else {
        0.0
    };
    let mut served = 0.0;
    let (mut cpu_sum, mut mem_sum, mut req_n) = (0.0, 0.0, 0u32);
    let samples: Vec<PodSample> = d
        .pods
        .iter_mut()
        .map(|p| {
            let is_ready = p.ready(now);
            let cpu = if is_ready {
                (per_pod * p.skew).min(limit)
            } else {
                cpu_req * STARTUP_CPU_SHARE
            };
            if is_ready {
                served += cpu;
            }
            let mem = d.spec.mem_base_mib + d.spec.mem_per_core_mib * cpu / 1000.0;
            let has_metrics = now - p.created >= FIRST_METRICS_AFTER;
            p.cpu_usage = has_metrics.then_some(cpu);
            p.mem_usage = has_metrics.then_some(mem);
            if has_metrics {
                cpu_sum += cpu;
                mem_sum += mem;
                req_n += 1;
            }
            PodSample {
                pending: false,
                deleting: false,
                ready: is_ready,
                start_time: p.created,
                ready_transition: if is_ready { p.ready_at } else { p.created },
                cpu_usage: has_metrics.then_some(cpu),
                mem_usage: has_metrics.then_some(mem),
                metric_timestamp: now,
                metric_window_seconds: STEP_SECONDS,
                cpu_request: cpu_req,
                mem_request: mem_req,
            }
        })
        .collect();
    d.unserved_cores = (demand - served / 1000.0).max(0.0);
    if req_n > 0 {
        d.cpu_pct = Some(cpu_sum / (cpu_req * req_n as f64) * 100.0);
        d.mem_pct = Some(mem_sum / (mem_req * req_n as f64) * 100.0);
    } else {
        d.cpu_pct = None;
        d.mem_pct = None;
    }
    samples
}

/// The ReplicaSet controller: create pods up to spec.replicas, delete the surplus (pods that are
/// not ready first, then the newest, as Kubernetes ranks them).
pub(super) fn reconcile_pods(d: &mut SimDeployment, now: UnixSeconds, rng: &mut ChaCha8Rng) {
    let want = d.replicas as usize;
    while d.pods.len() < want {
        let s = d.spec.startup_seconds as f64;
        let delay = (s * rng.random_range(0.75..1.25)).round() as i64;
        d.pods.push(Pod {
            id: d.next_pod_id,
            created: now,
            ready_at: now + delay.max(1),
            skew: 1.0 + rng.random_range(-0.08..0.08),
            cpu_usage: None,
            mem_usage: None,
        });
        d.next_pod_id += 1;
    }
    if d.pods.len() > want {
        d.pods
            .sort_by_key(|p| (p.ready(now), std::cmp::Reverse(p.created)));
        let surplus = d.pods.len() - want;
        d.pods.drain(..surplus);
        d.pods.sort_by_key(|p| p.created);
    }
}
