//! What one row of the fleet says about one kube context.

use serde::Serialize;

/// Why a context could not be reached, in the words an SRE looks for first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No answer within the probe's timeout (a server that accepts and never answers).
    Timeout,
    /// Nothing listens at the server's address.
    Refused,
    /// 401: the credentials were rejected.
    Unauthorized,
    /// 403: RBAC forbids listing deployments.
    Forbidden,
    /// The TLS handshake failed (a certificate, or plain HTTP where HTTPS was expected).
    Tls,
    /// The server's name does not resolve.
    Dns,
    /// The kubeconfig entry cannot be used (missing cluster, user, exec plugin…).
    Config,
    /// Anything else; the detail says what.
    Other,
}

impl Reason {
    /// The row's word for it.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Refused => "refused",
            Reason::Unauthorized => "401 unauthorized",
            Reason::Forbidden => "403 forbidden",
            Reason::Tls => "TLS",
            Reason::Dns => "DNS",
            Reason::Config => "kubeconfig",
            Reason::Other => "error",
        }
    }
}

/// A context that gave no snapshot, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unreachable {
    pub reason: Reason,
    /// The underlying error, as the client said it.
    pub detail: String,
}

/// How far the probe got.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Reach {
    /// No answer yet.
    Probing,
    /// A snapshot came back.
    Ok,
    /// A snapshot came back without pod metrics: counts shown, utilization unknown.
    NoMetrics {
        detail: String,
    },
    Unreachable(Unreachable),
}

impl Reach {
    pub fn label(&self) -> &'static str {
        match self {
            Reach::Probing => "probing…",
            Reach::Ok => "ok",
            Reach::NoMetrics { .. } => "no metrics",
            Reach::Unreachable(u) => u.reason.label(),
        }
    }
}

/// The LLM side as the advisor's status line tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "status")]
pub enum LlmState {
    /// No key, or no live model: the policy alone decides.
    Off(String),
    Ready(String),
    /// A 429 paused it, or the day's budget is spent.
    Limited(String),
    /// Consecutive failures: it waits before the next try.
    Failing(String),
}

impl LlmState {
    /// Read the advisor's status line (`Advisor::llm_status`): it says "policy only" when no
    /// LLM is used, "429: paused" when rate-limited, "LLM failing" after failures, and
    /// "0/N left today" when the budget is spent.
    pub fn from_status(line: &str) -> Self {
        let text = line.to_string();
        if line.ends_with("policy only") {
            LlmState::Off(text)
        } else if line.contains("LLM failing") {
            LlmState::Failing(text)
        } else if line.contains("429") || line.contains(" 0/") || line.contains("closed until") {
            LlmState::Limited(text)
        } else {
            LlmState::Ready(text)
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            LlmState::Off(_) => "off",
            LlmState::Ready(_) => "ok",
            LlmState::Limited(_) => "limited",
            LlmState::Failing(_) => "failing",
        }
    }

    /// The status line it was read from.
    pub fn status(&self) -> &str {
        match self {
            LlmState::Off(s) | LlmState::Ready(s) | LlmState::Limited(s) | LlmState::Failing(s) => {
                s
            }
        }
    }
}

/// A context's counts, from one snapshot decided by the policy (rules only).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub deployments: usize,
    /// Ready or desired replicas at the maximum.
    pub at_max: usize,
    /// Deployments whose decision would change something now.
    pub pending: usize,
    /// Replica-hours a day the policy saves against the HPAs, summed over the deployments
    /// with a calibration; None when none has one (a context not opened yet).
    pub savings_replica_hours_per_day: Option<f64>,
    pub llm: LlmState,
}

/// What a context that answered gave: its counts, and why its pod metrics are missing if
/// they are.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub summary: Summary,
    pub no_metrics: Option<String>,
}

/// One context's row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContextRow {
    pub context: String,
    pub reach: Reach,
    /// The last counts; kept while a refresh is under way, dropped when the context stops
    /// answering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// A new probe is under way (the row shows the last answer meanwhile).
    #[serde(skip)]
    pub refreshing: bool,
    /// Milliseconds from the start of its probe to its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_ms: Option<u64>,
}

impl ContextRow {
    pub fn probing(context: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            reach: Reach::Probing,
            summary: None,
            refreshing: true,
            answered_ms: None,
        }
    }

    /// The reason or note the row's detail line shows, if any.
    pub fn detail(&self) -> Option<&str> {
        match &self.reach {
            Reach::Unreachable(u) => Some(&u.detail),
            Reach::NoMetrics { detail } => Some(detail),
            Reach::Probing | Reach::Ok => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llm_state_is_read_from_the_advisors_status_line() {
        let cases = [
            ("no GROQ_API_KEY: policy only", "off"),
            ("LLM: no live model (a, b retired): policy only", "off"),
            ("LLM gpt-oss-20b · 812/1000 left today", "ok"),
            ("LLM gpt-oss-20b · 0/1000 left today", "limited"),
            (
                "LLM gpt-oss-20b · 900/1000 left today · 429: paused 12 s",
                "limited",
            ),
            (
                "LLM gpt-oss-20b · 900/1000 left today · LLM failing: 3 timeouts in a row",
                "failing",
            ),
        ];
        for (line, want) in cases {
            let s = LlmState::from_status(line);
            assert_eq!(s.label(), want, "{line}");
            assert_eq!(s.status(), line);
        }
    }

    #[test]
    fn a_row_serialises_its_reach_and_why() {
        let mut row = ContextRow::probing("prod");
        row.reach = Reach::Unreachable(Unreachable {
            reason: Reason::Refused,
            detail: "connection refused".into(),
        });
        let v = serde_json::to_value(&row).expect("json");
        assert_eq!(v["context"], "prod");
        assert_eq!(v["reach"]["state"], "unreachable");
        assert_eq!(v["reach"]["reason"], "refused");
        assert_eq!(v["reach"]["detail"], "connection refused");
        assert!(v.get("summary").is_none());
    }
}
