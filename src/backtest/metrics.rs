//! Scoring of one policy's replay: provisioning against demand per tick, scale events and
//! direction reversals, and the forecast's error against seasonal naive. Only ticks from the
//! end of the warm-up on are scored.

use serde::{Deserialize, Serialize};

use crate::model::UnixSeconds;

/// Relative slack below which demand counts as served (float noise, not a shortage).
const EPS: f64 = 1e-9;
/// The second flap window: no reversal within this long.
pub const FLIP_WINDOW_SECONDS: i64 = 300;

/// What the issue asks per policy (plus a few figures that explain them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyMetrics {
    /// Minutes with demand above ready capacity.
    pub under_provisioned_minutes: f64,
    /// The same, % of the scored time.
    pub under_provisioned_pct: f64,
    /// Demand not served by ready capacity, % of all demand.
    pub unserved_pct: f64,
    /// Capacity paid for (every pod, starting ones too) beyond demand, % of that capacity.
    pub overprovisioned_pct: f64,
    /// Pods × hours, starting pods included.
    pub replica_hours: f64,
    /// Changes of spec.replicas.
    pub scale_events: u64,
    /// Scale events reversing the previous one's direction within the flap window (10 min).
    pub flaps: u64,
    /// Reversals within 300 s (the "no direction flip within 300 s").
    pub flips_within_300s: u64,
    /// Share of scored ticks whose ready replicas lie between the oracle-100 need (fewer is
    /// under-provisioned) and the oracle-70 need + 1 (more is waste beyond the HPA's own
    /// headroom), both over the next start-up + lag window: the seed's "within ±1 replica of
    /// optimal", measured.
    #[serde(default)]
    pub right_sized_pct: f64,
    /// Mean absolute 6-hour forecast error divided by seasonal naive's (< 1: better than
    /// "same time yesterday"); forecasting policies only.
    pub forecast_error_vs_naive: Option<f64>,
    /// Number of forecasts that error is averaged over.
    pub forecasts_scored: u64,
}

/// Accumulates one replay's score.
#[derive(Clone, Debug)]
pub struct Scorer {
    scored_from: usize,
    tick_seconds: i64,
    flap_window: i64,
    ticks: u64,
    under_ticks: u64,
    demand: f64,
    unserved: f64,
    capacity: f64,
    idle: f64,
    pod_ticks: f64,
    events: u64,
    flaps: u64,
    flips: u64,
    last_event: Option<(UnixSeconds, bool)>,
    /// Per tick: the oracle-100 and oracle-at-target needs (empty: not scored).
    needs: Vec<(u32, u32)>,
    right_sized: u64,
    sized_ticks: u64,
    pub forecast: ForecastScore,
}

impl Scorer {
    pub fn new(scored_from: usize, tick_seconds: i64, flap_window: i64) -> Self {
        Self {
            scored_from,
            tick_seconds,
            flap_window,
            ticks: 0,
            under_ticks: 0,
            demand: 0.0,
            unserved: 0.0,
            capacity: 0.0,
            idle: 0.0,
            pod_ticks: 0.0,
            events: 0,
            flaps: 0,
            flips: 0,
            last_event: None,
            needs: Vec::new(),
            right_sized: 0,
            sized_ticks: 0,
            forecast: ForecastScore::default(),
        }
    }

    /// The oracle needs right-sizing is judged against: from the highest demand over each
    /// tick's start-up + lag window, at 100 % and at `utilization`.
    pub fn set_needs(&mut self, window_max: &[f64], utilization: f64) {
        self.needs = window_max
            .iter()
            .map(|&d| {
                (
                    crate::advisor::policy::replicas_for(d, 1.0, 1.0),
                    crate::advisor::policy::replicas_for(d, 1.0, utilization),
                )
            })
            .collect();
    }

    /// Whether `ready` replicas at tick `k` are right-sized.
    pub fn record_sizing(&mut self, k: usize, ready: u32) {
        if !self.scored(k) {
            return;
        }
        if let Some(&(lo, hi)) = self.needs.get(k) {
            self.sized_ticks += 1;
            if ready >= lo && ready <= hi + 1 {
                self.right_sized += 1;
            }
        }
    }

    pub fn scored(&self, k: usize) -> bool {
        k >= self.scored_from
    }

    /// One tick: `demand` and `ready` capacity (replica units), `pods` paid for.
    pub fn record_tick(&mut self, k: usize, demand: f64, ready: f64, pods: f64) {
        if !self.scored(k) {
            return;
        }
        self.ticks += 1;
        let short = demand - ready;
        if short > EPS * demand.max(1.0) {
            self.under_ticks += 1;
            self.unserved += short;
        }
        self.demand += demand;
        self.capacity += pods;
        self.idle += (pods - demand).max(0.0);
        self.pod_ticks += pods;
    }

    /// spec.replicas changed at tick `k` (time `t`), upwards or not.
    pub fn record_event(&mut self, k: usize, t: UnixSeconds, up: bool) {
        if self.scored(k) {
            self.events += 1;
            if let Some((prev, prev_up)) = self.last_event
                && prev_up != up
            {
                let gap = t - prev;
                if gap <= self.flap_window {
                    self.flaps += 1;
                }
                if gap <= FLIP_WINDOW_SECONDS {
                    self.flips += 1;
                }
            }
        }
        // Events in the warm-up still count as the previous direction.
        self.last_event = Some((t, up));
    }

    pub fn finish(&self) -> PolicyMetrics {
        let minutes = self.tick_seconds as f64 / 60.0;
        let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
        PolicyMetrics {
            under_provisioned_minutes: self.under_ticks as f64 * minutes,
            under_provisioned_pct: pct(self.under_ticks as f64, self.ticks as f64),
            unserved_pct: pct(self.unserved, self.demand),
            overprovisioned_pct: pct(self.idle, self.capacity),
            replica_hours: self.pod_ticks * self.tick_seconds as f64 / 3600.0,
            scale_events: self.events,
            flaps: self.flaps,
            flips_within_300s: self.flips,
            right_sized_pct: pct(self.right_sized as f64, self.sized_ticks as f64),
            forecast_error_vs_naive: self.forecast.ratio(),
            forecasts_scored: self.forecast.forecasts,
        }
    }
}

/// Sum of absolute errors of the policy's forecasts and of seasonal naive on the same points.
#[derive(Clone, Debug, Default)]
pub struct ForecastScore {
    model_abs: f64,
    naive_abs: f64,
    forecasts: u64,
}

impl ForecastScore {
    /// One forecast's points: (forecast, seasonal naive, actual).
    pub fn add(&mut self, points: impl IntoIterator<Item = (f64, f64, f64)>) {
        let mut any = false;
        for (f, naive, actual) in points {
            self.model_abs += (f - actual).abs();
            self.naive_abs += (naive - actual).abs();
            any = true;
        }
        if any {
            self.forecasts += 1;
        }
    }

    pub fn ratio(&self) -> Option<f64> {
        (self.forecasts > 0 && self.naive_abs > 0.0).then(|| self.model_abs / self.naive_abs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_before_the_warm_up_end_are_not_scored() {
        let mut s = Scorer::new(2, 15, 600);
        s.record_tick(0, 10.0, 0.0, 0.0);
        s.record_tick(1, 10.0, 0.0, 0.0);
        s.record_tick(2, 2.0, 4.0, 4.0);
        let m = s.finish();
        assert_eq!(m.under_provisioned_minutes, 0.0);
        assert_eq!(m.replica_hours, 4.0 * 15.0 / 3600.0);
        assert_eq!(m.overprovisioned_pct, 50.0);
    }

    #[test]
    fn shortage_idle_and_hours_on_known_numbers() {
        let mut s = Scorer::new(0, 15, 600);
        // Four ticks: short by 2 twice (demand 6 on 4 ready), then 2 idle of 8 twice.
        for k in 0..2 {
            s.record_tick(k, 6.0, 4.0, 4.0);
        }
        for k in 2..4 {
            s.record_tick(k, 6.0, 8.0, 8.0);
        }
        let m = s.finish();
        assert_eq!(m.under_provisioned_minutes, 0.5);
        assert_eq!(m.under_provisioned_pct, 50.0);
        assert!((m.unserved_pct - 100.0 * 4.0 / 24.0).abs() < 1e-12);
        assert!((m.overprovisioned_pct - 100.0 * 4.0 / 24.0).abs() < 1e-12);
        assert!((m.replica_hours - 24.0 * 15.0 / 3600.0).abs() < 1e-12);
        // Exactly at capacity is served.
        let mut s = Scorer::new(0, 15, 600);
        s.record_tick(0, 4.0, 4.0, 4.0);
        assert_eq!(s.finish().under_provisioned_minutes, 0.0);
    }

    #[test]
    fn reversals_count_within_their_windows_only() {
        let mut s = Scorer::new(0, 15, 600);
        s.record_event(0, 0, true);
        s.record_event(1, 100, true); // same direction: no flap
        s.record_event(2, 350, false); // 250 s after an up: flap and flip
        s.record_event(3, 900, true); // 550 s: flap, not a flip
        s.record_event(4, 2000, false); // 1100 s: neither
        let m = s.finish();
        assert_eq!((m.scale_events, m.flaps, m.flips_within_300s), (5, 2, 1));
    }

    #[test]
    fn right_sized_is_between_the_two_oracle_needs() {
        let mut s = Scorer::new(1, 15, 600);
        // Window peaks 7 → needs 7 at 100 %, 10 at 70 %: 7..=11 replicas are right-sized.
        s.set_needs(&[7.0; 6], 0.7);
        s.record_sizing(0, 0); // warm-up: not scored
        for ready in [6, 7, 11, 12, 9] {
            s.record_sizing(1, ready);
        }
        assert_eq!(s.finish().right_sized_pct, 60.0);
    }

    #[test]
    fn forecast_error_is_relative_to_naive() {
        let mut f = ForecastScore::default();
        assert_eq!(f.ratio(), None);
        f.add([(1.0, 2.0, 1.5), (3.0, 5.0, 3.0)]);
        // model |−0.5| + 0 = 0.5; naive 0.5 + 2 = 2.5
        assert!((f.ratio().unwrap_or(0.0) - 0.2).abs() < 1e-12);
    }
}
