//! Calibration: the policy's parameters chosen for one deployment by replaying its own history
//! through the backtest's machinery (the same `PolicyDriven` the backtest scores, so the same
//! advisor, gate and changes), walk-forward: candidates are compared on the earlier part of the
//! history and the winner is judged on the later part it was not chosen on. Nothing after `now`
//! is ever read.
//!
//! The choice (`choose`): among the candidates that under-provision at most half as many minutes
//! as the HPA did on the same history (or at most 5 where the HPA's are at most 10) and spend no
//! more replica-hours than it, the one with the fewest direction flips within 300 s, then the
//! fewest replica-hours; if none is that cheap, the cheapest within the bound; if none is within
//! it, the one that under-provisions least.

use std::sync::Arc;

use super::demand::{Demand, history_trace, hold_per_tick};
use super::metrics::PolicyMetrics;
use super::options::{ModelOptions, PolicyKind, PolicyOptions};
use super::policy::{self, Feed, PolicyDriven, Shared, Tuning};
use crate::actions::AutopilotOptions;
use crate::advisor::policy::demand;
use crate::config::AdvisorConfig;
use crate::model::{Calibration, DeploymentState, Forecast, PolicyParams, Sample, UnixSeconds};
use crate::traces::Trace;

/// Too little history to calibrate on: the defaults apply until then.
pub const MIN_HISTORY_SECONDS: i64 = 2 * 86_400;
/// The later part the choice is judged on.
pub const HELD_OUT_SECONDS: i64 = 86_400;
/// The earliest part of each replay is unscored warm-up (the forecast needs history).
const WARMUP_SECONDS: i64 = 86_400;
/// At most this much history is replayed (bounded cost: a calibration is a few hundred ms).
pub const MAX_HISTORY_SECONDS: i64 = 4 * 86_400;
/// Candidates are replayed at minute ticks (the app's history resolution; a quarter of the
/// HPA's 15 s syncs), the HPA baseline alike.
const TICK_SECONDS: i64 = 60;

thread_local! {
    /// Set on a worker pool's threads: their calibrations start no threads of their own.
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// From now on, calibrations on this thread replay their candidates one after another instead
/// of a thread per core: for the threads of a pool that is already sized to the cores.
pub fn replay_candidates_inline_on_this_thread() {
    INLINE.set(true);
}

/// A deployment's history and setting, as calibration needs them.
pub struct Input<'a> {
    /// Regular demand series (units of one pod's request, every value known), from `start` at
    /// `step_seconds`.
    pub start: UnixSeconds,
    pub step_seconds: i64,
    pub demand: &'a [f64],
    /// Forecasts made so far, with their times (the backtest's); None: made here, hourly.
    pub forecasts: Option<&'a [(UnixSeconds, Arc<Forecast>)]>,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// The HPA's own CPU target.
    pub hpa_target_pct: u32,
    pub startup_seconds: i64,
    pub lag_seconds: i64,
    pub advisor: &'a AdvisorConfig,
    pub autopilot: AutopilotOptions,
    /// Calibrate as of this instant: later data is ignored.
    pub now: UnixSeconds,
}

/// The shortest hold a candidate may have: longer than the HPA's own downscale stabilization
/// window (300 s by default) by one decision, so a raised floor is never lowered at the edge of
/// that window (a reversal the HPA itself would not make).
pub const MIN_HOLD_SECONDS: i64 = 360;

/// How much of its recent past a candidate's floor must cover before it is lowered
/// (`recent_seconds`: never below what the highest demand of that window needs at the HPA's
/// target). Every direction flip within 300 s the shared traces showed was a lowering the HPA
/// undid within minutes: sized on the last five minutes of a noisy series, the next five climb
/// past the HPA's threshold. A longer window makes fewer such lowerings and costs replica-hours
/// on a falling series; which window a deployment affords is its history's to say (the choice
/// weighs flips, `choose`).
pub const RECENT_WINDOWS: [i64; 3] = [300, 600, 1200];

/// The most parameter sets one calibration replays.
pub const MAX_CANDIDATES: usize = 48;

/// The parameter sets compared: the floor's utilization, the HPA target (the HPA's own and
/// hotter ones within the user's range), the hold and the recent window a lowering must clear
/// (`RECENT_WINDOWS`). Nothing here is fitted to a trace; the grid spans what a deployment's
/// history can prefer, at most `MAX_CANDIDATES` sets (a fleet's calibration cost is bounded by
/// it).
pub fn candidates(cfg: &AdvisorConfig, hpa_target_pct: u32) -> Vec<PolicyParams> {
    let (lo, hi) = (cfg.min_hpa_target_pct, cfg.max_hpa_target_pct);
    let mut targets: Vec<u32> = [hpa_target_pct, 75, 80, 85, 90]
        .into_iter()
        .filter(|t| *t >= hpa_target_pct.min(hi) && (lo..=hi).contains(t))
        .collect();
    if targets.is_empty() {
        targets.push(hpa_target_pct.clamp(lo.min(hi), hi.max(lo)));
    }
    targets.sort_unstable();
    targets.dedup();
    // Five targets when the user's range allows them all: the grid stays within 48 by keeping
    // the HPA's own and the three hottest.
    if targets.len() > 4 {
        targets.drain(1..targets.len() - 3);
    }
    let mut out = Vec::new();
    for &t in &targets {
        for util in [0.8, 0.9] {
            for hold in [MIN_HOLD_SECONDS, 900] {
                for recent in RECENT_WINDOWS {
                    out.push(PolicyParams {
                        target_utilization: util,
                        hold_seconds: hold,
                        recent_seconds: recent,
                        recent_utilization: t as f64 / 100.0,
                        hpa_target_pct: (t != hpa_target_pct).then_some(t),
                        ..PolicyParams::default()
                    });
                }
            }
        }
    }
    out
}

/// Calibrate from a deployment's minute samples (the app's history).
pub fn calibrate(
    samples: &[Sample],
    state: &DeploymentState,
    cfg: &AdvisorConfig,
) -> Result<Calibration, String> {
    let trace = history_trace(samples, "calibration").map_err(|e| e.to_string())?;
    let end = trace.start + trace.len() as i64 * trace.step_seconds as i64;
    calibrate_demand(&Input {
        start: trace.start,
        step_seconds: trace.step_seconds as i64,
        demand: &trace.values,
        forecasts: None,
        min_replicas: state.min_replicas.max(1),
        max_replicas: state.max_replicas.max(state.min_replicas.max(1)),
        hpa_target_pct: state
            .hpa
            .as_ref()
            .and_then(|h| h.target_cpu_pct)
            .unwrap_or(cfg.default_target_cpu_pct),
        startup_seconds: 60,
        lag_seconds: 60,
        advisor: cfg,
        autopilot: AutopilotOptions::from_config(&crate::config::ActionsConfig::default(), false),
        now: end,
    })
}

/// Calibrate from a regular demand series.
pub fn calibrate_demand(inp: &Input<'_>) -> Result<Calibration, String> {
    let step = inp.step_seconds.max(1);
    // Only what was known at `now`, at most MAX_HISTORY_SECONDS of it.
    let known = ((inp.now - inp.start) / step).clamp(0, inp.demand.len() as i64) as usize;
    let keep = (MAX_HISTORY_SECONDS / step) as usize;
    let skip = known.saturating_sub(keep);
    let series = inp.demand[skip..known].to_vec();
    let start = inp.start + skip as i64 * step;
    let total = series.len() as i64 * step;
    if total < MIN_HISTORY_SECONDS {
        return Err(format!(
            "{:.1} h of history; calibration needs {} h",
            total as f64 / 3600.0,
            MIN_HISTORY_SECONDS / 3600
        ));
    }
    let trace = Trace {
        name: "calibration".into(),
        start,
        step_seconds: step as u32,
        values: series,
    };
    let all = hold_per_tick(&trace, TICK_SECONDS, 1.0);
    let held = HELD_OUT_SECONDS.min(total / 3);
    let train_ticks = ((total - held) / TICK_SECONDS) as usize;
    let train = Demand {
        values: all.values[..train_ticks.min(all.values.len())].to_vec(),
        ..all.clone()
    };

    let made;
    let forecasts: &[(UnixSeconds, Arc<Forecast>)] = match inp.forecasts {
        Some(f) => {
            let n = f.partition_point(|(t, _)| *t <= inp.now);
            &f[..n]
        }
        None => {
            made = hourly_forecasts(start, step, &trace.values);
            &made
        }
    };

    let model = ModelOptions {
        tick_seconds: TICK_SECONDS,
        p99_replicas: None,
        target_pct: inp.hpa_target_pct.clamp(1, 100),
        startup_seconds: inp.startup_seconds,
        lag_seconds: inp.lag_seconds,
        min_replicas: inp.min_replicas.max(1),
        max_replicas: inp.max_replicas.max(inp.min_replicas.max(1)),
        warmup_seconds: WARMUP_SECONDS,
        ..ModelOptions::default()
    };
    let opts = PolicyOptions {
        advisor: inp.advisor.clone(),
        autopilot: inp.autopilot,
        ..PolicyOptions::default()
    };
    // The autopilot's gate holds back every decision made on a low-confidence forecast (under
    // the forecaster's two days), so before the first confident one all candidates replay as
    // the bare HPA: scoring that part would choose among identical replays (grid order, or one
    // stray event). The training is scored from there; without any, nothing can be chosen.
    let warm = ((WARMUP_SECONDS / TICK_SECONDS) as usize).min(train.len() / 2);
    let warm = match first_confident(forecasts, start) {
        Some(from) if from < train.len() => warm.max(from),
        _ => {
            return Err(format!(
                "no confident forecast before the held-out {:.0} h (the forecaster needs two \
                 days of history): the defaults apply",
                held as f64 / 3600.0
            ));
        }
    };
    let shared_train = Shared::new(&train, &model, &opts, warm);
    let advisor = crate::advisor::Advisor::rules_only(inp.advisor.clone(), "calibration");
    let replay = |shared: &Shared<'_>, params: PolicyParams| {
        let mut p = PolicyDriven::new(shared, Feed::given(forecasts), Tuning::Fixed(params));
        p.run_sync(&advisor);
        p.finish().0
    };

    let hpa = policy::run(PolicyKind::Hpa, &shared_train);
    let allowed = if hpa.under_provisioned_minutes <= 10.0 {
        5.0_f64.max(hpa.under_provisioned_minutes / 2.0)
    } else {
        hpa.under_provisioned_minutes / 2.0
    };
    let grid = candidates(inp.advisor, model.target_pct);
    // Candidates are independent replays: spread them over the cores (scoped threads, joined
    // before anything is chosen, so the result does not depend on their order), unless this
    // thread is a worker of a pool sized to the cores, which is already the parallelism.
    let workers = if INLINE.get() {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    let scored: Vec<(PolicyParams, PolicyMetrics)> = if workers <= 1 {
        grid.iter()
            .map(|&c| (c, replay(&shared_train, c)))
            .collect()
    } else {
        let chunk = grid.len().div_ceil(workers).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = grid
                .chunks(chunk)
                .map(|part| {
                    let (replay, shared) = (&replay, &shared_train);
                    s.spawn(move || {
                        part.iter()
                            .map(|&c| (c, replay(shared, c)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    let best = choose(&scored, &hpa, allowed);

    // Judged on the held-out part, replayed from the same start so forecasts have history.
    let shared_all = Shared::new(&all, &model, &opts, train.len());
    let judged = replay(&shared_all, best);
    let hpa_judged = policy::run(PolicyKind::Hpa, &shared_all);
    Ok(Calibration {
        params: best,
        history_hours: total as f64 / 3600.0,
        held_out_hours: held as f64 / 3600.0,
        policy_replica_hours: judged.replica_hours,
        hpa_replica_hours: hpa_judged.replica_hours,
        policy_under_minutes: judged.under_provisioned_minutes,
        hpa_under_minutes: hpa_judged.under_provisioned_minutes,
        made_at: inp.now,
        candidates: grid.len(),
    })
}

/// The choice among the replayed candidates, against the HPA's replay of the same history
/// (`allowed`: the under-provisioned minutes the goal allows). Among the candidates within that
/// bound that cost no more replica-hours than the HPA, the one that flips direction within
/// 300 s least often, then the cheapest; if none costs no more than the HPA, the cheapest
/// within the bound; if none is within it, the one that under-provisions least.
fn choose(
    scored: &[(PolicyParams, PolicyMetrics)],
    hpa: &PolicyMetrics,
    allowed: f64,
) -> PolicyParams {
    let within = |m: &PolicyMetrics| m.under_provisioned_minutes <= allowed;
    let key = |m: &PolicyMetrics| (m.replica_hours, m.scale_events);
    let cheaper = |a: &&(PolicyParams, PolicyMetrics), b: &&(PolicyParams, PolicyMetrics)| {
        key(&a.1)
            .partial_cmp(&key(&b.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    scored
        .iter()
        .filter(|(_, m)| within(m) && m.replica_hours <= hpa.replica_hours)
        .min_by(|a, b| {
            a.1.flips_within_300s
                .cmp(&b.1.flips_within_300s)
                .then_with(|| cheaper(a, b))
        })
        .or_else(|| scored.iter().filter(|(_, m)| within(m)).min_by(cheaper))
        .or_else(|| {
            scored.iter().min_by(|a, b| {
                (a.1.under_provisioned_minutes, a.1.replica_hours)
                    .partial_cmp(&(b.1.under_provisioned_minutes, b.1.replica_hours))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        })
        .map(|(p, _)| *p)
        .unwrap_or_default()
}

/// The first training tick (at `TICK_SECONDS` from `start`) that sees a forecast the
/// autopilot's gate does not hold back for low confidence.
fn first_confident(
    forecasts: &[(UnixSeconds, Arc<Forecast>)],
    start: UnixSeconds,
) -> Option<usize> {
    let (t, _) = forecasts.iter().find(|(_, f)| !f.low_confidence)?;
    Some(((*t - start).max(0) as u64).div_ceil(TICK_SECONDS as u64) as usize)
}

/// The forecasts the app would have made hourly over `values`, each from the data before it.
fn hourly_forecasts(
    start: UnixSeconds,
    step: i64,
    values: &[f64],
) -> Vec<(UnixSeconds, Arc<Forecast>)> {
    let (b0, buckets) = demand::buckets(start, step, values);
    let per_hour = (3600 / demand::STEP_SECONDS as i64) as usize;
    let mut out = Vec::new();
    let mut n = per_hour * 24;
    while n <= buckets.len() {
        let t = b0 + n as i64 * demand::STEP_SECONDS as i64;
        if let Some(f) = demand::forecast_buckets(b0, &buckets[..n]) {
            out.push((t, Arc::new(f)));
        }
        n += per_hour;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(days: i64, poison_after: Option<i64>) -> Vec<f64> {
        (0..days * 1440)
            .map(|i| {
                let t = i * 60;
                if poison_after.is_some_and(|p| t >= p) {
                    return 500.0 * ((i % 7) as f64);
                }
                let h = (t % 86_400) as f64 / 3600.0;
                let base = 3.0 + 2.5 * (std::f64::consts::TAU * (h - 6.0) / 24.0).sin().max(-0.8);
                // A burst every afternoon at 15:00 for 10 minutes.
                if (15.0..15.17).contains(&h) {
                    base * 1.8
                } else {
                    base
                }
            })
            .collect()
    }

    fn input<'a>(values: &'a [f64], cfg: &'a AdvisorConfig, now: i64) -> Input<'a> {
        Input {
            start: 0,
            step_seconds: 60,
            demand: values,
            forecasts: None,
            min_replicas: 1,
            max_replicas: 50,
            hpa_target_pct: 70,
            startup_seconds: 60,
            lag_seconds: 60,
            advisor: cfg,
            autopilot: AutopilotOptions {
                cooldown_seconds: 300,
                min_confidence: 0.7,
                dry_run: false,
                apply_gitops: false,
            },
            now,
        }
    }

    #[test]
    fn short_history_keeps_the_defaults_and_says_why() {
        let cfg = AdvisorConfig::default();
        let v = daily(1, None);
        let e = calibrate_demand(&input(&v, &cfg, 86_400)).expect_err("one day is too short");
        assert!(e.contains("needs 48 h"), "{e}");
    }

    #[test]
    fn three_days_keep_the_defaults_the_gate_would_hold_back_every_training_decision() {
        // Three days: 48 h of training whose forecasts (made from under two days) are all
        // low-confidence, so the gate applies nothing and every candidate replays as the HPA.
        // A "choice" there was grid order: the app and the backtest, given histories 45 s
        // apart, chose 0.9 and 0.7.
        let cfg = AdvisorConfig::default();
        let v = daily(3, None);
        let e = calibrate_demand(&input(&v, &cfg, 3 * 86_400)).expect_err("nothing to choose on");
        assert!(e.contains("no confident forecast"), "{e}");
        // The backtest hands over forecasts made on a longer past: confident from the start,
        // the same three days calibrate.
        let longer = daily(5, None);
        let made = hourly_forecasts(0, 60, &longer);
        let inp = Input {
            start: 2 * 86_400,
            demand: &longer[2 * 1440..],
            forecasts: Some(&made),
            ..input(&v, &cfg, 5 * 86_400)
        };
        assert!(calibrate_demand(&inp).is_ok());
    }

    #[test]
    fn calibration_never_sees_the_data_after_now() {
        let cfg = AdvisorConfig::default();
        let now = 4 * 86_400;
        let clean = daily(5, None);
        let poisoned = daily(5, Some(now));
        let a = calibrate_demand(&input(&clean, &cfg, now)).expect("calibrates");
        let b = calibrate_demand(&input(&poisoned, &cfg, now)).expect("calibrates");
        assert_eq!(a, b, "the poisoned future changed the calibration");
        assert_eq!(a.history_hours, 96.0);
        assert_eq!(a.held_out_hours, 24.0);
        assert_eq!(a.candidates, candidates(&cfg, 70).len());
        // And it is a choice made on the deployment's data: held-out figures are real replays.
        assert!(
            a.hpa_replica_hours > 0.0 && a.policy_replica_hours > 0.0,
            "{a:?}"
        );
    }

    #[test]
    fn on_a_pool_worker_the_candidates_replay_inline_to_the_same_choice() {
        let cfg = AdvisorConfig::default();
        let v = daily(4, None);
        let spread = calibrate_demand(&input(&v, &cfg, 4 * 86_400)).expect("calibrates");
        let (inline, flag_here) = std::thread::scope(|s| {
            s.spawn(|| {
                replay_candidates_inline_on_this_thread();
                let c = calibrate_demand(&input(&v, &cfg, 4 * 86_400)).expect("calibrates");
                (c, INLINE.get())
            })
            .join()
            .expect("joined")
        });
        assert!(flag_here);
        assert_eq!(inline, spread);
        // The switch is the worker's own: this thread still spreads its candidates.
        assert!(!INLINE.get());
    }

    #[test]
    fn no_candidate_lowers_a_raised_floor_within_the_hpas_stabilization_window() {
        let cfg = AdvisorConfig::default();
        let c = candidates(&cfg, 70);
        assert!(
            c.iter().all(|c| c.hold_seconds > 300),
            "a hold of 300 s reverses a raise at exactly 300 s: {c:?}"
        );
        assert!(c.iter().any(|c| c.hold_seconds == MIN_HOLD_SECONDS));
    }

    fn metrics(replica_hours: f64, under: f64, flips: u64) -> PolicyMetrics {
        PolicyMetrics {
            replica_hours,
            under_provisioned_minutes: under,
            flips_within_300s: flips,
            ..PolicyMetrics::default()
        }
    }

    fn with_recent(recent_seconds: i64) -> PolicyParams {
        PolicyParams {
            recent_seconds,
            ..PolicyParams::default()
        }
    }

    #[test]
    fn the_choice_takes_fewer_flips_over_fewer_replica_hours_within_the_hpas_cost() {
        let hpa = metrics(100.0, 20.0, 50);
        let (fast, slow, slower) = (with_recent(300), with_recent(600), with_recent(1200));
        // All within the under-provisioning bound (10): the one flipping least wins, though
        // the cheapest flips more.
        let scored = [
            (fast, metrics(90.0, 4.0, 9)),
            (slow, metrics(95.0, 3.0, 2)),
            (slower, metrics(99.0, 2.0, 2)),
        ];
        assert_eq!(
            choose(&scored, &hpa, 10.0),
            slow,
            "fewest flips, then cheapest"
        );
        // Flips are not bought beyond the HPA's replica-hours.
        let scored = [
            (fast, metrics(90.0, 4.0, 9)),
            (slower, metrics(101.0, 2.0, 0)),
        ];
        assert_eq!(choose(&scored, &hpa, 10.0), fast);
        // Nor beyond the under-provisioning bound.
        let scored = [
            (fast, metrics(90.0, 4.0, 9)),
            (slower, metrics(92.0, 11.0, 0)),
        ];
        assert_eq!(choose(&scored, &hpa, 10.0), fast);
        // None as cheap as the HPA: the cheapest within the bound; none within it: the one that
        // under-provisions least.
        let scored = [
            (fast, metrics(110.0, 4.0, 1)),
            (slower, metrics(105.0, 6.0, 9)),
        ];
        assert_eq!(choose(&scored, &hpa, 10.0), slower);
        assert_eq!(choose(&scored, &hpa, 3.0), fast);
    }

    #[test]
    fn the_grid_offers_every_recent_window_and_stays_within_its_bound() {
        // The widest target range: five targets would make 60 sets.
        let cfg = AdvisorConfig {
            min_hpa_target_pct: 50,
            max_hpa_target_pct: 90,
            ..AdvisorConfig::default()
        };
        let c = candidates(&cfg, 70);
        assert!(c.len() <= MAX_CANDIDATES, "{}", c.len());
        // The HPA's own target and the hottest stay.
        assert!(c.iter().any(|c| c.hpa_target_pct.is_none()));
        assert!(c.iter().any(|c| c.hpa_target_pct == Some(90)));
        for w in RECENT_WINDOWS {
            assert!(c.iter().any(|c| c.recent_seconds == w), "{w}");
        }
        assert_eq!(
            candidates(&AdvisorConfig::default(), 70).len(),
            MAX_CANDIDATES
        );
    }

    #[test]
    fn candidates_stay_in_the_users_target_range() {
        let cfg = AdvisorConfig {
            min_hpa_target_pct: 60,
            max_hpa_target_pct: 80,
            ..AdvisorConfig::default()
        };
        for c in candidates(&cfg, 70) {
            let t = c.hpa_target_pct.unwrap_or(70);
            assert!((70..=80).contains(&t), "{c:?}");
        }
        // A range that excludes the HPA's own target still yields candidates within it.
        let cfg = AdvisorConfig {
            min_hpa_target_pct: 80,
            max_hpa_target_pct: 85,
            ..AdvisorConfig::default()
        };
        let c = candidates(&cfg, 70);
        assert!(!c.is_empty());
        assert!(
            c.iter().all(|c| matches!(c.hpa_target_pct, Some(80 | 85))),
            "{c:?}"
        );
    }
}
