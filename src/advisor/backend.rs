//! What the advisor asks of an LLM: one deployment's advice, or why there is none. The LLM
//! advisor (`llm`) implements it; tests put stubs behind it.

use async_trait::async_trait;

use crate::model::{AdvisorInputs, Decision};

/// What an LLM answered for one deployment, parsed but not yet validated.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmAdvice {
    pub decision: Decision,
    pub model: String,
    pub cached: bool,
    /// What parsing had to repair (e.g. "parsed from a fenced block").
    pub notes: Vec<String>,
}

/// Why the LLM gave no advice; shown on the card the rules produce instead.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct LlmFailure {
    pub reason: String,
}

/// An LLM behind its cache, limiter and budget.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    async fn advise(&self, inputs: &AdvisorInputs) -> Result<LlmAdvice, LlmFailure>;
    /// One short line for the status bar, e.g. "LLM openai/gpt-oss-20b · 812/1000 today".
    fn status(&self) -> String;
}
