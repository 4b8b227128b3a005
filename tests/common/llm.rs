//! A fake OpenAI-compatible server on loopback (wiremock) answering the chat endpoint with
//! Groq-shaped replies, for the LLM advisor's tests.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The chat endpoint under a Groq-style base URL (`{server}/openai/v1`).
pub const CHAT: &str = "/openai/v1/chat/completions";

/// A mock of `POST` [`CHAT`], to be answered and mounted.
pub fn chat() -> MockBuilder {
    Mock::given(method("POST")).and(path(CHAT))
}

/// A server whose chat endpoint answers every request with `reply`.
pub async fn chat_server(reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    chat().respond_with(reply).mount(&server).await;
    server
}

/// [`chat_server`] that expects exactly `calls` requests (checked when it is dropped).
pub async fn chat_server_expecting(reply: ResponseTemplate, calls: u64) -> MockServer {
    let server = MockServer::start().await;
    chat()
        .respond_with(reply)
        .expect(calls)
        .mount(&server)
        .await;
    server
}

/// A chat completion shaped like Groq's (Appendix C of the seed, plus Groq's extra fields).
pub fn groq_reply(content: &str) -> Value {
    json!({
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1701234567,
        "model": "openai/gpt-oss-20b",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "reasoning": "Let me think."},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "queue_time": 0.051, "prompt_tokens": 450, "prompt_time": 0.02,
            "completion_tokens": 180, "completion_time": 0.3, "total_tokens": 630, "total_time": 0.32
        },
        "usage_breakdown": null,
        "system_fingerprint": "fp_1",
        "service_tier": "on_demand",
        "x_groq": {"id": "req_01abc", "seed": 1234}
    })
}

pub fn ok(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(groq_reply(content))
        .insert_header("x-ratelimit-remaining-requests", "14399")
        .insert_header("x-ratelimit-remaining-tokens", "5800")
}

/// [`ok`] from a server that names its model `model`.
pub fn ok_from(model: &str, content: &str) -> ResponseTemplate {
    let mut reply = groq_reply(content);
    reply["model"] = json!(model);
    ok(content).set_body_json(reply)
}

pub fn groq_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"message": message, "type": "invalid_request_error", "code": code}
    }))
}

pub async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON request body"))
        .collect()
}
