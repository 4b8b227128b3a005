//! The first view: on a cluster whose Prometheus backfills history, the table's first frame
//! is worth waiting a moment for. Drawn at once, it would show the selected deployment with
//! "forecast pending" and a card made without a forecast, replaced a second later by the real
//! one. So the engine tells its faces to hold that frame (`Update::FirstView(Some(why))`) and
//! when the selected deployment has what the screen is for (`Update::FirstView(None)`): its
//! backfilled history, the forecast made from it, and the recommendation made from that. The
//! TUI bounds the wait and a key ends it; without Prometheus nothing waits.

use tokio::sync::mpsc;

use super::messages::Update;
use crate::model::{DeploymentKey, ForecastSummary, Recommendation};

/// Where the first view stands.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    /// The selected deployment's history has not been merged yet.
    Backfill,
    /// Merged; the forecast made from it has not landed.
    Forecast(DeploymentKey),
    /// The forecast landed (its CPU summary, as a card made from it carries it); the
    /// recommendation made from it has not. One already on its way when the forecast landed
    /// was made without it and does not count.
    Recommendation(DeploymentKey, Option<ForecastSummary>),
    /// Told: nothing waits any more.
    Open,
}

pub(super) struct FirstView {
    stage: Stage,
}

impl FirstView {
    /// Hold the first view while `why` (Some: "reading 14 d of history via …"); None opens it
    /// at once (nothing to wait for).
    pub(super) fn new(why: Option<String>, updates: &mpsc::UnboundedSender<Update>) -> Self {
        match why {
            Some(why) => {
                let _ = updates.send(Update::FirstView(Some(why)));
                Self {
                    stage: Stage::Backfill,
                }
            }
            None => Self { stage: Stage::Open },
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.stage == Stage::Open
    }

    /// The backfill merged these deployments; `selected` is the one on screen.
    pub(super) fn merged(&mut self, merged: &[DeploymentKey], selected: Option<&DeploymentKey>) {
        if self.stage == Stage::Backfill
            && let Some(key) = selected.filter(|k| merged.contains(k))
        {
            self.stage = Stage::Forecast(key.clone());
        }
    }

    /// A forecast of `key` landed (`cpu`: its CPU forecast's summary); `stale` when it was
    /// made from the history before the backfill (another one is on its way).
    pub(super) fn forecast(
        &mut self,
        key: &DeploymentKey,
        stale: bool,
        cpu: Option<ForecastSummary>,
    ) {
        if let Stage::Forecast(k) = &self.stage
            && k == key
            && !stale
        {
            self.stage = Stage::Recommendation(key.clone(), cpu);
        }
    }

    /// A recommendation landed (and was told to the faces).
    pub(super) fn recommended(
        &mut self,
        r: &Recommendation,
        updates: &mpsc::UnboundedSender<Update>,
    ) {
        if let Stage::Recommendation(k, cpu) = &self.stage
            && k.namespace == r.namespace
            && k.name == r.name
            && same_forecast(cpu.as_ref(), r.inputs.cpu_forecast.as_ref())
        {
            self.open(updates);
        }
    }

    /// The backfill ended (done or failed). If the selected deployment's history never
    /// merged, nothing more will come to wait for; if it did, its forecast and card are
    /// queued and still worth the wait (the TUI bounds it), even when the rest of the fleet's
    /// history finished first.
    pub(super) fn backfill_ended(&mut self, updates: &mpsc::UnboundedSender<Update>) {
        if self.stage == Stage::Backfill {
            self.open(updates);
        }
    }

    /// Nothing more will come to wait for.
    pub(super) fn open(&mut self, updates: &mpsc::UnboundedSender<Update>) {
        if self.stage != Stage::Open {
            self.stage = Stage::Open;
            let _ = updates.send(Update::FirstView(None));
        }
    }
}

/// Whether a card's forecast is the one that landed (bit for bit: the same computation).
fn same_forecast(landed: Option<&ForecastSummary>, card: Option<&ForecastSummary>) -> bool {
    match (landed, card) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.model == b.model
                && a.peak_at == b.peak_at
                && a.current.to_bits() == b.current.to_bits()
                && a.predictions.len() == b.predictions.len()
                && a.predictions
                    .iter()
                    .zip(&b.predictions)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(rx: &mut mpsc::UnboundedReceiver<Update>) -> Vec<Option<String>> {
        let mut out = Vec::new();
        while let Ok(u) = rx.try_recv() {
            if let Update::FirstView(w) = u {
                out.push(w);
            }
        }
        out
    }

    fn summary(model: &str, peak_at: i64) -> ForecastSummary {
        ForecastSummary {
            current: 40.0,
            peak: 80.0,
            peak_at,
            trend: crate::model::Trend::Stable,
            predictions: vec![40.0, 60.0, 80.0],
            model: model.into(),
            low_confidence: false,
        }
    }

    /// A card for `key` made from `cpu`, by the rules as the engine makes one.
    async fn card(key: &DeploymentKey, cpu: Option<ForecastSummary>) -> Recommendation {
        let state = crate::model::DeploymentState::fixture(&key.namespace, &key.name);
        let mut inputs = crate::model::AdvisorInputs::from_state(&state, None, None, 1_000);
        inputs.cpu_forecast = cpu;
        crate::advisor::Advisor::rules_only(crate::config::AdvisorConfig::default(), "test")
            .recommend(&inputs)
            .await
    }

    #[tokio::test]
    async fn it_opens_after_the_selected_deployments_backfill_forecast_and_recommendation() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (sel, other) = (DeploymentKey::new("a", "x"), DeploymentKey::new("b", "y"));
        let (old, good) = (summary("ets-damped", 100), summary("mstl+ets", 200));
        let mut v = FirstView::new(Some("reading history".into()), &tx);
        assert_eq!(told(&mut rx), vec![Some("reading history".to_string())]);
        // Another deployment's history, and a forecast of the selected one from before the
        // backfill, do not count.
        v.merged(std::slice::from_ref(&other), Some(&sel));
        v.forecast(&sel, false, Some(old.clone()));
        v.recommended(&card(&sel, Some(old.clone())).await, &tx);
        assert!(!v.is_open());
        v.merged(&[other.clone(), sel.clone()], Some(&sel));
        // A forecast still made from the old history is followed by another.
        v.forecast(&sel, true, Some(old.clone()));
        v.recommended(&card(&sel, Some(old.clone())).await, &tx);
        assert!(!v.is_open());
        v.forecast(&other, false, Some(good.clone()));
        v.forecast(&sel, false, Some(good.clone()));
        v.recommended(&card(&other, Some(good.clone())).await, &tx);
        assert!(!v.is_open(), "another deployment's card");
        // Cards already on their way when the forecast landed: made without it, or from the
        // forecast before the backfill.
        v.recommended(&card(&sel, None).await, &tx);
        v.recommended(&card(&sel, Some(old)).await, &tx);
        assert!(!v.is_open(), "a card made before the forecast");
        assert!(told(&mut rx).is_empty());
        v.recommended(&card(&sel, Some(good)).await, &tx);
        assert!(v.is_open());
        assert_eq!(told(&mut rx), vec![None]);
        // Told once.
        v.open(&tx);
        assert!(told(&mut rx).is_empty());
    }

    #[test]
    fn without_anything_to_wait_for_it_is_open_and_says_nothing() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let v = FirstView::new(None, &tx);
        assert!(v.is_open());
        assert!(told(&mut rx).is_empty());
    }

    #[test]
    fn the_backfills_end_opens_it_unless_the_selected_ones_forecast_is_on_its_way() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sel = DeploymentKey::new("a", "x");
        // Merged, then the whole backfill ends before the selected forecast lands (the fleet's
        // history can all arrive while one two-week fit runs): keep waiting for it.
        let mut v = FirstView::new(Some("reading".into()), &tx);
        let _ = told(&mut rx);
        v.merged(std::slice::from_ref(&sel), Some(&sel));
        v.backfill_ended(&tx);
        assert!(!v.is_open());
        v.forecast(&sel, false, Some(summary("mstl+ets", 200)));
        v.backfill_ended(&tx);
        assert!(!v.is_open());
        assert!(told(&mut rx).is_empty());
        // The selected deployment's history never merged (its query failed): nothing to wait for.
        let mut v = FirstView::new(Some("reading".into()), &tx);
        let _ = told(&mut rx);
        v.backfill_ended(&tx);
        assert!(v.is_open());
        assert_eq!(told(&mut rx), vec![None]);
    }
}
