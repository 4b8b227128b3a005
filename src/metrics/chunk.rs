//! A sealed run of buckets, compressed: how a tier keeps all but its newest buckets.
//!
//! As in the head chunks of Prometheus's TSDB, each bucket is written as its change from the
//! one before: a byte saying which fields changed, then each changed field's difference as a
//! zigzag LEB128 varint. From one minute to the next a deployment's CPU moves by a few tenths
//! of a percent and its memory, replicas and readiness mostly not at all, so a 12-byte bucket
//! takes about 3 bytes (5 for a 5-minute bucket, whose peak and its minute move too).

use super::bucket::Bucket;

const CPU: u8 = 1;
/// The peak differs from the mean (a single minute's never does).
const PEAK: u8 = 2;
const MEM: u8 = 4;
const REPLICAS: u8 = 8;
const READY: u8 = 16;
const MINUTES: u8 = 32;
const PEAK_AT: u8 = 64;

/// Buckets in order, oldest first, with what `Tier` asks of them without decoding.
#[derive(Clone, Debug)]
pub(super) struct Chunk {
    bytes: Box<[u8]>,
    len: u16,
    /// Buckets that saw anything.
    filled: u16,
    /// Minutes its buckets cover, each at most the tier's width.
    minutes: u32,
}

impl Chunk {
    /// Seal `buckets` (at most `u16::MAX`) of a tier `width` minutes wide.
    pub(super) fn seal(buckets: &[Bucket], width: i64) -> Chunk {
        let mut bytes = Vec::with_capacity(buckets.len() * 4);
        let mut prev = Bucket::default();
        let (mut filled, mut minutes) = (0u16, 0u32);
        for b in buckets {
            if !b.is_empty() {
                filled += 1;
                minutes += u32::from(b.minutes).min(width.clamp(0, i64::from(u32::MAX)) as u32);
            }
            let flag_at = bytes.len();
            bytes.push(0);
            let mut flags = changed(&mut bytes, CPU, b.cpu_mean, prev.cpu_mean)
                | changed(&mut bytes, PEAK, b.cpu_max, b.cpu_mean)
                | changed(&mut bytes, MEM, b.mem_mean, prev.mem_mean)
                | changed(&mut bytes, REPLICAS, b.replicas, prev.replicas)
                | changed(&mut bytes, READY, b.ready, prev.ready);
            if b.minutes != prev.minutes {
                flags |= MINUTES;
                bytes.push(b.minutes);
            }
            if b.peak_at != prev.peak_at {
                flags |= PEAK_AT;
                bytes.push(b.peak_at);
            }
            bytes[flag_at] = flags;
            prev = *b;
        }
        Chunk {
            bytes: bytes.into_boxed_slice(),
            len: buckets.len().min(usize::from(u16::MAX)) as u16,
            filled,
            minutes,
        }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(super) fn filled(&self) -> usize {
        usize::from(self.filled)
    }

    pub(super) fn minutes(&self) -> usize {
        self.minutes as usize
    }

    /// Each bucket, oldest first.
    pub(super) fn decode(&self, out: &mut impl FnMut(Bucket)) {
        let mut r = Reader {
            bytes: &self.bytes,
            at: 0,
        };
        let mut b = Bucket::default();
        for _ in 0..self.len {
            let Some(flags) = r.byte() else {
                // Only `seal` writes chunks: a short one is a bug, not input; stop rather than
                // invent buckets.
                debug_assert!(false, "chunk cut short");
                return;
            };
            let field = |r: &mut Reader, base: u16, set: bool| {
                if set {
                    (i32::from(base) + r.delta()) as u16
                } else {
                    base
                }
            };
            b.cpu_mean = field(&mut r, b.cpu_mean, flags & CPU != 0);
            b.cpu_max = field(&mut r, b.cpu_mean, flags & PEAK != 0);
            b.mem_mean = field(&mut r, b.mem_mean, flags & MEM != 0);
            b.replicas = field(&mut r, b.replicas, flags & REPLICAS != 0);
            b.ready = field(&mut r, b.ready, flags & READY != 0);
            if flags & MINUTES != 0 {
                b.minutes = r.byte().unwrap_or(b.minutes);
            }
            if flags & PEAK_AT != 0 {
                b.peak_at = r.byte().unwrap_or(b.peak_at);
            }
            out(b);
        }
    }

    /// Its buckets, oldest first, in a vector.
    pub(super) fn buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(self.len());
        self.decode(&mut |b| out.push(b));
        out
    }

    /// Heap bytes held (the encoded buckets; the struct itself sits in its tier's queue).
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// `flag` when `new` differs from `base`, with the difference appended; 0 otherwise.
fn changed(bytes: &mut Vec<u8>, flag: u8, new: u16, base: u16) -> u8 {
    if new == base {
        return 0;
    }
    put(bytes, i32::from(new) - i32::from(base));
    flag
}

/// Append `delta` as a zigzag LEB128 varint (1 byte below ±64, 3 at most for a u16's range).
fn put(bytes: &mut Vec<u8>, delta: i32) {
    let mut z = ((delta << 1) ^ (delta >> 31)) as u32;
    loop {
        let low = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.at).copied();
        self.at += 1;
        b
    }

    fn delta(&mut self) -> i32 {
        let mut z = 0u32;
        for shift in (0..35).step_by(7) {
            let Some(b) = self.byte() else { break };
            z |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        (z >> 1) as i32 ^ -((z & 1) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;
    use proptest::prelude::*;

    fn minute(cpu: f64, mem: f64, replicas: u32) -> Bucket {
        Bucket::of_sample(&Sample {
            timestamp: 0,
            cpu_pct: cpu,
            mem_pct: mem,
            replicas,
            ready: replicas,
        })
    }

    #[test]
    fn a_day_of_noisy_minutes_takes_about_three_bytes_each() {
        // CPU wandering by up to ±3 pp a minute, memory by ±0.4 pp, replicas stepping rarely.
        let mut cpu: f64 = 40.0;
        let buckets: Vec<Bucket> = (0..1440)
            .map(|i| {
                cpu = (cpu + ((i * 7919 % 61) as f64 - 30.0) / 10.0).clamp(5.0, 95.0);
                minute(cpu, 30.0 + (i % 9) as f64 / 20.0, 3 + (i / 400) as u32)
            })
            .collect();
        let c = Chunk::seal(&buckets, 1);
        assert_eq!(c.buckets(), buckets);
        assert!(c.heap_bytes() <= 1440 * 4, "{} bytes", c.heap_bytes());
        assert_eq!((c.len(), c.filled(), c.minutes()), (1440, 1440, 1440));
    }

    #[test]
    fn unknown_values_and_empty_buckets_round_trip() {
        let buckets = vec![
            Bucket::EMPTY,
            minute(f64::NAN, 12.0, 0),
            minute(6553.4, f64::NAN, 65_534),
            Bucket::EMPTY,
            minute(0.0, 0.0, 1),
        ];
        let c = Chunk::seal(&buckets, 5);
        assert_eq!(c.buckets(), buckets);
        assert_eq!((c.filled(), c.minutes()), (3, 3));
    }

    fn any_bucket() -> impl Strategy<Value = Bucket> {
        (
            prop::array::uniform5(any::<u16>()),
            any::<u8>(),
            any::<u8>(),
        )
            .prop_map(|(v, minutes, peak_at)| Bucket {
                cpu_mean: v[0],
                cpu_max: v[1],
                mem_mean: v[2],
                replicas: v[3],
                ready: v[4],
                minutes,
                peak_at,
            })
    }

    proptest! {
        #[test]
        fn any_buckets_come_back_as_sealed(buckets in prop::collection::vec(any_bucket(), 0..200)) {
            let c = Chunk::seal(&buckets, 30);
            prop_assert_eq!(c.buckets(), buckets.clone());
            prop_assert_eq!(c.len(), buckets.len());
            prop_assert_eq!(c.filled(), buckets.iter().filter(|b| !b.is_empty()).count());
            let minutes: usize = buckets
                .iter()
                .filter(|b| !b.is_empty())
                .map(|b| usize::from(b.minutes).min(30))
                .sum();
            prop_assert_eq!(c.minutes(), minutes);
        }
    }
}
