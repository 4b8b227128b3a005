//! How many deployments one request may carry, and whether the tokens-per-minute limit allows
//! another request now (issue 13, "batch").
//!
//! A batch is the system prompt and the request's fixed text once, then one section per
//! deployment, and one reply item per deployment. Its size is the largest that fits both the
//! model's context (`llm.context_tokens`) and one minute's tokens (`llm.tokens_per_minute`, else
//! the server's `x-ratelimit-limit-tokens`), at most `llm.max_batch`. The token counts are
//! learned from each reply's `usage` (prompt tokens per character sent, completion tokens per
//! item), starting from cautious guesses, so a model whose tokenizer is wordier, or whose
//! answers run longer, gets smaller batches.
//!
//! The minute's tokens are counted on the cluster clock (the demo's virtual time, a replay's
//! time), like the budget: what was reserved for requests sent this minute, and what the server
//! said was left (`x-ratelimit-remaining-tokens`) until its reset (`x-ratelimit-reset-tokens`).

use crate::model::UnixSeconds;

/// Until a reply says otherwise: about 3 characters per token (English with numbers and
/// markup runs 3.5 to 4), so the first batch is smaller than it needs to be, never larger.
const FIRST_TOKENS_PER_CHAR: f64 = 1.0 / 3.0;
/// Until a reply says otherwise: a seed decision with its reasoning runs 150 to 250 tokens.
const FIRST_COMPLETION_PER_ITEM: f64 = 300.0;
/// A deployment's section before any was measured, in characters (the seed's user prompt
/// with a forecast, an HPA and five past decisions runs to about this).
pub const FIRST_SECTION_CHARS: f64 = 1800.0;
/// Weight of the newest reply in the learned figures.
const LEARN_RATE: f64 = 0.3;
/// Kept free of the context for what the estimate misses (chat template tokens, a long name).
const CONTEXT_MARGIN: f64 = 0.9;
/// Of the request's timeout, the share a batch is sized to take at the speed seen so far: a
/// slow local server (seconds per item) gets batches it answers well within the timeout, a
/// hosted one (a fraction of a second) is not limited by it.
const TIMEOUT_SHARE: f64 = 0.5;

/// What the sizing knows: the configured limits and what replies taught.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizing {
    /// `llm.context_tokens`: the model's context window (prompt and reply together).
    pub context_tokens: u64,
    /// `llm.max_batch`: most deployments in one request.
    pub max_batch: usize,
    /// `llm.tokens_per_minute`, else the server's `x-ratelimit-limit-tokens`.
    pub tokens_per_minute: Option<u64>,
    /// Prompt tokens per character sent, learned from `usage.prompt_tokens`.
    pub tokens_per_char: f64,
    /// Completion tokens per reply item, learned from `usage.completion_tokens`.
    pub completion_per_item: f64,
    /// `llm.timeout_seconds`: how long one request may take.
    pub timeout_seconds: f64,
    /// Seconds a request took per deployment it carried, learned from replies (and from
    /// timeouts, as a lower bound); None until the first.
    pub seconds_per_item: Option<f64>,
}

impl Sizing {
    pub fn new(context_tokens: u64, max_batch: usize, tokens_per_minute: Option<u64>) -> Self {
        Self {
            context_tokens: context_tokens.max(1),
            max_batch: max_batch.max(1),
            tokens_per_minute,
            tokens_per_char: FIRST_TOKENS_PER_CHAR,
            completion_per_item: FIRST_COMPLETION_PER_ITEM,
            timeout_seconds: f64::INFINITY,
            seconds_per_item: None,
        }
    }

    /// With `llm.timeout_seconds`: batches are then also sized to the server's speed.
    pub fn with_timeout(mut self, seconds: u64) -> Self {
        self.timeout_seconds = (seconds as f64).max(1.0);
        self
    }

    /// Tokens a text of `chars` characters costs as prompt.
    pub fn prompt_tokens(&self, chars: usize) -> u64 {
        (chars as f64 * self.tokens_per_char).ceil() as u64
    }

    /// Tokens a request of `fixed_chars` (system prompt, framing) plus `sections` of
    /// `section_chars` each is expected to cost, prompt and reply.
    pub fn estimate(&self, fixed_chars: usize, section_chars: usize, sections: usize) -> u64 {
        let prompt = self.prompt_tokens(fixed_chars + section_chars * sections);
        prompt + (self.completion_per_item * sections as f64).ceil() as u64
    }

    /// The largest batch that fits the context and one minute's tokens (at least 1: a single
    /// deployment goes out in the seed's own form whatever the estimate says).
    pub fn batch_size(&self, fixed_chars: usize, section_chars: usize) -> usize {
        let mut cap = self.context_tokens as f64 * CONTEXT_MARGIN;
        if let Some(tpm) = self.tokens_per_minute {
            cap = cap.min(tpm as f64 * CONTEXT_MARGIN);
        }
        let fixed = self.prompt_tokens(fixed_chars) as f64;
        let per = self.prompt_tokens(section_chars) as f64 + self.completion_per_item;
        let mut fits = ((cap - fixed) / per.max(1.0)).floor();
        if let Some(seconds) = self.seconds_per_item {
            fits = fits.min((self.timeout_seconds * TIMEOUT_SHARE / seconds.max(1e-3)).floor());
        }
        (fits.max(1.0) as usize).min(self.max_batch)
    }

    /// Learn the server's speed: a request carrying `items` deployments took `seconds` (or
    /// timed out after them: the speed is at most that, so the figure only grows).
    pub fn learn_latency(&mut self, items: usize, seconds: f64, timed_out: bool) {
        if items == 0 || !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        let seen = seconds / items as f64;
        self.seconds_per_item = Some(match self.seconds_per_item {
            None => seen,
            Some(known) if timed_out => known.max(seen),
            Some(known) => known + LEARN_RATE * (seen - known),
        });
    }

    /// The reply's `max_tokens` for a batch of `items` whose prompt is `prompt_tokens`: each
    /// item's `per_item` (`llm.max_tokens`), within what the context and the minute leave.
    pub fn max_tokens(&self, per_item: u32, items: usize, prompt_tokens: u64) -> u32 {
        let wanted = u64::from(per_item) * items as u64;
        let mut room = self.context_tokens.saturating_sub(prompt_tokens);
        if let Some(tpm) = self.tokens_per_minute {
            room = room.min(tpm.saturating_sub(prompt_tokens));
        }
        wanted
            .min(room)
            .max(u64::from(per_item).min(wanted))
            .min(u64::from(u32::MAX)) as u32
    }

    /// Learn from a reply's `usage`: `prompt_chars` characters sent cost `prompt_tokens`, and
    /// `items` answers cost `completion_tokens`.
    pub fn learn(
        &mut self,
        prompt_chars: usize,
        prompt_tokens: Option<u64>,
        items: usize,
        completion_tokens: Option<u64>,
    ) {
        if let Some(p) = prompt_tokens.filter(|p| *p > 0)
            && prompt_chars > 0
        {
            let seen = p as f64 / prompt_chars as f64;
            self.tokens_per_char += LEARN_RATE * (seen - self.tokens_per_char);
        }
        if let Some(c) = completion_tokens.filter(|c| *c > 0)
            && items > 0
        {
            let seen = c as f64 / items as f64;
            self.completion_per_item += LEARN_RATE * (seen - self.completion_per_item);
        }
    }
}

/// This minute's tokens on the cluster clock: what was reserved for requests sent, and what
/// the server last said was left.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenWindow {
    minute: i64,
    used: u64,
    /// The server's remaining tokens, and the cluster time its window resets at.
    server: Option<(u64, UnixSeconds)>,
}

impl TokenWindow {
    fn roll(&mut self, now: UnixSeconds) {
        let minute = now.div_euclid(60);
        if minute != self.minute {
            self.minute = minute;
            self.used = 0;
        }
        if self.server.is_some_and(|(_, until)| now >= until) {
            self.server = None;
        }
    }

    /// Tokens still allowed this minute under `limit` (None: no limit known).
    #[cfg(test)]
    pub fn available(&mut self, now: UnixSeconds, limit: Option<u64>) -> Option<u64> {
        self.roll(now);
        let own = limit.map(|l| l.saturating_sub(self.used));
        let server = self.server.map(|(left, _)| left);
        match (own, server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reserve `tokens` for a request sent now, if they fit; else the seconds until they may.
    pub fn reserve(
        &mut self,
        now: UnixSeconds,
        limit: Option<u64>,
        tokens: u64,
    ) -> Result<(), u64> {
        self.roll(now);
        let own_short = limit.is_some_and(|l| l.saturating_sub(self.used) < tokens);
        let server_short = self.server.filter(|(left, _)| *left < tokens);
        if own_short || server_short.is_some() {
            let next_minute = if own_short {
                (self.minute + 1) * 60 - now
            } else {
                0
            };
            let server_reset = server_short.map_or(0, |(_, until)| until - now);
            return Err(next_minute.max(server_reset).max(1) as u64);
        }
        self.used = self.used.saturating_add(tokens);
        if let Some((left, _)) = &mut self.server {
            *left = left.saturating_sub(tokens);
        }
        Ok(())
    }

    /// Replace a reservation by what the reply says it cost.
    pub fn settle(&mut self, now: UnixSeconds, reserved: u64, actual: Option<u64>) {
        self.roll(now);
        if let Some(actual) = actual {
            self.used = self.used.saturating_sub(reserved).saturating_add(actual);
        }
    }

    /// What the server's `x-ratelimit-remaining-tokens` and `x-ratelimit-reset-tokens` said.
    pub fn server_said(&mut self, now: UnixSeconds, remaining: u64, reset_seconds: Option<u64>) {
        self.roll(now);
        let until = now + reset_seconds.unwrap_or(60).max(1) as i64;
        self.server = Some((remaining, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_fits_the_context_and_the_minute_and_learns_from_usage() {
        // 8k context, no minute limit: (7372 − 400) / (200 + 300) → 13, capped at 16.
        let s = Sizing::new(8192, 16, None);
        assert_eq!(s.batch_size(1200, 600), 13);
        assert_eq!(Sizing::new(8192, 4, None).batch_size(1200, 600), 4);
        // 8,000 tokens a minute binds before a 128k context.
        let s = Sizing::new(131_072, 64, Some(8000));
        assert_eq!(s.batch_size(1200, 600), 13);
        // A small local model's 2k context: one or two deployments.
        let small = Sizing::new(2048, 16, None);
        assert_eq!(small.batch_size(1200, 600), 2);
        assert_eq!(
            Sizing::new(1024, 16, None).batch_size(3000, 600),
            1,
            "never 0"
        );
        // Replies show the tokenizer takes 1 token per 2 characters and items run 600 tokens.
        let mut s = Sizing::new(8192, 16, None);
        for _ in 0..30 {
            s.learn(4000, Some(2000), 4, Some(2400));
        }
        assert!((s.tokens_per_char - 0.5).abs() < 0.01, "{s:?}");
        assert!((s.completion_per_item - 600.0).abs() < 1.0, "{s:?}");
        // (7372 − 600) / (300 + 600) → 7.
        assert_eq!(s.batch_size(1200, 600), 7);
        // Missing or zero usage teaches nothing.
        let before = s.clone();
        s.learn(4000, None, 4, Some(0));
        assert_eq!(s, before);
    }

    #[test]
    fn max_tokens_scale_with_the_items_within_the_context_and_minute() {
        let s = Sizing::new(8192, 16, Some(8000));
        assert_eq!(s.max_tokens(1000, 1, 500), 1000);
        assert_eq!(s.max_tokens(1000, 4, 2000), 4000);
        // 10 items want 10,000 but the minute leaves 8000 − 3000.
        assert_eq!(s.max_tokens(1000, 10, 3000), 5000);
        // Never below one item's worth, even when the estimate leaves less.
        assert_eq!(s.max_tokens(1000, 3, 7900), 1000);
    }

    #[test]
    fn the_minute_window_reserves_settles_and_heeds_the_server() {
        let mut w = TokenWindow::default();
        let t = 6000; // a minute boundary
        assert_eq!(w.reserve(t, Some(8000), 5000), Ok(()));
        assert_eq!(w.available(t + 10, Some(8000)), Some(3000));
        // The next 5000 waits for the next minute: 50 s.
        assert_eq!(w.reserve(t + 10, Some(8000), 5000), Err(50));
        // The reply cost 4200, not 5000.
        w.settle(t + 12, 5000, Some(4200));
        assert_eq!(w.available(t + 12, Some(8000)), Some(3800));
        // A new minute starts afresh.
        assert_eq!(w.available(t + 60, Some(8000)), Some(8000));
        // The server says 1000 left for 20 s: that binds, then lifts.
        w.server_said(t + 61, 1000, Some(20));
        assert_eq!(w.reserve(t + 62, Some(8000), 2000), Err(19));
        assert_eq!(w.reserve(t + 62, None, 800), Ok(()));
        assert_eq!(w.available(t + 63, None), Some(200));
        assert_eq!(w.available(t + 81, None), None);
        // No limit known: everything fits.
        assert_eq!(TokenWindow::default().reserve(t, None, 1_000_000), Ok(()));
    }

    #[test]
    fn a_slow_server_gets_batches_it_answers_within_the_timeout() {
        // Context and minute allow 13 of these; no speed known yet: the context decides.
        let mut s = Sizing::new(8192, 16, None).with_timeout(150);
        assert_eq!(s.batch_size(1200, 600), 13);
        // Two deployments in 120 s: 60 s each, so half the timeout holds one.
        s.learn_latency(2, 120.0, false);
        assert_eq!(s.batch_size(1200, 600), 1);
        // Faster replies widen it again, gradually.
        for _ in 0..20 {
            s.learn_latency(1, 10.0, false);
        }
        assert_eq!(s.batch_size(1200, 600), 7);
        // A timeout only ever says slower.
        s.learn_latency(4, 150.0, true);
        assert_eq!(s.seconds_per_item, Some(37.5));
        assert_eq!(s.batch_size(1200, 600), 2);
        s.learn_latency(8, 150.0, true);
        assert_eq!(s.seconds_per_item, Some(37.5));
    }

    #[test]
    fn a_fast_server_is_not_limited_by_its_speed() {
        let mut s = Sizing::new(131_072, 16, Some(8000)).with_timeout(30);
        s.learn_latency(13, 3.25, false);
        assert_eq!(s.batch_size(1200, 600), 13);
        // Garbage in changes nothing.
        s.learn_latency(0, 5.0, false);
        s.learn_latency(3, f64::NAN, false);
        assert_eq!(s.seconds_per_item, Some(0.25));
    }
}
