//! The two weeks before the world's epoch, computed rather than stepped: per minute, the
//! deployment's demand (the same trace, growth and seeded noise as `step`), the replicas an HPA
//! at its CPU target would keep (no change within its 10 % tolerance, scale-down after 5
//! minutes of lower wants; the initial count without an HPA), and the CPU and memory % of
//! requests those pods would show (ready as soon as wanted, bursting to the CPU limit). About
//! 2 ms a deployment, so a fleet of thousands gets its weeks in seconds, in the background,
//! where stepping every pod through them would take hours.

use std::collections::HashMap;
use std::sync::Arc;

use super::{CPU_LIMIT_FACTOR, EPOCH, SimWorld};
use crate::metrics::feed::HistoryFeed;
use crate::model::{DeploymentKey, Sample};
use crate::sim::scenario::DeploymentSpec;
use crate::traces::Trace;

/// Days computed before the epoch: with the warm-up after it, the engine's 14 days are full.
pub const DAYS: i64 = 14;
/// The HPA's tolerance and scale-down stabilization (minutes), as upstream's defaults.
const TOLERANCE: f64 = 0.1;
const STABILIZATION_MINUTES: usize = 5;

struct Deployment {
    /// Its index in the world (the noise is seeded by it).
    index: usize,
    spec: DeploymentSpec,
    trace: Arc<Trace>,
    p99: f64,
}

/// What the weeks are computed from, copied out of the world (no lock held meanwhile).
pub struct Backdate {
    seed: u64,
    keys: Vec<DeploymentKey>,
    deployments: HashMap<DeploymentKey, Deployment>,
}

impl SimWorld {
    /// The history of the `DAYS` before the epoch, computed per deployment on request.
    pub fn backdate(&self) -> Backdate {
        let keys: Vec<DeploymentKey> = self.deployments.iter().map(|d| d.key.clone()).collect();
        let deployments = self
            .deployments
            .iter()
            .enumerate()
            .map(|(index, d)| {
                (
                    d.key.clone(),
                    Deployment {
                        index,
                        spec: d.spec.clone(),
                        trace: d.trace.clone(),
                        p99: d.trace_p99,
                    },
                )
            })
            .collect();
        Backdate {
            seed: self.seed,
            keys,
            deployments,
        }
    }
}

impl HistoryFeed for Backdate {
    fn keys(&self) -> Vec<DeploymentKey> {
        self.keys.clone()
    }

    fn samples(&self, key: &DeploymentKey) -> Vec<Sample> {
        match self.deployments.get(key) {
            Some(d) => self.minutes(d),
            None => Vec::new(),
        }
    }
}

impl Backdate {
    /// One sample per minute from `DAYS` before the epoch to the minute before it.
    fn minutes(&self, d: &Deployment) -> Vec<Sample> {
        let spec = &d.spec;
        let n = (DAYS * 1440) as usize;
        let (lo, hi) = (spec.min_replicas.max(1), spec.max_replicas.max(1));
        let request = f64::from(spec.cpu_request_millis.max(1));
        let target = spec
            .hpa
            .as_ref()
            .and_then(|h| h.target_cpu_pct)
            .map(|t| f64::from(t.max(1)) / 100.0);
        let mut current = spec.initial_replicas.clamp(lo, hi);
        let mut wants: Vec<u32> = Vec::with_capacity(STABILIZATION_MINUTES);
        let mut out = Vec::with_capacity(n);
        for i in 0..n as i64 {
            // Stamped at the minute's end; demand read mid-minute, as the scrapes average it.
            let end = EPOCH - DAYS * 86_400 + (i + 1) * 60;
            let cores =
                super::step::demand_at(self.seed, d.index, &spec.demand, &d.trace, d.p99, end - 30);
            let want = match target {
                Some(t) => {
                    let ratio = cores * 1000.0 / (f64::from(current) * request * t);
                    if (ratio - 1.0).abs() <= TOLERANCE {
                        current
                    } else {
                        ((cores * 1000.0 / (request * t)).ceil() as u32).clamp(lo, hi)
                    }
                }
                None => current,
            };
            if wants.len() == STABILIZATION_MINUTES {
                wants.remove(0);
            }
            wants.push(want);
            // Up at once, down to the highest want of the last 5 minutes.
            current = wants.iter().copied().max().unwrap_or(want);
            let per_pod = (cores * 1000.0 / f64::from(current)).min(request * CPU_LIMIT_FACTOR);
            let mem = spec.mem_base_mib + spec.mem_per_core_mib * per_pod / 1000.0;
            out.push(Sample {
                timestamp: end,
                cpu_pct: per_pod / request * 100.0,
                mem_pct: mem / f64::from(spec.mem_request_mib.max(1)) * 100.0,
                replicas: current,
                ready: current,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;

    #[test]
    fn two_weeks_per_deployment_end_where_the_warm_up_starts() {
        let w = SimWorld::new(7, scenario::demo());
        let b = w.backdate();
        let keys = b.keys();
        assert_eq!(keys.len(), scenario::demo().len());
        let s = b.samples(&keys[0]);
        assert_eq!(s.len(), 14 * 1440);
        assert_eq!(
            s.first().map(|s| s.timestamp),
            Some(EPOCH - 14 * 86_400 + 60)
        );
        assert_eq!(s.last().map(|s| s.timestamp), Some(EPOCH));
        assert!(s.windows(2).all(|p| p[1].timestamp - p[0].timestamp == 60));
        assert!(b.samples(&DeploymentKey::new("no", "such")).is_empty());
    }

    #[test]
    fn the_weeks_follow_the_daily_trace_and_stay_within_bounds() {
        let w = SimWorld::new(7, scenario::demo());
        let b = w.backdate();
        let specs = scenario::demo();
        for (key, spec) in b.keys().iter().zip(&specs) {
            let s = b.samples(key);
            assert!(
                s.iter().all(|x| x.replicas >= spec.min_replicas.max(1)
                    && x.replicas <= spec.max_replicas.max(1)),
                "{key}"
            );
            assert!(s.iter().all(|x| x.cpu_pct.is_finite() && x.cpu_pct >= 0.0));
            // Demand (CPU % × pods) a day apart is alike; a week of it is not flat.
            let demand: Vec<f64> = s
                .iter()
                .map(|x| x.cpu_pct * f64::from(x.ready) / 100.0)
                .collect();
            let (min, max) = demand
                .iter()
                .fold((f64::INFINITY, 0.0_f64), |(l, h), &v| (l.min(v), h.max(v)));
            assert!(max > min, "{key}: flat demand");
        }
        // The same seed gives the same weeks; another seed other noise.
        let again = SimWorld::new(7, scenario::demo()).backdate();
        let k = &b.keys()[0];
        assert_eq!(b.samples(k), again.samples(k));
        let other = SimWorld::new(8, scenario::demo()).backdate();
        assert_ne!(b.samples(k), other.samples(k));
    }
}
