//! Several deployments in one request (issue 13, "batch"). The asks are planned in order in
//! one transaction, each as it would be alone (cache, last answer, back-off, budget, rate
//! limit), and those that need the LLM are seated in batches: the first of a batch counts the
//! request against the budget, the others ride on it, and each reserves its tokens of the
//! minute. A batch of one goes out in the seed's single form; a larger one as numbered
//! sections answered by `{"recommendations": [...]}`, whose items are matched and parsed one
//! by one, so a missing or malformed item falls back for its deployment only. Every answer
//! fills its deployment's cache entry and memory, as a request of its own would.

use super::batch_parse::{self, Named};
use super::batch_prompt::{self, FRAME_CHARS};
use super::client::{RateLimits, Reply, Shape};
use super::{Inner, LlmAdvisor, Next, ParsedReply, Plan, Seat, fail, parse};
use crate::advisor::backend::{Landed, LlmAdvice, LlmFailure};
use crate::advisor::priority::Stake;
use crate::model::AdvisorInputs;

/// Weight of the newest section in the running mean.
const SECTION_LEARN_RATE: f64 = 0.2;

/// The deployments seated in one request: their index in the asks and their plan.
struct Batch {
    seats: Vec<(usize, Plan)>,
    reserved_tokens: u64,
}

type Answer = Result<LlmAdvice, LlmFailure>;

impl LlmAdvisor {
    /// One deployment alone (the seed's single form), with this minute's tokens reserved.
    pub(super) fn plan_alone(&self, st: &mut Inner, inputs: &AdvisorInputs, fresh: bool) -> Next {
        let now = inputs.observed_at;
        let fixed = self.prompts.system.len() + FRAME_CHARS;
        let estimate = st.sizing.estimate(fixed, st.section_chars as usize, 1);
        let limit = st.sizing.tokens_per_minute;
        let wait = st.tokens.reserve(now, limit, estimate).err();
        let seat = Seat {
            tokens_wait: wait,
            ..Seat::ALONE
        };
        let mut next = self.plan_locked(st, inputs, fresh, seat);
        match &mut next {
            Next::Call(plan) => {
                plan.reserved_tokens = estimate;
                learn_section(st, &plan.user_prompt);
            }
            Next::Answer(_) if wait.is_none() => st.tokens.settle(now, estimate, Some(0)),
            Next::Answer(_) => {}
        }
        next
    }

    /// Fresh advice for each of `asks`, several per request, each request's answers handed to
    /// `landed` as soon as its reply is read (the answers that need no request at once), so
    /// the first deployments' cards do not wait for the last round. Every ask is answered
    /// exactly once.
    pub(super) async fn ask_each(&self, asks: &[AdvisorInputs], landed: Landed<'_>) {
        let answered = std::sync::Mutex::new(vec![false; asks.len()]);
        let report = |answers: Vec<(usize, Answer)>| {
            if answers.is_empty() {
                return;
            }
            if let Ok(mut seen) = answered.lock() {
                for (i, _) in &answers {
                    if let Some(s) = seen.get_mut(*i) {
                        *s = true;
                    }
                }
            }
            landed(answers);
        };
        self.ask_rounds(asks, &report).await;
        // A bookkeeping slip must not leave a deployment without a card.
        let missed: Vec<(usize, Answer)> = answered
            .lock()
            .map(|seen| {
                seen.iter()
                    .enumerate()
                    .filter(|(_, s)| !**s)
                    .map(|(i, _)| (i, Err(fail("no answer was planned".into()))))
                    .collect()
            })
            .unwrap_or_default();
        if !missed.is_empty() {
            landed(missed);
        }
    }

    /// The requests for `asks`, in rounds, each answer reported to `report` as it lands.
    async fn ask_rounds(&self, asks: &[AdvisorInputs], report: Landed<'_>) {
        if asks.len() <= 1 {
            for (i, inputs) in asks.iter().enumerate() {
                report(vec![(i, self.ask(inputs, true).await)]);
            }
            return;
        }
        // In rounds of as many requests as may be in flight, each planned with what the
        // replies before it taught (sizes, the server's limits): the first round of a fleet
        // never commits the whole minute before the server said what a minute allows.
        let mut todo: Vec<usize> = (0..asks.len()).collect();
        while !todo.is_empty() {
            let planned = self.transact(|st| {
                let planned = self.plan_batches(st, asks, &todo);
                let spent = !planned.1.is_empty();
                (planned, spent)
            });
            let (answered, batches, rest) = match planned {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "LLM state unavailable; no request");
                    let reason = format!(
                        "LLM state unavailable, so the daily budget cannot be checked: no \
                         request ({e})"
                    );
                    report(
                        todo.into_iter()
                            .map(|i| (i, Err(fail(reason.clone()))))
                            .collect(),
                    );
                    return;
                }
            };
            report(answered);
            tracing::debug!(
                requests = batches.len(),
                left = rest.len(),
                "LLM asks batched"
            );
            // At most `max_in_flight` at once: each batch waits for its slot, and its answers
            // are reported as soon as its reply is read.
            futures::future::join_all(
                batches
                    .into_iter()
                    .map(|b| async { report(self.send(asks, b).await) }),
            )
            .await;
            self.persist();
            todo = rest;
        }
    }

    /// Seat the asks of `todo` that need the LLM in batches, in order, at most one round's
    /// worth (`max_in_flight` requests); the others are answered now. Returns the answers,
    /// the batches, and the asks left for the next round.
    fn plan_batches(
        &self,
        st: &mut Inner,
        asks: &[AdvisorInputs],
        todo: &[usize],
    ) -> (Vec<(usize, Answer)>, Vec<Batch>, Vec<usize>) {
        let fixed = self.prompts.system.len() + FRAME_CHARS;
        let section = st.section_chars.round() as usize;
        let size = st.sizing.batch_size(fixed, section);
        let limit = st.sizing.tokens_per_minute;
        let mut out = vec![];
        let mut batches = vec![];
        let mut current = Batch {
            seats: vec![],
            reserved_tokens: 0,
        };
        for (k, &i) in todo.iter().enumerate() {
            if batches.len() >= self.max_in_flight {
                return (out, batches, todo[k..].to_vec());
            }
            let inputs = &asks[i];
            let now = inputs.observed_at;
            let first = current.seats.is_empty();
            let estimate = st
                .sizing
                .estimate(if first { fixed } else { 0 }, section, 1);
            let wait = st.tokens.reserve(now, limit, estimate).err();
            let proposal = crate::advisor::policy::decide(inputs, &self.rules_cfg);
            let stake = crate::advisor::priority::stake(inputs, &proposal);
            let seat = Seat {
                first,
                size,
                tokens_wait: wait,
                urgent: Some(stake <= Stake::NearMax),
            };
            match self.plan_locked(st, inputs, true, seat) {
                Next::Call(plan) => {
                    learn_section(st, &plan.user_prompt);
                    current.reserved_tokens += estimate;
                    current.seats.push((i, plan));
                    if current.seats.len() >= size {
                        batches.push(std::mem::replace(
                            &mut current,
                            Batch {
                                seats: vec![],
                                reserved_tokens: 0,
                            },
                        ));
                    }
                }
                Next::Answer(answer) => {
                    if wait.is_none() {
                        st.tokens.settle(now, estimate, Some(0));
                    }
                    out.push((i, answer));
                }
            }
        }
        if !current.seats.is_empty() {
            batches.push(current);
        }
        (out, batches, vec![])
    }

    /// Send one batch and read each deployment's answer from the reply.
    async fn send(&self, asks: &[AdvisorInputs], mut batch: Batch) -> Vec<(usize, Answer)> {
        let _permit = self.in_flight.acquire().await;
        let failing = self
            .lock()
            .failing
            .clone()
            .filter(|f| f.until > std::time::Instant::now());
        if let Some(f) = failing {
            // The endpoint started failing while this one waited: not sent, not counted.
            self.refund_one();
            let reason = f.describe();
            return batch
                .seats
                .iter()
                .map(|(i, _)| (*i, Err(fail(reason.clone()))))
                .collect();
        }
        if batch.seats.len() == 1
            && let Some((i, mut plan)) = batch.seats.pop()
        {
            plan.reserved_tokens = batch.reserved_tokens;
            let outcome = self.request(&plan).await;
            return vec![(i, self.finish(&asks[i], &plan, outcome))];
        }
        let plan = self.batch_plan(&batch);
        let outcome = self.request(&plan).await;
        let items = batch.seats.len();
        let answers: Vec<Result<ParsedReply, String>> = match outcome {
            Err(reason) => vec![Err(reason); items],
            Ok((reply, requested, notices)) => {
                let named: Vec<Named> = batch.seats.iter().map(|(_, p)| p.named.clone()).collect();
                match batch_parse::split(&reply.content, &named) {
                    Err(reason) => vec![Err(reason); items],
                    Ok(found) => {
                        if found.iter().any(Result::is_err) {
                            self.shrink_batches(&plan, "reply left deployments out");
                        }
                        found
                            .into_iter()
                            .zip(&batch.seats)
                            .map(|(item, (i, _))| {
                                let p = parse::parse(&item?, &asks[*i])?;
                                Ok((p, reply.model.clone(), requested.clone(), notices.clone()))
                            })
                            .collect()
                    }
                }
            }
        };
        batch
            .seats
            .iter()
            .zip(answers)
            .map(|((i, _), parsed)| {
                // A reason may name a placeholder: the card shows the real name.
                let parsed = parsed
                    .map_err(|r| format!("{} (batch of {items})", plan.anonymizer.restore(&r)));
                (*i, self.finish_parsed(&asks[*i], &plan.anonymizer, parsed))
            })
            .collect()
    }

    /// The one request for a batch: the sections of its deployments' own prompts, and a
    /// reply's worth of tokens for each within the context and the minute.
    fn batch_plan(&self, batch: &Batch) -> Plan {
        let prompts: Vec<&str> = batch
            .seats
            .iter()
            .map(|(_, p)| p.user_prompt.as_str())
            .collect();
        let user_prompt = batch_prompt::batch_prompt(&prompts);
        let items = batch.seats.len();
        let max_tokens = {
            let st = self.lock();
            let prompt = st
                .sizing
                .prompt_tokens(self.prompts.system.len() + user_prompt.len());
            st.sizing.max_tokens(self.max_tokens, items, prompt)
        };
        let (model, anonymizer) = batch
            .seats
            .last()
            .map(|(_, p)| (p.model.clone(), p.anonymizer.clone()))
            .unwrap_or_default();
        Plan {
            model,
            user_prompt,
            // The last seat's placeholders include every earlier one's.
            anonymizer,
            shape: Shape::Batch { items, max_tokens },
            reserved_tokens: batch.reserved_tokens,
            named: Named {
                namespace: String::new(),
                name: String::new(),
            },
            seats: batch
                .seats
                .iter()
                .map(|(_, p)| (p.named.namespace.clone(), p.named.name.clone()))
                .collect(),
        }
    }

    /// A batch that timed out, or whose reply left deployments out: later batches carry at
    /// most half as many deployments (a slow local server answers a smaller one within the
    /// timeout, a small model keeps track of fewer; one stays one).
    pub(super) fn shrink_batches(&self, plan: &Plan, why: &str) {
        if let Shape::Batch { items, .. } = plan.shape {
            let mut st = self.lock();
            let smaller = (items / 2).max(1);
            if smaller < st.sizing.max_batch {
                tracing::warn!(items, now = smaller, "LLM batch {why}: smaller batches");
                st.sizing.max_batch = smaller;
            }
        }
    }

    /// How long the request took for the deployments it carried (`timed_out`: at least that).
    pub(super) fn learn_speed(&self, plan: &Plan, seconds: f64, timed_out: bool) {
        let items = match plan.shape {
            Shape::Single => 1,
            Shape::Batch { items, .. } => items,
        };
        self.lock().sizing.learn_latency(items, seconds, timed_out);
    }

    /// What the server's rate-limit headers say: its tokens per minute (unless configured) and
    /// what is left of them.
    pub(super) fn note_limits(&self, limits: &RateLimits) {
        let mut st = self.lock();
        if !limits.is_empty() {
            st.limits = limits.clone();
        }
        if self.tokens_per_minute.is_none()
            && let Some(l) = limits.limit_tokens
        {
            st.sizing.tokens_per_minute = Some(l);
        }
        if let Some(left) = limits.tokens_left {
            let now = st.cluster_now;
            st.tokens.server_said(now, left, limits.reset_tokens);
        }
    }

    /// Learn from a reply's `usage`: tokens per character sent, per item answered; and what the
    /// request cost this minute.
    pub(super) fn learn(&self, plan: &Plan, reply: &Reply) {
        let items = match plan.shape {
            Shape::Single => 1,
            Shape::Batch { items, .. } => items,
        };
        let mut st = self.lock();
        let chars = self.prompts.system.len() + plan.user_prompt.len();
        st.sizing
            .learn(chars, reply.prompt_tokens, items, reply.completion_tokens);
        let actual = match (reply.prompt_tokens, reply.completion_tokens) {
            (Some(p), Some(c)) => Some(p + c),
            _ => None,
        };
        let now = st.cluster_now;
        st.tokens.settle(now, plan.reserved_tokens, actual);
    }
}

/// Keep the running mean of a deployment's section length.
fn learn_section(st: &mut Inner, user_prompt: &str) {
    let chars = batch_prompt::section(user_prompt).len() as f64;
    st.section_chars += SECTION_LEARN_RATE * (chars - st.section_chars);
}
