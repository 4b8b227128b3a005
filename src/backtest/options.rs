//! What a backtest is asked: the replayed cluster (`ModelOptions`), how the `ai4k8s` policy
//! runs (`PolicyOptions`), which policies (`PolicyKind`) and what can go wrong.

use crate::actions::AutopilotOptions;
use crate::config::{ActionsConfig, AdvisorConfig};
use crate::model::PolicyParams;

/// Forecasts are scored over six hours (the app's horizon).
pub const FORECAST_SCORE_HORIZON_SECONDS: i64 = 6 * 3600;

/// The replayed cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOptions {
    pub tick_seconds: i64,
    /// Rescale the trace so its p99 needs this many replicas at `target_pct`; None: the
    /// series already is demand in replica units (a deployment's own history).
    pub p99_replicas: Option<u32>,
    /// The HPA's CPU target (% of requests), also the oracle's and static's second utilization.
    pub target_pct: u32,
    pub startup_seconds: i64,
    pub lag_seconds: i64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Unscored warm-up, at most half the trace.
    pub warmup_seconds: i64,
    /// Reversals within this long count as flaps.
    pub flap_window_seconds: i64,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            tick_seconds: 15,
            p99_replicas: Some(20),
            target_pct: 70,
            startup_seconds: 60,
            lag_seconds: 60,
            min_replicas: 1,
            max_replicas: 200,
            warmup_seconds: 7 * 86_400,
            flap_window_seconds: 600,
        }
    }
}

impl ModelOptions {
    pub fn target_utilization(&self) -> f64 {
        self.target_pct as f64 / 100.0
    }
}

/// How the `ai4k8s` policy is run: exactly as the autopilot runs it in the app (its config,
/// its gate), with the replay's own forecast and calibration cadence.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyOptions {
    /// Forecast demand this often (hourly: a forecast covers six hours).
    pub forecast_every_seconds: i64,
    /// Recalibrate on the history seen so far this often (daily), walk-forward.
    pub calibrate_every_seconds: i64,
    /// Fixed parameters instead of calibration (`--policy-*` flags).
    pub fixed: Option<PolicyParams>,
    /// The advisor's config (decision cadence, max step, the HPA target range).
    pub advisor: AdvisorConfig,
    /// The autopilot's gate (minimum confidence, cooldown before taking capacity away).
    pub autopilot: AutopilotOptions,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        Self {
            forecast_every_seconds: 3600,
            calibrate_every_seconds: 86_400,
            fixed: None,
            advisor: AdvisorConfig::default(),
            autopilot: AutopilotOptions::from_config(&ActionsConfig::default(), false),
        }
    }
}

impl PolicyOptions {
    /// The policy's decision cadence: the app's refresh.
    pub fn decide_every_seconds(&self) -> i64 {
        self.advisor.refresh_seconds.max(1) as i64
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub model: ModelOptions,
    pub policy: PolicyOptions,
}

impl Options {
    pub fn validate(&self) -> Result<(), BacktestError> {
        let m = &self.model;
        let p = &self.policy;
        let bad = |s: String| Err(BacktestError::Options(s));
        if m.tick_seconds <= 0 {
            return bad("tick must be positive".into());
        }
        for (what, v) in [("startup", m.startup_seconds), ("lag", m.lag_seconds)] {
            if v < 0 || v % m.tick_seconds != 0 {
                return bad(format!(
                    "{what} {v} s must be a non-negative multiple of the {} s tick",
                    m.tick_seconds
                ));
            }
        }
        if m.min_replicas < 1 || m.min_replicas > m.max_replicas {
            return bad(format!(
                "replica bounds [{}, {}]: need 1 <= min <= max",
                m.min_replicas, m.max_replicas
            ));
        }
        if !(1..=100).contains(&m.target_pct) {
            return bad("utilization targets must be within 1..=100 %".into());
        }
        if m.p99_replicas == Some(0) {
            return bad("p99 replicas must be at least 1".into());
        }
        if let Some(f) = &p.fixed
            && !(f.target_utilization > 0.0 && f.target_utilization <= 1.0)
        {
            return bad("policy utilization must be within (0, 1]".into());
        }
        if p.forecast_every_seconds <= 0 || p.calibrate_every_seconds <= 0 {
            return bad("forecast and calibration intervals must be positive".into());
        }
        Ok(())
    }
}

/// A policy to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Hpa,
    /// The one policy, calibrated walk-forward, applied as the autopilot applies it.
    Ai4k8s,
    /// Perfect foresight over the start-up + lag window, at 100 % utilization.
    Oracle100,
    /// The same at the target utilization.
    Oracle70,
    Static,
    /// The same policy with the LLM choosing within its range.
    Llm,
}

impl PolicyKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hpa => "hpa",
            Self::Ai4k8s => "ai4k8s",
            Self::Oracle100 => "oracle-100",
            Self::Oracle70 => "oracle-70",
            Self::Static => "static",
            Self::Llm => "llm",
        }
    }

    /// The default set: hpa, ai4k8s, both oracles, static.
    pub fn defaults() -> Vec<PolicyKind> {
        vec![
            Self::Hpa,
            Self::Ai4k8s,
            Self::Oracle100,
            Self::Oracle70,
            Self::Static,
        ]
    }

    /// Parse `hpa,ai4k8s,oracle,static,llm` (`oracle` is both oracles), in order,
    /// without duplicates.
    pub fn parse_list(s: &str) -> Result<Vec<PolicyKind>, String> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kinds: &[PolicyKind] = match name {
                "hpa" => &[Self::Hpa],
                "ai4k8s" => &[Self::Ai4k8s],
                "predictive" | "rules" => {
                    return Err(format!(
                        "policy {name:?} is now part of the one policy: use ai4k8s (its \
                         parameters are the --policy-* flags)"
                    ));
                }
                "oracle" => &[Self::Oracle100, Self::Oracle70],
                "oracle-100" => &[Self::Oracle100],
                "oracle-70" => &[Self::Oracle70],
                "static" => &[Self::Static],
                "llm" => &[Self::Llm],
                _ => {
                    return Err(format!(
                        "unknown policy {name:?}: expected hpa, ai4k8s, oracle, oracle-100, \
                         oracle-70, static or llm"
                    ));
                }
            };
            for k in kinds {
                if !out.contains(k) {
                    out.push(*k);
                }
            }
        }
        if out.is_empty() {
            return Err("no policies given".into());
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    #[error("{0}")]
    Options(String),
    #[error("{0}")]
    Trace(String),
    #[error("the llm policy needs an advisor with an LLM")]
    NoAdvisor,
}
