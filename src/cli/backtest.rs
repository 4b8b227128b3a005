//! `ai4k8s backtest`: a trace replayed through the policies (`crate::backtest`), the report
//! printed. Its flags set every number of the model and how the one policy runs; without
//! `--policy-*` flags the `ai4k8s` policy calibrates itself walk-forward, as the app does.
//! Bad trace files, flags and a missing LLM key exit 2 with one line.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::output::{Failure, Output, print_stdout};
use super::setup::Setup;
use super::wiring::llm_advisor;
use crate::advisor::Advisor;
use crate::advisor::llm::no_llm_reason;
use crate::backtest::{self, ModelOptions, Options, PolicyKind, PolicyOptions};
use crate::model::PolicyParams;
use crate::traces::{self, Gaps};

#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// `timestamp,value` CSV trace to replay.
    #[arg(long, value_name = "FILE.csv")]
    pub trace: PathBuf,
    /// Policies: hpa, ai4k8s (the one policy, calibrated walk-forward, applied as the
    /// autopilot does), oracle (= oracle-100 and oracle-70, the latter at --target), static,
    /// llm (ai4k8s with the configured LLM choosing within its range).
    #[arg(long, default_value = "hpa,ai4k8s,oracle,static")]
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

    /// Forecast demand this often (default 1h).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub forecast_every: Option<i64>,
    /// The policy decides this often: the app's [advisor] refresh_seconds (default 1m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub decide_every: Option<i64>,
    /// Recalibrate ai4k8s on the history seen so far this often (default 1d).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub calibrate_every: Option<i64>,
    /// Highest CPU target the policy may move the HPA to, % ([advisor] max_hpa_target_pct,
    /// default 85); set it to --target to keep the HPA's.
    #[arg(long, value_name = "PCT")]
    pub max_hpa_target: Option<u32>,
    /// Fix the policy's parameters instead of calibrating: the HPA target, % (any of the
    /// --policy-* flags turns calibration off; the others keep the defaults).
    #[arg(long, value_name = "PCT")]
    pub policy_hpa_target: Option<u32>,
    /// Utilization the floor is sized at, % (default 80).
    #[arg(long, value_name = "PCT")]
    pub policy_utilization: Option<f64>,
    /// Where in the forecast band to size: 0 = point forecast, 1 = upper bound (default 0).
    #[arg(long, value_name = "0..1")]
    pub policy_band: Option<f64>,
    /// No lowering within this long of the last change (default 10m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub policy_hold: Option<i64>,
    /// Whether the floor follows the HPA up when it scales above it (default true).
    #[arg(long, value_name = "BOOL")]
    pub policy_follow_hpa: Option<bool>,
}

impl BacktestArgs {
    pub fn policies(&self) -> Result<Vec<PolicyKind>, String> {
        PolicyKind::parse_list(&self.policies)
    }

    pub fn options(&self) -> Result<Options, String> {
        let mut p = PolicyOptions::default();
        if let Some(v) = self.forecast_every {
            p.forecast_every_seconds = v;
        }
        if let Some(v) = self.decide_every {
            p.advisor.refresh_seconds = u64::try_from(v.max(1)).unwrap_or(60);
        }
        if let Some(v) = self.calibrate_every {
            p.calibrate_every_seconds = v;
        }
        if let Some(v) = self.max_hpa_target {
            p.advisor.max_hpa_target_pct = v;
            p.advisor.min_hpa_target_pct = p.advisor.min_hpa_target_pct.min(v);
        }
        let fixed = self.policy_hpa_target.is_some()
            || self.policy_utilization.is_some()
            || self.policy_band.is_some()
            || self.policy_hold.is_some()
            || self.policy_follow_hpa.is_some();
        if fixed {
            let mut f = PolicyParams::default();
            if let Some(v) = self.policy_hpa_target {
                f.hpa_target_pct = (v != self.target).then_some(v);
                f.recent_utilization = v as f64 / 100.0;
                p.advisor.max_hpa_target_pct = p.advisor.max_hpa_target_pct.max(v);
                p.advisor.min_hpa_target_pct = p.advisor.min_hpa_target_pct.min(v);
            }
            if let Some(v) = self.policy_utilization {
                f.target_utilization = v / 100.0;
            }
            if let Some(v) = self.policy_band {
                f.band = v;
            }
            if let Some(v) = self.policy_hold {
                f.hold_seconds = v;
            }
            if let Some(v) = self.policy_follow_hpa {
                f.follow_hpa = v;
            }
            p.fixed = Some(f);
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
            policy: p,
        };
        opts.validate().map_err(|e| e.to_string())?;
        Ok(opts)
    }
}

/// Replays the trace `args` name and prints the report.
pub async fn run(setup: &Setup, args: &BacktestArgs) -> Result<(), Failure> {
    let bad = |why: String| Failure::bad_input(format!("backtest: {why}"));
    let (policies, opts) = match (args.policies(), args.options()) {
        (Ok(p), Ok(o)) => (p, o),
        (Err(e), _) | (_, Err(e)) => return Err(bad(e)),
    };
    let gaps = if args.fill_gaps {
        Gaps::FillWithLast
    } else {
        Gaps::Reject
    };
    let trace = match traces::load(&args.trace, gaps) {
        Ok(t) => t,
        Err(e) if e.reason.contains("irregular") && !args.fill_gaps => {
            return Err(bad(format!(
                "{e} (--fill-gaps fills holes with the last value)"
            )));
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let report = if policies.contains(&PolicyKind::Llm) {
        let advisor = match llm_advisor(setup) {
            Ok(Some(llm)) => Advisor::with_llm(setup.cfg.advisor.clone(), Arc::new(llm)),
            Ok(None) => {
                return Err(bad(format!(
                    "--policies llm needs an LLM key: {} (set it, or leave llm out)",
                    no_llm_reason(&setup.cfg.llm)
                )));
            }
            Err(e) => return Err(bad(format!("--policies llm: {e}"))),
        };
        backtest::run_with_advisor(&trace, &opts, &policies, &advisor).await
    } else {
        backtest::run(&trace, &opts, &policies)
    };
    match report {
        Ok(r) => print_stdout(&match args.output {
            Output::Json => r.to_json(),
            Output::Text => r.to_table(),
        }),
        Err(e) => Err(bad(format!("{}: {e}", args.trace.display()))),
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
        let p = PolicyOptions::default();
        assert_eq!(
            (
                p.forecast_every_seconds,
                p.decide_every_seconds(),
                p.calibrate_every_seconds
            ),
            (3600, 60, 86_400)
        );
        assert_eq!(
            p.fixed, None,
            "calibrated unless --policy-* flags are given"
        );
        assert_eq!(p.advisor.max_hpa_target_pct, 85);
        let f = PolicyParams::default();
        assert_eq!(
            (f.target_utilization, f.band, f.hold_seconds, f.follow_hpa),
            (0.8, 0.0, 600, true)
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
            "--policy-hpa-target",
            "80",
            "--policy-hold",
            "5m",
        ])
        .expect("parses");
        let o = t.a.options().expect("valid");
        let f = o.policy.fixed.expect("fixed parameters");
        assert_eq!(f.hpa_target_pct, Some(80));
        assert_eq!(f.recent_utilization, 0.8, "follows the HPA target");
        assert_eq!(f.hold_seconds, 300);
        assert_eq!(o.model.p99_replicas, Some(20));
        let t = T::try_parse_from(["t", "--trace", "x.csv"]).expect("parses");
        assert_eq!(t.a.options().expect("valid").policy.fixed, None);
        assert_eq!(
            t.a.policies().expect("defaults parse"),
            PolicyKind::defaults()
        );
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
