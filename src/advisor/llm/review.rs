//! The deployment's stored review (issue 13, "ask only when it matters"): the answer the LLM
//! last gave for inputs in today's cache buckets, from the deployment's memory (its last
//! answer) or the cache (the answer stored for the same key), of any age: the TTL bounds
//! what may stand in for a request when the LLM is asked, not a review that stands because
//! the policy confidently proposes no change. Looking it up
//! makes no request and spends no budget; it takes in what other processes on the data dir
//! wrote and records today's observation for the prompt's history.

use super::cache::cache_key;
use super::{LlmAdvice, LlmAdvisor, advice, current_model};
use crate::model::AdvisorInputs;

impl LlmAdvisor {
    pub(super) fn last_review(&self, inputs: &AdvisorInputs) -> Option<LlmAdvice> {
        let now = inputs.observed_at;
        let found = self.transact(|st| {
            st.cluster_now = now;
            let Some(model) = current_model(&self.models, &st.retired) else {
                return (None, false);
            };
            let key = cache_key(inputs, &model, &self.prompts.version);
            let mem = st.memory.entry(inputs.key().to_string()).or_default();
            mem.observe(inputs);
            let last = mem
                .last_answer
                .clone()
                .filter(|a| mem.last_key.as_deref() == Some(key.as_str()) && a.created_at <= now);
            let review = last.or_else(|| st.cache.stored(&key, now));
            (review.map(|r| advice(r, true, vec![])), false)
        });
        found.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "LLM state unavailable; no stored review");
            None
        })
    }
}
