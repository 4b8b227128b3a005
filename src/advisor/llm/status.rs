//! The status bar's LLM side: the model, the day's requests left, the server's own count,
//! and any pause (a 429, consecutive failures).

use std::time::Instant;

use super::{LlmAdvisor, current_model};

impl LlmAdvisor {
    pub(super) fn status_line(&self) -> String {
        let st = self.lock();
        let mut b = st.budget.clone();
        b.roll(st.cluster_now, (self.wall_clock)());
        let Some(model) = current_model(&self.models, &st.retired) else {
            return format!(
                "LLM: no live model ({} retired): policy only",
                self.models.join(", ")
            );
        };
        let mut s = format!("LLM {}", short(&model));
        let retired: Vec<&str> = self
            .models
            .iter()
            .filter(|m| st.retired.contains(m))
            .map(|m| short(m))
            .collect();
        if !retired.is_empty() {
            s.push_str(&format!(" ({} retired)", retired.join(", ")));
        }
        s.push_str(&format!(
            " · {}/{} left today",
            b.remaining(self.daily_budget),
            self.daily_budget
        ));
        if b.closed.is_some() {
            s.push_str(" (closed until 00:00 UTC: state was damaged)");
        }
        if let Some(r) = &st.limits.remaining_requests {
            s.push_str(&format!(" · server: {r} req"));
            if let Some(t) = &st.limits.remaining_tokens {
                s.push_str(&format!(", {t} tok"));
            }
            s.push_str(" left");
        }
        if let Some(until) = st.backoff_until {
            let left = until.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                s.push_str(&format!(" · 429: paused {} s", left.as_secs().max(1)));
            }
        }
        if let Some(f) = &st.failing {
            s.push_str(&format!(" · {}", f.describe()));
        }
        s
    }
}

fn short(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}
