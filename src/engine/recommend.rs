//! Recommendations due go out together (the LLM batches them), off the engine's loop; each
//! card comes back to the loop as soon as its request answers (`Landed`), so a fleet's first
//! cards do not wait for the slowest batch.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::first_view::FirstView;
use super::messages::Update;
use super::state::Done;
use crate::advisor::Advisor;
use crate::model::{AdvisorInputs, DeploymentKey, Recommendation};

/// How long recommendations asked for between polls gather before they go out together
/// (forecasts land one by one; the LLM carries several deployments per request).
const GATHER: Duration = Duration::from_millis(200);

/// Cards made, and deployments whose recommendation failed (why), handed back to the loop.
pub(super) type Landed = (Vec<Recommendation>, Vec<(DeploymentKey, String)>);

pub(super) fn gather_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + GATHER
}

/// Recommend `due` together (one `recommend_each`: the LLM batches them), off the loop. The
/// cards go to `landed` as each request answers; a panic ends the task with the deployments
/// not yet landed retried one by one, so the failure names its deployment.
pub(super) fn start_recommendations(
    work: &mut JoinSet<Done>,
    advisor: &Advisor,
    due: Vec<AdvisorInputs>,
    landed: &mpsc::UnboundedSender<Landed>,
) {
    if due.is_empty() {
        return;
    }
    let advisor = advisor.clone();
    let landed = landed.clone();
    work.spawn(async move {
        let (cards_tx, mut cards) = mpsc::unbounded_channel::<Vec<Recommendation>>();
        let batch = due.clone();
        let all = advisor.clone();
        // In a task of its own, so a panic comes back as a JoinError (the JoinSet's own error
        // would not say which deployment it was). Its sender drops with it, panic or not.
        let task = tokio::spawn(async move {
            all.recommend_each(&batch, &|made| {
                let _ = cards_tx.send(made.into_iter().map(|(_, r)| r).collect());
            })
            .await;
        });
        let mut waiting: HashSet<DeploymentKey> = due.iter().map(AdvisorInputs::key).collect();
        while let Some(recs) = cards.recv().await {
            for r in &recs {
                waiting.remove(&r.key());
            }
            let _ = landed.send((recs, Vec::new()));
        }
        let Err(e) = task.await else {
            return Done::Recommendations(Vec::new(), Vec::new());
        };
        let left: Vec<AdvisorInputs> = due
            .into_iter()
            .filter(|i| waiting.contains(&i.key()))
            .collect();
        if left.len() <= 1 {
            let reason = join_error_reason(e);
            let failed = left.iter().map(|i| (i.key(), reason.clone())).collect();
            return Done::Recommendations(Vec::new(), failed);
        }
        // One of them panicked: each alone now, so the card says which.
        let (mut recs, mut failed) = (Vec::new(), Vec::new());
        for inputs in left {
            let key = inputs.key();
            let advisor = advisor.clone();
            match tokio::spawn(async move { advisor.recommend(&inputs).await }).await {
                Ok(r) => recs.push(r),
                Err(e) => failed.push((key, join_error_reason(e))),
            }
        }
        Done::Recommendations(recs, failed)
    });
}

/// Cards that landed, and failures, leave `in_flight` and go to the faces; then the LLM's
/// status (its budget moved).
pub(super) fn land(
    (recs, failed): Landed,
    in_flight: &mut HashSet<(DeploymentKey, bool)>,
    updates: &mpsc::UnboundedSender<Update>,
    advisor: &Advisor,
    first_view: &mut FirstView,
) {
    for r in recs {
        in_flight.remove(&(r.key(), true));
        let r = Arc::new(r);
        let _ = updates.send(Update::Recommendation(r.clone()));
        first_view.recommended(&r, updates);
    }
    for (key, why) in failed {
        // Free the slot, or this deployment would never be recommended again;
        // `recommended_at` stays, so the retry comes next cycle.
        in_flight.remove(&(key.clone(), true));
        tracing::error!("recommendation for {key} failed: {why}");
        let _ = updates.send(Update::RecommendationFailed(key, why));
    }
    let _ = updates.send(Update::LlmStatus(advisor.llm_status()));
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
