//! The seed's rate limit: at most one LLM call per deployment per `min_call_interval_seconds`,
//! enforced by governor's keyed GCRA limiter on the cluster clock (a [`governor::clock::Clock`]
//! that reads `inputs.observed_at`), so the demo's fast virtual clock and a real cluster mean
//! the same thing by "300 s".
//!
//! governor keeps its state opaque, so the time of each deployment's last call is kept beside
//! it: that is what the state file stores, and replaying those calls into a fresh limiter
//! rebuilds it exactly after a restart (or after the cluster clock jumps backwards).

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
}

impl CallLimiter {
    /// One call per `interval_seconds` per deployment; 0 disables the limit.
    pub fn new(interval_seconds: u64, last_calls: BTreeMap<String, UnixSeconds>) -> Self {
        let quota = Quota::with_period(Duration::from_secs(interval_seconds));
        let mut l = Self {
            quota,
            clock: ClusterClock::default(),
            limiter: None,
            last_calls,
        };
        l.rebuild();
        l
    }

    /// Take the deployment's call slot at cluster time `now`, or say how many seconds remain.
    pub fn try_call(&mut self, deployment: &str, now: UnixSeconds) -> Result<(), u64> {
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
    pub fn merge(&mut self, calls: &BTreeMap<String, UnixSeconds>) {
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

    #[test]
    fn one_call_per_interval_per_deployment() {
        let mut l = CallLimiter::new(300, BTreeMap::new());
        assert_eq!(l.try_call("a", 1000), Ok(()));
        assert_eq!(l.try_call("a", 1060), Err(240));
        assert_eq!(
            l.try_call("b", 1060),
            Ok(()),
            "other deployments are independent"
        );
        assert_eq!(l.try_call("a", 1299), Err(1));
        assert_eq!(l.try_call("a", 1300), Ok(()));
        assert_eq!(l.last_calls().get("a"), Some(&1300));
    }

    #[test]
    fn rebuilt_from_last_calls_it_remembers() {
        let mut before = CallLimiter::new(300, BTreeMap::new());
        assert_eq!(before.try_call("a", 5000), Ok(()));
        let mut after = CallLimiter::new(300, before.last_calls().clone());
        assert_eq!(after.try_call("a", 5100), Err(200));
        assert_eq!(after.try_call("a", 5300), Ok(()));
    }

    #[test]
    fn a_call_another_process_made_blocks_this_one() {
        let mut l = CallLimiter::new(300, BTreeMap::new());
        assert_eq!(l.try_call("a", 1000), Ok(()));
        l.merge(&BTreeMap::from([
            ("a".to_string(), 900),
            ("b".to_string(), 1100),
        ]));
        assert_eq!(l.last_calls().get("a"), Some(&1000), "ours was later");
        assert_eq!(l.try_call("b", 1200), Err(200));
        assert_eq!(l.try_call("a", 1200), Err(100));
    }

    #[test]
    fn backwards_clock_and_zero_interval() {
        let mut l = CallLimiter::new(300, BTreeMap::from([("a".to_string(), 9000)]));
        assert_eq!(
            l.try_call("a", 100),
            Ok(()),
            "a call from a later timeline is forgotten"
        );
        assert_eq!(l.try_call("a", 200), Err(200));
        let mut off = CallLimiter::new(0, BTreeMap::new());
        assert_eq!(off.try_call("a", 1), Ok(()));
        assert_eq!(off.try_call("a", 1), Ok(()));
    }
}
