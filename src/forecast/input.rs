//! What a forecast is asked: a regular series, how far ahead, and what can go wrong.

use crate::model::UnixSeconds;

/// Six hours, the seed's horizon.
pub const DEFAULT_HORIZON_SECONDS: u32 = 6 * 3600;
pub(super) const DAY_SECONDS: i64 = 86_400;
/// Fewest observed points a forecast is made from.
pub const MIN_POINTS: usize = 10;

/// A regular series: `values[i]` observed at `start + i * step_seconds`; NaN marks a gap.
#[derive(Clone, Copy, Debug)]
pub struct SeriesInput<'a> {
    pub start: UnixSeconds,
    pub step_seconds: u32,
    pub values: &'a [f64],
}

impl SeriesInput<'_> {
    pub(super) fn end(&self) -> UnixSeconds {
        self.start + self.values.len() as i64 * self.step_seconds as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastOptions {
    pub horizon_seconds: u32,
}

impl Default for ForecastOptions {
    fn default() -> Self {
        Self {
            horizon_seconds: DEFAULT_HORIZON_SECONDS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("too little history: {have} points, at least {need} needed")]
    TooShort { have: usize, need: usize },
    #[error("step must be positive")]
    BadStep,
}
