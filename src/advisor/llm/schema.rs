//! Structured output: the `response_format` sent with each request. Strict `json_schema` is
//! generated from the Rust [`Decision`] type (schemars), inlined and reduced to what strict
//! modes accept (every property required, no additional properties, no `format`/`minimum`
//! annotations); models not known to support it get `{"type": "json_object"}`.

use serde_json::{Value, json};

use crate::model::Decision;

/// Which `response_format` to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructuredOutput {
    JsonSchema,
    JsonObject,
    None,
}

impl StructuredOutput {
    /// From `llm.structured_output` ("auto", "json_schema", "json_object", "none") and the model.
    pub fn choose(setting: &str, model: &str) -> Self {
        match setting {
            "json_schema" => Self::JsonSchema,
            "json_object" => Self::JsonObject,
            "none" => Self::None,
            _ if supports_strict_schema(model) => Self::JsonSchema,
            _ => Self::JsonObject,
        }
    }

    pub fn response_format(self) -> Option<Value> {
        match self {
            Self::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {
                    "name": "scaling_decision",
                    "strict": true,
                    "schema": decision_schema(),
                }
            })),
            Self::JsonObject => Some(json!({"type": "json_object"})),
            Self::None => None,
        }
    }
}

/// Models known to accept strict `json_schema` (Groq's gpt-oss, OpenAI's gpt-4o and later).
fn supports_strict_schema(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    let short = m.rsplit('/').next().unwrap_or(&m);
    short.starts_with("gpt-oss")
        || short.starts_with("gpt-4o")
        || short.starts_with("gpt-4.1")
        || short.starts_with("gpt-5")
        || short.starts_with("kimi-k2")
        || short.starts_with("llama-4")
}

/// JSON schema of [`Decision`] in the subset strict structured outputs accept.
pub fn decision_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut v = generator.into_root_schema_for::<Decision>().to_value();
    strictify(&mut v);
    v
}

fn strictify(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for k in [
                "$schema",
                "title",
                "format",
                "minimum",
                "maximum",
                "definitions",
                "$defs",
            ] {
                map.remove(k);
            }
            if map.get("type").and_then(Value::as_str) == Some("object")
                && let Some(Value::Object(props)) = map.get("properties")
            {
                let keys: Vec<Value> = props.keys().map(|k| Value::String(k.clone())).collect();
                map.insert("required".into(), Value::Array(keys));
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strictify);
        }
        Value::Array(items) => items.iter_mut().for_each(strictify),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_strict_and_complete() {
        let s = decision_schema();
        assert_eq!(s["type"], "object");
        assert_eq!(s["additionalProperties"], false);
        let required: Vec<&str> = s["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for f in [
            "action",
            "target_replicas",
            "confidence",
            "reasoning",
            "factors_considered",
            "risk_assessment",
            "cost_impact",
            "performance_impact",
            "recommended_timing",
        ] {
            assert!(required.contains(&f), "{f} not required in {s}");
        }
        let text = s.to_string();
        assert!(!text.contains("$ref") && !text.contains("format"), "{text}");
        assert!(
            text.contains("\"scale_up\"") && text.contains("\"at_max\""),
            "{text}"
        );
        assert!(text.contains("\"gradual\""), "{text}");
    }

    #[test]
    fn choice_by_setting_and_model() {
        use StructuredOutput::*;
        assert_eq!(
            StructuredOutput::choose("auto", "openai/gpt-oss-20b"),
            JsonSchema
        );
        assert_eq!(
            StructuredOutput::choose("auto", "llama-3.1-8b-instant"),
            JsonObject
        );
        assert_eq!(StructuredOutput::choose("none", "openai/gpt-oss-20b"), None);
        assert_eq!(
            JsonObject.response_format(),
            Some(json!({"type": "json_object"}))
        );
        assert!(None.response_format().is_none());
    }
}
