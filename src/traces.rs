//! Workload traces: `timestamp,value` CSV files (DESIGN.md "CSV input"), as used by the demo
//! cluster, `ai4k8s forecast`, the backtest and the benchmarks.
//!
//! Parsing is strict by default (a header, numeric values, increasing timestamps on a regular
//! step) and every error names the file and line. Public traces have holes (the NASA log misses
//! 3.5 days), so callers that replay them can ask for gaps to be filled instead.

use std::fmt;
use std::path::Path;

use crate::model::UnixSeconds;

/// Shortest and longest step accepted (DESIGN.md: 15 s to 5 min).
pub const MIN_STEP_SECONDS: i64 = 15;
pub const MAX_STEP_SECONDS: i64 = 300;

/// A regular series: `values[i]` was observed at `start + i * step_seconds`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub name: String,
    pub start: UnixSeconds,
    pub step_seconds: u32,
    pub values: Vec<f64>,
}

impl Trace {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn timestamp(&self, i: usize) -> UnixSeconds {
        self.start + i as i64 * self.step_seconds as i64
    }

    pub fn end(&self) -> UnixSeconds {
        self.timestamp(self.values.len())
    }

    /// The value in force at time `t` (each sample held for its interval), wrapping around the
    /// trace so a replay can run longer than the recording.
    pub fn value_at_wrapping(&self, t: UnixSeconds) -> f64 {
        if self.values.is_empty() {
            return 0.0;
        }
        let idx = (t - self.start).div_euclid(self.step_seconds as i64);
        let n = self.values.len() as i64;
        self.values[idx.rem_euclid(n) as usize]
    }

    /// The given quantile (0..=1) of the values, ignoring NaN.
    pub fn quantile(&self, q: f64) -> f64 {
        quantile(&self.values, q)
    }
}

/// Quantile by linear interpolation between closest ranks, ignoring NaN; 0 for no values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// A trace file that could not be read, with the place it went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceError {
    pub file: String,
    /// 1-based line number, 0 when the error concerns the whole file.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

impl std::error::Error for TraceError {}

/// How to treat missing rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gaps {
    /// A missing row is an error (the CLI contract).
    Reject,
    /// Missing rows are filled with the last value before the gap (for replays of public traces).
    FillWithLast,
}

/// Minimum number of data rows for a trace to be usable.
pub const MIN_ROWS: usize = 3;

/// Most values a trace may have after gaps are filled (about 9.5 years at 1 minute): a row
/// far in the future must be an error, not a fill that exhausts memory.
pub const MAX_VALUES: usize = 5_000_000;

/// Read and parse a trace file.
pub fn load(path: &Path, gaps: Gaps) -> Result<Trace, TraceError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TraceError {
        file: file.clone(),
        line: 0,
        reason: format!("cannot read: {e}"),
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    parse(&file, &name, &text, gaps)
}

/// Parse CSV text; `file` names the source in errors, `name` becomes the trace's name.
pub fn parse(file: &str, name: &str, text: &str, gaps: Gaps) -> Result<Trace, TraceError> {
    let err = |line: usize, reason: String| TraceError {
        file: file.to_string(),
        line,
        reason,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hline, header)) = lines.next() else {
        return Err(err(0, "empty file".into()));
    };
    let mut cols = header.split(',').map(str::trim);
    let (Some(c0), Some(c1)) = (cols.next(), cols.next()) else {
        return Err(err(hline + 1, "expected a header `timestamp,value`".into()));
    };
    if c0.parse::<f64>().is_ok() || c1.parse::<f64>().is_ok() {
        return Err(err(
            hline + 1,
            "expected a header line `timestamp,value`, found data".into(),
        ));
    }

    let mut rows: Vec<(usize, UnixSeconds, f64)> = Vec::new();
    for (i, line) in lines {
        let lineno = i + 1;
        let mut parts = line.split(',').map(str::trim);
        let (Some(ts), Some(val)) = (parts.next(), parts.next()) else {
            return Err(err(lineno, "expected `timestamp,value`".into()));
        };
        let ts = parse_timestamp(ts).ok_or_else(|| {
            err(
                lineno,
                format!("timestamp {ts:?} is neither unix seconds nor RFC 3339"),
            )
        })?;
        // Within chrono's range (±262,000 years): differences of two cannot overflow, and
        // every timestamp can be formatted.
        if chrono::DateTime::from_timestamp(ts, 0).is_none() {
            return Err(err(lineno, format!("timestamp {ts} is out of range")));
        }
        let v: f64 = val
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| err(lineno, format!("value {val:?} is not a number")))?;
        if let Some(&(_, prev, _)) = rows.last()
            && ts <= prev
        {
            return Err(err(
                lineno,
                format!("timestamp {ts} does not increase (previous row {prev})"),
            ));
        }
        rows.push((lineno, ts, v));
    }
    if rows.len() < MIN_ROWS {
        return Err(err(
            0,
            format!("too few rows: {} (at least {MIN_ROWS} needed)", rows.len()),
        ));
    }

    let step = rows[1].1 - rows[0].1;
    if !(MIN_STEP_SECONDS..=MAX_STEP_SECONDS).contains(&step) {
        return Err(err(
            rows[1].0,
            format!("step of {step} s is outside {MIN_STEP_SECONDS}..={MAX_STEP_SECONDS} s"),
        ));
    }
    let mut values = Vec::with_capacity(rows.len());
    let start = rows[0].1;
    for w in rows.windows(2) {
        let (_, t0, v0) = w[0];
        let (lineno, t1, _) = w[1];
        if values.is_empty() {
            values.push(v0);
        }
        let delta = t1 - t0;
        if delta == step {
            // regular
        } else if delta % step == 0 && gaps == Gaps::FillWithLast {
            let missing = usize::try_from(delta / step - 1).unwrap_or(usize::MAX);
            if missing > MAX_VALUES.saturating_sub(values.len()) {
                return Err(err(
                    lineno,
                    format!(
                        "a gap of {delta} s would make the trace longer than {MAX_VALUES} values"
                    ),
                ));
            }
            values.resize(values.len() + missing, v0);
        } else {
            return Err(err(
                lineno,
                format!("irregular step: {delta} s after the previous row, expected {step} s"),
            ));
        }
        values.push(w[1].2);
    }
    Ok(Trace {
        name: name.to_string(),
        start,
        step_seconds: step as u32,
        values,
    })
}

fn parse_timestamp(s: &str) -> Option<UnixSeconds> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
        && f.fract() == 0.0
    {
        return Some(f as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
}

/// The traces shipped in `assets/traces/` (see its README for sources and licences).
pub mod embedded {
    use super::{Gaps, Trace, parse};

    pub const NAMES: &[&str] = &[
        "crane_input9_1m",
        "crane_input0_1m",
        "crane_input11_1m",
        "nasa_http_requests_1m",
        "nab_cpu_utilization_asg_misconfiguration_5m",
        "nab_rds_cpu_utilization_cc0c53_5m",
        "nab_twitter_volume_AMZN_5m",
        "azure2019_vm_cpu_total_5m",
    ];

    fn text(name: &str) -> Option<&'static str> {
        Some(match name {
            "crane_input9_1m" => include_str!("../assets/traces/crane_input9_1m.csv"),
            "crane_input0_1m" => include_str!("../assets/traces/crane_input0_1m.csv"),
            "crane_input11_1m" => include_str!("../assets/traces/crane_input11_1m.csv"),
            "nasa_http_requests_1m" => include_str!("../assets/traces/nasa_http_requests_1m.csv"),
            "nab_cpu_utilization_asg_misconfiguration_5m" => {
                include_str!("../assets/traces/nab_cpu_utilization_asg_misconfiguration_5m.csv")
            }
            "nab_rds_cpu_utilization_cc0c53_5m" => {
                include_str!("../assets/traces/nab_rds_cpu_utilization_cc0c53_5m.csv")
            }
            "nab_twitter_volume_AMZN_5m" => {
                include_str!("../assets/traces/nab_twitter_volume_AMZN_5m.csv")
            }
            "azure2019_vm_cpu_total_5m" => {
                include_str!("../assets/traces/azure2019_vm_cpu_total_5m.csv")
            }
            _ => return None,
        })
    }

    /// Load an embedded trace by name, gaps filled.
    pub fn load(name: &str) -> Option<Trace> {
        let file = format!("assets/traces/{name}.csv");
        parse(&file, name, text(name)?, Gaps::FillWithLast).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_and_rfc3339() {
        let t = parse(
            "f.csv",
            "f",
            "timestamp,value\n0,1\n60,2\n120,3\n",
            Gaps::Reject,
        )
        .expect("valid");
        assert_eq!(
            (t.start, t.step_seconds, t.values.clone()),
            (0, 60, vec![1.0, 2.0, 3.0])
        );
        let t = parse(
            "f.csv",
            "f",
            "ts,v\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n2026-01-01T00:02:00+00:00,4\n",
            Gaps::Reject,
        )
        .expect("valid");
        assert_eq!(t.step_seconds, 60);
        assert_eq!(t.values, vec![1.0, 2.0, 4.0]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("f.csv", "f", "0,1\n60,2\n120,3\n", Gaps::Reject).expect_err("no header");
        assert_eq!((e.line, e.to_string().starts_with("f.csv:1:")), (1, true));
        let e = parse("f.csv", "f", "t,v\n0,1\n60,x\n120,3\n", Gaps::Reject).expect_err("nan");
        assert_eq!(e.line, 3);
        assert!(e.reason.contains("not a number"), "{e}");
        let e = parse("f.csv", "f", "t,v\n0,1\n60,2\n30,3\n", Gaps::Reject).expect_err("decr");
        assert_eq!(e.line, 4);
        let e = parse("f.csv", "f", "t,v\n0,1\n60,2\n150,3\n", Gaps::Reject).expect_err("irreg");
        assert_eq!(e.line, 4);
        assert!(e.reason.contains("irregular"));
        let e = parse("f.csv", "f", "t,v\n0,1\n60,2\n", Gaps::Reject).expect_err("few");
        assert!(e.reason.contains("too few rows"));
        let e = parse("f.csv", "f", "t,v\n0,1\n3600,2\n7200,2\n", Gaps::Reject).expect_err("step");
        assert!(e.reason.contains("outside"));
    }

    #[test]
    fn timestamps_beyond_chronos_range_are_errors_not_overflows() {
        // i64::MIN then i64::MAX - 1: their difference (the step) overflowed.
        let text = "t,v\n-9223372036854775808,1\n9223372036854775806,2\n9223372036854775807,3\n";
        let e = parse("x.csv", "x", text, Gaps::FillWithLast).expect_err("out of range");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.reason.contains("out of range"), "{e}");
        // Floats are saturated by `as`, and refused the same way.
        let e = parse("x.csv", "x", "t,v\n0,1\n60,1\n1e300,1\n", Gaps::Reject)
            .expect_err("float out of range");
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn a_far_future_row_is_an_error_not_a_fill_that_exhausts_memory() {
        // 60 s steps, then a row 10^11 s later: filling would push ~1.7 billion values.
        let text = "t,v\n0,1\n60,1\n120,1\n100000000020,1\n";
        let e = parse("x.csv", "x", text, Gaps::FillWithLast).expect_err("too long");
        assert_eq!(e.line, 5, "{e}");
        assert!(e.reason.contains("longer than"), "{e}");
        // A gap that fits is still filled.
        let t = parse("x.csv", "x", "t,v\n0,1\n60,1\n6000,2\n", Gaps::FillWithLast).expect("fits");
        assert_eq!(t.len(), 101);
    }

    #[test]
    fn gaps_can_be_filled_with_the_last_value() {
        let t = parse("f.csv", "f", "t,v\n0,1\n60,2\n240,5\n", Gaps::FillWithLast).expect("ok");
        assert_eq!(t.values, vec![1.0, 2.0, 2.0, 2.0, 5.0]);
        assert_eq!(t.value_at_wrapping(60 * 5), 1.0, "wraps around");
        assert_eq!(t.value_at_wrapping(-60), 5.0, "wraps backwards");
    }

    #[test]
    fn every_embedded_trace_loads() {
        for name in embedded::NAMES {
            let t = embedded::load(name).unwrap_or_else(|| panic!("{name} loads"));
            assert!(t.len() > 1000, "{name} has {} rows", t.len());
        }
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
    }
}
