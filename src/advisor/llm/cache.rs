//! The seed's recommendation cache: a key rounded hard enough to be stable (CPU to 25 %,
//! memory to 5 %, forecast peaks alike, trends), plus the model and prompt version so a new
//! model or prompt never serves an old answer; least recently used entries go first.
//!
//! Entries carry their cluster-clock creation time and expire on read: the TTL counts cluster
//! seconds (`inputs.observed_at`), so under the demo's fast virtual clock it means the same
//! thing as on a real cluster.

use std::num::NonZeroUsize;

use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::model::{AdvisorInputs, Decision, UnixSeconds};

/// One cached LLM answer, names already restored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAdvice {
    pub decision: Decision,
    pub model: String,
    pub notes: Vec<String>,
    /// Cluster time the answer was made at.
    pub created_at: UnixSeconds,
}

/// The cache key: namespace/name, replicas, bounds, rounded load and peaks, trends, model and
/// prompt version. Bounds are included too: a changed [min, max] changes what is sensible.
pub fn cache_key(inputs: &AdvisorInputs, model: &str, prompt_version: &str) -> String {
    let r = |v: Option<f64>, step: f64| match v {
        Some(v) if v.is_finite() => format!("{}", round_to(v, step)),
        _ => "na".into(),
    };
    let cpu_fc = inputs.cpu_forecast.as_ref();
    let mem_fc = inputs.mem_forecast.as_ref();
    format!(
        "{}/{}|r={}|b={}-{}|cpu={}|mem={}|cpk={}|mpk={}|ct={}|mt={}|m={}|p={}",
        inputs.namespace,
        inputs.name,
        inputs.current_replicas,
        inputs.min_replicas,
        inputs.max_replicas,
        r(inputs.cpu_pct, 25.0),
        r(inputs.mem_pct, 5.0),
        r(cpu_fc.map(|f| f.peak), 25.0),
        r(mem_fc.map(|f| f.peak), 5.0),
        cpu_fc.map(|f| f.trend.as_str()).unwrap_or("na"),
        mem_fc.map(|f| f.trend.as_str()).unwrap_or("na"),
        model,
        prompt_version
    )
}

/// `v` rounded to the nearest multiple of `step` (173 → 175, 11.7 → 10 for steps 25 and 5).
pub fn round_to(v: f64, step: f64) -> i64 {
    ((v / step).round() * step) as i64
}

pub struct AdviceCache {
    lru: LruCache<String, CachedAdvice>,
    ttl: i64,
}

impl AdviceCache {
    pub fn new(capacity: u64, ttl_seconds: u64) -> Self {
        let cap = NonZeroUsize::new(usize::try_from(capacity).unwrap_or(usize::MAX).max(1))
            .unwrap_or(NonZeroUsize::MIN);
        Self {
            lru: LruCache::new(cap),
            ttl: i64::try_from(ttl_seconds).unwrap_or(i64::MAX),
        }
    }

    /// The fresh entry for `key` at cluster time `now`; expired entries (and entries from a
    /// clock that has since gone backwards) are dropped.
    pub fn get(&mut self, key: &str, now: UnixSeconds) -> Option<CachedAdvice> {
        let entry = self.lru.get(key)?;
        let age = now - entry.created_at;
        if (0..self.ttl).contains(&age) {
            Some(entry.clone())
        } else {
            self.lru.pop(key);
            None
        }
    }

    /// The answer stored for `key` whatever its age (never one from after `now`): a review
    /// that may stand while the policy proposes no change (`advisor::consult`). Expired
    /// entries stay until the least recently used go.
    pub fn stored(&mut self, key: &str, now: UnixSeconds) -> Option<CachedAdvice> {
        self.lru.get(key).filter(|a| a.created_at <= now).cloned()
    }

    pub fn put(&mut self, key: String, advice: CachedAdvice) {
        self.lru.put(key, advice);
    }

    /// Take in another process's entries (least recently used first): an entry replaces ours
    /// only when it is newer, so the freshest answer for a key wins wherever it was made.
    pub fn merge(&mut self, entries: Vec<(String, CachedAdvice)>) {
        for (k, v) in entries {
            if self
                .lru
                .peek(&k)
                .is_some_and(|mine| mine.created_at >= v.created_at)
            {
                continue;
            }
            self.lru.put(k, v);
        }
    }

    /// Entries least recently used first, so reloading them in order rebuilds the LRU order.
    pub fn entries(&self) -> Vec<(String, CachedAdvice)> {
        self.lru
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lru.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeploymentState, ForecastSummary, ScalingAction, Trend};

    fn inputs(cpu: f64, mem: f64) -> AdvisorInputs {
        AdvisorInputs {
            cpu_forecast: Some(ForecastSummary {
                current: cpu,
                peak: 190.0,
                peak_at: 0,
                trend: Trend::Increasing,
                predictions: vec![],
                model: "x".into(),
                low_confidence: false,
            }),
            ..DeploymentState::fixture("default", "my-app")
                .with_replicas(10)
                .with_bounds(2, 10)
                .with_usage(Some(cpu), Some(mem))
                .inputs_at(0)
        }
    }

    fn advice(at: i64) -> CachedAdvice {
        CachedAdvice {
            decision: Decision::fixture(ScalingAction::Maintain, 10, 0.5),
            model: "m".into(),
            notes: vec![],
            created_at: at,
        }
    }

    #[test]
    fn key_rounds_like_the_seed() {
        assert_eq!((round_to(173.0, 25.0), round_to(180.0, 25.0)), (175, 175));
        assert_eq!((round_to(11.7, 5.0), round_to(12.3, 5.0)), (10, 10));
        let k = cache_key(&inputs(173.0, 11.7), "m", "p1");
        assert_eq!(
            k,
            "default/my-app|r=10|b=2-10|cpu=175|mem=10|cpk=200|mpk=na|ct=increasing|mt=na|m=m|p=p1"
        );
        assert_eq!(k, cache_key(&inputs(180.0, 12.3), "m", "p1"));
        assert_ne!(k, cache_key(&inputs(190.0, 12.3), "m", "p1"));
        assert_ne!(k, cache_key(&inputs(173.0, 11.7), "other", "p1"));
        assert_ne!(k, cache_key(&inputs(173.0, 11.7), "m", "p2"));
    }

    #[test]
    fn ttl_counts_cluster_seconds_and_lru_evicts() {
        let mut c = AdviceCache::new(2, 300);
        c.put("a".into(), advice(1000));
        assert!(c.get("a", 1299).is_some());
        assert!(c.get("a", 1300).is_none(), "expired at 300 s");
        assert_eq!(c.len(), 0);
        c.put("a".into(), advice(1000));
        assert!(c.get("a", 999).is_none(), "clock went backwards");
        c.put("a".into(), advice(1000));
        assert!(c.stored("a", 999).is_none(), "not made yet at 999");
        assert!(c.get("a", 5000).is_none(), "expired for the cache");
        c.put("a".into(), advice(1000));
        assert_eq!(
            c.stored("a", 90_000).map(|a| a.created_at),
            Some(1000),
            "a stored review has no TTL"
        );

        c.put("a".into(), advice(0));
        c.put("b".into(), advice(0));
        assert!(c.get("a", 1).is_some()); // a is now the most recent
        c.put("c".into(), advice(0));
        assert!(c.get("b", 1).is_none(), "b was least recently used");
        let keys: Vec<String> = c.entries().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "c"]);
    }

    #[test]
    fn merging_keeps_the_newer_answer_per_key() {
        let mut c = AdviceCache::new(10, 300);
        c.put("mine".into(), advice(100));
        c.put("both".into(), advice(200));
        c.merge(vec![
            ("both".into(), advice(150)),
            ("theirs".into(), advice(120)),
            ("mine".into(), advice(180)),
        ]);
        let created: Vec<(String, i64)> = c
            .entries()
            .into_iter()
            .map(|(k, v)| (k, v.created_at))
            .collect();
        assert!(created.contains(&("both".into(), 200)), "ours was newer");
        assert!(created.contains(&("mine".into(), 180)), "theirs was newer");
        assert!(created.contains(&("theirs".into(), 120)));
    }
}
