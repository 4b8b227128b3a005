//! The Prometheus backfill delivered deployment by deployment: each deployment's minutes go
//! down a bounded channel as soon as its queries have landed, in an order the engine may change
//! while it runs (the selected deployment first). A fleet's two weeks at full resolution are
//! never held together: a slow receiver holds the queries back instead.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::prometheus::{Backfill, PromError, PrometheusSource, chunks};
use crate::model::{DeploymentKey, DeploymentState, Sample, UnixSeconds};

/// One deployment's minutes, or why Prometheus has none for it.
pub type Delivery = (DeploymentKey, Result<Vec<Sample>, String>);

/// What the stream sends: a deployment, or the failure that ended the backfill (nothing
/// follows it). The channel closes when every deployment was sent.
pub type Item = Result<Delivery, PromError>;

/// The deployments not yet fetched, in the order they will be; shared by the stream and
/// whoever reorders it.
#[derive(Clone, Debug, Default)]
pub struct BackfillOrder(Arc<Mutex<VecDeque<DeploymentState>>>);

impl BackfillOrder {
    /// Fetched in the order given.
    pub fn new(deployments: Vec<DeploymentState>) -> Self {
        Self(Arc::new(Mutex::new(deployments.into())))
    }

    /// Move `keys` (those not yet fetched) to the front, in the order given.
    pub fn prioritize(&self, keys: &[DeploymentKey]) {
        let mut pending = self.lock();
        for key in keys.iter().rev() {
            if let Some(i) = pending.iter().position(|d| &d.key == key)
                && let Some(d) = pending.remove(i)
            {
                pending.push_front(d);
            }
        }
    }

    fn pop(&self) -> Option<DeploymentState> {
        self.lock().pop_front()
    }

    /// A panic elsewhere while holding the lock leaves a valid queue: keep using it.
    fn lock(&self) -> MutexGuard<'_, VecDeque<DeploymentState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PrometheusSource {
    /// Send each deployment of `order` over [start, end] (aligned to the step) down `tx` as
    /// its queries land. At most `concurrency` deployments are fetched at once, one query
    /// each in flight; one waiting for room in the channel keeps its slot. Returns when all
    /// were sent, after the first failure (sent, the rest dropped unsent), or when the
    /// receiver is gone.
    pub async fn stream_range(
        &self,
        order: BackfillOrder,
        start: UnixSeconds,
        end: UnixSeconds,
        tx: mpsc::Sender<Item>,
    ) {
        let step = self.options().step_seconds;
        let chunks = chunks(
            start.div_euclid(step) * step,
            end.div_euclid(step) * step,
            step,
            self.options().max_points,
        );
        let mut running = FuturesUnordered::new();
        loop {
            // Taken from the order when a slot frees, so a reorder counts until then.
            while running.len() < self.options().concurrency {
                let Some(d) = order.pop() else { break };
                running.push(self.deliver(d, &chunks, &tx));
            }
            match running.next().await {
                None => return,
                Some(Ok(true)) => {}
                Some(Ok(false)) => return,
                Some(Err(e)) => {
                    drop(running);
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    }

    /// One deployment fetched and sent; false when nobody listens any more.
    async fn deliver(
        &self,
        d: DeploymentState,
        chunks: &[(UnixSeconds, UnixSeconds)],
        tx: &mpsc::Sender<Item>,
    ) -> Result<bool, PromError> {
        let result = self.deployment(&d, chunks).await?;
        Ok(tx.send(Ok((d.key, result))).await.is_ok())
    }

    /// Every deployment's minutes over [start, end] at once (the headless faces), in the order
    /// given; the first failure is the answer.
    pub async fn backfill_range(
        &self,
        deployments: &[DeploymentState],
        start: UnixSeconds,
        end: UnixSeconds,
    ) -> Result<Backfill, PromError> {
        let step = self.options().step_seconds;
        let (tx, mut rx) = mpsc::channel(self.options().concurrency);
        let order = BackfillOrder::new(deployments.to_vec());
        let collect = async move {
            let mut got = HashMap::new();
            while let Some(item) = rx.recv().await {
                let (key, result) = item?;
                got.insert(key, result);
            }
            Ok::<_, PromError>(got)
        };
        let ((), got) = futures::join!(self.stream_range(order, start, end, tx), collect);
        let mut got = got?;
        let mut out = Backfill {
            source: self.describe(),
            lookback_seconds: end.div_euclid(step) * step - start.div_euclid(step) * step,
            ..Backfill::default()
        };
        for d in deployments {
            match got.remove(&d.key) {
                Some(Ok(samples)) => out.series.push((d.key.clone(), samples)),
                Some(Err(why)) => out.skipped.push((d.key.clone(), why)),
                None => {}
            }
        }
        Ok(out)
    }
}

/// What a backfill brought so far, for the status bar and the log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Where it came from ("prometheus-k8s via API proxy", a URL).
    pub source: String,
    /// The span asked for, seconds.
    pub lookback_seconds: i64,
    /// Deployments asked for.
    pub total: usize,
    /// Deployments with history, and their minutes.
    pub deployments: usize,
    pub minutes: usize,
    pub skipped: Vec<(DeploymentKey, String)>,
}

impl Tally {
    pub fn add(&mut self, key: &DeploymentKey, result: &Result<Vec<Sample>, String>) {
        match result {
            Ok(samples) => {
                self.deployments += 1;
                self.minutes += samples.len();
            }
            Err(why) => self.skipped.push((key.clone(), why.clone())),
        }
    }

    /// Deployments answered (with history or without).
    pub fn answered(&self) -> usize {
        self.deployments + self.skipped.len()
    }

    /// One line for the log: "prometheus backfill: N deployments, M minutes; none for …".
    pub fn summary(&self) -> String {
        let mut line = format!(
            "prometheus backfill: {} deployments, {} minutes",
            self.deployments, self.minutes
        );
        if let Some((k, why)) = self.skipped.first() {
            line.push_str(&format!("; none for {k} ({why})"));
            if self.skipped.len() > 1 {
                line.push_str(&format!(" and {} more", self.skipped.len() - 1));
            }
        }
        line
    }

    /// The status bar's words: "history: prometheus-k8s via API proxy, 14 d", or why none.
    pub fn headline(&self) -> String {
        let days = self.lookback_seconds as f64 / 86_400.0;
        let span = if days >= 1.0 && days.fract() == 0.0 {
            format!("{days:.0} d")
        } else {
            format!("{:.0} h", self.lookback_seconds as f64 / 3600.0)
        };
        match self.skipped.first() {
            Some((k, why)) if self.deployments == 0 => {
                format!("no history from {} for {k} ({why})", self.source)
            }
            _ => format!("history: {}, {span}", self.source),
        }
    }

    /// The headline while the backfill runs: "… 14 d · 120/1000".
    pub fn progress(&self) -> String {
        format!("{} · {}/{}", self.headline(), self.answered(), self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prioritized_keys_go_first_in_their_order_and_fetched_ones_are_ignored() {
        let d = |n: &str| crate::model::DeploymentState::fixture("ns", n);
        let order = BackfillOrder::new(vec![d("a"), d("b"), d("c"), d("d")]);
        assert_eq!(order.pop().map(|d| d.key.name), Some("a".into()));
        let k = |n: &str| DeploymentKey::new("ns", n);
        order.prioritize(&[k("d"), k("a"), k("c")]);
        let rest: Vec<String> = std::iter::from_fn(|| order.pop())
            .map(|d| d.key.name)
            .collect();
        assert_eq!(rest, ["d", "c", "b"]);
        assert!(order.pop().is_none());
    }

    #[test]
    fn the_progress_counts_answers_and_the_summary_names_the_skipped() {
        let mut t = Tally {
            source: "prometheus-k8s via API proxy".into(),
            lookback_seconds: 14 * 86_400,
            total: 3,
            ..Tally::default()
        };
        t.add(&DeploymentKey::new("a", "x"), &Err("no series".into()));
        assert!(
            t.headline().starts_with("no history from"),
            "{}",
            t.headline()
        );
        t.add(
            &DeploymentKey::new("a", "y"),
            &Ok(vec![
                Sample {
                    timestamp: 60,
                    cpu_pct: 1.0,
                    mem_pct: 1.0,
                    replicas: 1,
                    ready: 1,
                };
                2
            ]),
        );
        assert_eq!(
            t.progress(),
            "history: prometheus-k8s via API proxy, 14 d · 2/3"
        );
        assert_eq!(
            t.summary(),
            "prometheus backfill: 1 deployments, 2 minutes; none for a/x (no series)"
        );
    }
}
