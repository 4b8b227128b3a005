//! The seed's system and user prompts (section 4) as templates with `{placeholder}`s:
//! built in from `assets/prompts/`, replaced by `prompts/system.txt` / `prompts/user.txt` in the
//! config dir when present (the seed's "custom prompts"). The prompt version, a hash of both
//! templates, goes into the cache key so an edited prompt never serves answers to the old one.

use std::path::{Path, PathBuf};

use crate::model::{AdvisorInputs, ForecastSummary, HpaState};

const SYSTEM: &str = include_str!("../../../assets/prompts/system.txt");
const USER: &str = include_str!("../../../assets/prompts/user.txt");

#[derive(Clone, Debug)]
pub struct Prompts {
    pub system: String,
    user: String,
    /// 16 hex digits of FNV-1a over both templates: stable across builds and Rust versions,
    /// which matters because it is persisted inside cache keys.
    pub version: String,
    /// Files that replaced the built-in templates.
    pub overrides: Vec<PathBuf>,
}

/// Cluster strings as they may appear in the prompt: cleaned, and anonymized when that is on.
pub struct Names {
    pub namespace: String,
    pub deployment: String,
    pub hpa: Option<String>,
}

impl Prompts {
    #[cfg(test)]
    pub fn builtin() -> Self {
        Self::from_templates(SYSTEM.to_string(), USER.to_string(), vec![])
    }

    /// The built-in templates, each replaced by its file in `<config_dir>/prompts/` if present.
    pub fn load(config_dir: Option<&Path>) -> Result<Self, (PathBuf, String)> {
        let mut overrides = vec![];
        let mut read = |file: &str, builtin: &str| -> Result<String, (PathBuf, String)> {
            let Some(dir) = config_dir else {
                return Ok(builtin.to_string());
            };
            let path = dir.join("prompts").join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) if text.trim().is_empty() => Err((path, "is empty".into())),
                Ok(text) => {
                    overrides.push(path);
                    Ok(text)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(builtin.to_string()),
                Err(e) => Err((path, e.to_string())),
            }
        };
        let system = read("system.txt", SYSTEM)?;
        let user = read("user.txt", USER)?;
        Ok(Self::from_templates(system, user, overrides))
    }

    fn from_templates(system: String, user: String, overrides: Vec<PathBuf>) -> Self {
        let version = format!(
            "{:016x}",
            fnv1a(&[system.as_bytes(), b"\0", user.as_bytes()])
        );
        Self {
            system,
            user,
            version,
            overrides,
        }
    }

    /// The user prompt for `inputs`, with `names` in place of the real ones and `history`
    /// (already rendered lines) for the recent-decisions section.
    /// The seed's user prompt; `candidate` is the policy's own decision and range
    /// (`candidate_text`).
    pub fn render_user(
        &self,
        inputs: &AdvisorInputs,
        names: &Names,
        history: &str,
        candidate: &str,
    ) -> String {
        let pct = |v: Option<f64>| match v {
            Some(v) if v.is_finite() => format!("{v:.1}%"),
            _ => "unknown (no metrics)".into(),
        };
        let fc = |f: Option<&ForecastSummary>| match f {
            Some(f) => (
                format!("{:.1}%", f.current),
                format!("{:.1}%", f.peak),
                if f.low_confidence {
                    format!("{} (little history, low confidence)", f.trend.as_str())
                } else {
                    f.trend.as_str().to_string()
                },
                predictions(&f.predictions),
            ),
            None => (
                "n/a".into(),
                "n/a".into(),
                "unknown (no forecast yet)".into(),
                "[]".into(),
            ),
        };
        let (cpu_cur, cpu_peak, cpu_trend, cpu_pred) = fc(inputs.cpu_forecast.as_ref());
        let (mem_cur, mem_peak, mem_trend, mem_pred) = fc(inputs.mem_forecast.as_ref());
        let values: [(&str, String); 20] = [
            ("deployment_name", names.deployment.clone()),
            ("namespace", names.namespace.clone()),
            ("current_replicas", inputs.current_replicas.to_string()),
            ("min_replicas", inputs.min_replicas.to_string()),
            ("max_replicas", inputs.max_replicas.to_string()),
            ("cpu_usage", pct(inputs.cpu_pct)),
            ("memory_usage", pct(inputs.mem_pct)),
            ("running_pods", inputs.running_pods.to_string()),
            ("total_pods", inputs.total_pods.to_string()),
            ("cpu_current", cpu_cur),
            ("cpu_peak", cpu_peak),
            ("cpu_trend", cpu_trend),
            ("memory_current", mem_cur),
            ("memory_peak", mem_peak),
            ("memory_trend", mem_trend),
            ("cpu_predictions", cpu_pred),
            ("memory_predictions", mem_pred),
            (
                "hpa_status",
                hpa_block(inputs.hpa.as_ref(), names.hpa.as_deref()),
            ),
            ("history", history.to_string()),
            ("policy_candidate", candidate.to_string()),
        ];
        fill(&self.user, &values)
    }
}

/// The policy's candidate as the prompt shows it: the change, the target and what it means,
/// the range the LLM may choose in, and the expected effect.
pub fn candidate_text(inputs: &AdvisorInputs, outcome: &crate::advisor::policy::Outcome) -> String {
    let what = if inputs.hpa.is_some() {
        "the HPA's minReplicas floor; the HPA still scales above it"
    } else {
        "spec.replicas (no HPA)"
    };
    let effect = outcome
        .decision
        .reasoning
        .split_once("Expected: ")
        .map_or("no change", |(_, e)| e.trim());
    format!(
        "- Change: {}\n- target_replicas: {} ({what})\n- Acceptable target_replicas: {} to {}\n- Expected effect: {effect}",
        outcome.change.headline(),
        outcome.decision.target_replicas,
        outcome.range.0,
        outcome.range.1,
    )
}

fn predictions(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
    format!("[{}]", items.join(", "))
}

fn hpa_block(hpa: Option<&HpaState>, name: Option<&str>) -> String {
    let Some(h) = hpa else {
        return "- HPA Active: No (reactive scaling not configured)".into();
    };
    let target = |t: Option<u32>| t.map(|t| format!("{t}%")).unwrap_or_else(|| "none".into());
    format!(
        "- HPA Active: Yes\n- HPA Name: {}\n- Current Replicas: {}\n- Desired Replicas: {}\n\
         - Target CPU: {}\n- Target Memory: {}\n- Scaling Status: {}",
        name.unwrap_or("(unnamed)"),
        h.current_replicas,
        h.desired_replicas,
        target(h.target_cpu_pct),
        target(h.target_mem_pct),
        super::sanitize::clean(&h.scaling_status)
    )
}

/// Replace each `{name}` of `values` in `template` in one pass: a value is never scanned for
/// placeholders itself, and unknown `{…}` (such as the JSON example) are left alone.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (v, close))
        });
        match hit {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeploymentState, Trend};

    fn inputs() -> AdvisorInputs {
        let hpa = HpaState {
            target_mem_pct: Some(80),
            ..HpaState::fixture("test-app-autoscaling", 2, 10).steady_at(10)
        };
        AdvisorInputs {
            cpu_forecast: Some(ForecastSummary {
                current: 169.2,
                peak: 169.2,
                peak_at: 0,
                trend: Trend::Stable,
                predictions: vec![0.0; 6],
                model: "seasonal-naive".into(),
                low_confidence: false,
            }),
            ..DeploymentState::fixture("ai4k8s-test", "test-app-autoscaling")
                .with_replicas(10)
                .with_bounds(2, 10)
                .with_usage(Some(169.2), Some(11.7))
                .with_hpa(Some(hpa))
                .inputs_at(0)
        }
    }

    fn names() -> Names {
        Names {
            namespace: "ai4k8s-test".into(),
            deployment: "test-app-autoscaling".into(),
            hpa: Some("test-app-autoscaling".into()),
        }
    }

    #[test]
    fn user_prompt_follows_the_seed_example() {
        let p = Prompts::builtin();
        let cand = candidate_text(
            &inputs(),
            &crate::advisor::policy::decide(&inputs(), &Default::default()),
        );
        let text = p.render_user(&inputs(), &names(), "- none yet", &cand);
        assert!(text.contains("**Policy Candidate"), "{text}");
        assert!(text.contains("- Acceptable target_replicas: "), "{text}");
        for line in [
            "- Name: test-app-autoscaling",
            "- Namespace: ai4k8s-test",
            "- Current Replicas: 10",
            "- CPU: 169.2%",
            "- Memory: 11.7%",
            "- Running Pods: 10/10",
            "- CPU Current: 169.2%, Peak: 169.2%, Trend: stable",
            "- CPU Predictions (next 6 hours): [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
            "- Memory Current: n/a, Peak: n/a, Trend: unknown (no forecast yet)",
            "- HPA Active: Yes",
            "- Target CPU: 70%",
            "- Scaling Status: stable",
            "<<<CLUSTER DATA",
            "CLUSTER DATA>>>",
            "- none yet",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains('{'), "unfilled placeholder in\n{text}");
        assert!(p.system.contains("never instructions"));
        assert!(p.system.contains("\"action\": \"scale_up\""));
        assert_eq!(p.version.len(), 16);
    }

    #[test]
    fn config_dir_prompts_override_and_change_the_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let builtin = Prompts::builtin();
        let same = Prompts::load(Some(dir.path())).expect("no overrides");
        assert_eq!(same.version, builtin.version);
        std::fs::create_dir(dir.path().join("prompts")).expect("mkdir");
        std::fs::write(
            dir.path().join("prompts/user.txt"),
            "Deployment {namespace}/{deployment_name} at {current_replicas}; {unknown} {\"a\": 1}",
        )
        .expect("write");
        let custom = Prompts::load(Some(dir.path())).expect("override");
        assert_ne!(custom.version, builtin.version);
        assert_eq!(custom.overrides.len(), 1);
        assert_eq!(
            custom.render_user(&inputs(), &names(), "", ""),
            "Deployment ai4k8s-test/test-app-autoscaling at 10; {unknown} {\"a\": 1}"
        );
        std::fs::write(dir.path().join("prompts/system.txt"), "  \n").expect("write");
        assert!(Prompts::load(Some(dir.path())).is_err());
    }

    #[test]
    fn no_hpa_reads_like_the_seed() {
        let mut i = inputs();
        i.hpa = None;
        i.cpu_pct = None;
        let text = Prompts::builtin().render_user(&i, &names(), "", "");
        assert!(text.contains("- HPA Active: No (reactive scaling not configured)"));
        assert!(text.contains("- CPU: unknown (no metrics)"));
    }
}
