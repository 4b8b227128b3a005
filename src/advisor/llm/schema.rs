//! Structured output: the `response_format` sent with each request. Strict `json_schema` is
//! derived from the Rust [`Decision`] type (schemars: the enums' values and each field's type),
//! inlined and reduced to what strict modes accept (every property required, no additional
//! properties, no `format`/`minimum` annotations); models not known to support it get
//! `{"type": "json_object"}`.
//!
//! The properties go out in the seed contract's order (action and target_replicas first), not
//! alphabetically: a small model writes the fields in the schema's order, and one that meets
//! `factors_considered` before `target_replicas` can loop in that array until max_tokens. The
//! order is kept by serializing [`DecisionSchema`] (a struct with an ordered property list)
//! instead of a `serde_json::Value`, whose maps sort their keys: enabling serde_json's
//! `preserve_order` would change the key order of every `Value` the app prints or sends
//! (`-o json`, `sim serve` replies, insta snapshots), crate-wide, for this one request.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::model::Decision;

/// The seed contract's field order, which the schema's properties follow.
pub const CONTRACT_ORDER: [&str; 9] = [
    "action",
    "target_replicas",
    "confidence",
    "reasoning",
    "factors_considered",
    "risk_assessment",
    "cost_impact",
    "performance_impact",
    "recommended_timing",
];

/// At most this many factors: an unbounded array lets a small model repeat itself until
/// max_tokens.
pub const MAX_FACTORS: u64 = 5;

const DESCRIPTION: &str = "One scaling decision for one Kubernetes deployment.";

/// Which `response_format` to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructuredOutput {
    JsonSchema,
    JsonObject,
    None,
}

/// The `response_format` body, serialized with the schema's properties in contract order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResponseFormat {
    Schema {
        #[serde(rename = "type")]
        kind: &'static str,
        json_schema: NamedSchema,
    },
    Plain(Value),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedSchema {
    pub name: &'static str,
    pub strict: bool,
    pub schema: Shaped,
}

/// One decision, or a batch of them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Shaped {
    Single(DecisionSchema),
    Batch(BatchSchema),
}

/// `{"recommendations": [{"namespace", "name", …the decision's fields}]}` with at most
/// `max_items` items: the batch's answer (issue 13).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSchema {
    pub item: DecisionSchema,
    /// Items the reply must carry: one per deployment of the batch.
    pub max_items: usize,
}

/// The batch's one property.
pub const BATCH_KEY: &str = "recommendations";

impl Serialize for BatchSchema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Items<'a>(&'a BatchSchema);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("type", "array")?;
                m.serialize_entry("items", &self.0.item)?;
                // One item per deployment: a small model that stops early or repeats one
                // is held to the batch by the grammar.
                m.serialize_entry("minItems", &self.0.max_items)?;
                m.serialize_entry("maxItems", &self.0.max_items)?;
                m.end()
            }
        }
        struct Props<'a>(&'a BatchSchema);
        impl Serialize for Props<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(BATCH_KEY, &Items(self.0))?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("type", "object")?;
        m.serialize_entry("description", BATCH_DESCRIPTION)?;
        m.serialize_entry("properties", &Props(self))?;
        m.serialize_entry("required", &[BATCH_KEY])?;
        m.serialize_entry("additionalProperties", &false)?;
        m.end()
    }
}

const BATCH_DESCRIPTION: &str =
    "One scaling decision for each Kubernetes deployment, named as the prompt names it.";

/// The decision's JSON schema with its properties in [`CONTRACT_ORDER`].
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionSchema {
    pub properties: Vec<(String, Value)>,
}

impl Serialize for DecisionSchema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Props<'a>(&'a [(String, Value)]);
        impl Serialize for Props<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let required: Vec<&str> = self.properties.iter().map(|(k, _)| k.as_str()).collect();
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("type", "object")?;
        m.serialize_entry("description", DESCRIPTION)?;
        m.serialize_entry("properties", &Props(&self.properties))?;
        m.serialize_entry("required", &required)?;
        m.serialize_entry("additionalProperties", &false)?;
        m.end()
    }
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

    pub fn response_format(self) -> Option<ResponseFormat> {
        match self {
            Self::JsonSchema => Some(ResponseFormat::Schema {
                kind: "json_schema",
                json_schema: NamedSchema {
                    name: "scaling_decision",
                    strict: true,
                    schema: Shaped::Single(ordered_decision_schema()),
                },
            }),
            Self::JsonObject => Some(ResponseFormat::Plain(json!({"type": "json_object"}))),
            Self::None => None,
        }
    }

    /// The `response_format` for a batch: one item for each of `seats` (namespace, name as
    /// the prompt gives them).
    pub fn batch_response_format(self, seats: &[(String, String)]) -> Option<ResponseFormat> {
        match self {
            Self::JsonSchema => Some(ResponseFormat::Schema {
                kind: "json_schema",
                json_schema: NamedSchema {
                    name: "scaling_decisions",
                    strict: true,
                    schema: Shaped::Batch(batch_schema(seats)),
                },
            }),
            other => other.response_format(),
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

/// The schema sent: [`decision_schema`]'s properties in contract order, `maxItems` on the
/// factors. A field of [`Decision`] missing from [`CONTRACT_ORDER`] still goes out, last.
pub fn ordered_decision_schema() -> DecisionSchema {
    let derived = decision_schema();
    let mut props = derived
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut properties = vec![];
    for name in CONTRACT_ORDER {
        if let Some(v) = props.remove(name) {
            properties.push((name.to_string(), v));
        }
    }
    properties.extend(props);
    for (name, v) in &mut properties {
        if name == "factors_considered"
            && let Value::Object(m) = v
        {
            m.insert("maxItems".into(), json!(MAX_FACTORS));
        }
    }
    DecisionSchema { properties }
}

/// A batch item: the deployment's namespace and name first, each one of those the prompt gives
/// (`seats`, as namespace and name: placeholders when anonymized), then the decision in
/// contract order. Naming them in the schema keeps a grammar-constrained model from inventing
/// or misspelling a name, which would leave that deployment without an answer.
pub fn batch_schema(seats: &[(String, String)]) -> BatchSchema {
    let mut namespaces: Vec<&str> = seats.iter().map(|(ns, _)| ns.as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let mut names: Vec<&str> = seats.iter().map(|(_, n)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let one_of = |values: &[&str]| {
        if values.is_empty() {
            json!({"type": "string"})
        } else {
            json!({"type": "string", "enum": values})
        }
    };
    let mut item = ordered_decision_schema();
    item.properties.insert(0, ("name".into(), one_of(&names)));
    item.properties
        .insert(0, ("namespace".into(), one_of(&namespaces)));
    BatchSchema {
        item,
        max_items: seats.len().max(1),
    }
}

/// JSON schema of [`Decision`] in the subset strict structured outputs accept (keys sorted, as
/// any `Value`; the request uses [`ordered_decision_schema`]).
pub fn decision_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut v = generator.into_root_schema_for::<Decision>().to_value();
    strictify(&mut v);
    if let Value::Object(m) = &mut v {
        // The type's doc comment is for Rust readers, not a model.
        m.insert("description".into(), json!(DESCRIPTION));
    }
    v
}

fn strictify(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for k in [
                "$schema",
                "title",
                "description",
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

    /// Sent text, not a `Value` (whose maps sort): the properties in contract order, the
    /// factors bounded, no Rust doc comment as the description, and the same fields, types and
    /// enum values as the schema derived from [`Decision`].
    #[test]
    fn sent_schema_keeps_the_contract_order_and_bounds_the_factors() {
        let f = StructuredOutput::JsonSchema
            .response_format()
            .expect("a schema");
        let text = serde_json::to_string(&f).expect("serializes");
        let positions: Vec<usize> = CONTRACT_ORDER
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        let schema = &v["json_schema"]["schema"];
        assert_eq!(schema["properties"]["factors_considered"]["maxItems"], 5);
        assert_eq!(schema["description"], DESCRIPTION);
        assert!(
            !text.contains("seed") && !text.contains("schemars"),
            "{text}"
        );
        let mut derived = decision_schema();
        derived["properties"]["factors_considered"]["maxItems"] = json!(MAX_FACTORS);
        let (mut req_a, mut req_b) = (derived["required"].clone(), schema["required"].clone());
        for r in [&mut req_a, &mut req_b] {
            if let Value::Array(a) = r {
                a.sort_by_key(|x| x.to_string());
            }
        }
        assert_eq!(req_a, req_b);
        derived["required"] = Value::Null;
        let mut sent = schema.clone();
        sent["required"] = Value::Null;
        assert_eq!(sent, derived, "same fields, types and enums as Decision");
    }

    fn seats(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("ns-{}", i % 2), format!("deploy-{i}")))
            .collect()
    }

    /// The batch schema as sent: one array of items, each namespace and name then the
    /// decision in contract order, exactly as many items as deployments asked about, each
    /// named as the prompt names one of them.
    #[test]
    fn batch_schema_keeps_the_contract_order_and_names_the_items() {
        let f = StructuredOutput::JsonSchema
            .batch_response_format(&seats(7))
            .expect("a schema");
        let text = serde_json::to_string(&f).expect("serializes");
        let mut order = vec!["namespace", "name"];
        order.extend(CONTRACT_ORDER);
        let item_text = &text[text.find("\"items\":").expect("items")..];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| item_text.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        let schema = &v["json_schema"]["schema"];
        assert_eq!(schema["required"], json!(["recommendations"]));
        assert_eq!(schema["additionalProperties"], false);
        let items = &schema["properties"]["recommendations"];
        assert_eq!(
            (
                items["type"].clone(),
                items["minItems"].clone(),
                items["maxItems"].clone()
            ),
            (json!("array"), json!(7), json!(7))
        );
        let item = &items["items"];
        assert_eq!(item["required"].as_array().map(Vec::len), Some(11));
        assert_eq!(item["required"][0], "namespace");
        assert_eq!(
            item["properties"]["namespace"]["enum"],
            json!(["ns-0", "ns-1"])
        );
        let names = item["properties"]["name"]["enum"]
            .as_array()
            .expect("names");
        assert_eq!(names.len(), 7);
        assert!(names.contains(&json!("deploy-6")), "{names:?}");
        assert_eq!(item["properties"]["factors_considered"]["maxItems"], 5);
        assert_eq!(item["additionalProperties"], false);
        // json_object stays json_object.
        assert_eq!(
            serde_json::to_value(StructuredOutput::JsonObject.batch_response_format(&seats(7)))
                .expect("serializes"),
            json!({"type": "json_object"})
        );
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
            serde_json::to_value(JsonObject.response_format()).expect("serializes"),
            json!({"type": "json_object"})
        );
        assert!(None.response_format().is_none());
    }
}
