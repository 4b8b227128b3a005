//! The one policy's plain data: its parameters (calibrated per deployment), what it decides
//! (a change to the HPA, or replicas without one), the mark it leaves on the deployment so the
//! next decision, in any process, knows when the floor last moved, and its calibration summary.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Forecast, UnixSeconds, rfc3339};

/// Tunables of the policy. The defaults are a conservative start used while a deployment's
/// history is too short to calibrate on; calibration (`backtest::calibrate`) replaces
/// them per deployment from its own past.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyParams {
    /// Utilization of each replica's request the floor is sized at, in (0, 1].
    pub target_utilization: f64,
    /// Where in the forecast band to size: 0 = the point forecast, 1 = its upper bound.
    pub band: f64,
    /// The floor covers the forecast from now to this far ahead (next decision + start-up + a
    /// minute to spare).
    pub lookahead_seconds: i64,
    /// The floor is only lowered to what the forecast needs over this longer window.
    pub lower_lookahead_seconds: i64,
    /// No lowering within this long of the last change.
    pub hold_seconds: i64,
    /// The need must fall this fraction below the floor before it is lowered.
    pub lower_hysteresis: f64,
    /// The floor is never lowered below what the highest demand of this long (up to now) needs
    /// at `recent_utilization`: a forecast that missed a burst does not undo it.
    pub recent_seconds: i64,
    pub recent_utilization: f64,
    /// No raise within this long after a lowering (the HPA still reacts to real load).
    pub reverse_guard_seconds: i64,
    /// When the HPA scaled above the floor, the floor follows it up, so scale-downs happen only
    /// through the guarded lowering.
    pub follow_hpa: bool,
    /// The CPU target the HPA underneath should run at (% of requests); None keeps the HPA's
    /// own. Always within the user's `[policy]` target range.
    pub hpa_target_pct: Option<u32>,
}

impl Default for PolicyParams {
    fn default() -> Self {
        Self {
            target_utilization: 0.8,
            band: 0.0,
            lookahead_seconds: 180,
            lower_lookahead_seconds: 1200,
            hold_seconds: 600,
            lower_hysteresis: 0.1,
            recent_seconds: 300,
            recent_utilization: 0.8,
            reverse_guard_seconds: 360,
            follow_hpa: true,
            hpa_target_pct: None,
        }
    }
}

/// The mark the policy leaves on the deployment (annotation `ai4k8s.io/floor`) whenever it moves
/// the floor: which way, when, and until when a raise is meant to hold. Hold times and the
/// reverse guard are read from it, so the TUI, the autopilot and `recommend` decide the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorMark {
    pub raised: bool,
    pub at: UnixSeconds,
    pub until: Option<UnixSeconds>,
}

impl FloorMark {
    /// The annotation's value: `raised 2026-12-01T12:00:00Z until 2026-12-01T14:30:00Z` or
    /// `lowered 2026-12-01T12:00:00Z`.
    pub fn to_annotation(&self) -> String {
        let mut s = format!(
            "{} {}",
            if self.raised { "raised" } else { "lowered" },
            rfc3339(self.at)
        );
        if let Some(u) = self.until {
            s.push_str(" until ");
            s.push_str(&rfc3339(u));
        }
        s
    }

    /// Parse the annotation; None for anything else (a hand-edited value is ignored, not fatal).
    pub fn parse(s: &str) -> Option<Self> {
        let mut words = s.split_whitespace();
        let raised = match words.next()? {
            "raised" => true,
            "lowered" => false,
            _ => return None,
        };
        let time = |w: &str| {
            chrono::DateTime::parse_from_rfc3339(w)
                .ok()
                .map(|d| d.timestamp())
        };
        let at = time(words.next()?)?;
        let until = match words.next() {
            None => None,
            Some("until") => Some(time(words.next()?)?),
            Some(_) => return None,
        };
        if words.next().is_some() {
            return None;
        }
        Some(Self { raised, at, until })
    }
}

/// What the policy recommends changing. With an HPA the HPA is changed (its floor or its
/// target), never spec.replicas, which the HPA would undo; without one, spec.replicas.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyChange {
    /// Raise the HPA's minReplicas to `to` until `until` (pre-scaling before a forecast peak).
    Floor {
        hpa: String,
        from: u32,
        to: u32,
        until: UnixSeconds,
    },
    /// Lower the floor to `to` (the user's minimum: fully released).
    Release { hpa: String, from: u32, to: u32 },
    /// Move the HPA's CPU target within the user's range.
    Target { hpa: String, from: u32, to: u32 },
    /// No HPA: spec.replicas through the `/scale` subresource.
    Replicas { from: u32, to: u32 },
    #[default]
    Maintain,
    /// Demand needs more than the maximum allows: nothing to apply, raise max instead.
    AtMax,
}

impl PolicyChange {
    /// The card's first line: "floor 8 until 14:30", "release floor 8 → 3", "HPA target 70 → 85 %",
    /// "replicas 4 → 6", "maintain", "at max".
    pub fn headline(&self) -> String {
        match self {
            PolicyChange::Floor {
                from, to, until, ..
            } => {
                format!("floor {from} → {to} until {}", hhmm(*until))
            }
            PolicyChange::Release { from, to, .. } => format!("release floor {from} → {to}"),
            PolicyChange::Target { from, to, .. } => format!("HPA target {from} → {to} %"),
            PolicyChange::Replicas { from, to } => format!("replicas {from} → {to}"),
            PolicyChange::Maintain => "maintain".into(),
            PolicyChange::AtMax => "at max".into(),
        }
    }

    /// From and to when applying it would change something (a floor, a release, a target,
    /// replicas); None for maintain, at max, or a change to the same value.
    pub fn moves(&self) -> Option<(u32, u32)> {
        match self {
            PolicyChange::Floor { from, to, .. }
            | PolicyChange::Release { from, to, .. }
            | PolicyChange::Target { from, to, .. }
            | PolicyChange::Replicas { from, to } => (from != to).then_some((*from, *to)),
            PolicyChange::Maintain | PolicyChange::AtMax => None,
        }
    }

    /// Whether applying it can take capacity away (these wait out the autopilot's cooldown).
    pub fn reduces_capacity(&self) -> bool {
        match self {
            PolicyChange::Release { .. } => true,
            PolicyChange::Target { from, to, .. } => to > from,
            PolicyChange::Replicas { from, to } => to < from,
            _ => false,
        }
    }
}

/// "14:30" of a cluster time (UTC, as every time on the card).
pub fn hhmm(t: UnixSeconds) -> String {
    let day = t.rem_euclid(86_400);
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

/// What calibration chose for one deployment and how it did on data it was not chosen on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub params: PolicyParams,
    /// History it was made from, hours (training plus held-out).
    pub history_hours: f64,
    /// The held-out (later) part it was judged on, hours.
    pub held_out_hours: f64,
    /// On the held-out part: the policy's and the HPA's replica-hours and under-provisioned
    /// minutes, each replayed from the same state.
    pub policy_replica_hours: f64,
    pub hpa_replica_hours: f64,
    pub policy_under_minutes: f64,
    pub hpa_under_minutes: f64,
    /// Cluster time it was made at.
    pub made_at: UnixSeconds,
    /// How many parameter sets were compared.
    pub candidates: usize,
}

impl Calibration {
    /// Replica-hours a day the policy saves against the HPA on the held-out part (negative: it
    /// spends more); None when nothing was held out.
    pub fn savings_per_day(&self) -> Option<f64> {
        (self.held_out_hours > 0.0).then(|| {
            (self.hpa_replica_hours - self.policy_replica_hours) * 24.0 / self.held_out_hours
        })
    }

    /// "calibrated on 3.0 d: held-out 24 h −12 % replica-h, under 0.0 vs 4.5 min (HPA)".
    pub fn summary(&self) -> String {
        let pct = if self.hpa_replica_hours > 0.0 {
            100.0 * (self.policy_replica_hours / self.hpa_replica_hours - 1.0)
        } else {
            0.0
        };
        format!(
            "calibrated on {:.1} d; held-out {:.0} h: replica-h {pct:+.0} % vs HPA, under-prov. \
             {:.1} vs {:.1} min",
            self.history_hours / 24.0,
            self.held_out_hours,
            self.policy_under_minutes,
            self.hpa_under_minutes
        )
    }
}

/// What the policy needs beyond the seed's inputs: demand in replica units (one replica's CPU
/// request = 1), its forecast with the band, the floor's mark, the user's bounds and the
/// calibrated parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyContext {
    /// Demand now: CPU % of requests × ready pods / 100.
    pub demand_now: Option<f64>,
    /// The highest demand over the last `params.recent_seconds`.
    pub recent_peak: Option<f64>,
    /// Forecast of demand (5-minute peaks) with its band; not serialized (it is the forecast
    /// shown in the chart, in other units).
    #[serde(skip)]
    pub demand_forecast: Option<Arc<Forecast>>,
    pub floor_mark: Option<FloorMark>,
    /// The user's bounds as kept in the seed's annotations (None: absent).
    pub annotated_bounds: (Option<u32>, Option<u32>),
    pub params: PolicyParams,
    pub calibration: Option<Calibration>,
    /// The cluster's room for this deployment's scale-up (`advisor::policy::capacity`); None:
    /// not constrained (capacity unknown, or the fleet's scale-ups fit together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<Room>,
    /// Who else makes the HPA's metrics (a KEDA ScaledObject, from its triggers): the policy
    /// leaves the target utilization to it and only moves the floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_owner: Option<String>,
}

/// What the nodes leave this deployment when the fleet's scale-ups do not fit together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Room {
    /// More pods of this deployment's size it may add; None: not capped (an autoscaler adds
    /// nodes instead).
    pub pods: Option<u32>,
    /// The cluster's spare CPU, millicores, and memory, MiB (for the reasoning).
    pub spare_cpu_millis: u64,
    pub spare_mem_mib: u64,
    /// With an autoscaler: how many more nodes the fleet's plan needs, and of which type.
    pub nodes_needed: Option<(u32, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_mark_round_trips_and_rejects_garbage() {
        let m = FloorMark {
            raised: true,
            at: 1_700_000_000,
            until: Some(1_700_009_000),
        };
        let s = m.to_annotation();
        assert_eq!(s, "raised 2023-11-14T22:13:20Z until 2023-11-15T00:43:20Z");
        assert_eq!(FloorMark::parse(&s), Some(m));
        let l = FloorMark {
            raised: false,
            at: 1_700_000_000,
            until: None,
        };
        assert_eq!(FloorMark::parse(&l.to_annotation()), Some(l));
        for bad in [
            "",
            "raised",
            "up 2023-11-14T22:13:20Z",
            "raised yesterday",
            "raised 2023-11-14T22:13:20Z until",
            "raised 2023-11-14T22:13:20Z since 2023-11-14T22:13:20Z",
            "lowered 2023-11-14T22:13:20Z extra",
        ] {
            assert_eq!(FloorMark::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn headlines_name_the_change() {
        let f = PolicyChange::Floor {
            hpa: "web".into(),
            from: 3,
            to: 8,
            until: 1_700_000_000 + 3600,
        };
        assert_eq!(f.headline(), "floor 3 → 8 until 23:13");
        assert_eq!(hhmm(-60), "23:59");
        assert!(!f.reduces_capacity());
        let t = PolicyChange::Target {
            hpa: "web".into(),
            from: 70,
            to: 85,
        };
        assert!(t.reduces_capacity());
        assert!(
            PolicyChange::Release {
                hpa: "w".into(),
                from: 8,
                to: 3
            }
            .reduces_capacity()
        );
        assert!(!PolicyChange::Replicas { from: 3, to: 5 }.reduces_capacity());
    }
}
