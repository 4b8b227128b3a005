//! A bounded, regular 1-minute history of one deployment.

use super::bucket::{Bucket, minute_of};
use super::tiers::Tier;
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

/// Minutes at full resolution: the forecaster's held-out day and seasonal naive (the same
/// time yesterday), the recent peak, and the charts' last day. One day of 12-byte minutes.
pub const FULL_MINUTES: usize = 24 * 60;
/// Up to this age, older minutes are 5-minute buckets: the demand forecast's 5-minute peaks
/// (3 days) and calibration's replay (4 days) read them with their peaks in place.
pub const FINE_MINUTES: usize = 4 * 24 * 60;
/// Width of the buckets up to `FINE_MINUTES`, and beyond (the seasonal model's weeks).
const FINE_WIDTH: i64 = 5;
const COARSE_WIDTH: i64 = 30;

/// Minute samples over a window of `capacity` minutes ending at the newest one; observations
/// within the current minute are averaged before they become a sample.
///
/// Kept in tiers (`tiers.rs`): the newest `FULL_MINUTES` minute by minute, then 5-minute
/// buckets to `FINE_MINUTES`, then 30-minute buckets, each 12 bytes as it comes in and sealed,
/// a few dozen at a time, into chunks of their changes (`chunk.rs`; 14 days of a demo trace:
/// about 15 KB, where 32-byte samples would take 645 KB). Older buckets come back through
/// `iter`, `tail` and `regular` as one sample per minute with the bucket's mean and its peak at
/// the peak's minute, so callers see a regular minute series whatever its age.
#[derive(Clone, Debug)]
pub struct History {
    /// Newest first; each tier's width divides the next one's.
    tiers: Vec<Tier>,
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
    /// A window of `capacity` minutes (the engine's 14 days, the TUI's chart).
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_tiers(capacity, FULL_MINUTES, FINE_MINUTES)
    }

    /// `full` minutes one by one, 5-minute buckets to `fine`, 30-minute ones beyond (tests
    /// shrink the tiers to reach them with short series).
    fn with_tiers(capacity: usize, full: usize, fine: usize) -> Self {
        let capacity = capacity.max(1);
        let mut tiers = vec![Tier::new(1, capacity.min(full))];
        if capacity > full {
            let span = capacity.min(fine) - full;
            tiers.push(Tier::new(FINE_WIDTH, span.div_ceil(FINE_WIDTH as usize)));
        }
        if capacity > fine {
            let coarse = capacity - fine;
            tiers.push(Tier::new(
                COARSE_WIDTH,
                coarse.div_ceil(COARSE_WIDTH as usize),
            ));
        }
        Self {
            tiers,
            capacity,
            pending: None,
        }
    }

    /// Minute samples held (older buckets count as the minutes they cover).
    pub fn len(&self) -> usize {
        let from = self.window_start();
        self.tiers.iter().map(|t| t.samples(from)).sum()
    }

    /// The oldest minute the window holds (its oldest bucket may start before it).
    fn window_start(&self) -> i64 {
        self.last_minute()
            .map_or(i64::MIN, |l| l - self.capacity as i64 + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.tiers.iter().all(Tier::is_empty)
    }

    /// Heap bytes the history holds (for the memory budget and its test).
    pub fn heap_bytes(&self) -> usize {
        self.tiers.iter().map(Tier::heap_bytes).sum::<usize>()
            + self.tiers.capacity() * std::mem::size_of::<Tier>()
    }

    /// The newest sample.
    pub fn last(&self) -> Option<Sample> {
        let t = &self.tiers[0];
        let index = t.last_index()?;
        let mut last = None;
        t.visit(index, &mut |s| last = Some(s));
        last
    }

    fn last_minute(&self) -> Option<i64> {
        self.tiers[0].last_index()
    }

    /// Every sample, oldest first (older buckets as one sample per minute).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator {
        self.since_minute(i64::MIN).into_iter()
    }

    fn since_minute(&self, from: i64) -> Vec<Sample> {
        let from = from.max(self.window_start());
        let mut out = Vec::new();
        for t in self.tiers.iter().rev() {
            if t.last_index().is_some_and(|l| (l + 1) * t.width > from) {
                t.visit(from, &mut |s| out.push(s));
            }
        }
        out
    }

    /// Add finished minute samples (backfill from the store, the cluster or Prometheus, in any
    /// order): the result stays sorted; on equal minutes the sample already held wins, so
    /// sources merged first take precedence. The newest `capacity` minutes are kept. (An older
    /// bucket that was not full keeps how many minutes it saw, not which: another source's
    /// minutes there fill it up, to its width.)
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
        // Rare path (a second source filling gaps before the newest sample): merge and
        // rebuild. A stable sort keeps the first of equal minutes.
        older.sort_by_key(|s| minute_of(s.timestamp));
        older.dedup_by_key(|s| minute_of(s.timestamp));
        let held = self.since_minute(i64::MIN);
        let mut merged = Vec::with_capacity(held.len() + older.len());
        let (mut a, mut b) = (held.into_iter().peekable(), older.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => {
                    let (mx, my) = (minute_of(x.timestamp), minute_of(y.timestamp));
                    if my < mx {
                        b.next()
                    } else {
                        if my == mx {
                            b.next();
                        }
                        a.next()
                    }
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        for t in &mut self.tiers {
            t.clear();
        }
        for s in merged {
            self.push(s);
        }
    }

    /// The newest `n` samples, oldest first.
    pub fn tail(&self, n: usize) -> Vec<Sample> {
        if n == 0 {
            return Vec::new();
        }
        // Find the oldest bucket needed, newest tier first, then expand from there.
        let mut have = 0usize;
        let from = self
            .tiers
            .iter()
            .find_map(|t| t.reach_back(n, &mut have))
            .unwrap_or(i64::MIN);
        let mut out = self.since_minute(from);
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
        out
    }

    /// Add one finished minute sample; returns whether it was new (newer than the newest).
    pub fn push(&mut self, s: Sample) -> bool {
        let m = minute_of(s.timestamp);
        if let Some(last) = self.last_minute() {
            if m <= last {
                return false;
            }
            if m - last >= self.capacity as i64 {
                // Everything held is out of the window.
                for t in &mut self.tiers {
                    t.clear();
                }
            } else {
                // A gap: empty minutes, each moved along like any other.
                for gap in last + 1..m {
                    self.tiers[0].append(gap, Bucket::EMPTY);
                    self.cascade();
                }
            }
        }
        self.tiers[0].append(m, Bucket::of_sample(&s));
        self.cascade();
        true
    }

    /// Move what overflows each tier into the next; the last one drops its oldest.
    fn cascade(&mut self) {
        for i in 0..self.tiers.len() {
            let Some(next_width) = self.tiers.get(i + 1).map(|t| t.width) else {
                let from = self.window_start();
                self.tiers[i].trim_before(from);
                break;
            };
            let group = next_width / self.tiers[i].width;
            while let Some((index, b)) = self.tiers[i].spill(group) {
                self.tiers[i + 1].append(index, b);
            }
        }
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
        let Some(last) = self.last_minute() else {
            return (0, Vec::new());
        };
        let first_wanted = last - (minutes as i64 - 1);
        let samples = self.since_minute(first_wanted);
        let Some(start) = samples.first().map(|s| minute_of(s.timestamp)) else {
            return (0, Vec::new());
        };
        let mut values = vec![f64::NAN; (last - start + 1) as usize];
        for s in &samples {
            values[(minute_of(s.timestamp) - start) as usize] = metric.of(s);
        }
        (start * MINUTE, values)
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
        // A window of 6 minutes: 2..=7 once minute 7 is in.
        let mut h = History::with_capacity(6);
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
        // Full: samples older than the window are not kept.
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

    /// A sample at minute `m` whose CPU follows a daily wave with a spike every 7 minutes.
    fn wave(m: i64) -> Sample {
        let day = (m % 1440) as f64 / 1440.0 * std::f64::consts::TAU;
        let spike = if m % 7 == 0 { 25.0 } else { 0.0 };
        Sample {
            timestamp: m * MINUTE,
            cpu_pct: 50.0 + 30.0 * day.sin() + spike,
            mem_pct: 40.0 + (m % 13) as f64,
            replicas: 3,
            ready: 3,
        }
    }

    #[test]
    fn fourteen_days_fit_in_about_fifteen_kilobytes_and_read_back_minute_by_minute() {
        let minutes = crate::metrics::HISTORY_MINUTES as i64;
        let mut h = History::with_capacity(minutes as usize);
        // A day more than the window: the oldest day falls out.
        for m in 0..minutes + 1440 {
            assert!(h.push(wave(m)));
        }
        assert!(h.heap_bytes() < 20_000, "{} bytes", h.heap_bytes());
        assert_eq!(h.len(), minutes as usize);
        let last = minutes + 1439;
        assert_eq!(h.last().map(|s| s.timestamp), Some(last * MINUTE));
        let (start, v) = h.regular(Metric::Cpu, minutes as usize);
        assert_eq!(start, (last - minutes + 1) * MINUTE);
        assert_eq!(v.len(), minutes as usize);
        assert!(v.iter().all(|x| x.is_finite()));
        let original = |i: usize| wave(last - minutes + 1 + i as i64).cpu_pct;
        // The newest day is as observed (to 0.05 pp).
        let from = v.len() - FULL_MINUTES + 5;
        for (i, got) in v.iter().enumerate().skip(from) {
            assert!((got - original(i)).abs() <= 0.05, "minute {i}");
        }
        // Older buckets keep their mean and their peak at its minute, so 5-minute peaks (the
        // demand forecast's) and 30-minute means (the seasonal model's) come back.
        // (Tier edges move by up to a bucket of the next tier as groups spill.)
        for (width, range) in [
            (5, v.len() - FINE_MINUTES + 30..v.len() - FULL_MINUTES),
            (30, 0..v.len() - FINE_MINUTES),
        ] {
            let first = range.start.next_multiple_of(width);
            for b in (first..range.end - width + 1).step_by(width) {
                let got = &v[b..b + width];
                let want: Vec<f64> = (b..b + width).map(original).collect();
                let max = |x: &[f64]| x.iter().copied().fold(f64::MIN, f64::max);
                let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
                assert!(
                    (max(got) - max(&want)).abs() <= 0.05,
                    "peak of bucket at {b}"
                );
                assert!(
                    (mean(got) - mean(&want)).abs() <= 0.2,
                    "mean of bucket at {b}"
                );
                let mut sorted = want.clone();
                sorted.sort_by(f64::total_cmp);
                if width == 5 && sorted[width - 1] - sorted[width - 2] > 0.2 {
                    // A peak that stands out (a spike): its minute is the peak's.
                    let at = |x: &[f64]| x.iter().position(|y| *y == max(x));
                    let peak_minute = want.iter().position(|y| (y - max(&want)).abs() <= 0.05);
                    assert_eq!(at(got), peak_minute, "peak minute of bucket at {b}");
                }
            }
        }
        // A tail reaches into the buckets; the 36 h the TUI draws are 2160 minutes.
        let tail = h.tail(36 * 60);
        assert_eq!(tail.len(), 36 * 60);
        assert_eq!(tail.last().map(|s| s.timestamp), Some(last * MINUTE));
        assert!(
            tail.windows(2)
                .all(|p| p[1].timestamp - p[0].timestamp == MINUTE)
        );
    }

    #[test]
    fn a_gap_longer_than_the_window_starts_afresh() {
        let mut h = History::with_tiers(100, 10, 40);
        h.extend((0..100).map(wave));
        assert!(h.push(wave(1000)));
        assert_eq!(h.len(), 1);
        assert_eq!(h.iter().next().map(|s| s.timestamp), Some(1000 * MINUTE));
    }

    use proptest::prelude::*;

    fn any_sample() -> impl Strategy<Value = (i64, Option<f64>, u32)> {
        (
            0i64..600,
            prop_oneof![1 => Just(None), 9 => (0.0f64..500.0).prop_map(Some)],
            0u32..20,
        )
    }

    proptest! {
        /// Whatever the order, gaps and unknown values: minutes stay sorted, unique and within
        /// the window; the newest minutes come back as pushed; every bucket keeps its peak
        /// and mean; and extending in any order holds the same minutes as pushing in order.
        #[test]
        fn tiers_keep_order_window_peaks_and_means(
            raw in proptest::collection::vec(any_sample(), 1..300),
            capacity in 1usize..400,
        ) {
            // Tier 1 holds 20 buckets: at least 14 after a spill of 6 into tier 2.
            let (full, fine) = (12, 112);
            let mut by_minute = std::collections::BTreeMap::new();
            for (m, cpu, r) in &raw {
                by_minute.entry(*m).or_insert(Sample {
                    timestamp: m * MINUTE,
                    cpu_pct: cpu.unwrap_or(f64::NAN),
                    mem_pct: 10.0,
                    replicas: *r,
                    ready: *r,
                });
            }
            let mut ordered = History::with_tiers(capacity, full, fine);
            for s in by_minute.values() {
                prop_assert!(ordered.push(*s));
            }
            let mut shuffled = History::with_tiers(capacity, full, fine);
            shuffled.extend(raw.iter().map(|(m, _, _)| by_minute[m]).rev());
            shuffled.extend(raw.iter().map(|(m, _, _)| by_minute[m]));

            let last = *by_minute.keys().next_back().unwrap_or(&0);
            for h in [&ordered, &shuffled] {
                let got: Vec<Sample> = h.iter().collect();
                prop_assert_eq!(got.len(), h.len());
                prop_assert!(got.windows(2).all(|p| p[0].timestamp < p[1].timestamp));
                let in_window = |s: &Sample| {
                    let m = s.timestamp / MINUTE;
                    m <= last && m > last - capacity as i64
                };
                prop_assert!(got.iter().all(in_window));
                prop_assert_eq!(h.last().map(|s| s.timestamp), Some(last * MINUTE));
                // The newest minutes (tier 0 keeps at least `full` − 4 after a spill): as
                // pushed, to 0.05 pp.
                for s in got.iter().filter(|s| s.timestamp / MINUTE > last - full as i64 + 4) {
                    let want = by_minute[&(s.timestamp / MINUTE)];
                    prop_assert!(
                        (s.cpu_pct - want.cpu_pct).abs() <= 0.05
                            || (s.cpu_pct.is_nan() && want.cpu_pct.is_nan())
                    );
                    prop_assert_eq!(s.replicas, want.replicas.min(u32::from(u16::MAX - 1)));
                }
            }
            // Each 5-minute bucket of the last 70 minutes (tiers 0 and 1 hold at least 78):
            // its peak and mean are those pushed within it.
            let got: Vec<Sample> = ordered.iter().collect();
            let bucket = |s: &Sample| (s.timestamp / MINUTE).div_euclid(5);
            for chunk in got.chunk_by(|a, b| bucket(a) == bucket(b)) {
                let m0 = bucket(&chunk[0]) * 5;
                // (A bucket cut by the window's start is not whole.)
                if m0 < last - 70 || m0 <= last - capacity as i64 {
                    continue;
                }
                let pushed: Vec<f64> = by_minute
                    .range(m0..m0 + 5)
                    .map(|(_, s)| s.cpu_pct)
                    .filter(|c| c.is_finite())
                    .collect();
                let held: Vec<f64> =
                    chunk.iter().map(|s| s.cpu_pct).filter(|c| c.is_finite()).collect();
                prop_assert_eq!(pushed.is_empty(), held.is_empty());
                if !pushed.is_empty() {
                    let max = |x: &[f64]| x.iter().copied().fold(f64::MIN, f64::max);
                    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
                    prop_assert!((max(&held) - max(&pushed)).abs() <= 0.05);
                    prop_assert!((mean(&held) - mean(&pushed)).abs() <= 0.11);
                }
            }
            // The same half-hours (an older bucket keeps how many minutes it saw, not which:
            // a source merged again may fill it up) and the same newest minutes.
            let halves = |h: &History| {
                let mut v: Vec<i64> = h.iter().map(|s| s.timestamp / MINUTE / 30).collect();
                v.dedup();
                v
            };
            prop_assert_eq!(halves(&ordered), halves(&shuffled));
            let newest = |h: &History| {
                h.iter()
                    .map(|s| s.timestamp)
                    .filter(|t| t / MINUTE > last - full as i64 + 4)
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(newest(&ordered), newest(&shuffled));
        }
    }
}
