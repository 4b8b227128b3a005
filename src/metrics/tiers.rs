//! The compact layout behind `History`: runs of fixed-width buckets (`bucket.rs`), time implied
//! by position. A tier keeps its newest buckets as they are and seals the rest into compressed
//! chunks (`chunk.rs`) of a few dozen buckets, so 14 days of a deployment take about 15 KB
//! instead of 34: at a thousand deployments, the largest part of the engine's memory.

use std::collections::VecDeque;

use super::bucket::Bucket;
use super::chunk::Chunk;
use crate::model::Sample;

/// Buckets sealed together: a power of two, so the unsealed run's vector is full, not spare,
/// when it seals. A tier of few buckets (the tests' short series) seals shorter runs.
const CHUNK: usize = 64;

/// A run of buckets of one width, the oldest first: bucket `first + i` covers minutes
/// `[(first + i) × width, (first + i + 1) × width)` (minute = timestamp / 60).
#[derive(Clone, Debug)]
pub(crate) struct Tier {
    pub(crate) width: i64,
    /// Buckets kept at most (a whole group of the next tier may sit above it briefly).
    pub(crate) capacity: usize,
    pub(crate) first: i64,
    /// The oldest buckets, sealed, each chunk `chunk` long except perhaps the first.
    sealed: VecDeque<Chunk>,
    sealed_len: usize,
    /// The newest buckets, fewer than `chunk`.
    open: Vec<Bucket>,
    chunk: usize,
}

impl Tier {
    pub(crate) fn new(width: i64, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            width,
            capacity,
            first: 0,
            sealed: VecDeque::new(),
            sealed_len: 0,
            open: Vec::new(),
            chunk: CHUNK.min((capacity / 4).max(2)),
        }
    }

    fn len(&self) -> usize {
        self.sealed_len + self.open.len()
    }

    /// Index of the newest bucket (None when empty).
    pub(crate) fn last_index(&self) -> Option<i64> {
        let len = self.len();
        (len > 0).then(|| self.first + len as i64 - 1)
    }

    pub(crate) fn clear(&mut self) {
        self.sealed = VecDeque::new();
        self.sealed_len = 0;
        self.open = Vec::new();
    }

    /// Whether no bucket saw anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.sealed.iter().all(|c| c.filled() == 0) && self.open.iter().all(Bucket::is_empty)
    }

    /// Put `b` at `index`, after the newest (empty buckets fill a gap). An index at or before
    /// the newest is ignored: callers only append.
    pub(crate) fn append(&mut self, index: i64, b: Bucket) {
        match self.last_index() {
            None => self.first = index,
            Some(last) if index <= last => return,
            Some(last) => {
                for _ in last + 1..index {
                    self.push_back(Bucket::EMPTY);
                }
            }
        }
        self.push_back(b);
    }

    fn push_back(&mut self, b: Bucket) {
        self.open.push(b);
        if self.open.len() >= self.chunk {
            self.sealed.push_back(Chunk::seal(&self.open, self.width));
            self.sealed_len += self.open.len();
            self.open = Vec::new();
        }
    }

    /// Remove the oldest `n` buckets (fewer if the tier holds fewer), returned oldest first. A
    /// chunk taken in part is sealed again without what was taken.
    fn take_front(&mut self, n: usize) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        while out.len() < n {
            let need = n - out.len();
            if let Some(c) = self.sealed.pop_front() {
                self.sealed_len -= c.len();
                let mut all = c.buckets();
                if all.len() > need {
                    let rest = all.split_off(need);
                    self.sealed_len += rest.len();
                    self.sealed.push_front(Chunk::seal(&rest, self.width));
                }
                out.extend(all);
            } else if self.open.is_empty() {
                break;
            } else {
                let k = need.min(self.open.len());
                out.extend(self.open.drain(..k));
            }
        }
        self.first += out.len() as i64;
        out
    }

    /// While over capacity: take the oldest group of `group` buckets (aligned to the next
    /// tier's width) and return it folded, with its index in the next tier.
    pub(crate) fn spill(&mut self, group: i64) -> Option<(i64, Bucket)> {
        if self.len() <= self.capacity {
            return None;
        }
        let parent = self.first.div_euclid(group);
        let offset = self.first - parent * group;
        let parts = self.take_front((group - offset) as usize);
        Some((parent, Bucket::fold(&parts, self.width, offset)))
    }

    /// Drop the buckets that end before minute `from` (the last tier, at the window's start).
    pub(crate) fn trim_before(&mut self, from: i64) {
        let keep_from = from.div_euclid(self.width);
        let mut extra = ((keep_from - self.first).max(0) as usize).min(self.len());
        // Whole chunks go without decoding.
        while let Some(c) = self.sealed.front()
            && c.len() <= extra
        {
            let n = c.len();
            self.sealed.pop_front();
            self.sealed_len -= n;
            self.first += n as i64;
            extra -= n;
        }
        if extra > 0 {
            self.take_front(extra);
        }
    }

    /// Each bucket from position `skip` on (0: the oldest), with its index, oldest first.
    fn each_from(&self, skip: usize, out: &mut impl FnMut(i64, &Bucket)) {
        let mut pos = 0usize;
        for c in &self.sealed {
            if pos + c.len() <= skip {
                pos += c.len();
                continue;
            }
            c.decode(&mut |b| {
                if pos >= skip {
                    out(self.first + pos as i64, &b);
                }
                pos += 1;
            });
        }
        for b in &self.open {
            if pos >= skip {
                out(self.first + pos as i64, b);
            }
            pos += 1;
        }
    }

    /// Each sample of minute `from` or later, oldest first.
    pub(crate) fn visit(&self, from: i64, out: &mut impl FnMut(Sample)) {
        let skip = (from.div_euclid(self.width) - self.first).max(0) as usize;
        let from_t = from.saturating_mul(super::MINUTE);
        self.each_from(skip, &mut |i, b| {
            b.expand(i * self.width, self.width, &mut |s: Sample| {
                if s.timestamp >= from_t {
                    out(s);
                }
            });
        });
    }

    /// Samples bucket `index` expands to from minute `from` on.
    fn samples_of(&self, index: i64, b: &Bucket, from: i64) -> usize {
        if b.is_empty() {
            return 0;
        }
        let end = (index + 1) * self.width;
        let start = end - i64::from(b.minutes).min(self.width);
        (end - start.max(from)).max(0) as usize
    }

    /// Samples this tier expands to from minute `from` on.
    pub(crate) fn samples(&self, from: i64) -> usize {
        let mut total = 0;
        let mut index = self.first;
        for c in &self.sealed {
            let (first_minute, end_minute) =
                (index * self.width, (index + c.len() as i64) * self.width);
            if first_minute >= from {
                total += c.minutes();
            } else if end_minute > from {
                let mut i = index;
                c.decode(&mut |b| {
                    total += self.samples_of(i, &b, from);
                    i += 1;
                });
            }
            index += c.len() as i64;
        }
        for b in &self.open {
            total += self.samples_of(index, b, from);
            index += 1;
        }
        total
    }

    /// Walking back from the newest bucket, counting `width` minutes for each that saw
    /// anything on top of `have`: the first minute of the bucket where the count reaches `n`,
    /// or None (with `have` the tier's whole count added) when it does not.
    pub(crate) fn reach_back(&self, n: usize, have: &mut usize) -> Option<i64> {
        let w = self.width as usize;
        let mut index = self.first + self.len() as i64;
        for b in self.open.iter().rev() {
            index -= 1;
            if !b.is_empty() {
                *have += w;
                if *have >= n {
                    return Some(index * self.width);
                }
            }
        }
        for c in self.sealed.iter().rev() {
            index -= c.len() as i64;
            if *have + c.filled() * w < n {
                *have += c.filled() * w;
                continue;
            }
            for (i, b) in c.buckets().iter().enumerate().rev() {
                if !b.is_empty() {
                    *have += w;
                    if *have >= n {
                        return Some((index + i as i64) * self.width);
                    }
                }
            }
        }
        None
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.open.capacity() * std::mem::size_of::<Bucket>()
            + self.sealed.capacity() * std::mem::size_of::<Chunk>()
            + self.sealed.iter().map(Chunk::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(cpu: f64) -> Bucket {
        Bucket::of_sample(&Sample {
            timestamp: 0,
            cpu_pct: cpu,
            mem_pct: 20.0,
            replicas: 2,
            ready: 2,
        })
    }

    fn all(t: &Tier) -> Vec<(i64, Bucket)> {
        let mut out = Vec::new();
        t.each_from(0, &mut |i, b| out.push((i, *b)));
        out
    }

    #[test]
    fn sealed_and_open_buckets_read_as_one_run_and_spill_in_order() {
        // 40 buckets held, sealed 10 at a time: 4 chunks and an open run once over.
        let mut t = Tier::new(1, 40);
        for m in 100..145 {
            t.append(m, minute(m as f64));
        }
        assert!(t.sealed.len() >= 4, "{} chunks", t.sealed.len());
        let got = all(&t);
        assert_eq!(got.len(), 45);
        assert!(got.iter().all(|(i, b)| *b == minute(*i as f64)));
        // Over capacity by 5: one group of 5 (aligned to multiples of 5) comes out, folded.
        let (parent, folded) = t.spill(5).expect("over capacity");
        assert_eq!(parent, 20);
        assert_eq!(
            folded,
            Bucket::fold(&got[..5].iter().map(|x| x.1).collect::<Vec<_>>(), 1, 0)
        );
        assert_eq!(t.first, 105);
        assert_eq!(all(&t).first().map(|x| x.0), Some(105));
        assert!(t.spill(5).is_none());
        // A partly taken chunk keeps the rest in order; trimming drops whole chunks too.
        t.trim_before(127);
        let rest = all(&t);
        assert_eq!(rest.first().map(|x| x.0), Some(127));
        assert_eq!(rest.len(), 18);
        assert!(rest.iter().all(|(i, b)| *b == minute(*i as f64)));
        assert_eq!(t.samples(130), 15);
        let mut have = 0;
        assert_eq!(t.reach_back(12, &mut have), Some(133));
    }

    #[test]
    fn a_sealed_day_is_a_fraction_of_its_buckets() {
        let mut t = Tier::new(1, 1440);
        for m in 0..1440 {
            t.append(m, minute(30.0 + (m % 13) as f64 * 0.7));
        }
        let raw = 1440 * std::mem::size_of::<Bucket>();
        assert!(t.heap_bytes() * 3 < raw, "{} of {raw}", t.heap_bytes());
    }
}
