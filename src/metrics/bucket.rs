//! One bucket of `History`'s tiers: a fixed-width span of minutes, its time implied by its
//! position in the tier.
//!
//! A `Bucket` is 12 bytes for any width: CPU mean and peak, memory mean, replicas and ready
//! (rounded means), how many minute samples it was made from and which minute held the peak.
//! Percentages are tenths of a percent in a `u16` (0.1 pp is far below metric noise; up to
//! 6553.4 %), `u16::MAX` when unknown. A bucket `expand`s back into one sample per minute of its
//! width that keeps its mean and its peak at the peak's minute, so the 5-minute peaks the
//! demand forecast takes and the means the seasonal model fits come back as they went in.

use crate::model::{Sample, UnixSeconds};

/// `u16` for "unknown".
pub(super) const UNKNOWN: u16 = u16::MAX;
/// The largest count a `u16` field keeps (replicas above it saturate).
const MAX_COUNT: u16 = u16::MAX - 1;

fn pct_to_u16(v: f64) -> u16 {
    if v.is_finite() {
        (v.max(0.0) * 10.0).round().min(f64::from(MAX_COUNT)) as u16
    } else {
        UNKNOWN
    }
}

fn pct_of_u16(v: u16) -> f64 {
    if v == UNKNOWN {
        f64::NAN
    } else {
        f64::from(v) / 10.0
    }
}

fn count_to_u16(v: f64) -> u16 {
    v.max(0.0).round().min(f64::from(MAX_COUNT)) as u16
}

/// One bucket of `width` minutes (the width is its tier's); `minutes == 0`: nothing observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub(super) cpu_mean: u16,
    pub(super) cpu_max: u16,
    pub(super) mem_mean: u16,
    pub(super) replicas: u16,
    pub(super) ready: u16,
    /// Minute samples folded in (at most 255 per bucket: widths stay far below).
    pub(super) minutes: u8,
    /// Offset of the peak's minute within the bucket.
    pub(super) peak_at: u8,
}

impl Bucket {
    pub(crate) const EMPTY: Bucket = Bucket {
        cpu_mean: UNKNOWN,
        cpu_max: UNKNOWN,
        mem_mean: UNKNOWN,
        replicas: 0,
        ready: 0,
        minutes: 0,
        peak_at: 0,
    };

    pub(crate) fn of_sample(s: &Sample) -> Bucket {
        let cpu = pct_to_u16(s.cpu_pct);
        Bucket {
            cpu_mean: cpu,
            cpu_max: cpu,
            mem_mean: pct_to_u16(s.mem_pct),
            replicas: count_to_u16(f64::from(s.replicas)),
            ready: count_to_u16(f64::from(s.ready)),
            minutes: 1,
            peak_at: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.minutes == 0
    }

    /// Fold consecutive buckets of `part_width` minutes into one; `first_offset` is the first
    /// part's position within the new bucket (a group cut short at the front starts later).
    pub(crate) fn fold(parts: &[Bucket], part_width: i64, first_offset: i64) -> Bucket {
        let mut out = Bucket::EMPTY;
        let (mut cpu, mut cpu_n, mut mem, mut mem_n) = (0.0, 0.0, 0.0, 0.0);
        let (mut replicas, mut ready, mut n) = (0.0, 0.0, 0.0);
        let mut peak: Option<(u16, i64)> = None;
        for (i, p) in parts.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
            let w = f64::from(p.minutes);
            n += w;
            replicas += f64::from(p.replicas) * w;
            ready += f64::from(p.ready) * w;
            if p.cpu_mean != UNKNOWN {
                cpu += pct_of_u16(p.cpu_mean) * w;
                cpu_n += w;
            }
            if p.mem_mean != UNKNOWN {
                mem += pct_of_u16(p.mem_mean) * w;
                mem_n += w;
            }
            if p.cpu_max != UNKNOWN && peak.is_none_or(|(m, _)| p.cpu_max > m) {
                let at = (first_offset + i as i64) * part_width + i64::from(p.peak_at);
                peak = Some((p.cpu_max, at));
            }
        }
        if n == 0.0 {
            return out;
        }
        out.minutes = n.min(f64::from(u8::MAX)) as u8;
        out.replicas = count_to_u16(replicas / n);
        out.ready = count_to_u16(ready / n);
        if cpu_n > 0.0 {
            out.cpu_mean = pct_to_u16(cpu / cpu_n);
        }
        if mem_n > 0.0 {
            out.mem_mean = pct_to_u16(mem / mem_n);
        }
        if let Some((max, at)) = peak {
            out.cpu_max = max;
            out.peak_at = at.clamp(0, i64::from(u8::MAX)) as u8;
        }
        out
    }

    /// The bucket's samples, stamped at each minute's end (`first_minute` is its first,
    /// `width` long): as many as went in, on its last minutes (history that starts within a
    /// bucket starts there), the peak at its minute and the others at the level that keeps
    /// the mean. A single minute comes back as it was stored.
    pub(crate) fn expand(&self, first_minute: i64, width: i64, out: &mut impl FnMut(Sample)) {
        if self.is_empty() {
            return;
        }
        let k = i64::from(self.minutes).min(width);
        let mean = pct_of_u16(self.cpu_mean);
        let max = pct_of_u16(self.cpu_max);
        let rest = if k > 1 && mean.is_finite() && max.is_finite() {
            ((k as f64 * mean - max) / (k - 1) as f64).clamp(0.0, max)
        } else {
            mean
        };
        let from = width - k;
        let peak_at = i64::from(self.peak_at).clamp(from, width - 1);
        for j in from..width {
            out(Sample {
                timestamp: (first_minute + j) * super::MINUTE,
                cpu_pct: if j == peak_at { max } else { rest },
                mem_pct: pct_of_u16(self.mem_mean),
                replicas: u32::from(self.replicas),
                ready: u32::from(self.ready),
            });
        }
    }
}

/// The minute a sample stamped at `t` belongs to.
pub(crate) fn minute_of(t: UnixSeconds) -> i64 {
    t.div_euclid(super::MINUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Bucket>(), 12);
    }

    #[test]
    fn a_single_minute_comes_back_as_stored() {
        let s = Sample {
            timestamp: 600,
            cpu_pct: 42.34,
            mem_pct: f64::NAN,
            replicas: 3,
            ready: 2,
        };
        let mut got = Vec::new();
        Bucket::of_sample(&s).expand(10, 1, &mut |s| got.push(s));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].timestamp, 600);
        assert!((got[0].cpu_pct - 42.3).abs() < 1e-9);
        assert!(got[0].mem_pct.is_nan());
        assert_eq!((got[0].replicas, got[0].ready), (3, 2));
    }

    #[test]
    fn folding_keeps_mean_peak_and_its_minute() {
        let minute = |cpu: f64| {
            Bucket::of_sample(&Sample {
                timestamp: 0,
                cpu_pct: cpu,
                mem_pct: 10.0,
                replicas: 2,
                ready: 2,
            })
        };
        let parts = [
            minute(10.0),
            minute(50.0),
            minute(10.0),
            minute(20.0),
            minute(10.0),
        ];
        let b = Bucket::fold(&parts, 1, 0);
        let mut got = Vec::new();
        b.expand(100, 5, &mut |s| got.push(s));
        let cpu: Vec<f64> = got.iter().map(|s| s.cpu_pct).collect();
        assert_eq!(cpu[1], 50.0);
        let mean = cpu.iter().sum::<f64>() / 5.0;
        assert!((mean - 20.0).abs() < 0.05, "{cpu:?}");
        assert_eq!(got[0].timestamp, 6000);
    }
}
