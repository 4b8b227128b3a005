//! The OpenAI-compatible chat-completions wire format, read leniently: every field of a reply
//! is optional and unknown ones (Groq's `service_tier`, `x_groq`, `usage.queue_time`, a
//! reasoning model's `reasoning`) are ignored, so a server adding fields never breaks a call.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: [Message<'a>; 2],
    pub temperature: f64,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<super::schema::ResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChatResponse {
    pub model: Option<String>,
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Choice {
    pub message: Option<ReplyMessage>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReplyMessage {
    pub content: Option<String>,
    pub refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
}

/// The inside of `{"error": {"message", "type", "code", "failed_generation"}}` as OpenAI and
/// Groq send it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// A string at OpenAI and Groq, a number at some servers.
    pub code: Option<Value>,
    pub failed_generation: Option<String>,
}

/// The error in an error body: OpenAI/Groq's object, or the bare string some servers (Ollama)
/// send as `{"error": "…"}`.
pub fn error_detail(body: &str) -> Option<ErrorDetail> {
    let v: Value = serde_json::from_str(body).ok()?;
    match v.get("error")? {
        Value::String(s) => Some(ErrorDetail {
            message: Some(s.clone()),
            ..ErrorDetail::default()
        }),
        obj @ Value::Object(_) => serde_json::from_value(obj.clone()).ok(),
        _ => None,
    }
}

impl ErrorDetail {
    pub fn code_str(&self) -> Option<String> {
        match &self.code {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groq_reply_with_extra_fields_parses() {
        let body = r#"{
          "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1701234567,
          "model": "openai/gpt-oss-20b", "service_tier": "on_demand",
          "system_fingerprint": "fp_x",
          "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "{}", "reasoning": "thinking…"}}],
          "usage": {"queue_time": 0.05, "prompt_tokens": 450, "prompt_time": 0.01,
            "completion_tokens": 180, "completion_time": 0.2, "total_tokens": 630,
            "total_time": 0.21},
          "usage_breakdown": null,
          "x_groq": {"id": "req_01", "seed": 42}
        }"#;
        let r: ChatResponse = serde_json::from_str(body).expect("lenient");
        assert_eq!(r.model.as_deref(), Some("openai/gpt-oss-20b"));
        let m = r.choices[0].message.as_ref().expect("message");
        assert_eq!(m.content.as_deref(), Some("{}"));
        assert_eq!(r.usage.and_then(|u| u.total_tokens), Some(630));
    }

    #[test]
    fn error_bodies_with_string_or_number_codes() {
        let e = error_detail(
            r#"{"error":{"message":"m","type":"invalid_request_error","code":"model_not_found"}}"#,
        )
        .expect("parses");
        assert_eq!(e.code_str().as_deref(), Some("model_not_found"));
        let e = error_detail(r#"{"error":{"code":503}}"#).expect("parses");
        assert_eq!(e.code_str().as_deref(), Some("503"));
        let e = error_detail(r#"{"error":"model \"x\" not found, try pulling it first"}"#)
            .expect("ollama");
        assert!(e.message.unwrap_or_default().contains("not found"));
        assert!(error_detail("<html>").is_none());
    }
}
