//! Recommendations due go out together (the LLM batches them), off the engine's loop.

use std::time::Duration;

use tokio::task::JoinSet;

use super::state::Done;
use crate::advisor::Advisor;
use crate::model::AdvisorInputs;

/// How long recommendations asked for between polls gather before they go out together
/// (forecasts land one by one; the LLM carries several deployments per request).
const GATHER: Duration = Duration::from_millis(200);

pub(super) fn gather_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + GATHER
}

/// Recommend `due` together (one `recommend_many`: the LLM batches them), off the loop.
pub(super) fn start_recommendations(
    work: &mut JoinSet<Done>,
    advisor: &Advisor,
    due: Vec<AdvisorInputs>,
) {
    if due.is_empty() {
        return;
    }
    let advisor = advisor.clone();
    work.spawn(async move {
        // In a task of its own, so a panic comes back as a JoinError (the JoinSet's own error
        // would not say which deployment it was).
        let batch = due.clone();
        let all = advisor.clone();
        match tokio::spawn(async move { all.recommend_many(&batch).await }).await {
            Ok(recs) => Done::Recommendations(recs, Vec::new()),
            Err(e) if due.len() == 1 => {
                let key = due[0].key();
                Done::Recommendations(Vec::new(), vec![(key, join_error_reason(e))])
            }
            Err(_) => {
                // One of them panicked: each alone now, so the card says which.
                let (mut recs, mut failed) = (Vec::new(), Vec::new());
                for inputs in due {
                    let key = inputs.key();
                    let advisor = advisor.clone();
                    match tokio::spawn(async move { advisor.recommend(&inputs).await }).await {
                        Ok(r) => recs.push(r),
                        Err(e) => failed.push((key, join_error_reason(e))),
                    }
                }
                Done::Recommendations(recs, failed)
            }
        }
    });
}

/// What a failed task says: its panic message when it panicked.
fn join_error_reason(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return format!("the task stopped: {e}");
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("the advisor panicked: {message}")
}
