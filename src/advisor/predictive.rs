//! Predictive sizing: how many replicas to hold ready for the demand a forecast expects, and how
//! to move an HPA's minReplicas towards that (pre-scaling) without flapping.
//!
//! The HPA stays the reactive safety net: these functions only ever decide a floor. Raising it
//! is immediate (a late pod is an under-provisioned minute); lowering it waits for a hold time
//! and a clear margin, and only goes down to what a longer look-ahead still needs, so a dip
//! between two peaks does not become a scale-down followed by a scale-up.
//!
//! Used by the backtest's `predictive` policy; the rules advisor and an autopilot can call the
//! same functions (nothing here changes what `rules::decide` answers).

use crate::model::{Forecast, UnixSeconds};

/// Tunables of the predictive floor. Defaults are the values tuned by `ai4k8s backtest` on the
/// core traces (see docs/benchmarks.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PredictiveParams {
    /// Utilization of each replica's capacity the forecast is sized at, in (0, 1].
    pub target_utilization: f64,
    /// Where in the forecast band to size: 0 = the point forecast, 1 = its upper bound.
    pub band: f64,
    /// The floor covers the forecast from now to this far ahead: at least the time to the next
    /// decision plus the time a new pod needs to serve (1 + 1 minutes in the backtest), with a
    /// minute to spare.
    pub lookahead_seconds: i64,
    /// The floor is only lowered to what the forecast needs over this longer window.
    pub lower_lookahead_seconds: i64,
    /// No lowering within this long of the last change.
    pub hold_seconds: i64,
    /// The need must fall this fraction below the floor before the floor is lowered.
    pub lower_hysteresis: f64,
    /// The floor is never lowered below what the highest demand seen over this long (up to
    /// now) needs at `recent_utilization`: a forecast that misses a burst does not undo it.
    pub recent_seconds: i64,
    /// Utilization the recent peak is sized at when lowering. At the safety-net HPA's own
    /// target, a lowered floor is one the HPA would not immediately scale back up from.
    pub recent_utilization: f64,
    /// No raise within this long after a lowering (the HPA still reacts to real load), so the
    /// floor itself never reverses within the flap window.
    pub reverse_guard_seconds: i64,
    /// When the HPA has scaled above the floor, the floor follows it up: scale-downs then only
    /// happen through the guarded lowering above, never straight after the HPA's own window.
    pub follow_hpa: bool,
}

impl Default for PredictiveParams {
    fn default() -> Self {
        Self {
            target_utilization: 0.85,
            band: 0.0,
            lookahead_seconds: 180,
            lower_lookahead_seconds: 1200,
            hold_seconds: 360,
            lower_hysteresis: 0.1,
            recent_seconds: 300,
            recent_utilization: 0.85,
            reverse_guard_seconds: 360,
            follow_hpa: true,
        }
    }
}

/// Replicas that carry `demand` (in units of one replica's capacity × `capacity`) at
/// `utilization`. A hair of slack keeps 20.000000001 from becoming 21.
pub fn replicas_for(demand: f64, capacity: f64, utilization: f64) -> u32 {
    let per_replica = capacity * utilization;
    // Written to be false for NaN as well.
    if demand.is_nan() || per_replica.is_nan() || demand <= 0.0 || per_replica <= 0.0 {
        return 0;
    }
    let r = (demand / per_replica - 1e-9).ceil();
    if r >= u32::MAX as f64 {
        u32::MAX
    } else {
        r as u32
    }
}

/// The highest forecast demand over `[from, to)`, sized at `band` within the forecast's band;
/// `scale` turns forecast values into demand (1 for a demand series; replicas / 100 for a CPU %
/// series). None when no forecast point falls in the window.
pub fn forecast_peak(
    f: &Forecast,
    from: UnixSeconds,
    to: UnixSeconds,
    band: f64,
    scale: f64,
) -> Option<f64> {
    let step = f.step_seconds.max(1) as i64;
    f.points
        .iter()
        // A point covers [timestamp, timestamp + step).
        .filter(|p| p.timestamp + step > from && p.timestamp < to)
        .map(|p| {
            let hi = p.value + band * (p.upper - p.value).max(0.0);
            hi.max(0.0) * scale
        })
        .reduce(f64::max)
}

/// What the planner knows at a decision besides the forecast.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observed {
    /// spec.replicas now (what the HPA holds).
    pub replicas: u32,
    /// Highest demand seen over `recent_seconds`, in the forecast's demand units after `scale`.
    pub recent_peak: Option<f64>,
}

/// Moves a floor (the HPA's minReplicas) after the forecast: up at once, down slowly.
#[derive(Clone, Debug, PartialEq)]
pub struct FloorPlanner {
    pub params: PredictiveParams,
    /// The floor the deployment's own HPA had; never gone below.
    pub base_min: u32,
    pub max: u32,
    floor: u32,
    last_raise: Option<UnixSeconds>,
    last_lower: Option<UnixSeconds>,
}

impl FloorPlanner {
    pub fn new(params: PredictiveParams, base_min: u32, max: u32) -> Self {
        let base_min = base_min.max(1).min(max.max(1));
        Self {
            params,
            base_min,
            max: max.max(base_min),
            floor: base_min,
            last_raise: None,
            last_lower: None,
        }
    }

    pub fn floor(&self) -> u32 {
        self.floor
    }

    /// The floor after a new forecast at `now`; `capacity` is one replica's capacity in the
    /// forecast's demand units (after `scale`). Without a usable forecast the floor falls back
    /// to the HPA's own minimum (through the same guarded lowering), leaving the HPA in charge.
    pub fn plan(
        &mut self,
        now: UnixSeconds,
        forecast: Option<&Forecast>,
        scale: f64,
        capacity: f64,
        seen: Observed,
    ) -> u32 {
        let p = self.params;
        let size = |d: f64| replicas_for(d, capacity, p.target_utilization);
        let need = |horizon: i64| {
            forecast
                .and_then(|f| forecast_peak(f, now, now + horizon, p.band, scale))
                .map(size)
                .unwrap_or(0)
                .clamp(self.base_min, self.max)
        };
        let since = |t: Option<UnixSeconds>, d: i64| t.is_none_or(|t| now - t >= d);

        let up = need(p.lookahead_seconds);
        if up > self.floor && since(self.last_lower, p.reverse_guard_seconds) {
            self.floor = up;
            self.last_raise = Some(now);
        }
        if p.follow_hpa && seen.replicas > self.floor {
            // Already there: following costs no scale event.
            self.floor = seen.replicas.min(self.max);
            self.last_raise = Some(now);
        }
        let recent = seen
            .recent_peak
            .map(|d| replicas_for(d, capacity, p.recent_utilization))
            .unwrap_or(0);
        let down = need(p.lower_lookahead_seconds.max(p.lookahead_seconds))
            .max(up)
            .max(recent)
            .clamp(self.base_min, self.max);
        let last_change = self.last_raise.max(self.last_lower);
        if since(last_change, p.hold_seconds)
            && (down as f64) < self.floor as f64 * (1.0 - p.lower_hysteresis)
        {
            self.floor = down;
            self.last_lower = Some(now);
        }
        self.floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ForecastPoint, Peak, Trend};

    fn forecast(start: i64, step: u32, values: &[f64]) -> Forecast {
        let points: Vec<ForecastPoint> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| ForecastPoint {
                timestamp: start + i as i64 * step as i64,
                value: v,
                lower: v - 1.0,
                upper: v + 2.0,
            })
            .collect();
        Forecast {
            model: "test".into(),
            step_seconds: step,
            peak: Peak {
                timestamp: start,
                value: values.iter().copied().fold(0.0, f64::max),
            },
            points,
            trend: Trend::Stable,
            trend_pct_per_hour: 0.0,
            current: values[0],
            hourly: vec![],
            anomalies: vec![],
            low_confidence: false,
        }
    }

    #[test]
    fn replicas_for_rounds_up_but_not_on_float_noise() {
        assert_eq!(replicas_for(14.0, 1.0, 0.7), 20);
        assert_eq!(replicas_for(14.000001, 1.0, 0.7), 21);
        assert_eq!(replicas_for(0.0, 1.0, 0.7), 0);
        assert_eq!(replicas_for(f64::NAN, 1.0, 0.7), 0);
    }

    #[test]
    fn peak_covers_points_overlapping_the_window_and_the_band() {
        let f = forecast(1000, 300, &[1.0, 5.0, 3.0, 9.0]);
        // [1000, 1300) → 1; [1299, 1301) overlaps the first two points.
        assert_eq!(forecast_peak(&f, 1000, 1300, 0.0, 1.0), Some(1.0));
        assert_eq!(forecast_peak(&f, 1299, 1301, 0.0, 1.0), Some(5.0));
        assert_eq!(forecast_peak(&f, 1000, 1900, 0.5, 2.0), Some(12.0));
        assert_eq!(forecast_peak(&f, 5000, 6000, 0.0, 1.0), None);
    }

    #[test]
    fn floor_rises_at_once_and_falls_only_after_the_hold_and_margin() {
        let params = PredictiveParams {
            target_utilization: 1.0,
            band: 0.0,
            lookahead_seconds: 600,
            lower_lookahead_seconds: 1200,
            hold_seconds: 600,
            lower_hysteresis: 0.2,
            recent_seconds: 0,
            recent_utilization: 1.0,
            reverse_guard_seconds: 300,
            follow_hpa: false,
        };
        let mut p = FloorPlanner::new(params, 2, 50);
        let high = forecast(0, 300, &[10.0; 8]);
        assert_eq!(p.plan(0, Some(&high), 1.0, 1.0, Observed::default()), 10);
        // Lower need shortly after: held.
        let low = forecast(300, 300, &[4.0; 8]);
        assert_eq!(p.plan(300, Some(&low), 1.0, 1.0, Observed::default()), 10);
        // After the hold it falls to the longer window's need.
        assert_eq!(p.plan(600, Some(&low), 1.0, 1.0, Observed::default()), 4);
        // Within the margin: kept.
        let slightly = forecast(1800, 300, &[3.5; 8]);
        assert_eq!(
            p.plan(1800, Some(&slightly), 1.0, 1.0, Observed::default()),
            4
        );
        // A peak 15 min out is within the long window: no lowering below it.
        let dip = forecast(2400, 300, &[1.0, 1.0, 1.0, 4.0, 1.0]);
        assert_eq!(p.plan(2400, Some(&dip), 1.0, 1.0, Observed::default()), 4);
        // No forecast: back to the HPA's own minimum (after the hold).
        assert_eq!(p.plan(4000, None, 1.0, 1.0, Observed::default()), 2);
    }

    #[test]
    fn floor_follows_the_hpa_keeps_the_recent_peak_and_does_not_reverse_soon() {
        let params = PredictiveParams {
            target_utilization: 1.0,
            band: 0.0,
            lookahead_seconds: 600,
            lower_lookahead_seconds: 600,
            hold_seconds: 360,
            lower_hysteresis: 0.0,
            recent_seconds: 300,
            recent_utilization: 0.5,
            reverse_guard_seconds: 360,
            follow_hpa: true,
        };
        let mut p = FloorPlanner::new(params, 1, 50);
        let low = forecast(0, 300, &[2.0; 40]);
        let seen = |replicas, peak| Observed {
            replicas,
            recent_peak: Some(peak),
        };
        assert_eq!(p.plan(0, Some(&low), 1.0, 1.0, seen(2, 1.0)), 2);
        // The HPA went to 9 on a burst the forecast missed: the floor follows, no event.
        assert_eq!(p.plan(60, Some(&low), 1.0, 1.0, seen(9, 4.0)), 9);
        // After the hold, lowered only to what the recent peak needs at 50 %: 3 / 0.5 = 6.
        assert_eq!(p.plan(420, Some(&low), 1.0, 1.0, seen(9, 3.0)), 6);
        // A forecast peak right after the lowering waits out the reverse guard...
        let high = forecast(480, 300, &[12.0; 40]);
        assert_eq!(p.plan(480, Some(&high), 1.0, 1.0, seen(6, 3.0)), 6);
        // ...and is taken once it has passed.
        assert_eq!(p.plan(780, Some(&high), 1.0, 1.0, seen(6, 3.0)), 12);
    }
}
