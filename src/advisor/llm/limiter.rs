//! The seed's rate limit: at most one LLM call per deployment per `min_call_interval_seconds`,
//! enforced by governor's keyed GCRA limiter on the cluster clock (a [`governor::clock::Clock`]
//! that reads `inputs.observed_at`), so the demo's fast virtual clock and a real cluster mean
//! the same thing by "300 s".
//!
//! governor keeps its state opaque, so the time of each deployment's last call is kept beside
//! it: that is what the state file stores, and replaying those calls into a fresh limiter
//! rebuilds it exactly after a restart (or after the cluster clock jumps backwards).
//!
//! A request is real, so its wall time is kept too, and a slot frees when the interval has
//! passed on either clock. `recommend --demo` always runs at the same simulated instant: on
//! the cluster clock alone its second run would wait forever for an interval that never
//! passes (one failed call made every later run "rate-limited" until the state was deleted).
//! A fast virtual clock still frees slots at its own pace, a real cluster's two clocks agree.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::model::UnixSeconds;

/// Cluster time as governor sees it: a duration since the Unix epoch, set before each check.
#[derive(Clone, Debug, Default)]
pub struct ClusterClock(Arc<AtomicI64>);

impl ClusterClock {
    fn set(&self, t: UnixSeconds) {
        self.0.store(t.max(0), Ordering::SeqCst);
    }
}

impl Clock for ClusterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_secs(self.0.load(Ordering::SeqCst).max(0) as u64)
    }
}

type Keyed = RateLimiter<String, HashMapStateStore<String>, ClusterClock, NoOpMiddleware<Duration>>;

pub struct CallLimiter {
    quota: Option<Quota>,
    clock: ClusterClock,
    limiter: Option<Keyed>,
    last_calls: BTreeMap<String, UnixSeconds>,
    /// Wall time of each deployment's last call.
    last_walls: BTreeMap<String, UnixSeconds>,
    interval: i64,
}

impl CallLimiter {
    /// One call per `interval_seconds` per deployment; 0 disables the limit.
    pub fn new(
        interval_seconds: u64,
        last_calls: BTreeMap<String, UnixSeconds>,
        last_walls: BTreeMap<String, UnixSeconds>,
    ) -> Self {
        let quota = Quota::with_period(Duration::from_secs(interval_seconds));
        let mut l = Self {
            quota,
            clock: ClusterClock::default(),
            limiter: None,
            last_calls,
            last_walls,
            interval: interval_seconds.min(i64::MAX as u64) as i64,
        };
        l.rebuild();
        l
    }

    /// Take the deployment's call slot at cluster time `now` and wall time `wall`, or say how
    /// many seconds remain: the interval must have passed since its last call on one clock.
    pub fn try_call(
        &mut self,
        deployment: &str,
        now: UnixSeconds,
        wall: UnixSeconds,
    ) -> Result<(), u64> {
        match self.try_cluster(deployment, now) {
            Ok(()) => {
                self.last_walls.insert(deployment.to_string(), wall);
                Ok(())
            }
            Err(wait) => {
                let since = self
                    .last_walls
                    .get(deployment)
                    .map(|&t| wall.saturating_sub(t));
                match since {
                    // A wall time in the future (clock set back) is from another timeline.
                    Some(s) if (0..self.interval).contains(&s) => {
                        Err(wait.min((self.interval - s) as u64).max(1))
                    }
                    _ => {
                        self.last_calls.insert(deployment.to_string(), now);
                        self.last_walls.insert(deployment.to_string(), wall);
                        self.rebuild();
                        Ok(())
                    }
                }
            }
        }
    }

    fn try_cluster(&mut self, deployment: &str, now: UnixSeconds) -> Result<(), u64> {
        if self.last_calls.get(deployment).is_some_and(|&t| t > now) {
            // The cluster clock went backwards (a new demo run, another cluster): the old
            // call is from another timeline and must not block this one.
            self.last_calls.remove(deployment);
            self.rebuild();
        }
        let Some(limiter) = &self.limiter else {
            self.last_calls.insert(deployment.to_string(), now);
            return Ok(());
        };
        self.clock.set(now);
        match limiter.check_key(&deployment.to_string()) {
            Ok(()) => {
                self.last_calls.insert(deployment.to_string(), now);
                Ok(())
            }
            Err(not_until) => Err(not_until.wait_time_from(self.clock.now()).as_secs().max(1)),
        }
    }

    /// Take in calls another process made: the later call per deployment counts.
    pub fn merge(
        &mut self,
        calls: &BTreeMap<String, UnixSeconds>,
        walls: &BTreeMap<String, UnixSeconds>,
    ) {
        for (k, &t) in walls {
            if self.last_walls.get(k).is_none_or(|&mine| mine < t) {
                self.last_walls.insert(k.clone(), t);
            }
        }
        let mut changed = false;
        for (k, &t) in calls {
            if self.last_calls.get(k).is_none_or(|&mine| mine < t) {
                self.last_calls.insert(k.clone(), t);
                changed = true;
            }
        }
        if changed {
            self.rebuild();
        }
    }

    /// Last call per deployment, for the state file.
    pub fn last_calls(&self) -> &BTreeMap<String, UnixSeconds> {
        &self.last_calls
    }

    /// Wall time of the last call per deployment, for the state file.
    pub fn last_walls(&self) -> &BTreeMap<String, UnixSeconds> {
        &self.last_walls
    }

    fn rebuild(&mut self) {
        self.clock.set(0);
        self.limiter = self
            .quota
            .map(|q| RateLimiter::hashmap_with_clock(q, self.clock.clone()));
        if let Some(limiter) = &self.limiter {
            for (k, &t) in &self.last_calls {
                self.clock.set(t);
                let _ = limiter.check_key(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall clock that stands still, so only the cluster clock frees slots.
    const W: UnixSeconds = 1_750_000_000;

    #[test]
    fn one_call_per_interval_per_deployment() {
        let mut l = CallLimiter::new(300, BTreeMap::new(), BTreeMap::new());
        assert_eq!(l.try_call("a", 1000, W), Ok(()));
        assert_eq!(l.try_call("a", 1060, W), Err(240));
        assert_eq!(
            l.try_call("b", 1060, W),
            Ok(()),
            "other deployments are independent"
        );
        assert_eq!(l.try_call("a", 1299, W), Err(1));
        assert_eq!(l.try_call("a", 1300, W), Ok(()));
        assert_eq!(l.last_calls().get("a"), Some(&1300));
    }

    #[test]
    fn rebuilt_from_last_calls_it_remembers() {
        let mut before = CallLimiter::new(300, BTreeMap::new(), BTreeMap::new());
        assert_eq!(before.try_call("a", 5000, W), Ok(()));
        let mut after = CallLimiter::new(
            300,
            before.last_calls().clone(),
            before.last_walls().clone(),
        );
        assert_eq!(after.try_call("a", 5100, W), Err(200));
        assert_eq!(after.try_call("a", 5300, W), Ok(()));
    }

    #[test]
    fn a_call_another_process_made_blocks_this_one() {
        let mut l = CallLimiter::new(300, BTreeMap::new(), BTreeMap::new());
        assert_eq!(l.try_call("a", 1000, W), Ok(()));
        l.merge(
            &BTreeMap::from([("a".to_string(), 900), ("b".to_string(), 1100)]),
            &BTreeMap::from([("b".to_string(), W)]),
        );
        assert_eq!(l.last_calls().get("a"), Some(&1000), "ours was later");
        assert_eq!(l.try_call("b", 1200, W), Err(200));
        assert_eq!(l.try_call("a", 1200, W), Err(100));
    }

    #[test]
    fn backwards_clock_and_zero_interval() {
        let mut l = CallLimiter::new(
            300,
            BTreeMap::from([("a".to_string(), 9000)]),
            BTreeMap::new(),
        );
        assert_eq!(
            l.try_call("a", 100, W),
            Ok(()),
            "a call from a later timeline is forgotten"
        );
        assert_eq!(l.try_call("a", 200, W), Err(200));
        let mut off = CallLimiter::new(0, BTreeMap::new(), BTreeMap::new());
        assert_eq!(off.try_call("a", 1, W), Ok(()));
        assert_eq!(off.try_call("a", 1, W), Ok(()));
    }

    /// `recommend --demo` runs at one simulated instant every time: the second run, 301 real
    /// seconds later, gets its call; 10 real seconds later it is still limited.
    #[test]
    fn a_slot_frees_when_the_interval_passed_on_either_clock() {
        let mut l = CallLimiter::new(300, BTreeMap::new(), BTreeMap::new());
        assert_eq!(l.try_call("a", 1000, W), Ok(()));
        assert_eq!(l.try_call("a", 1000, W + 10), Err(290));
        assert_eq!(l.try_call("a", 1000, W + 301), Ok(()));
        assert_eq!(l.try_call("a", 1000, W + 302), Err(299));
        // A fast virtual clock frees it on its own, with the wall clock standing still.
        assert_eq!(l.try_call("a", 1300, W + 302), Ok(()));
        // State written by an older version (no wall time): one call, then the rule holds.
        let mut old = CallLimiter::new(
            300,
            BTreeMap::from([("a".to_string(), 1000)]),
            BTreeMap::new(),
        );
        assert_eq!(old.try_call("a", 1000, W), Ok(()));
        assert_eq!(old.try_call("a", 1000, W + 1), Err(299));
    }
}
