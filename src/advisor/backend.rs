//! What the advisor asks of an LLM: one deployment's advice, or why there is none. The LLM
//! advisor (`llm`) implements it; tests put stubs behind it.

use async_trait::async_trait;

use crate::model::{AdvisorInputs, Decision, UnixSeconds};

/// What an LLM answered for one deployment, parsed but not yet validated.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmAdvice {
    pub decision: Decision,
    pub model: String,
    pub cached: bool,
    /// Cluster time the answer was made at.
    pub reviewed_at: UnixSeconds,
    /// What parsing had to repair (e.g. "parsed from a fenced block").
    pub notes: Vec<String>,
}

/// Why the LLM gave no advice; shown on the card the rules produce instead.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct LlmFailure {
    pub reason: String,
}

/// Where a fleet's answers go as they land (`LlmBackend::advise_each`): the asks' indices with
/// their answers, one request's worth at a time.
pub type Landed<'a> = &'a (dyn Fn(Vec<(usize, Result<LlmAdvice, LlmFailure>)>) + Send + Sync);

/// An LLM behind its cache, limiter and budget.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// Advice for these inputs: an answer for the same bucketed inputs is reused when there is
    /// one (the cache, or the last answer while the inputs stay unchanged), else a request.
    async fn advise(&self, inputs: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure>;
    /// Advice the advisor consults for (a change, low confidence): only an answer still fresh
    /// in the cache stands in for a request, never an older last answer.
    async fn advise_fresh(&self, inputs: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure> {
        self.advise(inputs).await
    }
    /// Fresh advice (as [`advise_fresh`](Self::advise_fresh)) for each of `asks`, in order:
    /// the LLM advisor carries several in one request; by default one request each. Earlier
    /// asks are served first when the budget runs short.
    async fn advise_many(&self, asks: &[AdvisorInputs]) -> Vec<Result<LlmAdvice, LlmFailure>> {
        let mut out = Vec::with_capacity(asks.len());
        for inputs in asks {
            out.push(self.advise_fresh(inputs).await);
        }
        out
    }
    /// [`advise_many`](Self::advise_many), each answer handed to `landed` as soon as it is
    /// known (a request's answers together), so a fleet's first cards need not wait for its
    /// last request. Every ask is answered exactly once. By default all at the end.
    async fn advise_each(&self, asks: &[AdvisorInputs], landed: Landed<'_>) {
        let answers = self.advise_many(asks).await;
        landed(answers.into_iter().enumerate().collect());
    }
    /// When the deployment's last review was made (cluster time), whatever its inputs; no
    /// request. Orders the asks by staleness when the budget is short.
    fn reviewed_at(&self, _inputs: &AdvisorInputs) -> Option<UnixSeconds> {
        None
    }
    /// The deployment's last review whatever its inputs; no request.
    fn latest_review(&self, _inputs: &AdvisorInputs) -> Option<LlmAdvice> {
        None
    }
    /// The deployment's last review whose cache bucket matches these inputs; no request.
    fn stored_review(&self, _inputs: &AdvisorInputs) -> Option<LlmAdvice> {
        None
    }
    /// Below this policy confidence the LLM is consulted (`llm.consult_below_confidence`).
    fn consult_below_confidence(&self) -> f64 {
        crate::config::LlmConfig::default().consult_below_confidence
    }
    /// One short line for the status bar, e.g. "LLM openai/gpt-oss-20b · 812/1000 today".
    fn status(&self) -> String;
}
