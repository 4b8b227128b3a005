//! Plain-text renderings for the headless commands.

use crate::model::{Recommendation, RecommendationSource, ReviewStatus};

/// A recommendation as a few lines of text (`ai4k8s recommend` without `-o json`).
pub fn recommendation(r: &Recommendation) -> String {
    let d = &r.decision;
    let source = match (r.source, &r.model) {
        (RecommendationSource::Llm, Some(m)) => {
            let how = match &r.llm_review {
                Some(review) if review.status != ReviewStatus::Asked => {
                    format!(", {}", review.age_text())
                }
                _ if r.cached => ", cached".to_string(),
                _ => String::new(),
            };
            format!("llm {m}{how}")
        }
        (s, _) => s.as_str().to_string(),
    };
    let mut out = format!(
        "{}/{}: {} {} (confidence {:.0}%, {source})\n  risk {}, cost {}, performance {}, timing {}\n  {}\n",
        r.namespace,
        r.name,
        d.action.as_str(),
        r.change.headline(),
        d.confidence * 100.0,
        d.risk_assessment.as_str(),
        d.cost_impact.as_str(),
        d.performance_impact.as_str(),
        d.recommended_timing.as_str(),
        d.reasoning,
    );
    if let Some(why) = &r.fallback_reason {
        out.push_str(&format!("  LLM not used: {why}\n"));
    }
    if let Some(review) = &r.llm_review {
        out.push_str(&format!("  {}\n", review.line()));
    }
    if let Some(c) = &r.inputs.policy.calibration {
        out.push_str(&format!("  {}\n", c.summary()));
    }
    for c in &r.corrections {
        out.push_str(&format!("  {}: {c}\n", crate::advisor::note_label(c)));
    }
    out
}
