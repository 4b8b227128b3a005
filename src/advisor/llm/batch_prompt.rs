//! The user prompt of a batch (issue 13): each deployment's section in the seed's user-prompt
//! format (its `<<<CLUSTER DATA … CLUSTER DATA>>>` block, `- Name:` and `- Namespace:` lines
//! included, placeholders when anonymized), numbered, then the seed's analysis request once,
//! and what the answer must look like: `{"recommendations": [{"namespace", "name", …}]}`.
//!
//! The sections are cut from each deployment's own single-deployment prompt, so a batch says
//! exactly what one request per deployment would have said, and a custom `prompts/user.txt`
//! applies to both. A custom template without the fences is taken whole as the section.

const OPEN: &str = "<<<CLUSTER DATA";
const CLOSE: &str = "CLUSTER DATA>>>";

/// The request's framing without its sections, for sizing: the header, the analysis request
/// and the answer's format run to about this many characters.
pub const FRAME_CHARS: usize = 1600;

/// One request's user prompt for `prompts`, each the single-deployment prompt of one
/// deployment, in order.
pub fn batch_prompt(prompts: &[&str]) -> String {
    let n = prompts.len();
    let mut out = format!(
        "Analyze the following {n} Kubernetes deployment autoscaling scenarios and provide one \
         recommendation for each deployment:\n"
    );
    for (i, p) in prompts.iter().enumerate() {
        out.push_str(&format!("\n### Deployment {} of {n}\n", i + 1));
        out.push_str(section(p).trim());
        out.push('\n');
    }
    let request = prompts
        .first()
        .and_then(|p| p.split_once(CLOSE))
        .map(|(_, after)| after.trim())
        .filter(|a| !a.is_empty())
        .unwrap_or("Provide a scaling recommendation for each deployment.");
    // The analysis request speaks of one deployment: it applies to each.
    out.push_str("\nFor each deployment above:\n");
    out.push_str(
        request
            .replace(
                "Provide your recommendation in the specified JSON format.",
                "",
            )
            .trim(),
    );
    out.push_str(&format!(
        "\n\nAnswer with one JSON object only: {{\"recommendations\": [ … ]}} holding exactly \
         {n} items, one per deployment, in the order above. Each item starts with \
         \"namespace\" and \"name\", exactly as the deployment's Namespace and Name lines give \
         them, followed by every field of the specified JSON format (action, target_replicas, \
         confidence, reasoning, factors_considered, risk_assessment, cost_impact, \
         performance_impact, recommended_timing).\n"
    ));
    out
}

/// The `<<<CLUSTER DATA … CLUSTER DATA>>>` block of a single-deployment prompt, fences
/// included; the whole prompt when it has none.
pub fn section(prompt: &str) -> &str {
    match (prompt.find(OPEN), prompt.rfind(CLOSE)) {
        (Some(a), Some(b)) if a < b => &prompt[a..b + CLOSE.len()],
        _ => prompt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(name: &str) -> String {
        format!(
            "Analyze the following Kubernetes deployment autoscaling scenario and provide a \
             recommendation:\n\n<<<CLUSTER DATA\n**Deployment Information:**\n- Name: {name}\n\
             - Namespace: ns-1\nCLUSTER DATA>>>\n\n**Analysis Request:**\nBased on the above \
             information, decide.\n\nProvide your recommendation in the specified JSON format.\n"
        )
    }

    #[test]
    fn each_deployment_keeps_its_seed_section_and_the_request_comes_once() {
        let (a, b) = (single("deploy-1"), single("deploy-2"));
        let p = batch_prompt(&[&a, &b]);
        assert!(p.starts_with("Analyze the following 2 Kubernetes"), "{p}");
        assert_eq!(p.matches("<<<CLUSTER DATA").count(), 2, "{p}");
        assert_eq!(p.matches("CLUSTER DATA>>>").count(), 2, "{p}");
        let first = p.find("### Deployment 1 of 2").expect("first");
        let second = p.find("### Deployment 2 of 2").expect("second");
        let n1 = p.find("- Name: deploy-1").expect("name 1");
        let n2 = p.find("- Name: deploy-2").expect("name 2");
        assert!(first < n1 && n1 < second && second < n2, "{p}");
        assert_eq!(p.matches("**Analysis Request:**").count(), 1, "{p}");
        assert!(!p.contains("Provide your recommendation in"), "{p}");
        assert!(p.contains("{\"recommendations\": [ … ]}"), "{p}");
        assert!(p.contains("exactly 2 items"), "{p}");
        // A template without fences: the whole prompt is the section.
        assert_eq!(section("Deployment x at 4"), "Deployment x at 4");
        let p = batch_prompt(&["Deployment x at 4", "Deployment y at 2"]);
        assert!(p.contains("Deployment y at 2"), "{p}");
        assert!(
            p.contains("Provide a scaling recommendation for each"),
            "{p}"
        );
    }
}
