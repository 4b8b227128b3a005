//! `ai4k8s backtest` flags: every number of the model and of the predictive policy. Unset
//! predictive flags keep the tuned defaults of `PredictiveOptions::default()`.

use std::path::PathBuf;

use clap::Args;

use super::{Aggregate, ModelOptions, Options, PolicyKind, PredictiveOptions};
use crate::cli::Output;

#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// `timestamp,value` CSV trace to replay.
    #[arg(long, value_name = "FILE.csv")]
    pub trace: PathBuf,
    /// Policies: hpa, predictive, oracle (= oracle-100 and oracle-70, the latter at --target),
    /// static, rules, llm.
    #[arg(long, default_value = "hpa,predictive,oracle,static")]
    pub policies: String,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Fill missing rows with the last value instead of rejecting the file.
    #[arg(long)]
    pub fill_gaps: bool,

    /// Rescale the trace so its 99th percentile needs this many replicas at --target.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub p99_replicas: u32,
    /// Use the values as demand in replica units, without rescaling.
    #[arg(long, conflicts_with = "p99_replicas")]
    pub no_rescale: bool,
    /// The HPA's CPU target, % of requests.
    #[arg(long, default_value_t = 70, value_name = "PCT")]
    pub target: u32,
    /// Replay tick (the HPA's sync period).
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    pub tick: i64,
    /// Time from pod creation to serving.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub startup: i64,
    /// Age of the metrics the policies see.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub lag: i64,
    #[arg(long, default_value_t = 1)]
    pub min: u32,
    #[arg(long, default_value_t = 200)]
    pub max: u32,
    /// Unscored warm-up (at most half the trace).
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: i64,

    /// Forecast this often (default 1h).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub forecast_every: Option<i64>,
    /// Re-plan the predictive floor this often from the latest forecast (default 1m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub decide_every: Option<i64>,
    /// The rules and llm policies decide this often (default 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub advisor_every: Option<i64>,
    /// Step of the series the forecaster is given (default 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub forecast_step: Option<i64>,
    /// How each forecast step aggregates the observations: mean or max (default max).
    #[arg(long, value_name = "mean|max")]
    pub forecast_aggregate: Option<Aggregate>,
    /// History the forecaster is given (default 3d).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub forecast_history: Option<i64>,
    /// CPU target of the safety-net HPA under the predictive floor, % (default 85).
    #[arg(long, value_name = "PCT")]
    pub predictive_hpa_target: Option<u32>,
    /// Utilization the forecast is sized at, % (default 85).
    #[arg(long, value_name = "PCT")]
    pub predictive_utilization: Option<f64>,
    /// Where in the forecast band to size: 0 = point forecast, 1 = upper bound (default 0).
    #[arg(long, value_name = "0..1")]
    pub predictive_band: Option<f64>,
    /// Forecast window the floor covers (default 3m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub predictive_lookahead: Option<i64>,
    /// Forecast window the floor may be lowered to (default 20m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub predictive_lower_lookahead: Option<i64>,
    /// No lowering within this long of the last change (default 6m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub predictive_hold: Option<i64>,
    /// Fraction the need must fall below the floor before it is lowered (default 0.1).
    #[arg(long, value_name = "0..1")]
    pub predictive_hysteresis: Option<f64>,
    /// The floor never goes below the need of the peak seen over this window (default 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub predictive_recent: Option<i64>,
    /// Utilization the recent peak is sized at when lowering, % (default: the safety-net HPA's
    /// target).
    #[arg(long, value_name = "PCT")]
    pub predictive_recent_utilization: Option<f64>,
    /// No floor raise within this long after a lowering (default 6m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub predictive_reverse_guard: Option<i64>,
    /// Whether the floor follows the HPA up when it scales above it (default true).
    #[arg(long, value_name = "BOOL")]
    pub predictive_follow_hpa: Option<bool>,
}

impl BacktestArgs {
    pub fn policies(&self) -> Result<Vec<PolicyKind>, String> {
        PolicyKind::parse_list(&self.policies)
    }

    pub fn options(&self) -> Result<Options, String> {
        let mut p = PredictiveOptions::default();
        if let Some(v) = self.forecast_every {
            p.every_seconds = v;
        }
        if let Some(v) = self.decide_every {
            p.decide_every_seconds = v;
        }
        if let Some(v) = self.advisor_every {
            p.advisor_every_seconds = v;
        }
        if let Some(v) = self.forecast_step {
            p.step_seconds = u32::try_from(v).map_err(|_| format!("forecast step {v} s"))?;
        }
        if let Some(v) = self.forecast_aggregate {
            p.aggregate = v;
        }
        if let Some(v) = self.forecast_history {
            p.history_seconds = v;
        }
        if let Some(v) = self.predictive_hpa_target {
            p.hpa_target_pct = v;
        }
        let s = &mut p.sizing;
        if let Some(v) = self.predictive_utilization {
            s.target_utilization = v / 100.0;
        }
        if let Some(v) = self.predictive_band {
            s.band = v;
        }
        if let Some(v) = self.predictive_lookahead {
            s.lookahead_seconds = v;
        }
        if let Some(v) = self.predictive_lower_lookahead {
            s.lower_lookahead_seconds = v;
        }
        if let Some(v) = self.predictive_hold {
            s.hold_seconds = v;
        }
        if let Some(v) = self.predictive_hysteresis {
            s.lower_hysteresis = v;
        }
        if let Some(v) = self.predictive_recent {
            s.recent_seconds = v;
        }
        if let Some(v) = self.predictive_recent_utilization {
            s.recent_utilization = v / 100.0;
        } else if let Some(t) = self.predictive_hpa_target {
            s.recent_utilization = t as f64 / 100.0;
        }
        if let Some(v) = self.predictive_reverse_guard {
            s.reverse_guard_seconds = v;
        }
        if let Some(v) = self.predictive_follow_hpa {
            s.follow_hpa = v;
        }
        let opts = Options {
            model: ModelOptions {
                tick_seconds: self.tick,
                p99_replicas: (!self.no_rescale).then_some(self.p99_replicas),
                target_pct: self.target,
                startup_seconds: self.startup,
                lag_seconds: self.lag,
                min_replicas: self.min,
                max_replicas: self.max,
                warmup_seconds: self.warmup,
                ..ModelOptions::default()
            },
            predictive: p,
        };
        opts.validate().map_err(|e| e.to_string())?;
        Ok(opts)
    }
}

/// `90s`, `5m`, `6h`, `7d` or plain seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 90s, 5m, 6h or 7d"))?;
    let k = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    n.checked_mul(k).ok_or_else(|| format!("{s:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help text states the defaults; this pins them so the two change together.
    #[test]
    fn the_defaults_the_help_states() {
        let p = PredictiveOptions::default();
        assert_eq!(
            (
                p.every_seconds,
                p.decide_every_seconds,
                p.advisor_every_seconds
            ),
            (3600, 60, 300)
        );
        assert_eq!(
            (
                p.step_seconds,
                p.aggregate,
                p.history_seconds,
                p.hpa_target_pct
            ),
            (300, Aggregate::Max, 3 * 86_400, 85)
        );
        let s = p.sizing;
        assert_eq!(
            (
                s.target_utilization,
                s.band,
                s.lower_hysteresis,
                s.recent_utilization
            ),
            (0.85, 0.0, 0.1, 0.85)
        );
        assert_eq!(
            (
                s.lookahead_seconds,
                s.lower_lookahead_seconds,
                s.hold_seconds,
                s.recent_seconds,
                s.reverse_guard_seconds,
                s.follow_hpa
            ),
            (180, 1200, 360, 300, 360, true)
        );
    }

    #[test]
    fn flags_override_the_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: BacktestArgs,
        }
        let t = T::try_parse_from([
            "t",
            "--trace",
            "x.csv",
            "--predictive-hpa-target",
            "80",
            "--forecast-aggregate",
            "mean",
            "--predictive-hold",
            "10m",
        ])
        .expect("parses");
        let o = t.a.options().expect("valid");
        assert_eq!(o.predictive.hpa_target_pct, 80);
        assert_eq!(
            o.predictive.sizing.recent_utilization, 0.8,
            "follows the HPA target"
        );
        assert_eq!(o.predictive.aggregate, Aggregate::Mean);
        assert_eq!(o.predictive.sizing.hold_seconds, 600);
        assert_eq!(o.model.p99_replicas, Some(20));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
    }
}
