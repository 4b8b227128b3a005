//! The policy's words: the seed's decision fields written from what drove the decision, so the
//! reasoning cites exactly the numbers the decision used.

use crate::config::AdvisorConfig;
use crate::model::{
    AdvisorInputs, Decision, Forecast, Level, PerformanceImpact, PolicyChange, Timing, UnixSeconds,
    hhmm,
};

use super::target::{action_of, target_of};

/// The highest confidence a decision made without the load's metrics may carry, whoever made
/// it (the policy or an LLM): below any sensible autopilot minimum.
pub const MISSING_INPUTS_CONFIDENCE: f64 = 0.3;

/// Why the policy chose what it chose; the reasoning is written from it, so the text always
/// names the driver and the numbers it used.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Driver {
    MissingMetrics,
    /// At zero replicas and no bound of the user's above zero: the owner scaled it down.
    ScaledToZero,
    /// The forecast's highest demand in the look-ahead window, and when.
    ForecastPeak {
        demand: f64,
        at: UnixSeconds,
    },
    /// The load now (no HPA: the policy is the only scaler).
    CurrentLoad {
        demand: f64,
    },
    /// The HPA scaled above the floor on real load.
    FollowHpa {
        replicas: u32,
    },
    /// Calibration chose another HPA target.
    Calibrated,
    /// The floor can come down: what the longer window and the recent peak still need.
    Lower {
        forecast_need: u32,
        recent_need: u32,
    },
    /// The user's bounds moved below the floor.
    Bounds,
    /// Nothing to change; `held` says a lowering waits for the hold.
    Steady {
        need: u32,
        held: Option<i64>,
    },
    /// Demand beyond the maximum.
    Saturated {
        need: u32,
    },
}

/// demand (replica units) as % CPU of the pods ready now, the way the card shows load.
fn as_pct(inputs: &AdvisorInputs, demand: f64) -> f64 {
    let ready = inputs
        .running_pods
        .max(inputs.current_replicas.min(1))
        .max(1);
    100.0 * demand / ready as f64
}

pub(super) fn decision(
    inputs: &AdvisorInputs,
    cfg: &AdvisorConfig,
    change: &PolicyChange,
    driver: &Driver,
    need: u32,
    stepped: u32,
    forecast: Option<&Forecast>,
) -> Decision {
    let target = target_of(inputs, change);
    let p = &inputs.policy.params;
    let util = (p.target_utilization * 100.0).round();
    let ready = inputs.running_pods;
    let cpu = inputs
        .cpu_pct
        .map_or_else(|| "unknown".to_string(), |c| format!("{c:.0} %"));
    let hpa_target = inputs
        .hpa
        .as_ref()
        .and_then(|h| h.target_cpu_pct)
        .unwrap_or(cfg.default_target_cpu_pct);
    let mut why = match driver {
        Driver::ScaledToZero => "Scaled to zero by its owner: it stays at zero. To have it \
             scaled up, set the ai4k8s.io/min-replicas annotation (its bounds)."
            .to_string(),
        Driver::MissingMetrics => format!(
            "No CPU metrics for this deployment ({ready} of {} pods ready): metrics-server may be \
             missing or the pods are starting, so nothing changes until load is known.",
            inputs.total_pods
        ),
        Driver::ForecastPeak { demand, at } => format!(
            "Forecast peak {:.0} % CPU of today's {ready} ready pods at {} ({demand:.1} pods of \
             demand); {need} pods carry it at {util:.0} % utilization.",
            as_pct(inputs, *demand),
            hhmm(*at)
        ),
        Driver::CurrentLoad { demand } => format!(
            "CPU is {cpu} of requests on {ready} ready pods ({demand:.1} pods of demand); \
             {need} pods carry it at the {hpa_target} % target."
        ),
        Driver::FollowHpa { replicas } => format!(
            "The HPA scaled to {replicas} on real load (CPU {cpu}), above the floor; the floor \
             follows so that it comes down only when the forecast and the recent peak allow."
        ),
        Driver::Calibrated => {
            let cal = inputs.policy.calibration.as_ref();
            format!(
                "Replaying this deployment's own history, an HPA at {} % with the forecast \
                 floor under it did better than at {hpa_target} %{}.",
                inputs.policy.params.hpa_target_pct.unwrap_or(hpa_target),
                cal.map(|c| format!(" ({})", c.summary()))
                    .unwrap_or_default()
            )
        }
        Driver::Lower {
            forecast_need,
            recent_need,
        } => format!(
            "The forecast of the next {} min needs {forecast_need} pods at {util:.0} % and the \
             peak of the last {} min needs {recent_need}: the floor can come down to {target}.",
            p.lower_lookahead_seconds / 60,
            p.recent_seconds / 60
        ),
        Driver::Bounds => format!(
            "The bounds [{}, {}] put the replicas at {target}.",
            inputs.min_replicas, inputs.max_replicas
        ),
        Driver::Steady { need, held } => match held {
            Some(left) => format!(
                "The forecast and the recent peak need {need} pods; the floor last moved less \
                 than {} min ago, so it holds for another {} min.",
                p.hold_seconds / 60,
                (left + 59) / 60
            ),
            None => format!(
                "The forecast and the recent peak need {need} pods, CPU is {cpu} on {ready} \
                 ready; no change within [{}, {}].",
                inputs.min_replicas, inputs.max_replicas
            ),
        },
        Driver::Saturated { need } => format!(
            "Load needs {need} pods at the {hpa_target} % target but the maximum is {}: raise \
             max_replicas or expect saturation.",
            inputs.max_replicas
        ),
    };
    let effect = match change {
        PolicyChange::Floor {
            from, to, until, ..
        } => format!(
            " Expected: at least {to} pods ready (floor {from} → {to}) until {}, the HPA free \
             above it.",
            hhmm(*until)
        ),
        PolicyChange::Release { from, to, .. } => format!(
            " Expected: the HPA may scale down to {to} (floor {from} → {to}) as load allows."
        ),
        PolicyChange::Target { from, to, .. } => format!(
            " Expected: the HPA holds pods at about {to} % instead of {from} % CPU, the floor \
             still covering forecast peaks."
        ),
        PolicyChange::Replicas { from, to } => format!(" Expected: {from} → {to} pods."),
        PolicyChange::Maintain | PolicyChange::AtMax => String::new(),
    };
    // `stepped`, not the target: the cluster's room may cap it further (said after).
    if need != stepped {
        why.push_str(&format!(
            " The maximum step of {} ([advisor] max_step) limits this change to {stepped}.",
            cfg.max_step
        ));
    }
    why.push_str(&effect);
    if forecast.is_none() && !matches!(driver, Driver::MissingMetrics) {
        why.push_str(" No forecast yet, so only the load seen counts.");
    }

    let mut factors = vec![format!("CPU {cpu} vs target {hpa_target} %")];
    if let Some(f) = forecast {
        factors.push(format!(
            "forecast peak {:.1} pods at {}",
            f.peak.value,
            hhmm(f.peak.timestamp)
        ));
    }
    factors.push(format!(
        "bounds [{}, {}]",
        inputs.min_replicas, inputs.max_replicas
    ));
    if let Some(h) = &inputs.hpa {
        factors.push(format!(
            "HPA {} floor {} ({})",
            h.name, h.min_replicas, h.scaling_status
        ));
    }

    let (risk, cost, perf, timing) = match change {
        PolicyChange::Floor { .. } => (
            Level::Low,
            Level::Medium,
            PerformanceImpact::Positive,
            Timing::Immediate,
        ),
        PolicyChange::Replicas { from, to } if to > from => (
            Level::Low,
            Level::Medium,
            PerformanceImpact::Positive,
            Timing::Immediate,
        ),
        PolicyChange::Release { .. } | PolicyChange::Replicas { .. } => (
            Level::Low,
            Level::Low,
            PerformanceImpact::Neutral,
            Timing::Gradual,
        ),
        PolicyChange::Target { from, to, .. } => (
            if to > from { Level::Medium } else { Level::Low },
            Level::Low,
            PerformanceImpact::Neutral,
            Timing::Gradual,
        ),
        PolicyChange::Maintain => (
            Level::Low,
            Level::Low,
            PerformanceImpact::Neutral,
            Timing::Immediate,
        ),
        PolicyChange::AtMax => (
            Level::High,
            Level::Medium,
            PerformanceImpact::Negative,
            Timing::Immediate,
        ),
    };

    let low_confidence = forecast.is_none_or(|f| f.low_confidence);
    let mut confidence: f64 = match driver {
        Driver::MissingMetrics => MISSING_INPUTS_CONFIDENCE,
        Driver::ScaledToZero => 0.9,
        _ if low_confidence => 0.6,
        _ => 0.8,
    };
    if inputs.running_pods < inputs.total_pods {
        // Pods still starting: the averages are about to move.
        confidence -= 0.1;
    }
    if inputs.mem_pct.is_none() && !matches!(driver, Driver::MissingMetrics | Driver::ScaledToZero)
    {
        confidence -= 0.1;
    }
    Decision {
        action: action_of(change),
        target_replicas: target,
        confidence: (confidence.max(0.0) * 100.0).round() / 100.0,
        reasoning: why,
        factors_considered: factors,
        risk_assessment: risk,
        cost_impact: cost,
        performance_impact: perf,
        recommended_timing: timing,
    }
}
