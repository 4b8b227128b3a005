//! The order in which the worker pool takes the engine's CPU work: what the user asked for
//! (a backtest) first, then the selected deployment, then the ones on screen, then the rest,
//! the stalest forecast first. The TUI says what is selected and visible (`Command::Focus`);
//! a change re-ranks only the deployments that enter or leave the focus.
//!
//! Calibrations are kept apart so the dispatcher can cap how many run at once: forecasts
//! always find a worker, however many calibrations a fleet's first day makes due.

use std::collections::{BTreeMap, HashMap};

use crate::model::{DeploymentKey, UnixSeconds};

/// A kind of job; within one tier and staleness, the first listed goes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum JobKind {
    Backtest,
    Forecast,
    Calibration,
}

/// Who is waiting for a job's result, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    /// The user asked for it and waits (a backtest).
    Asked,
    Selected,
    Visible,
    Rest,
}

/// A queued job's place: tier, then since when its data is stale (older first), then its kind,
/// then arrival.
type Rank = (Tier, UnixSeconds, JobKind, u64);

#[derive(Default)]
pub(super) struct WorkQueue {
    /// Forecasts and backtests.
    main: BTreeMap<Rank, DeploymentKey>,
    calibrations: BTreeMap<Rank, DeploymentKey>,
    /// Each queued job's rank, to re-rank it and to queue it once.
    ranks: HashMap<(DeploymentKey, JobKind), Rank>,
    /// The selected deployment (Selected) and the others on screen (Visible).
    focus: HashMap<DeploymentKey, Tier>,
    arrivals: u64,
}

impl WorkQueue {
    /// Queue a job unless the same one is queued. `stale_since`: when the data the job renews
    /// was made (a forecast's last run; `UnixSeconds::MIN` for never).
    pub(super) fn push(&mut self, key: DeploymentKey, kind: JobKind, stale_since: UnixSeconds) {
        if self.ranks.contains_key(&(key.clone(), kind)) {
            return;
        }
        self.arrivals += 1;
        let rank = (self.tier(&key, kind), stale_since, kind, self.arrivals);
        self.side(kind).insert(rank, key.clone());
        self.ranks.insert((key, kind), rank);
    }

    /// The next job to run; calibrations only when `calibrations_allowed`.
    pub(super) fn pop(&mut self, calibrations_allowed: bool) -> Option<(DeploymentKey, JobKind)> {
        let main = self.main.first_key_value().map(|(r, _)| *r);
        let calibration = calibrations_allowed
            .then(|| self.calibrations.first_key_value().map(|(r, _)| *r))
            .flatten();
        let rank = match (main, calibration) {
            (Some(m), Some(c)) => m.min(c),
            (Some(r), None) | (None, Some(r)) => r,
            (None, None) => return None,
        };
        let key = self.side(rank.2).remove(&rank)?;
        self.ranks.remove(&(key.clone(), rank.2));
        Some((key, rank.2))
    }

    /// The deployments the user sees: the selected one first, then the rest of the window.
    pub(super) fn set_focus(&mut self, keys: &[DeploymentKey]) {
        let mut focus: HashMap<DeploymentKey, Tier> = HashMap::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let tier = if i == 0 {
                Tier::Selected
            } else {
                Tier::Visible
            };
            focus.entry(key.clone()).or_insert(tier);
        }
        let old = std::mem::replace(&mut self.focus, focus);
        let touched: Vec<DeploymentKey> = old.into_keys().chain(keys.iter().cloned()).collect();
        for key in touched {
            for kind in [JobKind::Forecast, JobKind::Calibration] {
                let id = (key.clone(), kind);
                let Some(rank) = self.ranks.get(&id).copied() else {
                    continue;
                };
                let tier = self.tier(&key, kind);
                if tier == rank.0 {
                    continue;
                }
                let side = self.side(kind);
                side.remove(&rank);
                let new = (tier, rank.1, rank.2, rank.3);
                side.insert(new, key.clone());
                self.ranks.insert(id, new);
            }
        }
    }

    /// Jobs waiting (not counting those running).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.ranks.len()
    }

    fn tier(&self, key: &DeploymentKey, kind: JobKind) -> Tier {
        if kind == JobKind::Backtest {
            return Tier::Asked;
        }
        self.focus.get(key).copied().unwrap_or(Tier::Rest)
    }

    fn side(&mut self, kind: JobKind) -> &mut BTreeMap<Rank, DeploymentKey> {
        match kind {
            JobKind::Calibration => &mut self.calibrations,
            JobKind::Backtest | JobKind::Forecast => &mut self.main,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> DeploymentKey {
        DeploymentKey::new("ns", name)
    }

    fn drain(q: &mut WorkQueue, calibrations_allowed: bool) -> Vec<(String, JobKind)> {
        std::iter::from_fn(|| q.pop(calibrations_allowed))
            .map(|(k, kind)| (k.name, kind))
            .collect()
    }

    #[test]
    fn the_stalest_forecast_goes_first_and_never_forecast_before_all() {
        let mut q = WorkQueue::default();
        q.push(key("a"), JobKind::Forecast, 300);
        q.push(key("b"), JobKind::Forecast, 100);
        q.push(key("c"), JobKind::Forecast, UnixSeconds::MIN);
        q.push(key("d"), JobKind::Forecast, 200);
        // Queued twice: runs once.
        q.push(key("b"), JobKind::Forecast, 100);
        assert_eq!(q.len(), 4);
        let order: Vec<String> = drain(&mut q, true).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, ["c", "b", "d", "a"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn selected_then_visible_then_the_rest_and_a_backtest_before_all() {
        let mut q = WorkQueue::default();
        for (i, name) in ["old", "older", "shown", "picked"].iter().enumerate() {
            q.push(key(name), JobKind::Forecast, 1000 - i as i64 * 100);
        }
        q.push(key("picked"), JobKind::Calibration, 0);
        // Focus after queueing re-ranks what is queued; a key not queued is only remembered.
        q.set_focus(&[key("picked"), key("shown"), key("not-queued")]);
        q.push(key("rest"), JobKind::Backtest, 5000);
        assert_eq!(
            drain(&mut q, true),
            [
                ("rest".to_string(), JobKind::Backtest),
                // The selected one's calibration is staler than its forecast.
                ("picked".to_string(), JobKind::Calibration),
                ("picked".to_string(), JobKind::Forecast),
                ("shown".to_string(), JobKind::Forecast),
                ("older".to_string(), JobKind::Forecast),
                ("old".to_string(), JobKind::Forecast),
            ]
        );
    }

    #[test]
    fn leaving_the_focus_puts_a_job_back_in_its_place_by_age() {
        let mut q = WorkQueue::default();
        q.push(key("a"), JobKind::Forecast, 100);
        q.push(key("b"), JobKind::Forecast, 200);
        q.push(key("c"), JobKind::Forecast, 300);
        q.set_focus(&[key("c")]);
        q.set_focus(&[key("b"), key("a")]);
        // Focus on c moved away: c is back behind by age; b selected, a visible.
        let order: Vec<String> = drain(&mut q, true).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, ["b", "a", "c"]);
        // Pushed while focused: ranked by the focus at once.
        q.push(key("z"), JobKind::Forecast, 900);
        q.push(key("b"), JobKind::Forecast, 900);
        q.push(key("y"), JobKind::Forecast, 100);
        let order: Vec<String> = drain(&mut q, true).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, ["b", "y", "z"]);
    }

    #[test]
    fn calibrations_wait_while_not_allowed_and_forecasts_pass_them() {
        let mut q = WorkQueue::default();
        q.push(key("a"), JobKind::Calibration, UnixSeconds::MIN);
        q.push(key("b"), JobKind::Calibration, UnixSeconds::MIN);
        q.push(key("c"), JobKind::Forecast, 500);
        assert_eq!(drain(&mut q, false), [("c".to_string(), JobKind::Forecast)]);
        assert_eq!(q.len(), 2);
        assert_eq!(
            drain(&mut q, true),
            [
                ("a".to_string(), JobKind::Calibration),
                ("b".to_string(), JobKind::Calibration)
            ]
        );
    }
}
