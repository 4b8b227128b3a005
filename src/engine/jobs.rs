//! Writes (and undo) the user asks for, run off the engine's loop. (Backtests are CPU work:
//! they run on the worker pool, `dispatch.rs`.)

use tokio::task::JoinSet;

use super::messages::{ActionReport, EngineOptions};
use super::state::Done;
use crate::actions::{ActionError, Intent, Plan, plan};

/// Journal entries the journal pane shows.
pub(super) const JOURNAL_VIEW_ENTRIES: usize = 200;

pub(super) enum ActionJob {
    Execute(Box<Plan>),
    Undo,
}

/// Run a write off the loop; its report (and a re-asked plan after a 409) comes back as `Done`.
pub(super) fn start_action(work: &mut JoinSet<Done>, opts: &EngineOptions, job: ActionJob) {
    let Some(actions) = opts.actions.clone() else {
        work.spawn(async {
            Done::Action(
                ActionReport {
                    ok: false,
                    message: "this session cannot write to the cluster".into(),
                },
                None,
            )
        });
        return;
    };
    work.spawn(async move {
        let (result, original) = match job {
            ActionJob::Execute(plan) => {
                let original = (*plan).clone();
                (actions.execute(*plan, false).await, Some(original))
            }
            ActionJob::Undo => (actions.undo_last().await, None),
        };
        match result {
            Ok(done) => {
                let what = done.plan.describe().join("; ");
                let verb = if done.plan.intent == Intent::Undo {
                    "undone"
                } else {
                    "done"
                };
                let note = done.note.map_or(String::new(), |n| format!(" ({n})"));
                Done::Action(
                    ActionReport {
                        ok: note.is_empty(),
                        message: format!("{verb}: {what}{note}"),
                    },
                    None,
                )
            }
            Err(ActionError::Conflict { reason, fresh }) => {
                let again = original
                    .as_ref()
                    .zip(fresh.as_deref())
                    .and_then(|(p, f)| plan::replan(p, f));
                let message = plan::conflict_message(&reason, original.as_ref(), again.as_ref());
                Done::Action(ActionReport { ok: false, message }, again.map(Box::new))
            }
            Err(e) => Done::Action(
                ActionReport {
                    ok: false,
                    message: e.to_string(),
                },
                None,
            ),
        }
    });
}
