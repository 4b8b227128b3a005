//! When every deployment on screen first had a forecast: logged once, so a fleet's start-up can
//! be read from the log ("every deployment forecast: 5000 in 143.2 s") and measured.

use std::collections::HashSet;
use std::time::Instant;

use crate::model::DeploymentKey;

#[derive(Clone, Debug)]
pub struct FirstForecasts {
    started: Instant,
    seen: HashSet<DeploymentKey>,
    done: bool,
}

impl Default for FirstForecasts {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            seen: HashSet::new(),
            done: false,
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
}
