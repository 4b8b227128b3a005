//! Evaluation of the PromQL subset (`query.rs`) over in-memory series, with Prometheus 2.x's
//! semantics, so the answers match Debian's Prometheus (2.42) on the same samples: an instant
//! selector takes a series' newest sample in [t − 5m, t]; a range selector the samples in
//! [t − range, t]; `rate`/`increase` extrapolate as `extrapolatedRate` does.

use std::collections::BTreeMap;

use super::query::{AggOp, Expr, Func, Grouping, LOOKBACK_MS, Selector};

pub type Labels = BTreeMap<String, String>;

/// One series: its labels (with `__name__`) and samples sorted by time (ms).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

impl Series {
    pub fn matches(&self, sel: &Selector) -> bool {
        sel.matchers.iter().all(|m| {
            m.matches(
                self.labels
                    .get(&m.name)
                    .map(String::as_str)
                    .unwrap_or_default(),
            )
        })
    }
}

/// The windows [t − width, t] of one series for increasing t. Steps are evaluated in order, so
/// two cursors move forward: O(samples + steps), where a binary search per step cost most of a
/// two-week range query.
struct Windows<'a> {
    samples: &'a [(i64, f64)],
    width: i64,
    a: usize,
    b: usize,
}

impl<'a> Windows<'a> {
    fn new(samples: &'a [(i64, f64)], width: i64) -> Self {
        Self {
            samples,
            width,
            a: 0,
            b: 0,
        }
    }

    /// The samples within [t − width, t]; `t` never decreases from one call to the next.
    fn at(&mut self, t: i64) -> &'a [(i64, f64)] {
        while self.b < self.samples.len() && self.samples[self.b].0 <= t {
            self.b += 1;
        }
        while self.a < self.b && self.samples[self.a].0 < t - self.width {
            self.a += 1;
        }
        &self.samples[self.a..self.b]
    }
}

/// An expression with its selectors resolved to the series they select (once per query).
pub enum Plan<'a> {
    Number(f64),
    Vector(Vec<&'a Series>),
    Range(Vec<&'a Series>, i64),
    Call(Func, Box<Plan<'a>>),
    Aggregate(AggOp, Grouping, Box<Plan<'a>>),
}

pub fn plan<'a>(e: &Expr, series: &'a [Series]) -> Plan<'a> {
    let select = |s: &Selector| series.iter().filter(|x| x.matches(s)).collect();
    match e {
        Expr::Number(n) => Plan::Number(*n),
        Expr::Vector(s) => Plan::Vector(select(s)),
        Expr::Range(s, r) => Plan::Range(select(s), *r),
        Expr::Call(f, a) => Plan::Call(*f, Box::new(plan(a, series))),
        Expr::Aggregate(op, g, a) => Plan::Aggregate(*op, g.clone(), Box::new(plan(a, series))),
    }
}

/// The points of one output series.
pub type Points = Vec<(i64, f64)>;

/// Evaluation steps: `start + k·step` within [start, end].
#[derive(Clone, Copy, Debug)]
pub struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Steps {
    /// The steps within [from, to].
    pub fn within(&self, from: i64, to: i64) -> impl Iterator<Item = i64> + use<> {
        let Steps { start, end, step } = *self;
        let first = if from <= start {
            0
        } else {
            (from - start + step - 1) / step
        };
        let last_t = to.min(end);
        let last = if last_t < start {
            -1
        } else {
            (last_t - start) / step
        };
        (first..=last).map(move |k| start + k * step)
    }
}

/// The result over every step: a scalar (one value for all steps) or series of points.
pub enum Value {
    Scalar(f64),
    Vector(Vec<(Labels, Points)>),
}

/// Evaluate series by series (each one only at the steps its samples reach), not step by
/// step over every series: a two-week range over a churning deployment selects thousands of
/// short-lived pods, each alive for a few of the 10,000 steps.
pub fn eval(p: &Plan<'_>, steps: Steps) -> Value {
    match p {
        Plan::Number(n) => Value::Scalar(*n),
        Plan::Vector(series) => Value::Vector(
            series
                .iter()
                .filter_map(|s| {
                    let (first, last) = (s.samples.first()?.0, s.samples.last()?.0);
                    let mut window = Windows::new(&s.samples, LOOKBACK_MS);
                    let points: Points = steps
                        .within(first, last + LOOKBACK_MS)
                        .filter_map(|t| window.at(t).last().map(|(_, v)| (t, *v)))
                        .collect();
                    (!points.is_empty()).then(|| (s.labels.clone(), points))
                })
                .collect(),
        ),
        // A bare range is refused by the parser; nothing to return.
        Plan::Range(..) => Value::Vector(Vec::new()),
        Plan::Call(func, arg) => {
            let Plan::Range(series, range) = arg.as_ref() else {
                return Value::Vector(Vec::new());
            };
            Value::Vector(
                series
                    .iter()
                    .filter_map(|s| {
                        let (first, last) = (s.samples.first()?.0, s.samples.last()?.0);
                        let mut window = Windows::new(&s.samples, *range);
                        let points: Points = steps
                            .within(first, last + range)
                            .filter_map(|t| {
                                let v = extrapolated_rate(
                                    window.at(t),
                                    t - range,
                                    t,
                                    *range,
                                    *func == Func::Rate,
                                )?;
                                Some((t, v))
                            })
                            .collect();
                        if points.is_empty() {
                            return None;
                        }
                        let mut labels = s.labels.clone();
                        labels.remove("__name__");
                        Some((labels, points))
                    })
                    .collect(),
            )
        }
        Plan::Aggregate(op, grouping, arg) => match eval(arg, steps) {
            Value::Scalar(_) => Value::Vector(Vec::new()),
            Value::Vector(v) => Value::Vector(aggregate(*op, grouping, v)),
        },
    }
}

fn aggregate(op: AggOp, grouping: &Grouping, v: Vec<(Labels, Points)>) -> Vec<(Labels, Points)> {
    // Per group: (time, sum or extreme, count), sorted by time. Groups are sparse (a pod
    // alive for minutes of a two-week range), so each series is merged in, not spread over
    // every step.
    let mut groups: BTreeMap<Labels, Vec<(i64, f64, f64)>> = BTreeMap::new();
    for (labels, points) in v {
        let key: Labels = match grouping {
            Grouping::By(by) => labels.into_iter().filter(|(k, _)| by.contains(k)).collect(),
            Grouping::Without(without) => labels
                .into_iter()
                .filter(|(k, _)| k != "__name__" && !without.contains(k))
                .collect(),
        };
        let group = groups.entry(key).or_default();
        let old = std::mem::take(group);
        let (mut i, mut j) = (0, 0);
        group.reserve(old.len().max(points.len()));
        while i < old.len() || j < points.len() {
            match (old.get(i), points.get(j)) {
                (Some(&(t, acc, n)), Some(&(u, x))) if t == u => {
                    let acc = match op {
                        AggOp::Sum | AggOp::Avg | AggOp::Count => acc + x,
                        AggOp::Min if x < acc || acc.is_nan() => x,
                        AggOp::Max if x > acc || acc.is_nan() => x,
                        AggOp::Min | AggOp::Max => acc,
                    };
                    group.push((t, acc, n + 1.0));
                    i += 1;
                    j += 1;
                }
                (Some(&(t, acc, n)), Some(&(u, _))) if t < u => {
                    group.push((t, acc, n));
                    i += 1;
                }
                (Some(&(t, acc, n)), None) => {
                    group.push((t, acc, n));
                    i += 1;
                }
                (_, Some(&(u, x))) => {
                    group.push((u, x, 1.0));
                    j += 1;
                }
                (None, None) => break,
            }
        }
    }
    groups
        .into_iter()
        .map(|(k, slots)| {
            let points = slots
                .into_iter()
                .map(|(t, acc, n)| {
                    let v = match op {
                        AggOp::Avg => acc / n,
                        AggOp::Count => n,
                        _ => acc,
                    };
                    (t, v)
                })
                .collect();
            (k, points)
        })
        .collect()
}

/// Prometheus 2.x `extrapolatedRate` (promql/functions.go): the increase over the samples in
/// the window, counter resets added back, extrapolated to the window's edges (but not past a
/// counter's zero, and by at most half an interval where samples stop short).
fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_rate: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    let mut last = 0.0;
    for &(_, v) in points {
        if v < last {
            result += last;
        }
        last = v;
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average = sampled / (points.len() - 1) as f64;
    if result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average / 2.0
    };
    let mut v = result * (interval / sampled);
    if is_rate {
        v /= range_ms as f64 / 1000.0;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::serve::prometheus::query::parse;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            samples: samples.to_vec(),
        }
    }

    #[test]
    fn rate_of_a_steady_counter_is_its_slope_and_sum_by_groups() {
        let counter = |pod| {
            series(
                &[("__name__", "c"), ("pod", pod), ("container", "app")],
                &(0..20)
                    .map(|i| (i * 60_000, i as f64 * 30.0))
                    .collect::<Vec<_>>(),
            )
        };
        let all = vec![counter("a"), counter("b")];
        let e = parse("sum by (pod) (rate(c[5m]))").expect("parses");
        let p = plan(&e, &all);
        let at = |t| Steps {
            start: t,
            end: t,
            step: 1,
        };
        let Value::Vector(v) = eval(&p, at(10 * 60_000)) else {
            panic!("a vector")
        };
        assert_eq!(v.len(), 2);
        for (labels, x) in v {
            assert_eq!(labels.keys().collect::<Vec<_>>(), ["pod"]);
            assert_eq!(x.len(), 1);
            assert!((x[0].1 - 0.5).abs() < 1e-12, "{x:?}");
        }
        // Over a range, each series only where its samples reach.
        let Value::Vector(v) = eval(
            &p,
            Steps {
                start: 0,
                end: 40 * 60_000,
                step: 60_000,
            },
        ) else {
            panic!("a vector")
        };
        assert_eq!(v[0].1.first().map(|p| p.0), Some(60_000));
        assert_eq!(v[0].1.last().map(|p| p.0), Some(23 * 60_000));
        // A counter that starts inside the window is not extrapolated past its zero.
        let late = series(&[("__name__", "c")], &[(240_000, 0.0), (300_000, 30.0)]);
        let v = extrapolated_rate(
            Windows::new(&late.samples, 300_000).at(300_000),
            0,
            300_000,
            300_000,
            false,
        );
        assert_eq!(v, Some(30.0));
    }

    #[test]
    fn moving_windows_hold_what_a_filter_of_the_range_holds() {
        let samples: Vec<(i64, f64)> = [0, 60, 61, 120, 400, 401, 402, 900]
            .iter()
            .map(|&t| (t * 1000, t as f64))
            .collect();
        for (width, step) in [
            (300_000, 1_000),
            (300_000, 60_000),
            (0, 500),
            (60_000, 7_000),
        ] {
            let mut w = Windows::new(&samples, width);
            let mut t = -width;
            while t <= 1_000_000 {
                let want: Vec<(i64, f64)> = samples
                    .iter()
                    .copied()
                    .filter(|s| (t - width..=t).contains(&s.0))
                    .collect();
                assert_eq!(w.at(t), want.as_slice(), "t {t}, width {width}");
                t += step;
            }
        }
    }

    #[test]
    fn instant_selectors_look_back_five_minutes() {
        let s = vec![series(&[("__name__", "g")], &[(0, 1.0), (60_000, 2.0)])];
        let p = plan(&parse("g").expect("parses"), &s);
        let at = |t| match eval(
            &p,
            Steps {
                start: t,
                end: t,
                step: 1,
            },
        ) {
            Value::Vector(v) => v.first().and_then(|x| x.1.first()).map(|p| p.1),
            Value::Scalar(_) => None,
        };
        assert_eq!(at(60_000), Some(2.0));
        assert_eq!(at(360_000), Some(2.0));
        assert_eq!(at(360_001), None);
        assert_eq!(at(-1), None);
    }
}
