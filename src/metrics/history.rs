//! A bounded, regular 1-minute history of one deployment.

use std::collections::{BTreeMap, VecDeque};

use crate::model::{Sample, UnixSeconds};

pub const MINUTE: i64 = 60;

/// Which series of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Cpu,
    Memory,
    Replicas,
    /// CPU demand in units of one pod's request: CPU % × ready pods / 100 (what the pods
    /// served, whatever the replica count), the series the policy forecasts.
    Demand,
}

impl Metric {
    pub fn of(self, s: &Sample) -> f64 {
        match self {
            Metric::Cpu => s.cpu_pct,
            Metric::Memory => s.mem_pct,
            Metric::Replicas => s.replicas as f64,
            Metric::Demand => {
                let pods = if s.ready > 0 { s.ready } else { s.replicas };
                // NaN (unknown CPU) stays NaN: f64::max would turn it into 0.
                if s.cpu_pct.is_nan() {
                    f64::NAN
                } else {
                    (s.cpu_pct * pods as f64 / 100.0).max(0.0)
                }
            }
        }
    }
}

/// Minute samples, oldest first, at most `capacity` of them; observations within the current
/// minute are averaged before they become a sample.
#[derive(Clone, Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    capacity: usize,
    pending: Option<Pending>,
}

#[derive(Clone, Debug)]
struct Pending {
    minute: UnixSeconds,
    cpu_sum: f64,
    cpu_n: u32,
    mem_sum: f64,
    mem_n: u32,
    replicas: u32,
    ready: u32,
}

impl Pending {
    fn sample(&self) -> Sample {
        let avg = |s: f64, n: u32| if n == 0 { f64::NAN } else { s / n as f64 };
        Sample {
            timestamp: self.minute + MINUTE,
            cpu_pct: avg(self.cpu_sum, self.cpu_n),
            mem_pct: avg(self.mem_sum, self.mem_n),
            replicas: self.replicas,
            ready: self.ready,
        }
    }
}

impl History {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            samples: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            pending: None,
        }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn last(&self) -> Option<&Sample> {
        self.samples.back()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// Add finished minute samples (backfill from the store, the cluster or Prometheus, in any
    /// order): the result stays sorted; on equal timestamps the sample already held wins, so
    /// sources merged first take precedence. The newest `capacity` samples are kept.
    pub fn extend(&mut self, samples: impl IntoIterator<Item = Sample>) {
        let mut older = Vec::new();
        for s in samples {
            if !self.push(s) {
                older.push(s);
            }
        }
        if older.is_empty() {
            return;
        }
        // Rare path (a second source filling gaps before the newest sample): rebuild.
        let mut all: BTreeMap<UnixSeconds, Sample> = BTreeMap::new();
        for s in older {
            all.entry(s.timestamp).or_insert(s);
        }
        for s in self.samples.drain(..) {
            all.insert(s.timestamp, s);
        }
        let skip = all.len().saturating_sub(self.capacity);
        self.samples.extend(all.into_values().skip(skip));
    }

    /// The newest `n` samples, oldest first.
    pub fn tail(&self, n: usize) -> Vec<Sample> {
        let skip = self.samples.len().saturating_sub(n);
        self.samples.iter().skip(skip).copied().collect()
    }

    /// Add one finished minute sample; returns whether it was new.
    pub fn push(&mut self, s: Sample) -> bool {
        if self
            .samples
            .back()
            .is_some_and(|b| b.timestamp >= s.timestamp)
        {
            return false;
        }
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
        true
    }

    /// Record a raw observation (every 15 s). When it starts a new minute, the previous minute
    /// is closed and returned as a sample (stamped at the minute's end, as the simulator does).
    pub fn observe(
        &mut self,
        t: UnixSeconds,
        cpu: Option<f64>,
        mem: Option<f64>,
        replicas: u32,
        ready: u32,
    ) -> Option<Sample> {
        // An observation at hh:mm:00 belongs to the minute that ends then.
        let minute = (t - 1).div_euclid(MINUTE) * MINUTE;
        let mut closed = None;
        if let Some(p) = &self.pending
            && p.minute != minute
        {
            let s = p.sample();
            if self.push(s) {
                closed = Some(s);
            }
            self.pending = None;
        }
        let p = self.pending.get_or_insert(Pending {
            minute,
            cpu_sum: 0.0,
            cpu_n: 0,
            mem_sum: 0.0,
            mem_n: 0,
            replicas,
            ready,
        });
        if let Some(c) = cpu.filter(|c| c.is_finite()) {
            p.cpu_sum += c;
            p.cpu_n += 1;
        }
        if let Some(m) = mem.filter(|m| m.is_finite()) {
            p.mem_sum += m;
            p.mem_n += 1;
        }
        p.replicas = replicas;
        p.ready = ready;
        closed
    }

    /// The last `minutes` of one metric on a regular 1-minute grid ending at the last sample;
    /// minutes without a sample are NaN. Returns the grid's start time and the values.
    pub fn regular(&self, metric: Metric, minutes: usize) -> (UnixSeconds, Vec<f64>) {
        let Some(last) = self.samples.back() else {
            return (0, Vec::new());
        };
        let first_wanted = last.timestamp - (minutes as i64 - 1) * MINUTE;
        let start = self
            .samples
            .iter()
            .find(|s| s.timestamp >= first_wanted)
            .map(|s| s.timestamp)
            .unwrap_or(last.timestamp);
        let len = ((last.timestamp - start) / MINUTE + 1) as usize;
        let mut values = vec![f64::NAN; len];
        for s in self.samples.iter().rev() {
            if s.timestamp < start {
                break;
            }
            let off = s.timestamp - start;
            if off % MINUTE == 0 {
                values[(off / MINUTE) as usize] = metric.of(s);
            }
        }
        (start, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64, cpu: f64) -> Sample {
        Sample {
            timestamp: t,
            cpu_pct: cpu,
            mem_pct: cpu / 2.0,
            replicas: 2,
            ready: 2,
        }
    }

    #[test]
    fn observations_average_into_minute_samples() {
        let mut h = History::with_capacity(10);
        assert_eq!(h.observe(15, Some(10.0), Some(1.0), 2, 2), None);
        assert_eq!(h.observe(30, Some(20.0), None, 2, 2), None);
        assert_eq!(h.observe(60, Some(30.0), Some(3.0), 3, 2), None);
        let s = h
            .observe(75, Some(99.0), Some(9.0), 3, 3)
            .expect("minute closed");
        assert_eq!(s.timestamp, 60);
        assert_eq!(s.cpu_pct, 20.0);
        assert_eq!(s.mem_pct, 2.0);
        assert_eq!((s.replicas, s.ready), (3, 2));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn capacity_bounds_the_buffer_and_old_samples_are_skipped() {
        let mut h = History::with_capacity(3);
        h.extend((1..=5).map(|i| sample(i * 60, i as f64)));
        assert_eq!(h.len(), 3);
        assert_eq!(h.iter().next().map(|s| s.timestamp), Some(180));
        assert!(
            !h.push(sample(120, 0.0)),
            "older than the newest is refused"
        );
    }

    #[test]
    fn extend_merges_sources_in_any_order_and_the_first_wins_ties() {
        let mut h = History::with_capacity(5);
        // The store's recent minutes first …
        h.extend([sample(300, 3.0), sample(360, 4.0)]);
        // … then a source that also covers earlier minutes and overlaps.
        h.extend([
            sample(120, 1.0),
            sample(240, 2.0),
            sample(300, 99.0),
            sample(420, 5.0),
        ]);
        let got: Vec<(i64, f64)> = h.iter().map(|s| (s.timestamp, s.cpu_pct)).collect();
        assert_eq!(
            got,
            [(120, 1.0), (240, 2.0), (300, 3.0), (360, 4.0), (420, 5.0)]
        );
        // Full: older samples beyond the capacity are not kept.
        h.extend([sample(60, 0.5)]);
        assert_eq!(h.len(), 5);
        assert_eq!(h.iter().next().map(|s| s.timestamp), Some(120));
        assert_eq!(
            h.tail(2).iter().map(|s| s.timestamp).collect::<Vec<_>>(),
            [360, 420]
        );
        assert_eq!(h.tail(99).len(), 5);
    }

    #[test]
    fn regular_grid_marks_missing_minutes_nan() {
        let mut h = History::with_capacity(100);
        h.extend([sample(60, 1.0), sample(120, 2.0), sample(300, 5.0)]);
        let (start, v) = h.regular(Metric::Cpu, 10);
        assert_eq!(start, 60);
        assert_eq!(v.len(), 5);
        assert_eq!(v[0], 1.0);
        assert!(v[2].is_nan() && v[3].is_nan());
        assert_eq!(v[4], 5.0);
        let (start, v) = h.regular(Metric::Cpu, 2);
        assert_eq!((start, v.len()), (300, 1), "only samples within the window");
    }
}
