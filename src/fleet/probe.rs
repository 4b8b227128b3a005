//! One task per context, each under its own timeout, each answer sent as it comes: a context
//! that hangs or refuses never holds up the others, and the screen fills in row by row.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::reason;
use super::row::{Answer, Unreachable};

/// Each probe gives up after this long ("timeout" on its row): a few seconds, so a context
/// that hangs is told apart quickly from one that is merely slow to list.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How the fleet learns about one context (the binary's: connect, one snapshot, summarise).
pub trait Probe: Send + Sync {
    fn probe(&self, context: String) -> BoxFuture<'static, Result<Answer, Unreachable>>;
}

/// One context's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Probed {
    /// The round it answers (`Board::start_round`): answers of an older round are dropped.
    pub round: u64,
    pub context: String,
    pub result: Result<Answer, Unreachable>,
    pub took: Duration,
}

/// The probes of one round; dropping it stops those still running.
#[derive(Debug, Default)]
pub struct Round {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Round {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Round {
    /// Probe each of `contexts` in its own task; a probe that takes longer than `timeout`
    /// answers "timeout". Each answer goes to `answers` as soon as it is known.
    pub fn start(
        probe: Arc<dyn Probe>,
        round: u64,
        contexts: Vec<String>,
        timeout: Duration,
        answers: UnboundedSender<Probed>,
    ) -> Self {
        let tasks = contexts
            .into_iter()
            .map(|context| {
                let (probe, answers) = (probe.clone(), answers.clone());
                tokio::spawn(async move {
                    let started = Instant::now();
                    let result = tokio::time::timeout(timeout, probe.probe(context.clone()))
                        .await
                        .unwrap_or_else(|_| Err(reason::timed_out(timeout)));
                    let _ = answers.send(Probed {
                        round,
                        context,
                        result,
                        took: started.elapsed(),
                    });
                })
            })
            .collect();
        Self { tasks }
    }

    /// Every probe has answered (or was stopped).
    pub fn is_done(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::row::{LlmState, Reason, Summary};

    /// "slow" never answers, "down" fails at once, the rest answer with their name's length.
    struct Fake;

    impl Probe for Fake {
        fn probe(&self, context: String) -> BoxFuture<'static, Result<Answer, Unreachable>> {
            Box::pin(async move {
                match context.as_str() {
                    "slow" => std::future::pending().await,
                    "down" => Err(Unreachable {
                        reason: Reason::Refused,
                        detail: "connection refused".into(),
                    }),
                    name => Ok(Answer {
                        summary: Summary {
                            deployments: name.len(),
                            at_max: 0,
                            pending: 0,
                            savings_replica_hours_per_day: None,
                            llm: LlmState::Off("off".into()),
                        },
                        no_metrics: None,
                    }),
                }
            })
        }
    }

    #[tokio::test]
    async fn a_hanging_context_times_out_without_holding_up_the_others() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let contexts = ["slow", "down", "prod"].map(String::from).to_vec();
        let round = Round::start(Arc::new(Fake), 7, contexts, Duration::from_millis(300), tx);
        let first = rx.recv().await.expect("an answer");
        let second = rx.recv().await.expect("an answer");
        let mut quick = [first.context.clone(), second.context.clone()];
        quick.sort();
        assert_eq!(quick, ["down", "prod"], "both before the hanging one");
        assert!(first.took < Duration::from_millis(300));
        let last = rx.recv().await.expect("the slow one times out");
        assert_eq!(last.context, "slow");
        assert_eq!(last.round, 7);
        let err = last.result.expect_err("timeout");
        assert_eq!(err.reason, Reason::Timeout);
        assert!(last.took >= Duration::from_millis(300));
        tokio::task::yield_now().await;
        assert!(round.is_done() || rx.is_empty());
    }
}
