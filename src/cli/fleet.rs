//! `ai4k8s fleet [-o json]`: every kubeconfig context probed at once, each in its own task under
//! the TUI's timeout, one row each in the kubeconfig's order — the fleet screen's rows, headless.

use std::sync::Arc;

use super::output::{Failure, Output, print_stdout};
use super::setup::Setup;
use super::wiring::fleet_probe;
use crate::cluster::kube;
use crate::fleet::{Board, ContextRow, PROBE_TIMEOUT, Probe, Round};

pub async fn run(setup: &Setup, output: Output) -> Result<(), Failure> {
    let (contexts, _) = kube::contexts(setup.flags.kubeconfig.as_deref())
        .map_err(|e| Failure::bad_input(format!("fleet: {e}")))?;
    if contexts.is_empty() {
        return Err(Failure::bad_input("fleet: the kubeconfig has no contexts"));
    }
    // No context is open here: every one is probed.
    let mut board = Board::new(&contexts, "");
    let (round, probe_these) = board.start_round();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let probe: Arc<dyn Probe> = Arc::new(fleet_probe(setup, PROBE_TIMEOUT));
    let _round = Round::start(probe, round, probe_these, PROBE_TIMEOUT, tx);
    while !board.all_answered() {
        match rx.recv().await {
            Some(answer) => {
                board.fold(answer);
            }
            None => break,
        }
    }
    let text = match output {
        Output::Json => serde_json::to_string_pretty(board.rows())?,
        Output::Text => text(board.rows()),
    };
    print_stdout(&text)
}

/// One line per context, aligned like `kubectl get`.
fn text(rows: &[ContextRow]) -> String {
    let dash = || "—".to_string();
    let mut lines = vec![
        [
            "CONTEXT", "REACH", "DEPL", "AT MAX", "PENDING", "SAVE/D", "LLM", "DETAIL",
        ]
        .map(String::from),
    ];
    for r in rows {
        let s = r.summary.as_ref();
        let n = |f: fn(&crate::fleet::Summary) -> usize| s.map_or_else(dash, |s| f(s).to_string());
        lines.push([
            r.context.clone(),
            r.reach.label().to_string(),
            n(|s| s.deployments),
            n(|s| s.at_max),
            n(|s| s.pending),
            s.and_then(|s| s.savings_replica_hours_per_day)
                .map_or_else(dash, |h| format!("{h:+.1}")),
            s.map_or_else(dash, |s| s.llm.label().to_string()),
            r.detail().unwrap_or("").to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|l| {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
