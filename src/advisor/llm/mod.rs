//! The LLM advisor (issue 4): the seed's Groq advisor as an [`LlmBackend`], behind its cache,
//! per-deployment rate limit and daily budget, with model fallback and anonymization.
//!
//! One call to [`LlmAdvisor::advise`] goes: cache (fresh answer for the same rounded inputs) →
//! last answer (inputs unchanged since: no call) → provider back-off after a 429 → daily budget
//! (and, when it runs short, whether this deployment needs the call) → rate limit (one call per
//! deployment per interval) → prompt (cleaned, fenced, anonymized) → request (one retry after
//! a 429's retry-after; the next model when one is retired) → parse (four steps) → names
//! restored → cache, memory and state file. Every "now" is the cluster clock
//! (`inputs.observed_at`), so the demo's virtual clock and a real cluster behave alike; only
//! the provider's own back-off and the wall-clock budget guard use real time.
//!
//! The state is shared with every other ai4k8s on the data dir (`shared.rs`): the decision
//! to call (budget, rate limit) runs inside one transaction with what the others wrote, so
//! the daily budget holds for all processes together. No lock is held across a network call.

mod anonymize;
mod batch;
mod batch_parse;
mod batch_prompt;
mod batch_size;
mod budget;
mod cache;
mod client;
mod endpoint;
mod error;
mod history;
mod key;
mod limiter;
mod merge;
mod parse;
mod prompt;
mod request;
mod review;
mod sanitize;
mod schema;
mod shared;
mod state;
mod status;
mod wire;

pub use error::LlmSetupError;
pub use schema::decision_schema;
pub use shared::FILE_NAME as STATE_FILE_NAME;
pub use state::LEGACY_FILE_NAME as LEGACY_STATE_FILE_NAME;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use secrecy::SecretString;

use super::backend::{LlmAdvice, LlmBackend, LlmFailure};
use crate::config::{AdvisorConfig, LlmConfig};
use crate::model::{AdvisorInputs, UnixSeconds};
use anonymize::Anonymizer;
use batch_size::{Sizing, TokenWindow};
use budget::Budget;
use cache::{AdviceCache, CachedAdvice, cache_key};
use client::{ChatClient, RateLimits, Shape};
use endpoint::Endpoint;
use history::{DeploymentMemory, Observation};
use limiter::CallLimiter;
use prompt::{Names, Prompts};
use shared::SharedState;

/// Why there is no LLM when no key is configured, for the status bar and the cards
/// (e.g. "no key ($GROQ_API_KEY unset)"; the app appends ": policy only").
pub fn no_llm_reason(llm: &LlmConfig) -> String {
    key::missing_reason(llm)
}

/// Deployments not seen for this long (cluster seconds) are left out of the state file.
const FORGET_AFTER: i64 = 7 * 86_400;

/// Requests in flight at once when `llm.max_in_flight` is unset.
pub fn default_max_in_flight(loopback: bool) -> usize {
    if loopback { 1 } else { 4 }
}

type WallClock = Arc<dyn Fn() -> UnixSeconds + Send + Sync>;

pub struct LlmAdvisor {
    client: ChatClient,
    prompts: Prompts,
    /// The model, then the fallbacks, without duplicates.
    models: Vec<String>,
    anonymize: bool,
    daily_budget: u32,
    interval_seconds: u64,
    history_in_prompt: usize,
    max_retry_wait: u64,
    /// `llm.consult_below_confidence`.
    consult_below: f64,
    rules_cfg: AdvisorConfig,
    state_path: PathBuf,
    /// Taken before `inner`, never while holding it.
    shared: Mutex<SharedState>,
    inner: Mutex<Inner>,
    wall_clock: WallClock,
    /// One permit per request allowed in flight (`llm.max_in_flight`).
    in_flight: tokio::sync::Semaphore,
    /// `llm.tokens_per_minute` (else the server's header).
    tokens_per_minute: Option<u64>,
    /// `llm.max_tokens`: one reply's worth.
    max_tokens: u32,
    /// The permits of `in_flight`: one round of batches.
    max_in_flight: usize,
}

/// Consecutive failures of the endpoint itself (not of a reply's content).
#[derive(Clone, Debug)]
struct Failing {
    count: u32,
    /// "timeout", "connection failure", "server error", or "failure" when they differ.
    kind: &'static str,
    /// No request before this (real time).
    until: Instant,
}

impl Failing {
    fn describe(&self) -> String {
        let kind = if self.count == 1 {
            self.kind.to_string()
        } else {
            format!("{}s", self.kind)
        };
        let mut s = format!("LLM failing: {} {kind} in a row", self.count);
        let left = self.until.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            s.push_str(&format!(", next try in {} s", left.as_secs().max(1)));
        }
        s
    }
}

struct Inner {
    cache: AdviceCache,
    limiter: CallLimiter,
    budget: Budget,
    retired: Vec<String>,
    memory: BTreeMap<String, DeploymentMemory>,
    anonymizer: Anonymizer,
    /// The server's last rate-limit headers.
    limits: RateLimits,
    /// No request before this (real time) after a 429.
    backoff_until: Option<Instant>,
    /// Cluster time of the last advise call (for the status bar's budget day).
    cluster_now: UnixSeconds,
    failing: Option<Failing>,
    /// How many deployments a request may carry, learned from replies.
    sizing: Sizing,
    /// This minute's tokens (cluster clock).
    tokens: TokenWindow,
    /// A deployment's section of a prompt, in characters (running mean).
    section_chars: f64,
}

/// What [`LlmAdvisor::plan`] decided: answer now, or call with this plan.
enum Next {
    Answer(Result<LlmAdvice, LlmFailure>),
    Call(Plan),
}

/// What a call needs once the lock is released.
struct Plan {
    model: String,
    user_prompt: String,
    anonymizer: Anonymizer,
    /// The seed's single decision, or a batch.
    shape: Shape,
    /// Tokens reserved for it this minute (settled with the reply's usage).
    reserved_tokens: u64,
    /// The deployment as the prompt names it (placeholders when anonymized).
    named: batch_parse::Named,
    /// A batch's deployments as the prompt names them (namespace, name); empty for one.
    seats: Vec<(String, String)>,
}

/// A decision parsed from a reply, the model that answered, the model requested (the cache's
/// key) and notices for the card.
type ParsedReply = (parse::Parsed, String, String, Vec<String>);

/// Where a deployment sits in the request that asks about it: the first of a batch (or
/// alone) counts the request against the budget; the others ride on it.
#[derive(Clone, Copy, Debug)]
struct Seat {
    first: bool,
    /// Deployments the request is expected to carry (spreads the budget's demand).
    size: usize,
    /// The minute's tokens are short: seconds until they are not.
    tokens_wait: Option<u64>,
    /// In a batch, whether the deployment's decision is at stake (a pending change, near its
    /// max): the budget is then paced (`budget::paced`), not rationed by need.
    urgent: Option<bool>,
}

impl Seat {
    const ALONE: Seat = Seat {
        first: true,
        size: 1,
        tokens_wait: None,
        urgent: None,
    };
}

impl fmt::Debug for LlmAdvisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmAdvisor")
            .field("endpoint", &self.client.endpoint().display)
            .field("models", &self.models)
            .field("anonymize", &self.anonymize)
            .field("daily_budget", &self.daily_budget)
            .field("prompt_version", &self.prompts.version)
            .field("state_path", &self.state_path)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl LlmAdvisor {
    /// The advisor for this configuration; `Ok(None)` when no key is configured (policy only,
    /// see [`no_llm_reason`]). `config_dir` holds `prompts/` overrides and anchors a relative
    /// `api_key_file`; `data_dir` holds the state file.
    pub fn from_config(
        llm: &LlmConfig,
        advisor: &AdvisorConfig,
        config_dir: Option<&Path>,
        data_dir: &Path,
    ) -> Result<Option<Self>, LlmSetupError> {
        Self::from_config_with_env(llm, advisor, config_dir, data_dir, &|k| {
            std::env::var(k).ok()
        })
    }

    /// As [`from_config`](Self::from_config), reading environment variables through `env`.
    pub fn from_config_with_env(
        llm: &LlmConfig,
        advisor: &AdvisorConfig,
        config_dir: Option<&Path>,
        data_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, LlmSetupError> {
        // A bad or insecure URL is worth saying even before a key exists.
        Endpoint::parse(&llm.base_url)?;
        match key::load(llm, config_dir, env)? {
            Some(k) => Self::new(llm, advisor, config_dir, data_dir, k).map(Some),
            None => Ok(None),
        }
    }

    /// The advisor with an explicit key.
    pub fn new(
        llm: &LlmConfig,
        advisor: &AdvisorConfig,
        config_dir: Option<&Path>,
        data_dir: &Path,
        key: SecretString,
    ) -> Result<Self, LlmSetupError> {
        let endpoint = Endpoint::parse(&llm.base_url)?;
        let anonymize = endpoint.anonymize(llm.anonymize);
        let prompts = Prompts::load(config_dir)
            .map_err(|(path, reason)| LlmSetupError::Prompt { path, reason })?;
        let (shared, saved, warnings) =
            SharedState::open(data_dir).map_err(LlmSetupError::State)?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let state_path = shared.path().to_path_buf();

        let mut models: Vec<String> = vec![];
        for m in std::iter::once(&llm.model).chain(&llm.fallback_models) {
            let m = m.trim();
            if !m.is_empty() && !models.iter().any(|x| x == m) {
                models.push(m.to_string());
            }
        }
        let mut cache = AdviceCache::new(advisor.cache_capacity, advisor.cache_ttl_seconds);
        for (k, v) in saved.cache {
            cache.put(k, v);
        }
        let inner = Inner {
            cache,
            limiter: CallLimiter::new(
                advisor.min_call_interval_seconds,
                saved.last_calls,
                saved.last_call_walls,
            ),
            budget: saved.budget,
            retired: saved.retired_models,
            memory: saved.memory,
            anonymizer: saved.anonymizer,
            limits: RateLimits::default(),
            backoff_until: None,
            cluster_now: 0,
            failing: None,
            sizing: Sizing::new(llm.context_tokens, llm.max_batch, llm.tokens_per_minute)
                .with_timeout(llm.timeout_seconds),
            tokens: TokenWindow::default(),
            section_chars: batch_size::FIRST_SECTION_CHARS,
        };
        let max_in_flight = llm
            .max_in_flight
            .unwrap_or_else(|| default_max_in_flight(endpoint.loopback))
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        tracing::info!(
            endpoint = %endpoint.display,
            models = ?models,
            anonymize,
            max_in_flight,
            prompt_version = %prompts.version,
            custom_prompts = ?prompts.overrides,
            "LLM advisor ready"
        );
        Ok(Self {
            client: ChatClient::new(llm, endpoint, key)?,
            prompts,
            models,
            anonymize,
            daily_budget: llm.daily_budget,
            interval_seconds: advisor.min_call_interval_seconds,
            history_in_prompt: llm.history_in_prompt,
            max_retry_wait: llm.max_retry_wait_seconds,
            consult_below: llm.consult_below_confidence,
            rules_cfg: advisor.clone(),
            state_path,
            shared: Mutex::new(shared),
            inner: Mutex::new(inner),
            wall_clock: Arc::new(|| chrono::Utc::now().timestamp()),
            in_flight: tokio::sync::Semaphore::new(max_in_flight),
            tokens_per_minute: llm.tokens_per_minute,
            max_tokens: llm.max_tokens,
            max_in_flight,
        })
    }

    /// Replace the wall clock used for the provider-day budget guard (tests, replays).
    pub fn with_wall_clock(
        mut self,
        clock: impl Fn() -> UnixSeconds + Send + Sync + 'static,
    ) -> Self {
        self.wall_clock = Arc::new(clock);
        self
    }

    /// Whether names leave the process as placeholders.
    pub fn anonymizes(&self) -> bool {
        self.anonymize
    }

    /// Where cache, limiter and budget state is kept.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// LLM requests left today (the smaller of the cluster-day and wall-day allowances).
    pub fn budget_remaining(&self) -> u32 {
        let st = self.lock();
        let mut b = st.budget.clone();
        b.roll(st.cluster_now, (self.wall_clock)());
        b.remaining(self.daily_budget)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on this process's state inside a transaction on the shared state, after
    /// taking in what other processes wrote; `f` says whether to write the result back.
    fn transact<R>(&self, f: impl FnOnce(&mut Inner) -> (R, bool)) -> Result<R, String> {
        blocking(|| {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            shared.transact(|loaded| {
                let mut st = self.lock();
                st.absorb(loaded);
                let closed = st.budget.closed.clone();
                let (out, write) = f(&mut st);
                // A closure pinned to its day (or lifted) must reach the others, spend or not.
                let write = write || st.budget.closed != closed;
                let snapshot = write.then(|| self.snapshot(&st));
                (out, snapshot)
            })
        })
    }

    /// Decide whether to call, with every process's budget and calls, and prepare the call.
    /// The spent budget is committed before the request is sent, so a crash cannot forget it.
    /// `fresh`: only an answer fresh in the cache stands in for a request, not the last one.
    fn plan(&self, inputs: &AdvisorInputs, fresh: bool) -> Next {
        let planned = self.transact(|st| {
            let next = self.plan_alone(st, inputs, fresh);
            let spent = matches!(next, Next::Call(_));
            (next, spent)
        });
        planned.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "LLM state unavailable; no request");
            Next::Answer(Err(fail(format!(
                "LLM state unavailable, so the daily budget cannot be checked: no request ({e})"
            ))))
        })
    }

    fn plan_locked(&self, st: &mut Inner, inputs: &AdvisorInputs, fresh: bool, seat: Seat) -> Next {
        let now = inputs.observed_at;
        let dep = inputs.key().to_string();
        st.cluster_now = now;
        st.budget.roll(now, (self.wall_clock)());

        let Some(model) = current_model(&self.models, &st.retired) else {
            return Next::Answer(Err(fail(format!(
                "no live model: {} retired",
                self.models.join(", ")
            ))));
        };
        let key = cache_key(inputs, &model, &self.prompts.version);
        let mem = st.memory.entry(dep.clone()).or_default();
        mem.observe(inputs);

        if let Some(hit) = st.cache.get(&key, now) {
            return Next::Answer(Ok(advice(hit, true, vec![])));
        }
        if !fresh
            && mem.last_key.as_deref() == Some(key.as_str())
            && let Some(last) = mem.last_answer.clone().filter(|a| a.created_at <= now)
        {
            // Unchanged inputs never cost a call: the last answer stands.
            let note = format!(
                "{REUSED_PREFIX} {} min ago; answer reused",
                (now - last.created_at) / 60
            );
            return Next::Answer(Ok(advice(last, true, vec![note])));
        }
        mem.wanted_at = Some(now);
        let score = self.need(inputs, mem);
        let last_failure = mem.last_failure.clone();

        if let Some(until) = st.backoff_until {
            let left = until.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                return Next::Answer(Err(fail(format!(
                    "429 rate limited, retry in {} s",
                    left.as_secs().max(1)
                ))));
            }
            st.backoff_until = None;
        }
        if let Some(f) = st.failing.as_ref().filter(|f| f.until > Instant::now()) {
            return Next::Answer(Err(fail(f.describe())));
        }

        if let Some(wait) = seat.tokens_wait {
            return Next::Answer(Err(fail(format!(
                "tokens-per-minute limit reached: next request in {}",
                human_wait(wait)
            ))));
        }
        // A seat after the first rides on the request its batch already counted.
        let remaining = st.budget.remaining(self.daily_budget) + u32::from(!seat.first);
        if let Some(closed) = &st.budget.closed {
            return Next::Answer(Err(fail(format!(
                "no LLM requests until 00:00 UTC: {}",
                closed.reason
            ))));
        }
        if remaining == 0 {
            return Next::Answer(Err(fail(format!(
                "daily budget spent ({}/{})",
                st.budget.used().min(self.daily_budget),
                self.daily_budget
            ))));
        }
        let window = 2 * self.interval_seconds.max(1) as i64;
        let wanting = st
            .memory
            .values()
            .filter(|m| m.wanted_at.is_some_and(|t| t <= now && now - t <= window))
            .count();
        let demand = budget::demand(wanting, now, self.interval_seconds) / seat.size.max(1) as f64;
        if let Some(urgent) = seat.urgent.filter(|_| seat.first) {
            let used = st.budget.used();
            if !budget::paced(used, self.daily_budget, now, urgent) {
                return Next::Answer(Err(fail(format!(
                    "budget paced ({used}/{} spent by {} UTC, ahead of an even day): saved for \
                     pending changes and deployments near their max",
                    self.daily_budget,
                    chrono::DateTime::from_timestamp(now, 0)
                        .map(|d| d.format("%H:%M").to_string())
                        .unwrap_or_default()
                ))));
            }
        } else if seat.urgent.is_none() && !budget::admit(remaining, demand, score) {
            return Next::Answer(Err(fail(format!(
                "budget tight ({remaining}/{} left today for {wanting} deployments): saved for \
                 deployments whose load moved or whose rules disagree",
                self.daily_budget
            ))));
        }

        if let Err(wait) = st.limiter.try_call(&dep, now, (self.wall_clock)()) {
            let mut reason = format!(
                "rate-limited: next call for this deployment in {}",
                human_wait(wait)
            );
            if let Some(f) = last_failure {
                reason.push_str(&format!(" (last call: {f})"));
            }
            return Next::Answer(Err(fail(reason)));
        }
        if seat.first {
            st.budget.spend();
        }

        let names = if self.anonymize {
            Names {
                namespace: st.anonymizer.namespace(&inputs.namespace),
                deployment: st.anonymizer.deployment(&inputs.name),
                hpa: inputs
                    .hpa
                    .as_ref()
                    .map(|h| st.anonymizer.hpa(&h.name, &inputs.name)),
            }
        } else {
            Names {
                namespace: sanitize::clean(&inputs.namespace),
                deployment: sanitize::clean(&inputs.name),
                hpa: inputs.hpa.as_ref().map(|h| sanitize::clean(&h.name)),
            }
        };
        let history = st
            .memory
            .get(&dep)
            .map(|m| m.render(self.history_in_prompt, now))
            .unwrap_or_default();
        Next::Call(Plan {
            model,
            user_prompt: self.prompts.render_user(
                inputs,
                &names,
                &history,
                &prompt::candidate_text(inputs, &super::policy::decide(inputs, &self.rules_cfg)),
            ),
            anonymizer: st.anonymizer.clone(),
            shape: Shape::Single,
            reserved_tokens: 0,
            named: batch_parse::Named {
                namespace: names.namespace,
                name: names.deployment,
            },
            seats: vec![],
        })
    }

    /// How much this deployment needs a call, 0 to 1: new to the LLM, its load or forecast
    /// moved since the last answer, or the policy wants a change.
    fn need(&self, inputs: &AdvisorInputs, mem: &DeploymentMemory) -> f64 {
        let Some(before) = &mem.last_answer_inputs else {
            return 1.0;
        };
        let moved = Observation::of(inputs).movement_since(before);
        let policy = super::policy::decide(inputs, &self.rules_cfg);
        let reference = super::policy::reference(inputs);
        let target = policy.decision.target_replicas;
        let disagree = if policy.change != crate::model::PolicyChange::Maintain {
            0.6 + 0.4 * (target.abs_diff(reference) as f64 / reference.max(1) as f64).min(1.0)
        } else {
            0.0
        };
        moved.max(disagree)
    }

    /// Count one more request (a retry, a fallback model) if everyone's budget allows.
    fn spend_one(&self) -> bool {
        let spent = self.transact(|st| {
            let now = st.cluster_now;
            st.budget.roll(now, (self.wall_clock)());
            if st.budget.remaining(self.daily_budget) == 0 {
                return (false, false);
            }
            st.budget.spend();
            (true, true)
        });
        spent.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "LLM state unavailable; no further request");
            false
        })
    }

    /// Give back a request counted by [`plan`](Self::plan) that was never sent.
    fn refund_one(&self) {
        if let Err(e) = self.transact(|st| {
            st.budget.refund();
            ((), true)
        }) {
            tracing::warn!(error = %e, "LLM state unavailable; an unsent request stays counted");
        }
    }

    fn finish(
        &self,
        inputs: &AdvisorInputs,
        plan: &Plan,
        outcome: Result<(client::Reply, String, Vec<String>), String>,
    ) -> Result<LlmAdvice, LlmFailure> {
        let parsed = outcome.and_then(|(reply, model, notices)| {
            let p = parse::parse(&reply.content, inputs)?;
            Ok((p, reply.model, model, notices))
        });
        self.finish_parsed(inputs, &plan.anonymizer, parsed)
    }

    /// A parsed decision (or why there is none) for `inputs`: scrubbed, names restored, into
    /// the cache and the deployment's memory. `parsed` holds the decision, the model that
    /// answered, the model requested (the cache's key) and notices for the card.
    fn finish_parsed(
        &self,
        inputs: &AdvisorInputs,
        anonymizer: &Anonymizer,
        parsed: Result<ParsedReply, String>,
    ) -> Result<LlmAdvice, LlmFailure> {
        let now = inputs.observed_at;
        let dep = inputs.key().to_string();
        let parsed = parsed.map(|(mut p, model, cache_model, notices)| {
            if model != cache_model {
                tracing::debug!(requested = %cache_model, answered = %model, "server renamed model");
            }
            // The card names the model that answered (the reply's `model`, the requested one
            // when a server leaves it out); the cache stays keyed on the requested one.
            tracing::debug!(step = ?p.step, "LLM reply parsed");
            // A model can echo a key it saw in an error or a prompt: the card never shows one.
            // Before names are restored, so a real name is never taken for a token.
            p.decision.reasoning = self.client.scrub(&p.decision.reasoning);
            for f in p.decision.factors_considered.iter_mut().chain(&mut p.notes) {
                *f = self.client.scrub(f);
            }
            if self.anonymize {
                let a = anonymizer;
                p.decision.reasoning = a.restore(&p.decision.reasoning);
                for f in &mut p.decision.factors_considered {
                    *f = a.restore(f);
                }
            }
            (p, model, cache_model, notices)
        });
        let mut st = self.lock();
        match parsed {
            Ok((p, model, cache_model, notices)) => {
                let key = cache_key(inputs, &cache_model, &self.prompts.version);
                let cached = CachedAdvice {
                    decision: p.decision,
                    model,
                    notes: p.notes,
                    created_at: now,
                };
                st.cache.put(key.clone(), cached.clone());
                st.memory
                    .entry(dep)
                    .or_default()
                    .remember(key, inputs, cached.clone());
                Ok(advice(cached, false, notices))
            }
            Err(reason) => {
                // Reasons quote replies (parse errors show the reply's start): redacted here once.
                let reason = self.client.scrub(&reason);
                tracing::warn!(deployment = %dep, reason = %reason, "LLM advice failed; rules answer");
                st.memory.entry(dep).or_default().last_failure = Some(reason.clone());
                Err(fail(reason))
            }
        }
    }

    /// What the shared state should hold now. Deployments idle for a week and calls older
    /// than the interval are left out, so the state does not grow with every deployment ever
    /// seen.
    fn snapshot(&self, st: &Inner) -> state::Persisted {
        let now = st.cluster_now;
        let wall = (self.wall_clock)();
        let interval = self.interval_seconds as i64;
        state::Persisted {
            version: 0,
            cache: st.cache.entries(),
            last_calls: st
                .limiter
                .last_calls()
                .iter()
                .filter(|(_, t)| now - **t < interval)
                .map(|(k, t)| (k.clone(), *t))
                .collect(),
            last_call_walls: st
                .limiter
                .last_walls()
                .iter()
                .filter(|(_, t)| wall - **t < interval)
                .map(|(k, t)| (k.clone(), *t))
                .collect(),
            budget: st.budget.clone(),
            retired_models: st.retired.clone(),
            memory: st
                .memory
                .iter()
                .filter(|(_, m)| m.last_active().is_some_and(|t| now - t < FORGET_AFTER))
                .map(|(k, m)| (k.clone(), m.clone()))
                .collect(),
            anonymizer: st.anonymizer.clone(),
        }
    }

    /// Merge this process's answers and memory into the shared state; a failure is logged,
    /// never fatal: the next write carries them too.
    fn persist(&self) {
        if let Err(e) = self.transact(|_| ((), true)) {
            tracing::warn!(error = %e, "cannot save LLM state");
        }
    }
}

#[async_trait]
impl LlmBackend for LlmAdvisor {
    async fn advise(&self, inputs: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure> {
        self.ask(inputs, false).await
    }

    async fn advise_fresh(&self, inputs: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure> {
        self.ask(inputs, true).await
    }

    async fn advise_many(&self, asks: &[AdvisorInputs]) -> Vec<Result<LlmAdvice, LlmFailure>> {
        let out = Mutex::new(vec![None; asks.len()]);
        self.ask_each(asks, &|answers| {
            if let Ok(mut out) = out.lock() {
                for (i, a) in answers {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Some(a);
                    }
                }
            }
        })
        .await;
        out.into_inner()
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(fail("no answer was planned".into()))))
            .collect()
    }

    async fn advise_each(&self, asks: &[AdvisorInputs], landed: super::backend::Landed<'_>) {
        self.ask_each(asks, landed).await;
    }

    fn reviewed_at(&self, inputs: &AdvisorInputs) -> Option<UnixSeconds> {
        self.latest_review(inputs).map(|a| a.reviewed_at)
    }

    fn latest_review(&self, inputs: &AdvisorInputs) -> Option<LlmAdvice> {
        let st = self.lock();
        let mem = st.memory.get(&inputs.key().to_string())?;
        let last = mem.last_answer.clone()?;
        (last.created_at <= inputs.observed_at).then(|| advice(last, true, vec![]))
    }

    fn stored_review(&self, inputs: &AdvisorInputs) -> Option<LlmAdvice> {
        self.last_review(inputs)
    }

    fn consult_below_confidence(&self) -> f64 {
        self.consult_below
    }

    fn status(&self) -> String {
        self.status_line()
    }
}

impl LlmAdvisor {
    async fn ask(&self, inputs: &AdvisorInputs, fresh: bool) -> Result<LlmAdvice, LlmFailure> {
        let plan = match self.plan(inputs, fresh) {
            Next::Call(plan) => plan,
            Next::Answer(answer) => return answer,
        };
        // Wait for a slot at the endpoint: a one-slot local server given every deployment at
        // once queues them until they time out, each one spending budget.
        let _permit = self.in_flight.acquire().await;
        let failing = self
            .lock()
            .failing
            .clone()
            .filter(|f| f.until > Instant::now());
        if let Some(f) = failing {
            // The endpoint started failing while this one waited: not sent, not counted.
            self.refund_one();
            return Err(fail(f.describe()));
        }
        let outcome = self.request(&plan).await;
        let result = self.finish(inputs, &plan, outcome);
        self.persist();
        result
    }
}

/// Run `f`, which may wait on the disk (an fsync, another process's transaction), telling a
/// multi-threaded tokio runtime first so its other tasks move to another worker meanwhile.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn current_model(models: &[String], retired: &[String]) -> Option<String> {
    models.iter().find(|m| !retired.contains(m)).cloned()
}

/// How the note on a reused answer begins (see [`crate::advisor::note_label`]).
pub const REUSED_PREFIX: &str = "inputs unchanged since the LLM answered";

fn advice(c: CachedAdvice, cached: bool, mut extra: Vec<String>) -> LlmAdvice {
    let mut notes = c.notes;
    notes.append(&mut extra);
    LlmAdvice {
        decision: c.decision,
        model: c.model,
        cached,
        reviewed_at: c.created_at,
        notes,
    }
}

fn fail(reason: String) -> LlmFailure {
    LlmFailure { reason }
}

/// "45 s", "4 min".
fn human_wait(seconds: u64) -> String {
    if seconds < 90 {
        format!("{seconds} s")
    } else {
        format!("{} min", seconds.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::request::failing_backoff;
    use super::*;

    #[test]
    fn failures_back_off_exponentially_up_to_a_cap() {
        let secs: Vec<u64> = [1, 2, 3, 4, 5, 8, 40, u32::MAX]
            .iter()
            .map(|&n| failing_backoff(n).as_secs())
            .collect();
        assert_eq!(secs, [0, 5, 10, 20, 40, 300, 300, 300]);
        assert_eq!(
            (default_max_in_flight(true), default_max_in_flight(false)),
            (1, 4)
        );
        let f = Failing {
            count: 5,
            kind: "timeout",
            until: Instant::now() + Duration::from_millis(40_500),
        };
        assert_eq!(
            f.describe(),
            "LLM failing: 5 timeouts in a row, next try in 40 s"
        );
    }
}
