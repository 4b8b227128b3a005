//! The seed's Scheduled Autoscaler: `[[schedule]]` rules hold a deployment at or above a
//! minimum for a window that opens each time a cron expression fires (in a time zone). During
//! a window, a recommendation below that minimum is replaced by a `source = scheduled` one.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::config::ScheduleRule;
use crate::model::{
    DeploymentKey, Level, PerformanceImpact, Recommendation, RecommendationSource, Timing,
    UnixSeconds, hhmm,
};

#[derive(Clone, Debug)]
struct Compiled {
    key: DeploymentKey,
    cron: Cron,
    cron_text: String,
    tz: Tz,
    duration_seconds: i64,
    min_replicas: u32,
}

/// An open window: at least `min_replicas` until `ends_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub min_replicas: u32,
    pub started_at: UnixSeconds,
    pub ends_at: UnixSeconds,
    pub describe: String,
}

/// Compiled schedule rules.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    rules: Vec<Compiled>,
}

impl Schedule {
    /// Compile the config's rules; the error names the rule (1-based) and what is wrong.
    pub fn compile(rules: &[ScheduleRule]) -> Result<Schedule, String> {
        let mut out = Vec::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            let (key, cron, tz) = r.parse(i + 1)?;
            out.push(Compiled {
                key,
                cron,
                cron_text: r.cron.clone(),
                tz,
                duration_seconds: r.duration_minutes as i64 * 60,
                min_replicas: r.min_replicas,
            });
        }
        Ok(Schedule { rules: out })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The window holding `key` at `now`, the highest minimum if several overlap.
    pub fn active(&self, key: &DeploymentKey, now: UnixSeconds) -> Option<Window> {
        self.rules
            .iter()
            .filter(|r| &r.key == key)
            .filter_map(|r| {
                let local =
                    r.tz.from_utc_datetime(&DateTime::<Utc>::from_timestamp(now, 0)?.naive_utc());
                let fired = r
                    .cron
                    .find_previous_occurrence(&local, true)
                    .ok()?
                    .timestamp();
                (now - fired < r.duration_seconds).then(|| Window {
                    min_replicas: r.min_replicas,
                    started_at: fired,
                    ends_at: fired + r.duration_seconds,
                    describe: format!(
                        "cron {:?} ({}) for {} min",
                        r.cron_text,
                        r.tz.name(),
                        r.duration_seconds / 60
                    ),
                })
            })
            .max_by_key(|w| w.min_replicas)
    }

    /// Raise `rec` to the active window's minimum, if it is below it.
    pub fn overlay(&self, rec: Recommendation, max_step: u32) -> Recommendation {
        let now = rec.inputs.observed_at;
        let Some(w) = self.active(&rec.key(), now) else {
            return rec;
        };
        if rec.decision.target_replicas >= w.min_replicas {
            return rec;
        }
        let wanted = rec.decision.target_replicas;
        let mut out = rec;
        let d = &mut out.decision;
        d.target_replicas = w.min_replicas;
        d.confidence = 0.95;
        d.reasoning = format!(
            "A scheduled window ({}) holds at least {} replicas from {} until {} UTC; \
             without it the {} advisor would go to {wanted}.",
            w.describe,
            w.min_replicas,
            // hhmm is arithmetic: no byte slicing of a formatted time that may be shorter.
            hhmm(w.started_at),
            hhmm(w.ends_at),
            out.source.as_str()
        );
        d.factors_considered = vec![
            format!("schedule {}", w.describe),
            format!("{} advisor target {wanted}", out.source.as_str()),
        ];
        d.risk_assessment = Level::Low;
        d.cost_impact = Level::Medium;
        d.performance_impact = PerformanceImpact::Positive;
        d.recommended_timing = Timing::Scheduled;
        out.source = RecommendationSource::Scheduled;
        out.model = None;
        out.cached = false;
        let inputs = out.inputs.clone();
        out.corrections = super::validate::validate(&mut out.decision, &inputs, max_step);
        out.change =
            super::policy::change_for_target(&inputs, &out.change, out.decision.target_replicas);
        if let crate::model::PolicyChange::Floor { until, .. } = &mut out.change {
            *until = w.ends_at;
        }
        out.decision.action = super::policy::action_of(&out.change);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cron: &str, tz: &str) -> ScheduleRule {
        ScheduleRule {
            deployment: "shop/frontend".into(),
            cron: cron.into(),
            timezone: tz.into(),
            duration_minutes: 120,
            min_replicas: 6,
        }
    }

    #[test]
    fn window_opens_at_the_cron_time_in_its_zone_and_lasts_its_duration() {
        let s = Schedule::compile(&[rule("0 8 * * 1-5", "Europe/Rome")]).expect("valid");
        let key: DeploymentKey = "shop/frontend".parse().expect("key");
        // Monday 2026-03-02: 08:00 in Rome is 07:00 UTC (CET, UTC+1).
        let monday_0700_utc = 1_772_409_600 + 7 * 3600;
        assert!(s.active(&key, monday_0700_utc - 60).is_none());
        let w = s.active(&key, monday_0700_utc).expect("open at 08:00 Rome");
        assert_eq!((w.min_replicas, w.started_at), (6, monday_0700_utc));
        assert!(s.active(&key, monday_0700_utc + 119 * 60).is_some());
        assert!(s.active(&key, monday_0700_utc + 120 * 60).is_none());
        // Saturday: no window.
        assert!(s.active(&key, monday_0700_utc + 5 * 86_400).is_none());
        assert!(
            s.active(&"shop/other".parse().expect("key"), monday_0700_utc)
                .is_none()
        );
    }

    #[test]
    fn bad_rules_name_the_rule_and_the_problem() {
        let e = Schedule::compile(&[rule("0 8 * *", "UTC")]).expect_err("4 fields");
        assert!(e.starts_with("schedule 1: cron"), "{e}");
        let e = Schedule::compile(&[rule("0 8 * * *", "Mars/Olympus")]).expect_err("tz");
        assert!(e.contains("time zone"), "{e}");
    }
}
