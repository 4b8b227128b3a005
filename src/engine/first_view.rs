//! The first view: on a cluster whose Prometheus backfills history, the table's first frame
//! is worth waiting a moment for. Drawn at once, it would show the selected deployment with
//! "forecast pending" and a card made without a forecast, replaced a second later by the real
//! one. So the engine tells its faces to hold that frame (`Update::FirstView(Some(why))`) and
//! when the selected deployment has what the screen is for (`Update::FirstView(None)`): its
//! backfilled history, the forecast made from it, and the recommendation made from that. The
//! TUI bounds the wait and a key ends it; without Prometheus nothing waits.

use tokio::sync::mpsc;

use super::messages::Update;
use crate::model::DeploymentKey;

/// Where the first view stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stage {
    /// The selected deployment's history has not been merged yet.
    Backfill,
    /// Merged; the forecast made from it has not landed.
    Forecast(DeploymentKey),
    /// The forecast landed; the recommendation made from it has not.
    Recommendation(DeploymentKey),
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

    /// A forecast of `key` landed; `stale` when it was made from the history before the
    /// backfill (another one is on its way).
    pub(super) fn forecast(&mut self, key: &DeploymentKey, stale: bool) {
        if let Stage::Forecast(k) = &self.stage
            && k == key
            && !stale
        {
            self.stage = Stage::Recommendation(key.clone());
        }
    }

    /// The recommendation of `key` landed (and was told to the faces).
    pub(super) fn recommended(
        &mut self,
        key: &DeploymentKey,
        updates: &mpsc::UnboundedSender<Update>,
    ) {
        if matches!(&self.stage, Stage::Recommendation(k) if k == key) {
            self.open(updates);
        }
    }

    /// The backfill ended (done or failed): nothing more will come to wait for.
    pub(super) fn open(&mut self, updates: &mpsc::UnboundedSender<Update>) {
        if self.stage != Stage::Open {
            self.stage = Stage::Open;
            let _ = updates.send(Update::FirstView(None));
        }
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

    #[test]
    fn it_opens_after_the_selected_deployments_backfill_forecast_and_recommendation() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (sel, other) = (DeploymentKey::new("a", "x"), DeploymentKey::new("b", "y"));
        let mut v = FirstView::new(Some("reading history".into()), &tx);
        assert_eq!(told(&mut rx), vec![Some("reading history".to_string())]);
        // Another deployment's history, and a forecast of the selected one from before the
        // backfill, do not count.
        v.merged(std::slice::from_ref(&other), Some(&sel));
        v.forecast(&sel, false);
        v.recommended(&sel, &tx);
        assert!(!v.is_open());
        v.merged(&[other.clone(), sel.clone()], Some(&sel));
        // A forecast still made from the old history is followed by another.
        v.forecast(&sel, true);
        v.recommended(&sel, &tx);
        assert!(!v.is_open());
        v.forecast(&other, false);
        v.forecast(&sel, false);
        v.recommended(&other, &tx);
        assert!(!v.is_open(), "another deployment's card");
        assert!(told(&mut rx).is_empty());
        v.recommended(&sel, &tx);
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
    fn the_backfills_end_opens_it_whatever_stage_it_reached() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut v = FirstView::new(Some("reading".into()), &tx);
        let _ = told(&mut rx);
        v.open(&tx);
        assert!(v.is_open());
        assert_eq!(told(&mut rx), vec![None]);
    }
}
