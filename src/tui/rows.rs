//! Which deployments the table shows and in what order: the sort (k9s habit: shift + the
//! column's letter, again reverses), the quick filters (pending change, at max, no metrics) and
//! the facts both read (savings per day, a pending change). `App::refresh_visible` applies them
//! to each row's state and shown (not dismissed) recommendation; the table pane only draws the
//! result.

use std::cmp::Ordering;

use crate::model::{DeploymentState, Recommendation};

/// What sorting and filtering read of one row: its state and its recommendation unless
/// dismissed.
#[derive(Clone, Copy, Debug)]
pub struct RowFacts<'a> {
    pub state: &'a DeploymentState,
    /// The last recommendation, dismissed or not (its calibration still holds).
    pub recommendation: Option<&'a Recommendation>,
    /// The same unless dismissed.
    pub shown: Option<&'a Recommendation>,
}

/// A column the table can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    Name,
    Cpu,
    Memory,
    Replicas,
    Savings,
    Pending,
}

impl SortColumn {
    /// The header cell it marks.
    pub fn header(self) -> &'static str {
        match self {
            SortColumn::Name => "NAME",
            SortColumn::Cpu => "CPU",
            SortColumn::Memory => "MEM",
            SortColumn::Replicas => "READY",
            SortColumn::Savings => "SAVE/D",
            SortColumn::Pending => "RECOMMEND",
        }
    }

    /// Names read A→Z first; numbers the largest first (the one that matters on top).
    fn default_descending(self) -> bool {
        !matches!(self, SortColumn::Name)
    }
}

/// The table's order: a column and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: SortColumn,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            column: SortColumn::Name,
            descending: false,
        }
    }
}

impl Sort {
    /// The sort after pressing `column`'s key: the same column reverses, another starts in
    /// its natural direction.
    pub fn toggled(self, column: SortColumn) -> Self {
        if self.column == column {
            Self {
                column,
                descending: !self.descending,
            }
        } else {
            Self {
                column,
                descending: column.default_descending(),
            }
        }
    }

    /// "↓" or "↑" after the header's name.
    pub fn arrow(self) -> &'static str {
        if self.descending { "↓" } else { "↑" }
    }

    /// Order two rows; rows without the value go last in either direction, ties by name.
    pub fn compare(self, a: RowFacts<'_>, b: RowFacts<'_>) -> Ordering {
        let by_name = a.state.key.cmp(&b.state.key);
        if self.column == SortColumn::Name {
            return if self.descending {
                by_name.reverse()
            } else {
                by_name
            };
        }
        let ord = match (self.value(a), self.value(b)) {
            (Some(x), Some(y)) => {
                let o = x.total_cmp(&y);
                if self.descending { o.reverse() } else { o }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        ord.then(by_name)
    }

    /// The order `compare` gives `rows`, which come in name order: their indices. Each row's
    /// sort key is computed once and the sort compares integers (a re-sort of 50,000 rows
    /// compared rows, names and all, 800,000 times); the index is the tie by name.
    pub fn order(self, rows: &[RowFacts<'_>]) -> Vec<usize> {
        let n = rows.len();
        if self.column == SortColumn::Name {
            return if self.descending {
                (0..n).rev().collect()
            } else {
                (0..n).collect()
            };
        }
        let mut keys: Vec<(bool, u64, usize)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| match self.value(*r) {
                Some(v) => {
                    let k = total_order_bits(v);
                    (false, if self.descending { !k } else { k }, i)
                }
                None => (true, 0, i),
            })
            .collect();
        keys.sort_unstable();
        keys.into_iter().map(|(_, _, i)| i).collect()
    }

    /// What a row is sorted by (None: unknown, last); names sort by the key itself.
    fn value(self, row: RowFacts<'_>) -> Option<f64> {
        match self.column {
            SortColumn::Name => None,
            SortColumn::Cpu => row.state.cpu_pct,
            SortColumn::Memory => row.state.mem_pct,
            SortColumn::Replicas => Some(f64::from(row.state.desired_replicas)),
            // Savings are known from the calibration even while a card is dismissed.
            SortColumn::Savings => row.recommendation.and_then(Recommendation::savings_per_day),
            SortColumn::Pending => pending_size(row.shown),
        }
    }
}

/// `f64::total_cmp`'s order as an unsigned integer's.
fn total_order_bits(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// A quick filter over the rows (`:filter NAME`, or the key that cycles them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuickFilter {
    /// A recommendation that would change something, not dismissed.
    Pending,
    /// At its maximum (the HPA's, or the bounds').
    AtMax,
    /// CPU or memory utilization unknown (no metrics-server, pods without metrics).
    NoMetrics,
}

impl QuickFilter {
    pub const ALL: [QuickFilter; 3] = [
        QuickFilter::Pending,
        QuickFilter::AtMax,
        QuickFilter::NoMetrics,
    ];

    /// Its name on the command line and in the title.
    pub fn name(self) -> &'static str {
        match self {
            QuickFilter::Pending => "pending",
            QuickFilter::AtMax => "atmax",
            QuickFilter::NoMetrics => "nometrics",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == word)
    }

    /// The next filter after `current`, then none, then the first again.
    pub fn cycle(current: Option<Self>) -> Option<Self> {
        match current {
            None => Some(QuickFilter::Pending),
            Some(QuickFilter::Pending) => Some(QuickFilter::AtMax),
            Some(QuickFilter::AtMax) => Some(QuickFilter::NoMetrics),
            Some(QuickFilter::NoMetrics) => None,
        }
    }

    pub fn keeps(self, row: RowFacts<'_>) -> bool {
        match self {
            QuickFilter::Pending => pending_size(row.shown).is_some(),
            QuickFilter::AtMax => row.state.at_max(),
            QuickFilter::NoMetrics => row.state.cpu_pct.is_none() || row.state.mem_pct.is_none(),
        }
    }
}

/// How far the shown recommendation would move the deployment (replicas, floor or target),
/// None when it changes nothing (or there is none shown).
pub fn pending_size(shown: Option<&Recommendation>) -> Option<f64> {
    let (from, to) = shown?.change.moves()?;
    Some(f64::from(from.abs_diff(to)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentState;

    #[test]
    fn the_cached_order_is_the_compare_order_in_every_column_and_direction() {
        // Ties, unknowns, negatives and zeros of both signs.
        let cpu = [
            Some(50.0),
            None,
            Some(-1.0),
            Some(50.0),
            Some(0.0),
            Some(-0.0),
            None,
            Some(1e9),
        ];
        let mut states: Vec<DeploymentState> = cpu
            .iter()
            .enumerate()
            .map(|(i, c)| {
                DeploymentState::fixture(if i % 2 == 0 { "a" } else { "b" }, &format!("d{}", i % 3))
                    .with_replicas((i as u32 * 7) % 4)
                    .with_usage(*c, cpu[(i + 3) % cpu.len()])
            })
            .collect();
        states.sort_by(|a, b| a.key.cmp(&b.key));
        states.dedup_by(|a, b| a.key == b.key);
        let rows: Vec<RowFacts<'_>> = states
            .iter()
            .map(|state| RowFacts {
                state,
                recommendation: None,
                shown: None,
            })
            .collect();
        for column in [
            SortColumn::Name,
            SortColumn::Cpu,
            SortColumn::Memory,
            SortColumn::Replicas,
            SortColumn::Savings,
            SortColumn::Pending,
        ] {
            for descending in [false, true] {
                let sort = Sort { column, descending };
                let mut expected: Vec<usize> = (0..rows.len()).collect();
                expected.sort_by(|&a, &b| sort.compare(rows[a], rows[b]));
                assert_eq!(sort.order(&rows), expected, "{sort:?}");
            }
        }
    }
}
