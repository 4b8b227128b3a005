//! The fleet's rows as answers come in: one per context in the kubeconfig's order, each
//! probing until its answer, refreshed in rounds. The open context is not probed (its engine
//! knows more than one snapshot); its face fills that row from its own data.

use super::probe::Probed;
use super::row::{ContextRow, Reach};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Board {
    rows: Vec<ContextRow>,
    /// The context the face has open (not probed).
    current: String,
    round: u64,
}

impl Board {
    /// Every context of the kubeconfig (the open one alone when there are none: the demo).
    pub fn new(contexts: &[String], current: &str) -> Self {
        let mut names: Vec<String> = contexts.to_vec();
        if !current.is_empty() && !names.iter().any(|c| c == current) {
            names.insert(0, current.to_string());
        }
        let rows = names
            .into_iter()
            .map(|c| {
                let mut row = ContextRow::probing(c);
                if row.context == current {
                    (row.reach, row.refreshing) = (Reach::Ok, false);
                }
                row
            })
            .collect();
        Self {
            rows,
            current: current.to_string(),
            round: 0,
        }
    }

    pub fn rows(&self) -> &[ContextRow] {
        &self.rows
    }

    pub fn current(&self) -> &str {
        &self.current
    }

    pub fn round(&self) -> u64 {
        self.round
    }

    /// A new round: every other context is marked refreshing (its last answer stays shown).
    /// Returns the round's number and the contexts to probe.
    pub fn start_round(&mut self) -> (u64, Vec<String>) {
        self.round += 1;
        let mut probe = Vec::with_capacity(self.rows.len());
        for row in self.rows.iter_mut().filter(|r| r.context != self.current) {
            row.refreshing = true;
            probe.push(row.context.clone());
        }
        (self.round, probe)
    }

    /// Fold one answer in; false when it is for an older round or an unknown context.
    pub fn fold(&mut self, answer: Probed) -> bool {
        if answer.round != self.round {
            return false;
        }
        let Some(row) = self.rows.iter_mut().find(|r| r.context == answer.context) else {
            return false;
        };
        row.refreshing = false;
        row.answered_ms = Some(answer.took.as_millis() as u64);
        match answer.result {
            Ok(answer) => {
                row.reach = match answer.no_metrics {
                    Some(detail) => Reach::NoMetrics { detail },
                    None => Reach::Ok,
                };
                row.summary = Some(answer.summary);
            }
            Err(why) => {
                row.reach = Reach::Unreachable(why);
                row.summary = None;
            }
        }
        true
    }

    /// Every probed row has its answer for this round.
    pub fn all_answered(&self) -> bool {
        self.rows.iter().all(|r| !r.refreshing)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::fleet::row::{Answer, LlmState, Reason, Summary, Unreachable};

    fn answer(round: u64, context: &str, deployments: usize) -> Probed {
        Probed {
            round,
            context: context.into(),
            result: Ok(Answer {
                summary: Summary {
                    deployments,
                    at_max: 1,
                    pending: 2,
                    savings_replica_hours_per_day: None,
                    llm: LlmState::Off("no key: policy only".into()),
                },
                no_metrics: None,
            }),
            took: Duration::from_millis(12),
        }
    }

    #[test]
    fn rows_fill_in_as_answers_come_and_old_rounds_are_dropped() {
        let contexts = ["a", "b", "c"].map(String::from);
        let mut board = Board::new(&contexts, "a");
        let (round, probe) = board.start_round();
        assert_eq!(probe, ["b", "c"], "the open context is not probed");
        assert_eq!(board.rows()[1].reach, Reach::Probing);
        assert!(!board.all_answered());
        assert!(board.fold(answer(round, "b", 5)));
        assert_eq!(board.rows()[1].reach, Reach::Ok);
        assert_eq!(
            board.rows()[1].summary.as_ref().map(|s| s.deployments),
            Some(5)
        );
        assert_eq!(board.rows()[1].answered_ms, Some(12));
        assert!(!board.all_answered());
        let down = Probed {
            result: Err(Unreachable {
                reason: Reason::Refused,
                detail: "connection refused".into(),
            }),
            ..answer(round, "c", 0)
        };
        assert!(board.fold(down));
        assert!(board.all_answered());
        assert_eq!(board.rows()[2].reach.label(), "refused");
        assert_eq!(board.rows()[2].detail(), Some("connection refused"));
        // A refresh keeps what b said until b answers again; a late answer of round 1 is not
        // taken for round 2.
        let (round2, _) = board.start_round();
        assert!(board.rows()[1].refreshing);
        assert_eq!(
            board.rows()[1].summary.as_ref().map(|s| s.deployments),
            Some(5)
        );
        assert!(!board.fold(answer(round, "b", 9)));
        assert!(board.fold(answer(round2, "b", 9)));
        assert_eq!(
            board.rows()[1].summary.as_ref().map(|s| s.deployments),
            Some(9)
        );
    }

    #[test]
    fn without_contexts_the_open_cluster_is_the_one_row() {
        let board = Board::new(&[], "demo");
        assert_eq!(board.rows().len(), 1);
        assert_eq!(board.rows()[0].context, "demo");
        assert!(board.all_answered());
    }
}
