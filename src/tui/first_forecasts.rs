//! When every deployment on screen first had a forecast: logged once, so a fleet's start-up can
//! be read from the log ("every deployment forecast: 5000 in 143.2 s") and measured; and how
//! far it is every half minute until then ("first forecasts: 1800 of 5000 after 90.0 s"), so a
//! fleet's minutes of start-up are not a silent log.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How often the count so far is logged while the first forecasts run.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

use crate::model::DeploymentKey;

#[derive(Clone, Debug)]
pub struct FirstForecasts {
    started: Instant,
    seen: HashSet<DeploymentKey>,
    done: bool,
    next_progress: Instant,
}

impl Default for FirstForecasts {
    fn default() -> Self {
        let started = Instant::now();
        Self {
            started,
            seen: HashSet::new(),
            done: false,
            next_progress: started + PROGRESS_EVERY,
        }
    }
}

impl FirstForecasts {
    /// A forecast for `key` landed; `table` is every deployment the table has. Returns the line
    /// logged when the last of them had its first forecast (once).
    pub fn on_forecast<'a>(
        &mut self,
        key: &DeploymentKey,
        mut table: impl ExactSizeIterator<Item = &'a DeploymentKey>,
    ) -> Option<String> {
        if self.done {
            return None;
        }
        self.seen.insert(key.clone());
        let total = table.len();
        if self.seen.len() < total || !table.all(|k| self.seen.contains(k)) {
            if let Some(line) = self.progress(Instant::now(), total) {
                tracing::info!("{line}");
            }
            return None;
        }
        self.done = true;
        self.seen = HashSet::new();
        let line = format!(
            "every deployment forecast: {} in {:.1} s",
            total,
            self.started.elapsed().as_secs_f64()
        );
        tracing::info!("{line}");
        Some(line)
    }

    /// The count so far, when a progress line is due at `now` (the count may include
    /// deployments that left the table since: it is a progress line, not the measurement).
    fn progress(&mut self, now: Instant, total: usize) -> Option<String> {
        if now < self.next_progress {
            return None;
        }
        self.next_progress = now + PROGRESS_EVERY;
        Some(format!(
            "first forecasts: {} of {total} after {:.1} s",
            self.seen.len().min(total),
            now.saturating_duration_since(self.started).as_secs_f64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> DeploymentKey {
        DeploymentKey::new("ns", n)
    }

    #[test]
    fn the_line_comes_once_when_the_last_deployment_of_the_table_is_forecast() {
        let table = [key("a"), key("b"), key("c")];
        let mut f = FirstForecasts::default();
        assert_eq!(f.on_forecast(&key("a"), table.iter()), None);
        // A deployment no longer in the table does not count.
        assert_eq!(f.on_forecast(&key("gone"), table.iter()), None);
        assert_eq!(f.on_forecast(&key("b"), table.iter()), None);
        assert_eq!(f.on_forecast(&key("a"), table.iter()), None);
        let line = f
            .on_forecast(&key("c"), table.iter())
            .expect("the last one");
        assert!(
            line.starts_with("every deployment forecast: 3 in "),
            "{line}"
        );
        assert_eq!(f.on_forecast(&key("c"), table.iter()), None, "once");
    }

    #[test]
    fn the_count_so_far_is_due_every_half_minute_until_then() {
        let table = [key("a"), key("b"), key("c")];
        let mut f = FirstForecasts::default();
        let t0 = f.started;
        assert_eq!(f.on_forecast(&key("a"), table.iter()), None);
        assert_eq!(f.progress(t0 + Duration::from_secs(10), 3), None, "not yet");
        let line = f.progress(t0 + Duration::from_secs(31), 3);
        assert_eq!(
            line.as_deref(),
            Some("first forecasts: 1 of 3 after 31.0 s")
        );
        assert_eq!(
            f.progress(t0 + Duration::from_secs(40), 3),
            None,
            "30 s apart"
        );
        assert_eq!(f.on_forecast(&key("b"), table.iter()), None);
        let line = f.progress(t0 + Duration::from_secs(62), 3);
        assert_eq!(
            line.as_deref(),
            Some("first forecasts: 2 of 3 after 62.0 s")
        );
    }
}
