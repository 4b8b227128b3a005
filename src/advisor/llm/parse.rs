//! The seed's four parsing steps for a model's reply: direct JSON, a fenced ```json block, a
//! JSON object embedded in prose, and a text fallback that reads the action and the replica
//! count from the prose. Fields are read leniently (a target as "6" or 6.0, a confidence as
//! 80 or "80%", an action spelled "Scale Up"); what had to be repaired is reported so the card
//! can show it. Nothing in the reply is ever executed: it only fills a [`Decision`].

use serde_json::{Map, Value};

use crate::model::{AdvisorInputs, Decision, Level, PerformanceImpact, ScalingAction, Timing};

/// The decision's fields, in the seed contract's order.
const FIELDS: [&str; 9] = super::schema::CONTRACT_ORDER;

/// A decision, what was repaired, and how many of [`FIELDS`] the reply had.
type Found = (Decision, Vec<String>, usize);

/// Which step found the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Direct,
    Fenced,
    Embedded,
    Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub decision: Decision,
    pub step: Step,
    /// What parsing repaired, e.g. "parsed from a ```json block".
    pub notes: Vec<String>,
}

/// A decision from `reply`, or why there is none.
pub fn parse(reply: &str, inputs: &AdvisorInputs) -> Result<Parsed, String> {
    let text = reply.trim();
    if text.is_empty() {
        return Err("empty reply".into());
    }
    let found = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| from_value(&v, inputs))
        .map(|d| (d, Step::Direct))
        .or_else(|| fenced(text, inputs).map(|d| (d, Step::Fenced)))
        .or_else(|| embedded(text, inputs).map(|d| (d, Step::Embedded)))
        .or_else(|| from_text(text, inputs).map(|d| (d, Step::Text)));
    let Some(((decision, mut notes, fields), step)) = found else {
        return Err(format!(
            "unparseable reply: no JSON decision and no action and target_replicas fields in {:?}",
            preview(text)
        ));
    };
    if decision.confidence <= 0.0 && fields * 2 < FIELDS.len() {
        // An echo, a template or a half-written object: not an answer anyone should act on.
        return Err(format!(
            "reply is not a decision: {fields} of {} fields, confidence 0, in {:?}",
            FIELDS.len(),
            preview(text)
        ));
    }
    let how = match step {
        Step::Direct => None,
        Step::Fenced => Some("parsed from a ```json block"),
        Step::Embedded => Some("parsed from a JSON object inside prose"),
        Step::Text => Some("no JSON in the reply: its fields read from the text"),
    };
    if let Some(how) = how {
        notes.insert(0, how.to_string());
    }
    Ok(Parsed {
        decision,
        step,
        notes,
    })
}

fn preview(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut p: String = one_line.chars().take(80).collect();
    if one_line.chars().count() > 80 {
        p.push('…');
    }
    p
}

/// The inside of the first ``` fenced block (with or without a `json` tag) that holds a decision.
fn fenced(text: &str, inputs: &AdvisorInputs) -> Option<Found> {
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
        let Some(end) = after[body_start..].find("```") else {
            break;
        };
        let body = &after[body_start..body_start + end];
        if let Some(d) = serde_json::from_str::<Value>(body.trim())
            .ok()
            .and_then(|v| from_value(&v, inputs))
        {
            return Some(d);
        }
        rest = &after[body_start + end + 3..];
    }
    None
}

/// The first balanced `{…}` in `text` that parses as a decision.
fn embedded(text: &str, inputs: &AdvisorInputs) -> Option<Found> {
    text.char_indices()
        .filter(|(_, c)| *c == '{')
        .filter_map(|(i, _)| balanced_end(&text[i..]).map(|len| &text[i..i + len]))
        .find_map(|candidate| {
            serde_json::from_str::<Value>(candidate)
                .ok()
                .and_then(|v| from_value(&v, inputs))
        })
}

/// Length of the object starting at `s[0] == '{'`, skipping braces inside strings.
fn balanced_end(s: &str) -> Option<usize> {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A decision from a JSON value, if it is an object with at least an action or a target.
fn from_value(v: &Value, inputs: &AdvisorInputs) -> Option<Found> {
    let obj = v.as_object()?;
    // Some models wrap the answer: {"recommendation": {...}}.
    if !obj.contains_key("action") && !obj.contains_key("target_replicas") {
        return obj
            .values()
            .filter(|v| v.is_object())
            .find_map(|v| from_value(v, inputs));
    }
    let mut notes = vec![];
    let action_raw = obj.get("action").and_then(Value::as_str);
    let action = action_raw.and_then(action_from);
    let target = obj.get("target_replicas").and_then(number).map(|t| {
        if t < 0.0 {
            notes.push(format!("target_replicas {t} negative → 0"));
        }
        t.max(0.0).round().min(u32::MAX as f64) as u32
    });
    let (action, target) = match (action, target) {
        (Some(a), Some(t)) => (a, t),
        (a, Some(t)) => {
            let inferred = crate::advisor::validate::consistent_action(
                ScalingAction::Maintain,
                inputs.current_replicas,
                t,
                inputs.max_replicas,
            );
            notes.push(match action_raw {
                Some(raw) => format!(
                    "action {:?} is not one of scale_up, scale_down, maintain, at_max; {} inferred",
                    super::sanitize::clean(raw),
                    inferred.as_str()
                ),
                None => format!("action missing; {} inferred", inferred.as_str()),
            });
            (a.unwrap_or(inferred), t)
        }
        (Some(ScalingAction::Maintain), None) => {
            notes.push("target_replicas missing; current replicas kept".into());
            (ScalingAction::Maintain, inputs.current_replicas)
        }
        (Some(ScalingAction::AtMax), None) => {
            notes.push("target_replicas missing; max replicas assumed".into());
            (ScalingAction::AtMax, inputs.max_replicas)
        }
        _ => return None,
    };
    let confidence = match obj.get("confidence").and_then(number) {
        Some(c) if c > 1.0 && c <= 100.0 => {
            notes.push(format!("confidence {c} read as {}%", c));
            c / 100.0
        }
        Some(c) => c,
        None => {
            notes.push("confidence missing; 0.5 assumed".into());
            0.5
        }
    };
    let reasoning = obj
        .get("reasoning")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    let factors = match obj.get("factors_considered") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        _ => vec![],
    };
    let mut defaulted = vec![];
    let risk = enum_field(obj, "risk_assessment", level, Level::Medium, &mut defaulted);
    let cost = enum_field(obj, "cost_impact", level, Level::Medium, &mut defaulted);
    let perf = enum_field(
        obj,
        "performance_impact",
        perf_from,
        PerformanceImpact::Neutral,
        &mut defaulted,
    );
    let timing = enum_field(
        obj,
        "recommended_timing",
        timing_from,
        Timing::Immediate,
        &mut defaulted,
    );
    if !defaulted.is_empty() {
        notes.push(format!(
            "missing or unknown, default used: {}",
            defaulted.join(", ")
        ));
    }
    let fields = FIELDS.iter().filter(|f| obj.contains_key(**f)).count();
    Some((
        Decision {
            action,
            target_replicas: target,
            confidence,
            reasoning,
            factors_considered: factors,
            risk_assessment: risk,
            cost_impact: cost,
            performance_impact: perf,
            recommended_timing: timing,
        },
        notes,
        fields,
    ))
}

fn enum_field<T>(
    obj: &Map<String, Value>,
    field: &'static str,
    read: fn(&str) -> Option<T>,
    default: T,
    defaulted: &mut Vec<&'static str>,
) -> T {
    match obj.get(field).and_then(Value::as_str).and_then(read) {
        Some(v) => v,
        None => {
            defaulted.push(field);
            default
        }
    }
}

/// A number from a JSON number or a string such as "6", "0.8" or "80%".
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn norm(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

fn action_from(s: &str) -> Option<ScalingAction> {
    match norm(s).as_str() {
        "scale_up" | "scaleup" | "scale_out" => Some(ScalingAction::ScaleUp),
        "scale_down" | "scaledown" | "scale_in" => Some(ScalingAction::ScaleDown),
        "maintain" | "hold" | "no_change" | "none" => Some(ScalingAction::Maintain),
        "at_max" | "atmax" => Some(ScalingAction::AtMax),
        _ => None,
    }
}

fn level(s: &str) -> Option<Level> {
    match norm(s).as_str() {
        "low" => Some(Level::Low),
        "medium" | "moderate" => Some(Level::Medium),
        "high" => Some(Level::High),
        _ => None,
    }
}

fn perf_from(s: &str) -> Option<PerformanceImpact> {
    match norm(s).as_str() {
        "positive" => Some(PerformanceImpact::Positive),
        "neutral" => Some(PerformanceImpact::Neutral),
        "negative" => Some(PerformanceImpact::Negative),
        _ => None,
    }
}

fn timing_from(s: &str) -> Option<Timing> {
    match norm(s).as_str() {
        "immediate" => Some(Timing::Immediate),
        "gradual" => Some(Timing::Gradual),
        "scheduled" => Some(Timing::Scheduled),
        _ => None,
    }
}

/// Step 4: no JSON object, but the decision's fields written out (`action: scale_up`,
/// `"target_replicas": 6`, `confidence = 0.8`, as a half-quoted object or YAML-ish lines do).
/// Both action and target_replicas must be there as fields with one valid value each: a
/// replica count or an action phrase in prose is never taken for a decision (an echoed prompt
/// names every action, `"scale_up" | "scale_down" | …`, and carries numbers of its own).
/// The last valid occurrence of each field counts (an answer follows any echo).
fn from_text(text: &str, _inputs: &AdvisorInputs) -> Option<Found> {
    let action = field_values(text, "action")
        .filter_map(|v| action_from(&v))
        .last()?;
    let target = field_values(text, "target_replicas")
        .filter_map(|v| v.parse::<f64>().ok())
        .filter(|t| t.is_finite())
        .last()?;
    let mut notes = vec![];
    let mut fields = 2;
    let confidence = match field_values(text, "confidence")
        .filter_map(|v| v.trim_end_matches('%').parse::<f64>().ok())
        .filter(|c| c.is_finite())
        .last()
    {
        Some(c) => {
            fields += 1;
            if c > 1.0 && c <= 100.0 { c / 100.0 } else { c }
        }
        None => {
            notes.push("confidence not given; 0.5 assumed".to_string());
            0.5
        }
    };
    let reasoning: String = match field_values(text, "reasoning").last() {
        Some(r) => {
            fields += 1;
            r
        }
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
    .chars()
    .take(1000)
    .collect();
    Some((
        Decision {
            action,
            target_replicas: target.max(0.0).round().min(u32::MAX as f64) as u32,
            confidence,
            reasoning,
            factors_considered: vec![],
            risk_assessment: Level::Medium,
            cost_impact: Level::Medium,
            performance_impact: PerformanceImpact::Neutral,
            recommended_timing: Timing::Immediate,
        },
        notes,
        fields,
    ))
}

/// Every single value written for `name` as a field: the name (quoted or not, as a whole
/// word), `:` or `=`, then a quoted string or a bare token up to `,`, `}` or the line's end.
/// A value followed by `|` is a list of choices (a template), not a value.
fn field_values<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    text.match_indices(name).filter_map(move |(i, _)| {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        let rest = text[i + name.len()..]
            .strip_prefix('"')
            .unwrap_or(&text[i + name.len()..]);
        let rest = rest.trim_start_matches([' ', '\t']);
        let rest = rest
            .strip_prefix([':', '='])?
            .trim_start_matches([' ', '\t']);
        let (value, after) = match rest.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"')?;
                (&q[..end], &q[end + 1..])
            }
            None => {
                let end = rest.find([',', '}', '\n', '|']).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        if after.trim_start_matches([' ', '\t']).starts_with('|') {
            return None;
        }
        let value = value.trim();
        (!value.is_empty() && !value.starts_with('<')).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentState;

    fn inputs() -> AdvisorInputs {
        DeploymentState::fixture("ns", "app")
            .with_replicas(4)
            .with_bounds(2, 10)
            .with_usage(Some(80.0), Some(40.0))
            .inputs_at(0)
    }

    const CLEAN: &str = r#"{"action":"scale_up","target_replicas":6,"confidence":0.8,"reasoning":"CPU at 80% of requests with a rising forecast needs two more replicas.","factors_considered":["cpu","forecast"],"risk_assessment":"low","cost_impact":"medium","performance_impact":"positive","recommended_timing":"immediate"}"#;

    #[test]
    fn direct_json_needs_no_note() {
        let p = parse(CLEAN, &inputs()).expect("parses");
        assert_eq!(p.step, Step::Direct);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        assert_eq!(
            (p.decision.action, p.decision.target_replicas),
            (ScalingAction::ScaleUp, 6)
        );
        assert_eq!(p.decision.cost_impact, Level::Medium);
        assert_eq!(p.decision.factors_considered, ["cpu", "forecast"]);
    }

    #[test]
    fn fenced_and_embedded_objects_are_found() {
        let fenced = format!("Here you go:\n```json\n{CLEAN}\n```\nHope it helps.");
        let p = parse(&fenced, &inputs()).expect("fenced");
        assert_eq!(p.step, Step::Fenced);
        assert_eq!(p.notes[0], "parsed from a ```json block");

        let prose = format!("After weighing {{cost}} and load, my answer is {CLEAN} as shown.");
        let p = parse(&prose, &inputs()).expect("embedded");
        assert_eq!(p.step, Step::Embedded);
        assert_eq!(p.decision.target_replicas, 6);
    }

    #[test]
    fn lenient_fields_are_repaired_and_noted() {
        let v = r#"{"recommendation":{"action":"Scale Up","target_replicas":"7","confidence":"85%","reasoning":"x"}}"#;
        let p = parse(v, &inputs()).expect("parses");
        assert_eq!(p.decision.action, ScalingAction::ScaleUp);
        assert_eq!(p.decision.target_replicas, 7);
        assert!((p.decision.confidence - 0.85).abs() < 1e-9);
        assert!(
            p.notes.iter().any(|n| n.contains("default used")),
            "{:?}",
            p.notes
        );

        let wrong =
            r#"{"action":"reboot {now}","target_replicas":2,"confidence":0.9,"reasoning":"r"}"#;
        let p = parse(wrong, &inputs()).expect("parses");
        assert_eq!(p.decision.action, ScalingAction::ScaleDown);
        assert!(p.notes[0].contains("\"reboot _now_\""), "{:?}", p.notes);
    }

    #[test]
    fn prose_is_never_a_decision_but_written_out_fields_are() {
        let text = "Given CPU at 80% and a rising trend, I recommend to scale up from 4 replicas to 7 replicas within the next minutes.";
        let e = parse(text, &inputs()).expect_err("prose alone");
        assert!(e.starts_with("unparseable reply"), "{e}");
        let e = parse("Maintain: the load is fine.", &inputs()).expect_err("prose");
        assert!(e.contains("no action and target_replicas fields"), "{e}");

        let fields = "action: scale_up\ntarget_replicas: 7\nreasoning: CPU at 80% and rising";
        let p = parse(fields, &inputs()).expect("fields");
        assert_eq!(p.step, Step::Text);
        assert_eq!(
            (p.decision.action, p.decision.target_replicas),
            (ScalingAction::ScaleUp, 7)
        );
        assert_eq!(p.decision.confidence, 0.5);
        assert_eq!(p.decision.reasoning, "CPU at 80% and rising");
        // A half-written object (no closing brace) still names its fields.
        let p = parse(
            r#"{"action": "maintain", "target_replicas": 4, "confidence": 0.7, "reas"#,
            &inputs(),
        )
        .expect("open object");
        assert_eq!(
            (p.decision.target_replicas, p.decision.confidence),
            (4, 0.7)
        );
    }

    /// SmolLM2-135M on llama.cpp echoed the system prompt's template, then wrote advice in
    /// prose; the old text step read "scale_up" from the template and "to 4" from the prose.
    #[test]
    fn an_echoed_prompt_with_prose_advice_is_not_a_decision() {
        let system = include_str!("../../../assets/prompts/system.txt");
        let reply = format!("{system}\n\nIncrease the number of available cores to 4.");
        let e = parse(&reply, &inputs()).expect_err("echo");
        assert!(e.starts_with("unparseable reply"), "{e}");
    }

    #[test]
    fn few_fields_at_confidence_zero_are_not_an_answer() {
        let e = parse(
            r#"{"action":"scale_up","target_replicas":9,"confidence":0}"#,
            &inputs(),
        )
        .expect_err("3 of 9 fields at confidence 0");
        assert!(e.contains("3 of 9 fields, confidence 0"), "{e}");
        let p = parse(
            r#"{"action":"scale_up","target_replicas":9,"confidence":0.6}"#,
            &inputs(),
        )
        .expect("a confident short answer still counts");
        assert_eq!(p.decision.target_replicas, 9);
        let e = parse(
            "action: maintain\ntarget_replicas: 4\nconfidence: 0",
            &inputs(),
        )
        .expect_err("text fields at confidence 0");
        assert!(e.contains("confidence 0"), "{e}");
    }

    #[test]
    fn adversarial_replies_never_panic() {
        let deep = "[".repeat(10_000);
        let nested = format!("{}{}", "{\"a\":".repeat(500), "}".repeat(500));
        for text in [
            "{",
            "}",
            "```",
            "```json\n{",
            "```json\n{}\n``",
            "é{é}é ``` ü",
            "{\"action\":\"scale_up\",\"target_replicas\":1e400}",
            "{\"action\":\"scale_up\",\"target_replicas\":-3,\"confidence\":\"NaN\"}",
            "{\"action\":[1],\"target_replicas\":{}}",
            "scale up to 99999999999999999999 replicas",
            "\u{0}\u{7}\u{1b}[31m",
            deep.as_str(),
            nested.as_str(),
        ] {
            let _ = parse(text, &inputs());
        }
        let p = parse(
            "{\"action\":\"scale_up\",\"target_replicas\":-3}",
            &inputs(),
        )
        .expect("negative target repaired");
        assert_eq!(p.decision.target_replicas, 0);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = parse("I like turtles {not json}", &inputs()).expect_err("garbage");
        assert!(e.starts_with("unparseable reply"), "{e}");
        assert!(parse("   ", &inputs()).is_err());
        assert!(
            parse("{\"action\": \"scale_up\"}", &inputs()).is_err(),
            "no target for scale_up"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Mutations of a clean reply, a fenced one with prose around it, and prose alone:
        /// every one is a decision the validator can take, or an error that says why.
        #[test]
        fn mutated_replies_parse_or_say_why(
            edits in crate::mutate::edits(6),
            which in 0usize..3,
        ) {
            let seeds = [
                CLEAN.to_string(),
                format!("Here is my analysis.\n```json\n{CLEAN}\n```\nThe {{forecast}} agrees."),
                "CPU is at 80% and rising, so I recommend we scale up to 6 replicas now.".to_string(),
            ];
            let reply = crate::mutate::apply_text(&seeds[which], &edits);
            let inputs = inputs();
            match parse(&reply, &inputs) {
                Ok(mut p) => {
                    proptest::prop_assert!(p.decision.confidence.is_finite());
                    // The validator takes whatever parsing made, within bounds.
                    crate::advisor::validate::validate(&mut p.decision, &inputs, 10);
                    let t = p.decision.target_replicas;
                    proptest::prop_assert!((inputs.min_replicas..=inputs.max_replicas).contains(&t));
                    proptest::prop_assert!((0.0..=1.0).contains(&p.decision.confidence));
                }
                Err(e) => {
                    proptest::prop_assert!(!e.is_empty());
                    proptest::prop_assert!(!e.contains('\n'), "{e}");
                }
            }
        }
    }
}
