//! The daily budget: at most `daily_budget` LLM requests per UTC day, all deployments together,
//! and a rule for spending them where they matter when they run short.
//!
//! Days are counted on the cluster clock (`inputs.observed_at`), like the cache and the rate
//! limit, so a simulated day is a day. The provider's quota runs on real days, so requests are
//! also counted per wall-clock UTC day and the same limit applies there: a demo whose virtual
//! clock runs 20 times faster cannot spend 20 days of quota in one.
//!
//! A budget can be closed (its state was lost, so today's spending is unknown): nothing is
//! left until the next wall-clock UTC day, which reopens it.

use serde::{Deserialize, Serialize};

use crate::model::UnixSeconds;

const DAY: i64 = 86_400;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub cluster_day: i64,
    pub cluster_used: u32,
    pub wall_day: i64,
    pub wall_used: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
}

/// Why the budget is closed, and the wall-clock day it is closed for (set by the first
/// [`Budget::roll`] after closing, so a closure made before the clock is known still counts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    pub reason: String,
    pub wall_day: Option<i64>,
}

impl Budget {
    /// Start new days where the clocks have moved to one (either way: a clock that jumped back
    /// to an earlier day starts that day afresh; the wall-clock count still holds).
    pub fn roll(&mut self, cluster_now: UnixSeconds, wall_now: UnixSeconds) {
        let cd = cluster_now.div_euclid(DAY);
        if cd != self.cluster_day {
            self.cluster_day = cd;
            self.cluster_used = 0;
        }
        let wd = wall_now.div_euclid(DAY);
        if wd != self.wall_day {
            self.wall_day = wd;
            self.wall_used = 0;
        }
        if let Some(c) = &mut self.closed {
            match c.wall_day {
                None => c.wall_day = Some(wd),
                Some(d) if d != wd => self.closed = None,
                Some(_) => {}
            }
        }
    }

    /// Nothing left until the next wall-clock day, for `reason`.
    pub fn close(&mut self, reason: String) {
        self.closed = Some(Closed {
            reason,
            wall_day: None,
        });
    }

    pub fn used(&self) -> u32 {
        self.cluster_used.max(self.wall_used)
    }

    pub fn remaining(&self, limit: u32) -> u32 {
        if self.closed.is_some() {
            return 0;
        }
        limit.saturating_sub(self.used())
    }

    pub fn spend(&mut self) {
        self.cluster_used = self.cluster_used.saturating_add(1);
        self.wall_used = self.wall_used.saturating_add(1);
    }

    /// Give back one spent request that was never sent. A request that was sent stays counted
    /// whatever came of it (a timeout too: the server may have done the work and billed it).
    pub fn refund(&mut self) {
        self.cluster_used = self.cluster_used.saturating_sub(1);
        self.wall_used = self.wall_used.saturating_sub(1);
    }
}

/// Whether a deployment whose need scores `score` (0 = nothing moved, 1 = new, or its load or
/// the rules' answer moved a lot) gets a call, given `remaining` calls today and `demand`: the
/// calls the deployments that currently want one would use if each called every interval until
/// the day ends. With enough budget everyone is served; as it runs short, only higher scores.
pub fn admit(remaining: u32, demand: f64, score: f64) -> bool {
    if remaining == 0 {
        return false;
    }
    if demand <= remaining as f64 {
        return true;
    }
    let plenty = remaining as f64 / demand.max(1.0);
    score >= 1.0 - plenty
}

/// Whether a batched request may go out at `cluster_now`: a fleet's asks spend the day's
/// requests at an even pace, at most the day's share so far plus an hour's worth ahead, so the
/// morning never spends what the evening needs. An urgent request (its first deployment has a
/// pending change or is near its max) may run a tenth of the day's budget further ahead. A
/// burst of [`PACE_BURST`] requests is always allowed, so a small budget is not all evening.
pub fn paced(used: u32, limit: u32, cluster_now: UnixSeconds, urgent: bool) -> bool {
    let elapsed = cluster_now.rem_euclid(DAY) as f64;
    let ahead = if urgent {
        3600.0 + 0.1 * DAY as f64
    } else {
        3600.0
    };
    let allowance = f64::from(limit) * ((elapsed + ahead) / DAY as f64).min(1.0) + PACE_BURST;
    used < limit && f64::from(used) < allowance
}

/// Requests a paced budget allows beyond the even pace at any time of day.
pub const PACE_BURST: f64 = 10.0;

/// Calls the wanting deployments could make before the cluster day ends.
pub fn demand(wanting: usize, cluster_now: UnixSeconds, interval_seconds: u64) -> f64 {
    let left_today = (DAY - cluster_now.rem_euclid(DAY)) as f64;
    let intervals = (left_today / interval_seconds.max(1) as f64)
        .ceil()
        .max(1.0);
    wanting.max(1) as f64 * intervals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_roll_on_both_clocks() {
        let mut b = Budget::default();
        b.roll(DAY * 10, DAY * 20);
        b.spend();
        b.spend();
        assert_eq!((b.used(), b.remaining(5)), (2, 3));
        // A new cluster day (fast virtual clock) in the same wall-clock day: still 2 used.
        b.roll(DAY * 11, DAY * 20 + 60);
        assert_eq!((b.cluster_used, b.wall_used, b.remaining(5)), (0, 2, 3));
        b.roll(DAY * 11, DAY * 21);
        assert_eq!(b.remaining(5), 5);
        assert_eq!(b.remaining(0), 0);
    }

    #[test]
    fn a_closed_budget_stays_closed_for_the_rest_of_the_wall_day() {
        let mut b = Budget::default();
        b.close("state lost".into());
        assert_eq!(b.remaining(5), 0, "closed before any clock is known");
        b.roll(DAY * 10, DAY * 20 + 100);
        // A new cluster day does not reopen it; only the next wall-clock day does.
        b.roll(DAY * 11, DAY * 20 + 50_000);
        assert_eq!(b.remaining(5), 0);
        assert_eq!(b.closed.as_ref().and_then(|c| c.wall_day), Some(20));
        b.roll(DAY * 11, DAY * 21);
        assert_eq!((b.remaining(5), b.closed.is_none()), (5, true));
    }

    #[test]
    fn admission_tightens_as_the_budget_runs_short() {
        // 3 deployments, 12 h left at 300 s intervals: 3 × 144 = 432 calls wanted.
        let d = demand(3, DAY / 2, 300);
        assert_eq!(d, 432.0);
        assert!(admit(500, d, 0.0), "enough for everyone");
        assert!(
            admit(216, d, 0.5) && !admit(216, d, 0.4),
            "half the demand: half the need"
        );
        assert!(admit(1, d, 1.0) && !admit(1, d, 0.9));
        assert!(!admit(0, d, 1.0), "never beyond the budget");
    }

    #[test]
    fn batched_requests_spend_the_day_at_an_even_pace() {
        // 06:00: a quarter of the day, plus an hour ahead, plus the burst: 301 of 1000.
        let six = DAY * 100 + DAY / 4;
        assert!(paced(301, 1000, six, false) && !paced(302, 1000, six, false));
        // Urgent asks may run 100 further ahead.
        assert!(paced(401, 1000, six, true) && !paced(402, 1000, six, true));
        // A budget of 4 at 01:00: the burst allows all of it.
        assert!(paced(3, 4, DAY * 100 + 3600, false) && !paced(4, 4, DAY * 100 + 3600, false));
        // At 23:30 the whole day is allowed, never more.
        let late = DAY * 100 + DAY - 1800;
        assert!(paced(999, 1000, late, false) && !paced(1000, 1000, late, true));
        assert!(!paced(0, 0, late, true));
    }
}
