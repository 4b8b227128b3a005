//! One chat-completions request over reqwest, and what came back: the reply text, the server's
//! rate-limit headers, or a classified error whose text is fit for a recommendation card (key
//! material, masked or whole, is redacted from anything a server echoes). Retrying and model fallback are decided by
//! the caller, which also counts every request against the budget.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

use super::endpoint::Endpoint;
use super::error::LlmSetupError;
use super::schema::StructuredOutput;
use super::wire::{ChatRequest, ChatResponse, ErrorDetail, Message, error_detail};
use crate::config::LlmConfig;
use crate::redact::Redactor;

/// The server's view of our quota, from `x-ratelimit-*` and `retry-after` headers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimits {
    pub remaining_requests: Option<String>,
    pub remaining_tokens: Option<String>,
    /// Seconds, rounded up.
    pub retry_after: Option<u64>,
    /// `x-ratelimit-limit-tokens`: the server's tokens per minute.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-limit-requests`: the server's requests per day.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-tokens` as a number.
    pub tokens_left: Option<u64>,
    /// `x-ratelimit-reset-tokens` ("7.66s", "1m2.5s"), seconds rounded up.
    pub reset_tokens: Option<u64>,
    /// `x-ratelimit-reset-requests`, seconds rounded up.
    pub reset_requests: Option<u64>,
}

impl RateLimits {
    fn from_headers(h: &HeaderMap) -> Self {
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let count = |name: &str| get(name).and_then(|s| s.parse::<u64>().ok());
        Self {
            remaining_requests: get("x-ratelimit-remaining-requests"),
            remaining_tokens: get("x-ratelimit-remaining-tokens"),
            retry_after: get("retry-after")
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| s.ceil() as u64),
            limit_tokens: count("x-ratelimit-limit-tokens"),
            limit_requests: count("x-ratelimit-limit-requests"),
            tokens_left: count("x-ratelimit-remaining-tokens"),
            reset_tokens: get("x-ratelimit-reset-tokens").and_then(|s| reset_seconds(&s)),
            reset_requests: get("x-ratelimit-reset-requests").and_then(|s| reset_seconds(&s)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.remaining_requests.is_none() && self.remaining_tokens.is_none()
    }
}

/// Groq's reset durations: "7.66s", "2m59.56s", "1h2m3s", "120ms"; a bare number is seconds.
fn reset_seconds(s: &str) -> Option<u64> {
    if let Ok(v) = s.parse::<f64>() {
        return (v.is_finite() && v >= 0.0).then(|| v.ceil() as u64);
    }
    let (mut total, mut num) = (0.0f64, String::new());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'h' => v * 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                v / 1000.0
            }
            'm' => v * 60.0,
            's' => v,
            _ => return None,
        };
    }
    num.is_empty().then(|| total.ceil() as u64)
}

/// What one request asks for: the seed's single decision, or a batch of `items`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Single,
    Batch { items: usize, max_tokens: u32 },
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub content: String,
    /// The model that answered, as the server names it.
    pub model: String,
    /// `usage.prompt_tokens` and `usage.completion_tokens`, when the server reports them.
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    RateLimited {
        retry_after: Option<u64>,
        detail: String,
    },
    /// The model is unknown to the server or decommissioned: the next fallback model may work.
    ModelGone {
        detail: String,
    },
    Timeout {
        seconds: u64,
    },
    Status {
        status: u16,
        detail: String,
    },
    Transport(String),
    BadReply(String),
}

impl CallError {
    /// One line for the card.
    pub fn reason(&self) -> String {
        match self {
            CallError::RateLimited {
                retry_after: Some(s),
                ..
            } => format!("429 rate limited, retry in {s} s"),
            CallError::RateLimited { detail, .. } => format!("429 rate limited: {detail}"),
            CallError::ModelGone { detail } => format!("model unavailable: {detail}"),
            CallError::Timeout { seconds } => format!("timeout after {seconds} s"),
            CallError::Status { status, detail } => format!("{status} {detail}"),
            CallError::Transport(e) => e.clone(),
            CallError::BadReply(e) => e.clone(),
        }
    }
}

pub struct ChatClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    key: SecretString,
    redactor: Redactor,
    temperature: f64,
    max_tokens: u32,
    timeout_seconds: u64,
    structured_output: String,
    reasoning_effort: String,
}

impl ChatClient {
    pub fn new(
        llm: &LlmConfig,
        endpoint: Endpoint,
        key: SecretString,
    ) -> Result<Self, LlmSetupError> {
        // reqwest is built without a default crypto provider; ring's is the one compiled in.
        // Installing fails harmlessly when another part of the app installed it first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(llm.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(llm.timeout_seconds.clamp(1, 10)))
            .user_agent(concat!("ai4k8s/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmSetupError::Client(e.to_string()))?;
        Ok(Self {
            http,
            endpoint,
            redactor: Redactor::new(key.expose_secret()),
            key,
            temperature: llm.temperature,
            max_tokens: llm.max_tokens,
            timeout_seconds: llm.timeout_seconds.max(1),
            structured_output: llm.structured_output.clone(),
            reasoning_effort: llm.reasoning_effort.clone(),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// One request (`seats`: a batch's deployments as the prompt names them, namespace and
    /// name). Always returns the rate-limit headers seen, even with an error.
    pub async fn complete(
        &self,
        model: &str,
        system: &str,
        user: &str,
        shape: Shape,
        seats: &[(String, String)],
    ) -> (Result<Reply, CallError>, RateLimits) {
        let structured = StructuredOutput::choose(&self.structured_output, model);
        let (response_format, max_tokens) = match shape {
            Shape::Single => (structured.response_format(), self.max_tokens),
            Shape::Batch { max_tokens, .. } => {
                (structured.batch_response_format(seats), max_tokens)
            }
        };
        let request = ChatRequest {
            model,
            messages: [
                Message {
                    role: "system",
                    content: system,
                },
                Message {
                    role: "user",
                    content: user,
                },
            ],
            temperature: self.temperature,
            max_tokens,
            response_format,
            reasoning_effort: reasoning_effort(&self.reasoning_effort, model),
        };
        tracing::debug!(model, url = %self.endpoint.display, "LLM request");
        let sent = self
            .http
            .post(self.endpoint.chat_url.clone())
            .bearer_auth(self.key.expose_secret())
            .json(&request)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return (Err(self.transport_error(&e)), RateLimits::default()),
        };
        let status = response.status();
        let limits = RateLimits::from_headers(response.headers());
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) => return (Err(self.transport_error(&e)), limits),
        };
        tracing::debug!(
            %status,
            remaining_requests = ?limits.remaining_requests,
            remaining_tokens = ?limits.remaining_tokens,
            "LLM response"
        );
        if status.is_success() {
            return (self.reply(&body, model, max_tokens), limits);
        }
        let body = self.scrub(&body);
        let err = classify(status, &body, &limits);
        tracing::warn!(%status, body = %preview(&body, 600), "LLM request failed");
        (Err(err), limits)
    }

    fn reply(&self, body: &str, requested: &str, max_tokens: u32) -> Result<Reply, CallError> {
        let parsed: ChatResponse = serde_json::from_str(body).map_err(|e| {
            CallError::BadReply(format!(
                "reply is not a chat completion ({e}): {:?}",
                preview(&self.scrub(body), 80)
            ))
        })?;
        let (prompt_tokens, completion_tokens) = parsed
            .usage
            .as_ref()
            .map_or((None, None), |u| (u.prompt_tokens, u.completion_tokens));
        if let Some(u) = &parsed.usage {
            tracing::debug!(
                prompt_tokens = ?u.prompt_tokens,
                completion_tokens = ?u.completion_tokens,
                total_tokens = ?u.total_tokens,
                "LLM usage"
            );
        }
        let model = parsed
            .model
            .clone()
            .unwrap_or_else(|| requested.to_string());
        let Some(choice) = parsed.choices.into_iter().next() else {
            return Err(CallError::BadReply("reply has no choices".into()));
        };
        let message = choice.message.unwrap_or_default();
        if choice.finish_reason.as_deref() == Some("length") {
            // Whatever came before the cut is half an answer: never a decision.
            let got = message
                .content
                .as_deref()
                .map(str::trim)
                .unwrap_or_default();
            let mut reason = format!("cut off at max_tokens ({max_tokens}): raise llm.max_tokens");
            if !got.is_empty() {
                reason.push_str(&format!(
                    "; reply began {:?}",
                    preview(&self.scrub(got), 60)
                ));
            }
            return Err(CallError::BadReply(reason));
        }
        match message.content.filter(|c| !c.trim().is_empty()) {
            Some(content) => Ok(Reply {
                content,
                model,
                prompt_tokens,
                completion_tokens,
            }),
            None => Err(CallError::BadReply(
                match (message.refusal, choice.finish_reason) {
                    (Some(r), _) => format!("model refused: {}", preview(&self.scrub(&r), 120)),
                    (None, f) => format!(
                        "reply has no content (finish_reason {})",
                        f.unwrap_or_else(|| "unknown".into())
                    ),
                },
            )),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> CallError {
        if e.is_timeout() {
            return CallError::Timeout {
                seconds: self.timeout_seconds,
            };
        }
        // The innermost cause says the most ("connection refused", "invalid peer certificate").
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let what = if e.is_connect() {
            "cannot connect to"
        } else {
            "request failed to"
        };
        CallError::Transport(format!(
            "{what} {}: {}",
            self.endpoint.display,
            self.scrub(&cause.to_string())
        ))
    }

    /// `text` with the key, pieces of it and key-like tokens replaced (should a server echo
    /// them), for anything from the server that is logged or shown.
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}

/// `reasoning_effort` for `model`: gpt-oss reasons before answering and its reasoning counts
/// against max_tokens, so "auto" asks it for little.
fn reasoning_effort<'a>(setting: &'a str, model: &str) -> Option<&'a str> {
    match setting {
        "off" => None,
        "auto" if model.to_ascii_lowercase().contains("gpt-oss") => Some("low"),
        "auto" => None,
        other => Some(other),
    }
}

fn classify(status: StatusCode, body: &str, limits: &RateLimits) -> CallError {
    let detail = error_detail(body).unwrap_or_else(|| ErrorDetail {
        message: Some(preview(body, 200)),
        ..ErrorDetail::default()
    });
    let code = detail.code_str().unwrap_or_default();
    let message = preview(detail.message.as_deref().unwrap_or(""), 200);
    let lower = message.to_ascii_lowercase();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return CallError::RateLimited {
            retry_after: limits.retry_after,
            detail: if message.is_empty() {
                "no retry-after given".into()
            } else {
                message
            },
        };
    }
    let model_gone = code == "model_not_found"
        || code == "model_decommissioned"
        || lower.contains("decommissioned")
        || (status == StatusCode::NOT_FOUND
            && lower.contains("model")
            && (lower.contains("not found") || lower.contains("does not exist")));
    if model_gone {
        return CallError::ModelGone {
            detail: if message.is_empty() { code } else { message },
        };
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        // Never echo an auth error body: some servers quote part of the key.
        return CallError::Status {
            status: status.as_u16(),
            detail: "unauthorized: check the API key".into(),
        };
    }
    if code == "json_validate_failed" {
        if let Some(g) = &detail.failed_generation {
            tracing::debug!(failed_generation = %preview(g, 600), "json_validate_failed");
        }
        return CallError::Status {
            status: status.as_u16(),
            detail: "json_validate_failed: the model's output was not valid JSON".into(),
        };
    }
    let kind = if status.is_server_error() {
        "server error"
    } else {
        "request rejected"
    };
    let mut detail_text = kind.to_string();
    // llama.cpp and others send the status again as a numeric code: "400 … (400)" says nothing.
    if !code.is_empty() && code != status.as_str() {
        detail_text.push_str(&format!(" ({code})"));
    }
    if !message.is_empty() {
        detail_text.push_str(&format!(": {message}"));
    }
    CallError::Status {
        status: status.as_u16(),
        detail: detail_text,
    }
}

/// `s` on one line, at most `n` characters.
fn preview(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut p: String = one.chars().take(n).collect();
    if one.chars().count() > n {
        p.push('…');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(retry: Option<u64>) -> RateLimits {
        RateLimits {
            retry_after: retry,
            ..RateLimits::default()
        }
    }

    #[test]
    fn errors_are_classified() {
        let e = classify(
            StatusCode::NOT_FOUND,
            r#"{"error":{"message":"The model `x` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}"#,
            &limits(None),
        );
        assert!(matches!(e, CallError::ModelGone { .. }), "{e:?}");
        let e = classify(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"message":"The model `llama-3.1-70b-versatile` has been decommissioned and is no longer supported.","type":"invalid_request_error","code":"model_decommissioned"}}"#,
            &limits(None),
        );
        assert!(matches!(e, CallError::ModelGone { .. }), "{e:?}");
        let e = classify(StatusCode::NOT_FOUND, "404 page not found", &limits(None));
        assert_eq!(e.reason(), "404 request rejected: 404 page not found");
        let e = classify(StatusCode::TOO_MANY_REQUESTS, "{}", &limits(Some(12)));
        assert_eq!(e.reason(), "429 rate limited, retry in 12 s");
        let e = classify(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"message":"Failed to generate JSON.","type":"invalid_request_error","code":"json_validate_failed","failed_generation":"{oops"}}"#,
            &limits(None),
        );
        assert_eq!(
            e.reason(),
            "400 json_validate_failed: the model's output was not valid JSON"
        );
        let e = classify(
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"message":"Incorrect API key provided: gsk_ab***cd"}}"#,
            &limits(None),
        );
        assert!(!e.reason().contains("gsk"), "{}", e.reason());
        let e = classify(
            StatusCode::BAD_GATEWAY,
            "<html>bad gateway</html>",
            &limits(None),
        );
        assert_eq!(e.reason(), "502 server error: <html>bad gateway</html>");
        // llama.cpp's error body repeats the status as a numeric code.
        let e = classify(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"invalid_request_error"}}"#,
            &limits(None),
        );
        assert_eq!(
            e.reason(),
            "400 request rejected: the request exceeds the available context size"
        );
        let e = classify(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"context_length_exceeded","message":"m"}}"#,
            &limits(None),
        );
        assert_eq!(
            e.reason(),
            "400 request rejected (context_length_exceeded): m"
        );
    }

    #[test]
    fn headers_and_reasoning_effort() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-remaining-requests",
            "14399".parse().expect("hv"),
        );
        h.insert("retry-after", "2.5".parse().expect("hv"));
        let l = RateLimits::from_headers(&h);
        assert_eq!(l.remaining_requests.as_deref(), Some("14399"));
        assert_eq!(l.retry_after, Some(3));
        h.insert("x-ratelimit-limit-tokens", "8000".parse().expect("hv"));
        h.insert("x-ratelimit-remaining-tokens", "7260".parse().expect("hv"));
        h.insert("x-ratelimit-reset-tokens", "5.55s".parse().expect("hv"));
        h.insert(
            "x-ratelimit-reset-requests",
            "2m59.56s".parse().expect("hv"),
        );
        let l = RateLimits::from_headers(&h);
        assert_eq!(
            (
                l.limit_tokens,
                l.tokens_left,
                l.reset_tokens,
                l.reset_requests
            ),
            (Some(8000), Some(7260), Some(6), Some(180))
        );
        assert_eq!(reset_seconds("1h2m3s"), Some(3723));
        assert_eq!(reset_seconds("120ms"), Some(1));
        assert_eq!(reset_seconds("soon"), None);
        assert_eq!(reasoning_effort("auto", "openai/gpt-oss-20b"), Some("low"));
        assert_eq!(reasoning_effort("auto", "llama3"), None);
        assert_eq!(reasoning_effort("off", "openai/gpt-oss-20b"), None);
        assert_eq!(reasoning_effort("high", "x"), Some("high"));
    }
}
