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

// ---- Issue 13: a fake that answers batches and enforces a free tier ---------------------

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// A Groq-shaped fake that reads each request like a model would: one answer per
/// `- Name:`/`- Namespace:` section (the policy candidate's target, so answers stay in
/// range), as the seed's single object for one deployment and as `{"recommendations": [...]}`
/// for several. It reports `usage` (about 4 characters per token) and Groq's `x-ratelimit-*`
/// headers, and enforces a free tier on its own clock (`now`, e.g. a replay's virtual time):
/// requests per day and tokens per minute, answering 429 with `retry-after` when exceeded.
#[derive(Clone)]
pub struct FleetFake {
    pub state: Arc<Mutex<FleetLedger>>,
    /// The fake's clock (Unix seconds); a replay sets it to its virtual time.
    pub now: Arc<AtomicI64>,
    pub requests_per_day: u64,
    pub tokens_per_minute: u64,
    /// Deployments (by the name the prompt gives) whose item the fake leaves out.
    pub omit: Vec<String>,
    /// Deployments whose item comes back without action or target.
    pub malformed: Vec<String>,
    /// How long the n-th answered request takes (the last entry for every later one; none:
    /// at once), like a model's latency: the server keeps serving others meanwhile.
    pub delays: Vec<std::time::Duration>,
}

/// What the fake saw and served.
#[derive(Clone, Debug, Default)]
pub struct FleetLedger {
    pub requests: u64,
    pub rejected: u64,
    /// Deployments per answered request.
    pub sections: Vec<usize>,
    /// Tokens (prompt and completion) per answered request.
    pub request_tokens: Vec<u64>,
    pub tokens: u64,
    pub day: i64,
    pub day_requests: u64,
    pub minute: i64,
    pub minute_tokens: u64,
    /// The most tokens answered in any one minute.
    pub max_minute_tokens: u64,
    pub max_day_requests: u64,
    /// The deployments (`namespace/name`) of each answered request, in order.
    pub names: Vec<Vec<String>>,
    /// When each answered request's reply goes out (its arrival plus its delay).
    pub replied_at: Vec<std::time::Instant>,
}

impl FleetFake {
    pub fn new(requests_per_day: u64, tokens_per_minute: u64) -> Self {
        Self {
            state: Arc::default(),
            now: Arc::new(AtomicI64::new(1_700_006_400)),
            requests_per_day,
            tokens_per_minute,
            omit: vec![],
            malformed: vec![],
            delays: vec![],
        }
    }

    pub fn ledger(&self) -> FleetLedger {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A server on loopback answering the chat endpoint with this fake.
    pub async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        chat().respond_with(self.clone()).mount(&server).await;
        server
    }
}

/// `- Key: value` lines of one section.
fn field<'a>(section: &'a str, key: &str) -> Option<&'a str> {
    section
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .map(str::trim)
}

impl wiremock::Respond for FleetFake {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let prompt_chars: usize = body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|x| x["content"].as_str())
                    .map(str::len)
                    .sum()
            })
            .unwrap_or(0);
        let user = body["messages"][1]["content"].as_str().unwrap_or("");
        let sections: Vec<&str> = user.split("<<<CLUSTER DATA").skip(1).collect();
        let items: Vec<Value> = sections
            .iter()
            .map(|s| {
                let name = field(s, "- Name:").unwrap_or("?").to_string();
                let namespace = field(s, "- Namespace:").unwrap_or("?").to_string();
                let target: u64 = field(s, "- target_replicas:")
                    .and_then(|t| t.split_whitespace().next())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1);
                if self.malformed.contains(&name) {
                    return json!({"namespace": namespace, "name": name, "note": "?"});
                }
                json!({
                    "namespace": namespace, "name": name,
                    "action": "maintain", "target_replicas": target, "confidence": 0.8,
                    "reasoning": format!("Keeping the policy's {target} replicas: the forecast peak fits within them."),
                    "factors_considered": ["cpu", "forecast"],
                    "risk_assessment": "low", "cost_impact": "low",
                    "performance_impact": "neutral", "recommended_timing": "immediate"
                })
            })
            .filter(|item| {
                !self
                    .omit
                    .iter()
                    .any(|o| item["name"].as_str() == Some(o.as_str()))
            })
            .collect();
        let content = if sections.len() == 1 {
            let mut one = items.into_iter().next().unwrap_or_default();
            if let Value::Object(m) = &mut one {
                m.remove("namespace");
                m.remove("name");
            }
            one.to_string()
        } else {
            json!({ "recommendations": items }).to_string()
        };
        let prompt_tokens = (prompt_chars as u64).div_ceil(4);
        let completion_tokens = (content.len() as u64).div_ceil(4);
        let now = self.now.load(Ordering::SeqCst);
        let mut st = self.state.lock().expect("ledger");
        if st.day != now.div_euclid(86_400) {
            st.day = now.div_euclid(86_400);
            st.day_requests = 0;
        }
        if st.minute != now.div_euclid(60) {
            st.minute = now.div_euclid(60);
            st.minute_tokens = 0;
        }
        let reset_minute = 60 - now.rem_euclid(60);
        let over_day = st.day_requests >= self.requests_per_day;
        let over_minute =
            st.minute_tokens + prompt_tokens + completion_tokens > self.tokens_per_minute;
        let headers = |r: ResponseTemplate, st: &FleetLedger| {
            r.insert_header(
                "x-ratelimit-limit-requests",
                self.requests_per_day.to_string(),
            )
            .insert_header(
                "x-ratelimit-remaining-requests",
                self.requests_per_day
                    .saturating_sub(st.day_requests)
                    .to_string(),
            )
            .insert_header(
                "x-ratelimit-limit-tokens",
                self.tokens_per_minute.to_string(),
            )
            .insert_header(
                "x-ratelimit-remaining-tokens",
                self.tokens_per_minute
                    .saturating_sub(st.minute_tokens)
                    .to_string(),
            )
            .insert_header("x-ratelimit-reset-tokens", format!("{reset_minute}s"))
            .insert_header(
                "x-ratelimit-reset-requests",
                format!("{}s", 86_400 - now.rem_euclid(86_400)),
            )
        };
        if over_day || over_minute {
            st.rejected += 1;
            let what = if over_day {
                "requests per day (RPD)"
            } else {
                "tokens per minute (TPM)"
            };
            let r = groq_error(
                429,
                "rate_limit_exceeded",
                &format!("Rate limit reached for model `openai/gpt-oss-20b` on {what}"),
            )
            .insert_header("retry-after", reset_minute.to_string());
            return headers(r, &st);
        }
        st.requests += 1;
        st.day_requests += 1;
        st.max_day_requests = st.max_day_requests.max(st.day_requests);
        st.minute_tokens += prompt_tokens + completion_tokens;
        st.max_minute_tokens = st.max_minute_tokens.max(st.minute_tokens);
        st.tokens += prompt_tokens + completion_tokens;
        st.sections.push(sections.len());
        st.request_tokens.push(prompt_tokens + completion_tokens);
        let delay = self
            .delays
            .get(st.names.len())
            .or(self.delays.last())
            .copied()
            .unwrap_or_default();
        st.names.push(
            sections
                .iter()
                .map(|s| {
                    let ns = field(s, "- Namespace:").unwrap_or("?");
                    format!("{ns}/{}", field(s, "- Name:").unwrap_or("?"))
                })
                .collect(),
        );
        st.replied_at.push(std::time::Instant::now() + delay);
        let mut reply = groq_reply(&content);
        reply["usage"] = json!({
            "queue_time": 0.01, "prompt_tokens": prompt_tokens, "prompt_time": 0.01,
            "completion_tokens": completion_tokens, "completion_time": 0.1,
            "total_tokens": prompt_tokens + completion_tokens, "total_time": 0.11
        });
        headers(ResponseTemplate::new(200).set_body_json(reply), &st).set_delay(delay)
    }
}
