//! What the autopilot counts, rendered in the Prometheus text exposition format (0.0.4): the
//! handful of families a controller's dashboard needs, without a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use super::leader::Leadership;

#[derive(Debug, Default)]
struct Counts {
    decisions: BTreeMap<&'static str, u64>,
    writes: BTreeMap<&'static str, u64>,
    refusals: BTreeMap<&'static str, u64>,
    llm_answers: u64,
    llm_budget_left: Option<u64>,
    /// The first cluster snapshot arrived.
    synced: bool,
}

/// Counters shared by the loop (which counts) and the HTTP endpoint (which renders).
#[derive(Clone, Debug)]
pub struct Metrics {
    counts: Arc<Mutex<Counts>>,
    leadership: Leadership,
}

impl Metrics {
    pub fn new(leadership: Leadership) -> Self {
        Self {
            counts: Arc::default(),
            leadership,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A recommendation arrived, of this kind ("floor", "replicas", "maintain"…).
    pub fn decision(&self, kind: &'static str, from_llm: bool) {
        let mut c = self.lock();
        *c.decisions.entry(kind).or_default() += 1;
        if from_llm {
            c.llm_answers += 1;
        }
    }

    /// A change was written ("applied") or journalled as a dry run ("dry_run").
    pub fn write(&self, outcome: &'static str) {
        *self.lock().writes.entry(outcome).or_default() += 1;
    }

    /// A recommendation was not applied, for this reason.
    pub fn refusal(&self, reason: &'static str) {
        *self.lock().refusals.entry(reason).or_default() += 1;
    }

    /// The advisor's status line: LLM requests left today, when it says ("… 812/1000 left today").
    pub fn llm_status(&self, line: &str) {
        let left = line
            .split(" left today")
            .next()
            .filter(|_| line.contains(" left today"))
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|s| s.split('/').next())
            .and_then(|n| n.parse().ok());
        self.lock().llm_budget_left = left;
    }

    pub fn synced(&self) {
        self.lock().synced = true;
    }

    /// Ready: the first cluster sync is in and the election has had an answer.
    pub fn ready(&self) -> Result<(), &'static str> {
        if !self.lock().synced {
            return Err("waiting for the first cluster sync");
        }
        if !self.leadership.known() {
            return Err("leader state not known yet");
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        let c = self.lock();
        let mut out = String::new();
        family(
            &mut out,
            "ai4k8s_autopilot_decisions_total",
            "Recommendations the autopilot received, by kind of change.",
            "counter",
            c.decisions
                .iter()
                .map(|(k, v)| (Some(("kind", *k)), *v as f64)),
        );
        family(
            &mut out,
            "ai4k8s_autopilot_writes_total",
            "Changes made (applied) or journalled without writing (dry_run).",
            "counter",
            c.writes
                .iter()
                .map(|(k, v)| (Some(("outcome", *k)), *v as f64)),
        );
        family(
            &mut out,
            "ai4k8s_autopilot_refusals_total",
            "Recommendations not applied, by reason.",
            "counter",
            c.refusals
                .iter()
                .map(|(k, v)| (Some(("reason", *k)), *v as f64)),
        );
        family(
            &mut out,
            "ai4k8s_autopilot_llm_answers_total",
            "Recommendations the LLM made (requests or cached answers).",
            "counter",
            [(None, c.llm_answers as f64)].into_iter(),
        );
        if let Some(left) = c.llm_budget_left {
            family(
                &mut out,
                "ai4k8s_autopilot_llm_budget_remaining",
                "LLM requests left in today's budget.",
                "gauge",
                [(None, left as f64)].into_iter(),
            );
        }
        family(
            &mut out,
            "ai4k8s_autopilot_leader",
            "1 while this replica holds the lease and may write.",
            "gauge",
            [(None, f64::from(u8::from(self.leadership.may_write())))].into_iter(),
        );
        family(
            &mut out,
            "ai4k8s_autopilot_leader_transitions_total",
            "Times this replica became the leader.",
            "counter",
            [(None, self.leadership.transitions() as f64)].into_iter(),
        );
        family(
            &mut out,
            "ai4k8s_autopilot_ready",
            "1 once the first cluster sync and the leader state are known.",
            "gauge",
            [(
                None,
                f64::from(u8::from(c.synced && self.leadership.known())),
            )]
            .into_iter(),
        );
        out
    }
}

/// Label values escaped as the text format wants: backslash, quote, newline.
fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn family<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    kind: &str,
    samples: impl Iterator<Item = (Option<(&'a str, &'a str)>, f64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (label, value) in samples {
        match label {
            Some((k, v)) => {
                let _ = writeln!(out, "{name}{{{k}=\"{}\"}} {value}", escape(v));
            }
            None => {
                let _ = writeln!(out, "{name} {value}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text_and_readiness_waits_for_both() {
        let m = Metrics::new(Leadership::sole());
        assert_eq!(m.ready(), Err("waiting for the first cluster sync"));
        m.synced();
        assert_eq!(m.ready(), Ok(()));
        m.decision("floor", true);
        m.decision("floor", false);
        m.write("applied");
        m.refusal("low_confidence");
        m.llm_status("LLM gpt-oss-20b · 812/1000 left today · server: 10 req left");
        let text = m.render();
        assert!(
            text.contains("ai4k8s_autopilot_decisions_total{kind=\"floor\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("ai4k8s_autopilot_writes_total{outcome=\"applied\"} 1\n"));
        assert!(text.contains("ai4k8s_autopilot_refusals_total{reason=\"low_confidence\"} 1\n"));
        assert!(text.contains("ai4k8s_autopilot_llm_answers_total 1\n"));
        assert!(text.contains("ai4k8s_autopilot_llm_budget_remaining 812\n"));
        assert!(text.contains("ai4k8s_autopilot_leader 1\n"));
        assert!(text.contains("# TYPE ai4k8s_autopilot_leader gauge\n"));
        m.llm_status("no key: policy only");
        assert!(!m.render().contains("budget_remaining"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
