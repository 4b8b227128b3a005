//! The forecast-driven rules advisor: the seed's fallback when no LLM answers.
//!
//! It sizes the deployment so that the higher of today's load and the forecast peak sits at the
//! utilization target (the HPA's, or the configured default), the way the HPA would size it for
//! the current load alone: replicas = ceil(ready × utilization / target), with the HPA's 10 %
//! tolerance so it does not chase noise.

use crate::config::AdvisorConfig;
use crate::model::{
    AdvisorInputs, Decision, Level, PerformanceImpact, ScalingAction, Timing, rfc3339,
};

/// Utilization ratios within this of 1.0 do not move the target (as the HPA's tolerance).
pub const TOLERANCE: f64 = 0.1;
/// Memory target used when the HPA sets none.
pub const DEFAULT_TARGET_MEM_PCT: u32 = 80;

/// The rules' decision for one deployment; not yet validated against bounds.
pub fn decide(inputs: &AdvisorInputs, cfg: &AdvisorConfig) -> Decision {
    let current = inputs.current_replicas.max(1);
    let (min, max) = super::validate::bounds(inputs);
    let cpu_target = inputs
        .hpa
        .as_ref()
        .and_then(|h| h.target_cpu_pct)
        .unwrap_or(cfg.default_target_cpu_pct)
        .max(1) as f64;
    let mem_target = inputs
        .hpa
        .as_ref()
        .and_then(|h| h.target_mem_pct)
        .unwrap_or(DEFAULT_TARGET_MEM_PCT)
        .max(1) as f64;

    let Some(cpu_now) = inputs.cpu_pct else {
        return missing_metrics(inputs);
    };
    let mem_now = inputs.mem_pct.unwrap_or(0.0);
    let cpu_peak = inputs
        .cpu_forecast
        .as_ref()
        .map(sizing_peak)
        .unwrap_or(cpu_now);
    let mem_peak = inputs
        .mem_forecast
        .as_ref()
        .map(sizing_peak)
        .unwrap_or(mem_now);

    // Load is spread over the ready pods; while pods start, the HPA counts only those.
    let serving = if inputs.running_pods > 0 {
        inputs.running_pods
    } else {
        current
    } as f64;
    let ratio_now = (cpu_now / cpu_target).max(mem_now / mem_target);
    let ratio_peak = (cpu_peak / cpu_target).max(mem_peak / mem_target);
    let ratio = ratio_now.max(ratio_peak);
    let driver = if ratio_peak > ratio_now {
        "forecast peak"
    } else {
        "current load"
    };
    let needed = if (ratio * serving / current as f64 - 1.0).abs() <= TOLERANCE {
        current
    } else {
        (serving * ratio).ceil().max(1.0) as u32
    };
    let target = needed.clamp(min, max);

    let action = if needed > max && target == max && current >= max {
        ScalingAction::AtMax
    } else {
        super::validate::consistent_action(ScalingAction::Maintain, current, target, max)
    };

    let peak_in_hours = inputs
        .cpu_forecast
        .as_ref()
        .map(|f| (f.peak_at - inputs.observed_at) as f64 / 3600.0)
        .unwrap_or(0.0);
    let low_confidence_forecast = inputs
        .cpu_forecast
        .as_ref()
        .is_none_or(|f| f.low_confidence);

    let mut reasoning = format!(
        "CPU is {cpu_now:.1}% of requests against a {cpu_target:.0}% target and memory {mem_now:.1}% \
         against {mem_target:.0}%, on {ready} ready of {current} replicas.",
        ready = inputs.running_pods
    );
    if let Some(f) = &inputs.cpu_forecast {
        reasoning.push_str(&format!(
            " The 6-hour forecast ({}) peaks at {:.1}% CPU at {} (in {:.1} h), its busiest hour \
             averages {cpu_peak:.1}%, trend {}.",
            f.model,
            f.peak,
            &rfc3339(f.peak_at)[11..16],
            peak_in_hours.max(0.0),
            f.trend.as_str()
        ));
    } else {
        reasoning.push_str(" No forecast yet, so only the current load counts.");
    }
    reasoning.push_str(&match action {
        ScalingAction::AtMax => format!(
            " The {driver} needs {needed} replicas but the maximum is {max}: raise max_replicas or \
             expect saturation."
        ),
        ScalingAction::Maintain => format!(
            " {current} replicas keep the {driver} within 10% of target (needs {needed}); no change \
             within [{min}, {max}]."
        ),
        _ => format!(
            " Sizing for the {driver}: ceil({serving:.0} × {:.2}) = {needed} replicas, {current} → \
             {target} within [{min}, {max}].",
            ratio
        ),
    });

    let mut factors = vec![
        format!("CPU {cpu_now:.1}% vs target {cpu_target:.0}%"),
        format!("memory {mem_now:.1}% vs target {mem_target:.0}%"),
    ];
    if inputs.cpu_forecast.is_some() {
        factors.push(format!("forecast busiest hour {cpu_peak:.1}% CPU"));
    }
    factors.push(format!("bounds [{min}, {max}]"));
    if let Some(h) = &inputs.hpa {
        factors.push(format!("HPA {} ({})", h.name, h.scaling_status));
    }

    let step = target.abs_diff(current) as f64 / current as f64;
    let (risk, cost, perf, timing) = match action {
        ScalingAction::ScaleUp => (
            Level::Low,
            if step > 0.5 {
                Level::High
            } else {
                Level::Medium
            },
            PerformanceImpact::Positive,
            if ratio_now > 1.0 + TOLERANCE || peak_in_hours < 1.0 {
                Timing::Immediate
            } else {
                Timing::Scheduled
            },
        ),
        ScalingAction::ScaleDown => (
            if ratio_peak > 0.8 {
                Level::Medium
            } else {
                Level::Low
            },
            Level::Low,
            PerformanceImpact::Neutral,
            Timing::Gradual,
        ),
        ScalingAction::Maintain => (
            Level::Low,
            Level::Low,
            PerformanceImpact::Neutral,
            Timing::Immediate,
        ),
        ScalingAction::AtMax => (
            Level::High,
            Level::Medium,
            PerformanceImpact::Negative,
            Timing::Immediate,
        ),
    };

    let mut confidence: f64 = if low_confidence_forecast { 0.6 } else { 0.8 };
    if inputs.running_pods < inputs.total_pods {
        // Pods still starting: the averages are about to move.
        confidence -= 0.1;
    }
    if inputs.mem_pct.is_none() {
        confidence -= 0.1;
    }

    Decision {
        action,
        target_replicas: target,
        confidence: (confidence * 100.0).round() / 100.0,
        reasoning,
        factors_considered: factors,
        risk_assessment: risk,
        cost_impact: cost,
        performance_impact: perf,
        recommended_timing: timing,
    }
}

/// The forecast level the rules size for: the highest hourly mean. A single minute's peak of a
/// noisy series overstates the sustained capacity needed; the HPA absorbs short bursts.
fn sizing_peak(f: &crate::model::ForecastSummary) -> f64 {
    f.predictions
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .reduce(f64::max)
        .unwrap_or(f.peak)
}

fn missing_metrics(inputs: &AdvisorInputs) -> Decision {
    Decision {
        action: ScalingAction::Maintain,
        target_replicas: inputs.current_replicas,
        confidence: 0.3,
        reasoning: format!(
            "No CPU metrics for this deployment ({} of {} pods ready): metrics-server may be \
             missing or the pods are starting, so the replica count stays at {}.",
            inputs.running_pods, inputs.total_pods, inputs.current_replicas
        ),
        factors_considered: vec!["metrics unavailable".into()],
        risk_assessment: Level::Medium,
        cost_impact: Level::Low,
        performance_impact: PerformanceImpact::Neutral,
        recommended_timing: Timing::Immediate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ForecastSummary, HpaState, Trend};

    fn inputs(replicas: u32, cpu: f64, peak: Option<f64>) -> AdvisorInputs {
        AdvisorInputs {
            namespace: "shop".into(),
            name: "web".into(),
            current_replicas: replicas,
            min_replicas: 2,
            max_replicas: 10,
            cpu_pct: Some(cpu),
            mem_pct: Some(30.0),
            running_pods: replicas,
            total_pods: replicas,
            cpu_forecast: peak.map(|p| ForecastSummary {
                current: cpu,
                peak: p,
                peak_at: 7200,
                trend: Trend::Increasing,
                predictions: vec![p; 6],
                model: "seasonal-naive".into(),
                low_confidence: false,
            }),
            mem_forecast: None,
            hpa: Some(HpaState {
                name: "web".into(),
                min_replicas: 2,
                max_replicas: 10,
                target_cpu_pct: Some(50),
                target_mem_pct: None,
                current_replicas: replicas,
                desired_replicas: replicas,
                scaling_status: "stable".into(),
                last_scale_time: None,
                metrics: Vec::new(),
            }),
            observed_at: 0,
        }
    }

    #[test]
    fn forecast_peak_drives_a_scale_up_with_the_numbers_in_the_reasoning() {
        let d = decide(&inputs(4, 40.0, Some(90.0)), &AdvisorConfig::default());
        // ceil(4 × 90 / 50) = 8
        assert_eq!((d.action, d.target_replicas), (ScalingAction::ScaleUp, 8));
        assert!(d.reasoning.contains("90.0%"), "{}", d.reasoning);
        assert!(d.reasoning.contains("50% target"), "{}", d.reasoning);
        assert!(d.reasoning.len() >= 50);
        assert_eq!(d.recommended_timing, Timing::Scheduled, "peak is 2 h away");
    }

    #[test]
    fn low_load_and_low_peak_scale_down_but_not_below_min() {
        let mut i = inputs(8, 2.0, Some(3.0));
        i.mem_pct = Some(5.0);
        // ceil(8 × 3/50) = 1, below min 2.
        let d = decide(&i, &AdvisorConfig::default());
        assert_eq!((d.action, d.target_replicas), (ScalingAction::ScaleDown, 2));
        // Memory counts too: 30 % of an 80 % target on 8 pods needs 3.
        i.mem_pct = Some(30.0);
        assert_eq!(decide(&i, &AdvisorConfig::default()).target_replicas, 3);
        assert_eq!(d.performance_impact, PerformanceImpact::Neutral);
    }

    #[test]
    fn within_tolerance_maintains() {
        let d = decide(&inputs(4, 52.0, Some(53.0)), &AdvisorConfig::default());
        assert_eq!((d.action, d.target_replicas), (ScalingAction::Maintain, 4));
    }

    #[test]
    fn demand_beyond_max_at_max_is_at_max() {
        let d = decide(&inputs(10, 95.0, Some(120.0)), &AdvisorConfig::default());
        assert_eq!((d.action, d.target_replicas), (ScalingAction::AtMax, 10));
        assert_eq!(d.risk_assessment, Level::High);
        assert!(d.reasoning.contains("maximum is 10"));
    }

    #[test]
    fn missing_metrics_keep_replicas_with_low_confidence() {
        let mut i = inputs(3, 0.0, None);
        i.cpu_pct = None;
        let d = decide(&i, &AdvisorConfig::default());
        assert_eq!((d.action, d.target_replicas), (ScalingAction::Maintain, 3));
        assert!(d.confidence < 0.5);
    }

    #[test]
    fn without_hpa_the_default_target_applies() {
        let mut i = inputs(4, 35.0, None);
        i.hpa = None;
        // 35 / 70 = 0.5 → ceil(4 × 0.5) = 2
        let d = decide(&i, &AdvisorConfig::default());
        assert_eq!(d.target_replicas, 2);
    }
}
