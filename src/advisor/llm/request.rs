//! The requests for one advice: one retry after a 429 that says when, the next model when one
//! is retired, and the pause after consecutive failures of the endpoint itself.

use std::time::{Duration, Instant};

use super::client::{self, CallError};
use super::{Failing, LlmAdvisor, Plan, current_model};

/// Back-off after a 429 that came without a usable retry-after.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(10);

/// Pause after the second of consecutive failures (timeouts, connection failures, 5xx),
/// doubling with each more, at most [`FAILING_BACKOFF_MAX`]. One failure alone (a slow reply
/// that timed out) pauses nothing: in `recommend --all` it would skip every deployment after it.
const FAILING_BACKOFF: Duration = Duration::from_secs(5);
const FAILING_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How long to pause after `failures` consecutive failures.
pub(super) fn failing_backoff(failures: u32) -> Duration {
    if failures < 2 {
        return Duration::ZERO;
    }
    let doublings = (failures - 2).min(16);
    (FAILING_BACKOFF * 2u32.pow(doublings)).min(FAILING_BACKOFF_MAX)
}

impl LlmAdvisor {
    /// Requests for one advice: one retry after a 429 that says when, the next model when one
    /// is retired. Returns the reply, the model that gave it and notices for the card.
    pub(super) async fn request(
        &self,
        plan: &Plan,
    ) -> Result<(client::Reply, String, Vec<String>), String> {
        let mut notices = vec![];
        self.request_inner(plan, &mut notices)
            .await
            .map_err(|reason| {
                // A model switch is news even when the next model fails too.
                notices.push(reason);
                notices.join("; then ")
            })
    }

    async fn request_inner(
        &self,
        plan: &Plan,
        notes: &mut Vec<String>,
    ) -> Result<(client::Reply, String, Vec<String>), String> {
        let mut model = plan.model.clone();
        let mut waited: Option<u64> = None;
        loop {
            let started = Instant::now();
            let (result, limits) = self
                .client
                .complete(
                    &model,
                    &self.prompts.system,
                    &plan.user_prompt,
                    plan.shape,
                    &plan.seats,
                )
                .await;
            self.note_limits(&limits);
            let took = started.elapsed().as_secs_f64();
            let err = match result {
                Ok(reply) => {
                    self.lock().failing = None;
                    self.learn(plan, &reply);
                    self.learn_speed(plan, took, false);
                    return Ok((reply, model, std::mem::take(notes)));
                }
                Err(e) => e,
            };
            if matches!(err, CallError::Timeout { .. }) {
                self.learn_speed(plan, took, true);
                self.shrink_batches(plan, "timed out");
            }
            self.note_failure(&err);
            match err {
                CallError::RateLimited {
                    retry_after,
                    detail,
                } => {
                    tracing::warn!(model = %model, ?retry_after, detail = %detail, "LLM 429");
                    match (retry_after, waited) {
                        (Some(s), None) if s <= self.max_retry_wait => {
                            if !self.spend_one() {
                                return Err("429 rate limited; no budget left to retry".into());
                            }
                            tokio::time::sleep(Duration::from_secs(s)).await;
                            waited = Some(s);
                        }
                        _ => {
                            let backoff = retry_after
                                .map(Duration::from_secs)
                                .unwrap_or(DEFAULT_BACKOFF);
                            self.lock().backoff_until = Some(Instant::now() + backoff);
                            let mut reason = match waited {
                                Some(w) => format!(
                                    "429 rate limited again after waiting {w} s and retrying once"
                                ),
                                None => "429 rate limited".to_string(),
                            };
                            match retry_after {
                                Some(s) => reason.push_str(&format!(", retry in {s} s")),
                                None => reason.push_str(&format!(": {detail}")),
                            }
                            return Err(reason);
                        }
                    }
                }
                CallError::ModelGone { detail } => {
                    let next = self.retire(&model);
                    let notice = match &next {
                        Some(n) => format!("model {model} retired; using {n}"),
                        None => {
                            format!("model {model} unavailable ({detail}); no fallback model left")
                        }
                    };
                    tracing::warn!(detail = %detail, "{notice}");
                    match next {
                        Some(n) if self.spend_one() => {
                            notes.push(notice);
                            model = n;
                        }
                        Some(_) => {
                            notes.push(notice);
                            return Err("no budget left to try it".into());
                        }
                        None => return Err(notice),
                    }
                }
                other => return Err(other.reason()),
            }
        }
    }

    /// Count a failure of the endpoint (timeout, connection, 5xx) towards the pause; any other
    /// answer from the server shows it is up.
    fn note_failure(&self, err: &CallError) {
        let kind = match err {
            CallError::Timeout { .. } => "timeout",
            CallError::Transport(_) => "connection failure",
            CallError::Status { status, .. } if *status >= 500 => "server error",
            _ => {
                self.lock().failing = None;
                return;
            }
        };
        let mut st = self.lock();
        let (count, kind) = match &st.failing {
            Some(f) if f.kind == kind => (f.count.saturating_add(1), kind),
            Some(f) => (f.count.saturating_add(1), "failure"),
            None => (1, kind),
        };
        let f = Failing {
            count,
            kind,
            until: Instant::now() + failing_backoff(count),
        };
        tracing::warn!("{}", f.describe());
        st.failing = Some(f);
    }

    /// Mark `model` retired; the model to use now.
    fn retire(&self, model: &str) -> Option<String> {
        let mut st = self.lock();
        if !st.retired.iter().any(|m| m == model) {
            st.retired.push(model.to_string());
        }
        current_model(&self.models, &st.retired)
    }
}
