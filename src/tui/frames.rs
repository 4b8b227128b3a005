//! When each frame was drawn: a small ring the event loop writes (two `Instant`s and a push
//! per frame) and a measuring harness reads, to show that nothing the engine waits on (the
//! LLM, the API server) delays a frame.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames kept: minutes of a busy session at the default 250 ms tick.
pub const KEPT: usize = 4096;

/// One drawn frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameTime {
    /// When the loop took the key, update or tick that made the frame due.
    pub due: Instant,
    pub start: Instant,
    pub end: Instant,
}

impl FrameTime {
    pub fn draw_time(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// The last [`KEPT`] frames, oldest first.
#[derive(Clone, Debug, Default)]
pub struct FrameLog {
    frames: VecDeque<FrameTime>,
    /// Frames drawn in all, kept or not.
    pub drawn: u64,
}

impl FrameLog {
    pub fn record(&mut self, frame: FrameTime) {
        if self.frames.len() == KEPT {
            self.frames.pop_front();
        }
        self.frames.push_back(frame);
        self.drawn += 1;
    }

    pub fn frames(&self) -> impl Iterator<Item = &FrameTime> {
        self.frames.iter()
    }

    /// The kept frames' draw times for the log: "412 frames, draw p50 0.61 ms, p99 1.9 ms,
    /// max 4.2 ms".
    pub fn summary(&self) -> String {
        let mut draws: Vec<Duration> = self.frames.iter().map(FrameTime::draw_time).collect();
        if draws.is_empty() {
            return "no frames".to_string();
        }
        draws.sort_unstable();
        let at = |q: f64| draws[((draws.len() - 1) as f64 * q).round() as usize];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{} frames, draw p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            draws.len(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(at(1.0))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_frames_and_counts_them_all() {
        let mut log = FrameLog::default();
        let t = Instant::now();
        for i in 0..(KEPT as u64 + 3) {
            let start = t + Duration::from_millis(i);
            log.record(FrameTime {
                due: start,
                start,
                end: start + Duration::from_micros(500),
            });
        }
        assert_eq!(log.drawn, KEPT as u64 + 3);
        assert_eq!(log.frames().count(), KEPT);
        let first = log.frames().next().expect("a frame");
        assert_eq!(first.start, t + Duration::from_millis(3), "oldest dropped");
        assert_eq!(first.draw_time(), Duration::from_micros(500));
    }

    #[test]
    fn the_summary_gives_the_median_and_the_tail_of_the_draw_times() {
        let mut log = FrameLog::default();
        assert_eq!(log.summary(), "no frames");
        let t = Instant::now();
        for micros in (1..=100).rev() {
            log.record(FrameTime {
                due: t,
                start: t,
                end: t + Duration::from_micros(micros * 10),
            });
        }
        assert_eq!(
            log.summary(),
            "100 frames, draw p50 0.51 ms, p99 0.99 ms, max 1.00 ms"
        );
    }
}
