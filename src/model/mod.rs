//! Plain data shared by every stage of the pipeline (cluster → metrics → forecast → advisor →
//! actions) and by every face (TUI, headless commands, backtest). No behaviour beyond small
//! derivations lives here, so any module can depend on it without pulling in another.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod capacity;
pub mod detail;
mod fixtures;
pub mod forecast_points;
pub mod ownership;
pub mod policy;

pub use capacity::{ClusterCapacity, Resources};
pub use detail::{DeploymentDetail, EventDetail, HpaCondition, HpaDetail, PodDetail};
pub use forecast_points::ForecastPoints;
pub use ownership::Ownership;
pub use policy::{Calibration, FloorMark, PolicyChange, PolicyContext, PolicyParams, Room, hhmm};

/// Seconds since the Unix epoch, on the cluster's clock (the simulator's virtual clock in demo).
pub type UnixSeconds = i64;

/// Identifies a deployment: `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeploymentKey {
    pub namespace: String,
    pub name: String,
}

impl DeploymentKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for DeploymentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for DeploymentKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Self::new(ns, name))
            }
            _ => Err(format!("expected NAMESPACE/NAME, got {s:?}")),
        }
    }
}

/// What the HorizontalPodAutoscaler on a deployment says about itself (autoscaling/v2 status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HpaState {
    pub name: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Target average CPU utilization, % of requests.
    pub target_cpu_pct: Option<u32>,
    /// Target average memory utilization, % of requests.
    pub target_mem_pct: Option<u32>,
    pub current_replicas: u32,
    pub desired_replicas: u32,
    /// Short human status: "stable", "scaling up", "scaling down", "at max", "limited: …".
    pub scaling_status: String,
    pub last_scale_time: Option<UnixSeconds>,
    /// Every metric the HPA scales on, current against target (live clusters; the simulator
    /// leaves it empty and uses the two targets above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<HpaMetric>,
}

/// One metric of an autoscaling/v2 HPA, rendered for people: any of the five metric types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HpaMetric {
    /// Resource, ContainerResource, Pods, Object or External.
    pub kind: String,
    /// What is measured: "cpu", "container app memory", "packets-per-second",
    /// "Ingress/main requests-per-second".
    pub name: String,
    /// The target as the HPA states it: "70%", "avg 100", "500".
    pub target: String,
    /// The current value the HPA last computed; None when unknown.
    pub current: Option<String>,
    /// Why `current` is unknown (the HPA's condition, or that it has not reported yet).
    pub unknown_reason: Option<String>,
}

impl fmt::Display for HpaMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.current, &self.unknown_reason) {
            (Some(c), _) => write!(f, "{} {}/{}", self.name, c, self.target),
            (None, Some(why)) => write!(f, "{} <unknown>/{} ({why})", self.name, self.target),
            (None, None) => write!(f, "{} <unknown>/{}", self.name, self.target),
        }
    }
}

impl HpaState {
    pub fn at_max(&self) -> bool {
        self.desired_replicas >= self.max_replicas
    }
}

/// One deployment as the cluster shows it at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentState {
    pub key: DeploymentKey,
    /// spec.replicas
    pub desired_replicas: u32,
    pub ready_replicas: u32,
    /// Pods that exist (ready or starting).
    pub total_pods: u32,
    /// Bounds: the seed's annotations where set (the user's policy), else the HPA's, else
    /// [1, max(desired, 1) * 4] as a conservative default; never above the HPA's maximum.
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cpu_request_millis: u32,
    pub mem_request_mib: u32,
    /// Average CPU usage of pods with metrics, % of their requests; None when metrics are missing.
    pub cpu_pct: Option<f64>,
    /// Average memory usage of pods with metrics, % of their requests.
    pub mem_pct: Option<f64>,
    pub hpa: Option<HpaState>,
    /// The seed's `ai4k8s.io/predictive-autoscaling` annotation.
    pub predictive_enabled: bool,
    /// The seed's `ai4k8s.io/min-replicas` / `max-replicas` annotations as set (None: absent).
    /// With an HPA they keep the user's bounds while pre-scaling moves the HPA's minReplicas.
    #[serde(default)]
    pub annotated_bounds: (Option<u32>, Option<u32>),
    /// The policy's `ai4k8s.io/floor` annotation: when it last moved the floor, which way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_mark: Option<FloorMark>,
    /// Why no write may touch this deployment now (None: the guard decides), e.g. its HPAs
    /// cannot be listed, so an HPA may be scaling it unseen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_block: Option<WriteBlock>,
    /// Who else owns its scaling: KEDA, a VPA, a GitOps controller.
    #[serde(default, skip_serializing_if = "Ownership::is_empty")]
    pub ownership: Ownership,
}

impl DeploymentState {
    /// At its maximum: its HPA wants at least its max, or its ready or desired replicas reach
    /// the bounds' max. The table's "at max" filter and `:fleet`'s count both ask this.
    pub fn at_max(&self) -> bool {
        let hpa = self.hpa.as_ref().is_some_and(HpaState::at_max);
        hpa || (self.max_replicas > 0
            && self.desired_replicas.max(self.ready_replicas) >= self.max_replicas)
    }
}

/// What the app cannot know about a deployment that a write would need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "block", content = "detail")]
pub enum WriteBlock {
    /// The HPAs have not been listed (forbidden, failing, or not yet arrived): an HPA may
    /// scale it, and its bounds shown are a guess.
    HpaUnknown(String),
    /// Several HPAs target it: the HPA controller refuses to act (AmbiguousSelector), and a
    /// write to one of them would be checked against the wrong one.
    AmbiguousHpa(Vec<String>),
}

impl fmt::Display for WriteBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteBlock::HpaUnknown(why) => write!(
                f,
                "its HPA is unknown ({why}): no write until HPAs can be listed"
            ),
            WriteBlock::AmbiguousHpa(names) => {
                let names: Vec<String> = names.iter().map(|n| format!("hpa/{n}")).collect();
                write!(
                    f,
                    "{} all target it (AmbiguousSelector: the HPA controller scales it with \
                     none of them): no write until only one is left",
                    names.join(", ")
                )
            }
        }
    }
}

/// The whole cluster at one instant, as one poll or one watch event batch produced it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    /// Kube context name, or "demo" for the simulator.
    pub context: String,
    pub time: UnixSeconds,
    pub deployments: Vec<DeploymentState>,
    /// The nodes' room for more pods; None when the nodes cannot be listed (unknown: nothing
    /// is capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<ClusterCapacity>,
}

/// One metrics sample for one deployment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub timestamp: UnixSeconds,
    /// % of requests; NaN when unknown.
    pub cpu_pct: f64,
    /// % of requests; NaN when unknown.
    pub mem_pct: f64,
    pub replicas: u32,
    pub ready: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Increasing,
    Decreasing,
    Stable,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Increasing => "increasing",
            Trend::Decreasing => "decreasing",
            Trend::Stable => "stable",
        }
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Trend::Increasing => "↑",
            Trend::Decreasing => "↓",
            Trend::Stable => "→",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    pub timestamp: UnixSeconds,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    pub timestamp: UnixSeconds,
    pub value: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A point outside the in-sample prediction band.
    Outlier,
    /// A lasting change of level.
    LevelShift,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub timestamp: UnixSeconds,
    pub value: f64,
    pub kind: AnomalyKind,
}

/// A forecast of one series (CPU % or memory %) over the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Which model produced it, e.g. "seasonal-naive", "mstl+ets", "linear-trend".
    pub model: String,
    pub step_seconds: u32,
    pub points: ForecastPoints,
    pub peak: Peak,
    pub trend: Trend,
    /// Slope of the trend, % per hour.
    pub trend_pct_per_hour: f64,
    /// The last observed value the forecast starts from.
    pub current: f64,
    /// The seed's prompt shows one value per hour of the horizon.
    pub hourly: Vec<f64>,
    pub anomalies: Vec<Anomaly>,
    /// Too little history for the model to be trusted.
    pub low_confidence: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScalingAction {
    ScaleUp,
    ScaleDown,
    Maintain,
    AtMax,
}

impl ScalingAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingAction::ScaleUp => "scale_up",
            ScalingAction::ScaleDown => "scale_down",
            ScalingAction::Maintain => "maintain",
            ScalingAction::AtMax => "at_max",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ScalingAction::ScaleUp => "Scale Up",
            ScalingAction::ScaleDown => "Scale Down",
            ScalingAction::Maintain => "Maintain",
            ScalingAction::AtMax => "At Max",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PerformanceImpact {
    Positive,
    Neutral,
    Negative,
}

impl PerformanceImpact {
    pub fn as_str(self) -> &'static str {
        match self {
            PerformanceImpact::Positive => "positive",
            PerformanceImpact::Neutral => "neutral",
            PerformanceImpact::Negative => "negative",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    Immediate,
    Gradual,
    Scheduled,
}

impl Timing {
    pub fn as_str(self) -> &'static str {
        match self {
            Timing::Immediate => "immediate",
            Timing::Gradual => "gradual",
            Timing::Scheduled => "scheduled",
        }
    }
}

/// The seed's JSON contract: exactly what the LLM is asked to return, and what the rules
/// advisor produces too. Its JSON schema (schemars) is the LLM's structured-output contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    pub action: ScalingAction,
    pub target_replicas: u32,
    pub confidence: f64,
    pub reasoning: String,
    pub factors_considered: Vec<String>,
    pub risk_assessment: Level,
    pub cost_impact: Level,
    pub performance_impact: PerformanceImpact,
    pub recommended_timing: Timing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecommendationSource {
    Llm,
    /// The one policy's own answer (no LLM, or the LLM did not answer).
    #[serde(alias = "rules")]
    Policy,
    Scheduled,
    Reactive,
}

impl RecommendationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendationSource::Llm => "llm",
            RecommendationSource::Policy => "policy",
            RecommendationSource::Scheduled => "scheduled",
            RecommendationSource::Reactive => "reactive",
        }
    }
}

/// The forecast of one metric as the advisor sees it (the seed's `forecast_data['cpu']`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForecastSummary {
    pub current: f64,
    pub peak: f64,
    pub peak_at: UnixSeconds,
    pub trend: Trend,
    /// One value per hour over the next 6 hours.
    pub predictions: Vec<f64>,
    pub model: String,
    pub low_confidence: bool,
}

impl ForecastSummary {
    pub fn from_forecast(f: &Forecast) -> Self {
        Self {
            current: f.current,
            peak: f.peak.value,
            peak_at: f.peak.timestamp,
            trend: f.trend,
            predictions: f.hourly.clone(),
            model: f.model.clone(),
            low_confidence: f.low_confidence,
        }
    }
}

/// Everything a recommendation is made from (the seed's `_prepare_context`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvisorInputs {
    pub namespace: String,
    pub name: String,
    pub current_replicas: u32,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cpu_pct: Option<f64>,
    pub mem_pct: Option<f64>,
    pub running_pods: u32,
    pub total_pods: u32,
    pub cpu_forecast: Option<ForecastSummary>,
    pub mem_forecast: Option<ForecastSummary>,
    pub hpa: Option<HpaState>,
    /// Cluster time the inputs were observed at.
    pub observed_at: UnixSeconds,
    /// What the one policy needs beyond the seed's fields.
    #[serde(default)]
    pub policy: PolicyContext,
}

impl AdvisorInputs {
    pub fn key(&self) -> DeploymentKey {
        DeploymentKey::new(&self.namespace, &self.name)
    }

    /// Assemble the inputs from what the pipeline knows about one deployment.
    pub fn from_state(
        state: &DeploymentState,
        cpu: Option<&Forecast>,
        mem: Option<&Forecast>,
        observed_at: UnixSeconds,
    ) -> Self {
        Self {
            namespace: state.key.namespace.clone(),
            name: state.key.name.clone(),
            current_replicas: state.desired_replicas,
            min_replicas: state.min_replicas,
            max_replicas: state.max_replicas,
            cpu_pct: state.cpu_pct,
            mem_pct: state.mem_pct,
            running_pods: state.ready_replicas,
            total_pods: state.total_pods,
            cpu_forecast: cpu.map(ForecastSummary::from_forecast),
            mem_forecast: mem.map(ForecastSummary::from_forecast),
            hpa: state.hpa.clone(),
            observed_at,
            policy: PolicyContext {
                floor_mark: state.floor_mark,
                annotated_bounds: state.annotated_bounds,
                target_owner: state
                    .ownership
                    .keda
                    .as_ref()
                    .map(|k| format!("scaledobject/{}", k.name)),
                ..PolicyContext::default()
            },
        }
    }
}

/// A recommendation card: the seed's contract plus where it came from and what it was made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub namespace: String,
    pub name: String,
    #[serde(flatten)]
    pub decision: Decision,
    pub current_replicas: u32,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub source: RecommendationSource,
    /// The LLM model, when the LLM made it.
    pub model: Option<String>,
    pub cached: bool,
    /// RFC 3339, cluster clock.
    pub created_at: String,
    /// What validation changed in the decision (empty when nothing).
    pub corrections: Vec<String>,
    /// Why the rules answered instead of the LLM (no key, rate-limited, 429, timeout, …).
    pub fallback_reason: Option<String>,
    /// What applying it changes: the HPA's floor or target, or replicas without an HPA.
    #[serde(default)]
    pub change: PolicyChange,
    /// The policy's own candidate and the range the LLM may choose in (replicas, or the HPA's
    /// floor), when an LLM answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_range: Option<(u32, u32)>,
    /// Whether the LLM was asked for this card, when one is configured and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_review: Option<LlmReview>,
    pub inputs: AdvisorInputs,
}

/// How the LLM's part of a card came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// A request was made for this card.
    Asked,
    /// Consulted, and an answer for the same bucketed inputs was given again (no request).
    Reused,
    /// Not asked: the policy proposes no change, confidently, and the deployment's last
    /// review (same buckets) stands.
    NotAsked,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Asked => "asked",
            ReviewStatus::Reused => "reused",
            ReviewStatus::NotAsked => "not_asked",
        }
    }
}

/// The LLM review behind a card: asked now, reused, or standing from earlier, with its age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmReview {
    pub status: ReviewStatus,
    /// RFC 3339, cluster clock: when the LLM made the answer shown.
    pub reviewed_at: String,
    /// Cluster seconds since then.
    pub age_seconds: i64,
    /// Why it was asked ("the policy proposes a change"), or why not.
    pub why: String,
}

impl LlmReview {
    /// "reviewed 14 min ago" (or "reviewed now").
    pub fn age_text(&self) -> String {
        match self.age_seconds {
            s if s < 60 => "reviewed now".to_string(),
            s if s < 7200 => format!("reviewed {} min ago", s / 60),
            s if s < 2 * 86_400 => format!("reviewed {} h ago", s / 3600),
            s => format!("reviewed {} d ago", s / 86_400),
        }
    }

    /// The card's line: "LLM asked: the policy proposes a change", "LLM reused: …; reviewed
    /// 3 min ago", "LLM not asked: the policy proposes no change (…); reviewed 14 min ago".
    pub fn line(&self) -> String {
        match self.status {
            ReviewStatus::Asked => format!("LLM asked: {}", self.why),
            ReviewStatus::Reused => format!(
                "LLM reused: {}, and its answer for the same inputs stands; {}",
                self.why,
                self.age_text()
            ),
            ReviewStatus::NotAsked => {
                format!("LLM not asked: {}; {}", self.why, self.age_text())
            }
        }
    }
}

impl Recommendation {
    pub fn key(&self) -> DeploymentKey {
        DeploymentKey::new(&self.namespace, &self.name)
    }

    /// Replica-hours a day saved against the HPA, from the deployment's calibration on
    /// held-out history; None until it has one.
    pub fn savings_per_day(&self) -> Option<f64> {
        self.inputs.policy.calibration.as_ref()?.savings_per_day()
    }
}

/// Format cluster time as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: UnixSeconds) -> String {
    use chrono::{Datelike, Timelike};
    // Written from the fields: chrono's strftime parses its pattern on every call, and the
    // policy stamps every decision (calibration makes hundreds of thousands).
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        })
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_key_parses_namespace_slash_name() {
        let k: DeploymentKey = "shop/checkout".parse().expect("valid key");
        assert_eq!(k, DeploymentKey::new("shop", "checkout"));
        assert_eq!(k.to_string(), "shop/checkout");
        assert!("checkout".parse::<DeploymentKey>().is_err());
        assert!("/x".parse::<DeploymentKey>().is_err());
        assert!("a/b/c".parse::<DeploymentKey>().is_err());
    }

    #[test]
    fn recommendation_serializes_the_seed_contract_flat() {
        let d = Decision {
            action: ScalingAction::AtMax,
            target_replicas: 10,
            confidence: 0.8,
            reasoning: "r".into(),
            factors_considered: vec!["cpu".into()],
            risk_assessment: Level::High,
            cost_impact: Level::Low,
            performance_impact: PerformanceImpact::Negative,
            recommended_timing: Timing::Immediate,
        };
        let v = serde_json::to_value(&d).expect("serializes");
        assert_eq!(v["action"], "at_max");
        assert_eq!(v["risk_assessment"], "high");
        assert_eq!(v["performance_impact"], "negative");
        assert_eq!(v["recommended_timing"], "immediate");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
