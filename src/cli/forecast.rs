//! `ai4k8s forecast --input FILE.csv [--horizon 6h] [-o json]`: forecast a recorded series.
//!
//! The CSV is read strictly (`Gaps::Reject`): a header, numeric values, increasing timestamps
//! on a regular step. Every failure is a `CommandError` whose one-line message names the file
//! (and the line when one is at fault); `print` reports it and exits with `exit_code()`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::output::{Failure, Output, print_stdout};

use crate::forecast::{ForecastError, ForecastOptions, SeriesInput, forecast};
use crate::model::{AnomalyKind, Forecast, rfc3339};
use crate::traces::{self, Gaps, TraceError};

/// Longest horizon accepted: beyond a week the daily pattern is all the model has.
pub const MAX_HORIZON_SECONDS: u32 = 7 * 86_400;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// Unreadable or malformed CSV: `FILE:LINE: reason` (or `FILE: reason`).
    #[error("{0}")]
    Input(#[from] TraceError),
    /// A valid CSV with too little to forecast from.
    #[error("{file}: {source}")]
    Forecast { file: String, source: ForecastError },
}

impl CommandError {
    /// Bad input, per the CLI contract.
    pub fn exit_code(&self) -> i32 {
        2
    }
}

/// Parse a horizon: "6h", "90m", "3600s", "3600" (seconds) or "1d"; positive, at most a week.
pub fn parse_horizon(s: &str) -> Result<u32, String> {
    let t = s.trim().to_ascii_lowercase();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t.as_str(), ""),
    };
    let multiplier: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "invalid horizon {s:?}: expected e.g. 6h, 90m, 3600s or 3600"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid horizon {s:?}: expected e.g. 6h, 90m, 3600s or 3600"))?;
    let secs = n.saturating_mul(multiplier);
    if secs == 0 {
        return Err(format!("invalid horizon {s:?}: must be positive"));
    }
    if secs > MAX_HORIZON_SECONDS as u64 {
        return Err(format!("invalid horizon {s:?}: at most 7d"));
    }
    Ok(secs as u32)
}

/// What `-o json` prints: the shared `Forecast` plus where it came from.
#[derive(Serialize)]
struct JsonOutput<'a> {
    input: String,
    horizon_seconds: u32,
    history_points: usize,
    #[serde(flatten)]
    forecast: &'a Forecast,
}

/// The face: parse `horizon`, forecast `input`, print; bad input exits 2 with one line.
pub fn print(input: &Path, horizon: &str, output: Output) -> Result<(), Failure> {
    let horizon_seconds = parse_horizon(horizon)
        .map_err(|e| Failure::bad_input(format!("forecast: --horizon {horizon}: {e}")))?;
    match run(input, horizon_seconds, output == Output::Json) {
        Ok(text) => print_stdout(text.trim_end()),
        Err(e) => Err(Failure::Reason {
            status: e.exit_code().clamp(1, 255) as u8,
            reason: format!("forecast: {e}"),
        }),
    }
}

/// Run the command: read `input`, forecast `horizon_seconds` ahead, render text or JSON.
pub fn run(input: &Path, horizon_seconds: u32, json: bool) -> Result<String, CommandError> {
    let trace = traces::load(input, Gaps::Reject)?;
    let file = input.display().to_string();
    let f = forecast(
        SeriesInput {
            start: trace.start,
            step_seconds: trace.step_seconds,
            values: &trace.values,
        },
        ForecastOptions { horizon_seconds },
    )
    .map_err(|source| CommandError::Forecast {
        file: file.clone(),
        source,
    })?;
    if json {
        let out = JsonOutput {
            input: file,
            horizon_seconds,
            history_points: trace.values.len(),
            forecast: &f,
        };
        // Every number in a Forecast is finite, so serialisation cannot fail; fall back to an
        // empty object rather than panic if it ever did.
        let mut s = serde_json::to_string_pretty(&out).unwrap_or_else(|_| "{}".to_string());
        s.push('\n');
        return Ok(s);
    }
    Ok(render_text(&file, &trace, horizon_seconds, &f))
}

fn render_text(file: &str, trace: &traces::Trace, horizon: u32, f: &Forecast) -> String {
    let mut s = String::new();
    let days = trace.values.len() as f64 * trace.step_seconds as f64 / 86_400.0;
    let _ = writeln!(
        s,
        "{file}: {} points every {} s ({days:.1} days), forecast {} ahead",
        trace.values.len(),
        trace.step_seconds,
        duration(horizon as i64)
    );
    let confidence = if f.low_confidence {
        "LOW (under 2 days of history)"
    } else {
        "normal"
    };
    let _ = writeln!(s, "model       {}", f.model);
    let _ = writeln!(s, "confidence  {confidence}");
    let _ = writeln!(s, "current     {:.2}", f.current);
    let from_now = f.peak.timestamp - trace.end() + trace.step_seconds as i64;
    let _ = writeln!(
        s,
        "peak        {:.2} at {} (in {})",
        f.peak.value,
        rfc3339(f.peak.timestamp),
        duration(from_now)
    );
    let _ = writeln!(
        s,
        "trend       {} {} ({:+.1} %/h)",
        f.trend.as_str(),
        f.trend.arrow(),
        f.trend_pct_per_hour
    );
    let outliers = f
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::Outlier)
        .count();
    let shifts = f.anomalies.len() - outliers;
    let _ = write!(
        s,
        "anomalies   {outliers} outlier(s), {shifts} level shift(s) in the history"
    );
    if let Some(a) = f.anomalies.last() {
        let kind = match a.kind {
            AnomalyKind::Outlier => "outlier",
            AnomalyKind::LevelShift => "level shift",
        };
        let _ = write!(
            s,
            "; latest: {kind} at {} ({:.2})",
            rfc3339(a.timestamp),
            a.value
        );
    }
    s.push('\n');

    // One row per hour: mean forecast and mean band.
    let per_hour = (3600 / trace.step_seconds.max(1) as usize).max(1);
    let points: Vec<_> = f.points.iter().collect();
    let hours: Vec<_> = points
        .chunks(per_hour)
        .filter(|c| c.len() == per_hour)
        .collect();
    if !hours.is_empty() {
        let _ = writeln!(
            s,
            "\n{:>6}  {:>12}  {:>12}  {:>12}",
            "hour", "forecast", "low", "high"
        );
        for (h, c) in hours.iter().enumerate() {
            let m = |g: fn(&crate::model::ForecastPoint) -> f64| {
                c.iter().map(g).sum::<f64>() / c.len() as f64
            };
            let _ = writeln!(
                s,
                "{:>6}  {:>12.2}  {:>12.2}  {:>12.2}",
                format!("+{}h", h + 1),
                m(|p| p.value),
                m(|p| p.lower),
                m(|p| p.upper)
            );
        }
    }
    s
}

/// "2h05m", "45m", "3d".
fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, 0, 0) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }

    /// Three days of 5-minute data: a daily wave between 20 and 80.
    fn good_csv() -> String {
        let mut s = String::from("timestamp,value\n");
        for i in 0..3 * 288 {
            let phase = i as f64 / 288.0 * std::f64::consts::TAU;
            let v = 50.0 + 30.0 * phase.sin();
            let _ = writeln!(s, "{},{v:.3}", 1_700_000_000 + i * 300);
        }
        s
    }

    #[test]
    fn json_output_has_the_contract_fields_and_sane_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "good.csv", &good_csv());
        let out = run(&path, 6 * 3600, true).expect("forecast");
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert!(v["model"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(v["step_seconds"], 300);
        assert_eq!(v["horizon_seconds"], 21_600);
        assert_eq!(v["history_points"], 864);
        assert_eq!(v["low_confidence"], false);
        let points = v["points"].as_array().expect("points");
        assert_eq!(points.len(), 72);
        let last_input = 1_700_000_000 + (3 * 288 - 1) * 300;
        assert_eq!(points[0]["timestamp"], last_input + 300);
        assert_eq!(points[71]["timestamp"], last_input + 72 * 300);
        let mut max = f64::MIN;
        for (h, p) in points.iter().enumerate() {
            let (val, lo, hi) = (
                p["value"].as_f64().expect("value"),
                p["lower"].as_f64().expect("lower"),
                p["upper"].as_f64().expect("upper"),
            );
            assert!(lo <= val && val <= hi, "{p}");
            // The wave continues: next day's value at the same phase.
            let phase = (3 * 288 + h) as f64 / 288.0 * std::f64::consts::TAU;
            let expected = 50.0 + 30.0 * phase.sin();
            assert!((val - expected).abs() < 2.0, "h={h}: {val} vs {expected}");
            max = max.max(val);
        }
        // The wave peaks (80) six hours into the day, at the horizon's end.
        let peak = v["peak"]["value"].as_f64().expect("peak");
        assert!(peak >= max && (peak - 80.0).abs() < 2.0, "{peak}");
        assert!(v["peak"]["timestamp"].as_i64().is_some());
        // The trend is that of the deseasonalised level: a pure daily wave has none.
        assert_eq!(v["trend"], "stable");
        assert!(v["trend_pct_per_hour"].as_f64().is_some());
        assert!(v["anomalies"].as_array().is_some());
        assert_eq!(v["hourly"].as_array().map(Vec::len), Some(6));
        assert!(v["current"].as_f64().is_some());
    }

    #[test]
    fn text_output_is_a_compact_summary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "good.csv", &good_csv());
        let out = run(&path, 3 * 3600, false).expect("forecast");
        for needle in [
            "model",
            "confidence  normal",
            "peak",
            "trend",
            "anomalies",
            "+3h",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        assert!(!out.contains("+4h"));
        assert!(out.lines().count() < 20, "{out}");
    }

    #[test]
    fn bad_csv_is_a_one_line_error_naming_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            ("noheader.csv", "0,1\n60,2\n120,3\n", Some(1), "header"),
            (
                "nan.csv",
                "t,v\n0,1\n60,abc\n120,3\n",
                Some(3),
                "not a number",
            ),
            (
                "irregular.csv",
                "t,v\n0,1\n60,2\n150,3\n",
                Some(4),
                "irregular",
            ),
            (
                "decreasing.csv",
                "t,v\n0,1\n60,2\n30,3\n",
                Some(4),
                "does not increase",
            ),
            ("few.csv", "t,v\n0,1\n60,2\n", None, "too few rows"),
            (
                "short.csv",
                "t,v\n0,1\n60,2\n120,3\n180,4\n",
                None,
                "too little history",
            ),
            ("empty.csv", "", None, "empty"),
        ];
        for (name, text, line, reason) in cases {
            let path = write(&dir, name, text);
            let e = run(&path, 3600, false).expect_err(name);
            let msg = e.to_string();
            assert_eq!(msg.lines().count(), 1, "{msg}");
            let file = path.display().to_string();
            match line {
                Some(l) => assert!(msg.starts_with(&format!("{file}:{l}: ")), "{msg}"),
                None => assert!(msg.starts_with(&format!("{file}: ")), "{msg}"),
            }
            assert!(msg.contains(reason), "{name}: {msg}");
            assert_eq!(e.exit_code(), 2);
        }
        let missing = dir.path().join("missing.csv");
        let e = run(&missing, 3600, true).expect_err("missing file");
        assert!(e.to_string().contains("missing.csv"), "{e}");
    }

    #[test]
    fn horizons_parse_in_the_documented_forms() {
        assert_eq!(parse_horizon("6h"), Ok(21_600));
        assert_eq!(parse_horizon("90m"), Ok(5_400));
        assert_eq!(parse_horizon("3600s"), Ok(3_600));
        assert_eq!(parse_horizon("3600"), Ok(3_600));
        assert_eq!(parse_horizon(" 1D "), Ok(86_400));
        for bad in [
            "",
            "0",
            "0h",
            "-1h",
            "6x",
            "h",
            "1.5h",
            "8d",
            "99999999999999999999",
        ] {
            assert!(parse_horizon(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(duration(2 * 3600 + 5 * 60), "2h05m");
        assert_eq!(duration(45 * 60), "45m");
        assert_eq!(duration(3 * 86_400), "3d");
    }
}
