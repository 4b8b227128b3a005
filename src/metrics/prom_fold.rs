//! One deployment's Prometheus answers folded into per-minute sums as they land, the way the
//! HPA computes utilization: at each step, the pods' summed usage over the same pods' summed
//! requests. A resource's requests are held by pod (as runs of equal values) only until its
//! usage has landed; usage goes straight into the sums. A deployment in flight costs about
//! its minutes × 24 bytes per resource instead of hash maps of every pod's points.

use std::collections::HashMap;

use crate::model::{Sample, UnixSeconds};

/// CPU or memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    fn index(self) -> usize {
        match self {
            Resource::Cpu => 0,
            Resource::Memory => 1,
        }
    }
}

/// One pod's points from one answer.
pub(super) type PodPoints = (String, Vec<(UnixSeconds, f64)>);

/// One pod's requests over its life as runs of equal values (a pod's requests rarely change,
/// so a pod costs a run or two, not a value per step).
#[derive(Debug, Default)]
struct PodRequests {
    /// (first step, last step, value), ordered and disjoint.
    runs: Vec<(usize, usize, f64)>,
}

impl PodRequests {
    fn set(&mut self, i: usize, v: f64) {
        // Answers come in order: the common case extends or follows the last run.
        if let Some(last) = self.runs.last_mut() {
            if last.1 < i {
                if last.1 + 1 == i && last.2 == v {
                    last.1 = i;
                } else {
                    self.runs.push((i, i, v));
                }
                return;
            }
        } else {
            self.runs.push((i, i, v));
            return;
        }
        // Out of order (or a repeated step): split whatever run holds i.
        let at = self.runs.partition_point(|r| r.1 < i);
        match self.runs.get(at).copied() {
            Some((a, b, old)) if a <= i => {
                if old == v {
                    return;
                }
                let mut parts = Vec::with_capacity(3);
                if a < i {
                    parts.push((a, i - 1, old));
                }
                parts.push((i, i, v));
                if i < b {
                    parts.push((i + 1, b, old));
                }
                self.runs.splice(at..=at, parts);
            }
            _ => self.runs.insert(at, (i, i, v)),
        }
    }

    fn get(&self, i: usize) -> Option<f64> {
        let at = self.runs.partition_point(|r| r.1 < i);
        self.runs.get(at).filter(|r| r.0 <= i).map(|r| r.2)
    }

    fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

/// Summed usage and requests at one step, and how many pods counted.
#[derive(Clone, Copy, Debug, Default)]
struct Sum {
    usage: f64,
    request: f64,
    pods: u32,
}

#[derive(Debug)]
pub(super) struct Fold {
    start: UnixSeconds,
    step: i64,
    steps: usize,
    requests: [HashMap<String, PodRequests>; 2],
    sums: [Vec<Sum>; 2],
    /// Usage points seen, per resource (none at all is "no container series").
    usage_points: [usize; 2],
}

impl Fold {
    /// Steps `start`, `start + step`, … up to `end`.
    pub(super) fn new(start: UnixSeconds, end: UnixSeconds, step: i64) -> Self {
        let step = step.max(1);
        let steps = if end < start {
            0
        } else {
            ((end - start) / step) as usize + 1
        };
        Self {
            start,
            step,
            steps,
            requests: Default::default(),
            sums: Default::default(),
            usage_points: [0; 2],
        }
    }

    /// The step a timestamp falls on (nearest), if within the window.
    fn index(&self, t: UnixSeconds) -> Option<usize> {
        let offset = t.checked_sub(self.start)?;
        let i = offset.saturating_add(self.step / 2).div_euclid(self.step);
        usize::try_from(i).ok().filter(|&i| i < self.steps)
    }

    /// An answer of per-pod requests (fold them before the same resource's usage).
    pub(super) fn requests(&mut self, r: Resource, series: Vec<PodPoints>) {
        for (pod, points) in series {
            let mut held = self.requests[r.index()].remove(&pod).unwrap_or_default();
            for (t, v) in points {
                if let Some(i) = self.index(t) {
                    held.set(i, v);
                }
            }
            if !held.is_empty() {
                self.requests[r.index()].insert(pod, held);
            }
        }
    }

    /// An answer of per-pod usage: each point counts with its pod's request at that step, or
    /// `fallback_per_pod` (the deployment's spec) when the pod has none; a pod with neither
    /// is left out of both sums, as the HPA does.
    pub(super) fn usage(&mut self, r: Resource, series: Vec<PodPoints>, fallback_per_pod: f64) {
        let ri = r.index();
        for (pod, points) in series {
            self.usage_points[ri] += points.len();
            for (t, u) in points {
                let Some(i) = self.index(t) else { continue };
                let request = self.requests[ri]
                    .get(&pod)
                    .and_then(|p| p.get(i))
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .or((fallback_per_pod > 0.0).then_some(fallback_per_pod));
                if let Some(request) = request {
                    if self.sums[ri].is_empty() {
                        self.sums[ri] = vec![Sum::default(); self.steps];
                    }
                    let s = &mut self.sums[ri][i];
                    s.usage += u;
                    s.request += request;
                    s.pods += 1;
                }
            }
        }
    }

    /// The resource's requests are no longer needed (its usage has landed).
    pub(super) fn drop_requests(&mut self, r: Resource) {
        self.requests[r.index()] = HashMap::new();
    }

    /// Whether any usage point of either resource arrived.
    pub(super) fn saw_usage(&self) -> bool {
        self.usage_points.iter().any(|&n| n > 0)
    }

    /// The minutes where CPU or memory utilization is known, in order.
    pub(super) fn samples(&self) -> Vec<Sample> {
        let at = |r: Resource, i: usize| {
            self.sums[r.index()]
                .get(i)
                .filter(|s| s.pods > 0)
                .map(|s| (s.usage / s.request * 100.0, s.pods))
        };
        (0..self.steps)
            .filter_map(|i| {
                let c = at(Resource::Cpu, i);
                let m = at(Resource::Memory, i);
                if c.is_none() && m.is_none() {
                    return None;
                }
                let pods = c.map_or(0, |c| c.1).max(m.map_or(0, |m| m.1));
                Some(Sample {
                    timestamp: self.start + i as i64 * self.step,
                    cpu_pct: c.map_or(f64::NAN, |c| c.0),
                    mem_pct: m.map_or(f64::NAN, |m| m.0),
                    replicas: pods,
                    ready: pods,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(v: &[(&str, &[(i64, f64)])]) -> Vec<PodPoints> {
        v.iter()
            .map(|(p, pts)| (p.to_string(), pts.to_vec()))
            .collect()
    }

    #[test]
    fn utilization_is_summed_usage_over_summed_requests_of_the_same_pods() {
        let mut f = Fold::new(60, 180, 60);
        // b has no request series: the fallback stands in for it; the zombie has no usage.
        f.requests(
            Resource::Cpu,
            pods(&[("a", &[(60, 0.1)]), ("zombie", &[(60, 5.0)])]),
        );
        f.usage(
            Resource::Cpu,
            pods(&[("a", &[(60, 0.1)]), ("b", &[(60, 0.3)])]),
            0.3,
        );
        let s = f.samples();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].timestamp, s[0].replicas), (60, 2));
        assert!((s[0].cpu_pct - 100.0).abs() < 1e-9, "{s:?}");
        assert!(s[0].mem_pct.is_nan());

        // Without a fallback, b is left out entirely.
        let mut f = Fold::new(60, 180, 60);
        f.requests(Resource::Cpu, pods(&[("a", &[(60, 0.1)])]));
        f.usage(
            Resource::Cpu,
            pods(&[("a", &[(60, 0.1)]), ("b", &[(60, 0.3)])]),
            0.0,
        );
        let s = f.samples();
        assert_eq!((s[0].cpu_pct, s[0].replicas), (100.0, 1));
    }

    #[test]
    fn a_pods_requests_follow_its_life_and_its_gaps() {
        let mut f = Fold::new(0, 600, 60);
        // Requests arrive out of order and with a gap at 180 (NaN there: the fallback).
        f.requests(
            Resource::Memory,
            pods(&[("p", &[(240, 2.0), (120, 1.0), (300, 2.0)])]),
        );
        f.usage(
            Resource::Memory,
            pods(&[("p", &[(120, 1.0), (180, 1.0), (240, 1.0), (600, 1.0)])]),
            4.0,
        );
        let got: Vec<(i64, f64)> = f
            .samples()
            .iter()
            .map(|s| (s.timestamp, s.mem_pct))
            .collect();
        assert_eq!(got, [(120, 100.0), (180, 25.0), (240, 50.0), (600, 25.0)]);
        f.drop_requests(Resource::Memory);
        assert!(f.requests[1].is_empty());
        assert!(f.saw_usage());
    }

    #[test]
    fn requests_set_in_any_order_read_back_as_set() {
        let mut p = PodRequests::default();
        let writes = [
            (5, 1.0),
            (6, 1.0),
            (7, 2.0),
            (3, 1.0),
            (6, 3.0),
            (6, 3.0),
            (20, 2.0),
            (9, 2.0),
        ];
        let mut want = std::collections::BTreeMap::new();
        for (i, v) in writes {
            p.set(i, v);
            want.insert(i, v);
        }
        for i in 0..25 {
            assert_eq!(p.get(i), want.get(&i).copied(), "step {i}: {:?}", p.runs);
        }
        // In-order equal values stay one run.
        let mut q = PodRequests::default();
        (10..1000).for_each(|i| q.set(i, 0.25));
        assert_eq!(q.runs, [(10, 999, 0.25)]);
    }

    #[test]
    fn points_outside_the_window_or_between_steps_land_on_the_nearest_step_or_nowhere() {
        let f = Fold::new(600, 1200, 60);
        assert_eq!(f.index(600), Some(0));
        assert_eq!(f.index(629), Some(0));
        assert_eq!(f.index(630), Some(1));
        assert_eq!(f.index(1200), Some(10));
        assert_eq!(f.index(1231), None);
        assert_eq!(f.index(569), None);
        assert_eq!(f.index(i64::MIN), None);
        assert_eq!(f.index(i64::MAX), None);
        let mut empty = Fold::new(600, 0, 60);
        empty.usage(Resource::Cpu, pods(&[("p", &[(600, 1.0)])]), 1.0);
        assert!(empty.samples().is_empty());
    }
}
