//! The CLI contract from the outside: exit statuses, one-line errors naming file and line, the
//! recommendation JSON of `ai4k8s recommend`, and the shell completions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::process::{Command, Output};

fn ai4k8s(args: &[&str], data: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("GROQ_API_KEY")
        .env_remove("AI4K8S_CONFIG")
        .output()
        .expect("binary runs")
}

#[test]
fn a_bad_config_is_a_one_line_error_naming_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[advisor]\nmax_step = 3\ncache_tll_seconds = 5\n").expect("write");
    let out = ai4k8s(
        &[
            "--config",
            cfg.to_str().expect("utf-8"),
            "recommend",
            "--demo",
            "shop/frontend",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("config.toml:3:"), "{err}");
    assert!(err.contains("cache_tll_seconds"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_zero_tick_is_a_config_error_with_exit_2_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[ui]\ntick_ms = 0\n").expect("write");
    // The TUI itself: the config is checked before the terminal is touched.
    let out = ai4k8s(
        &["--config", cfg.to_str().expect("utf-8"), "--demo"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("config.toml:2: ui.tick_ms must be within"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_missing_explicit_config_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ai4k8s(
        &[
            "--config",
            "/nonexistent/ai4k8s.toml",
            "recommend",
            "--demo",
            "--all",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ai4k8s.toml"));
}

#[test]
fn recommend_prints_the_contract_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ai4k8s(
        &["recommend", "--demo", "shop/search", "-o", "json"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for field in [
        "action",
        "target_replicas",
        "confidence",
        "reasoning",
        "factors_considered",
        "risk_assessment",
        "cost_impact",
        "performance_impact",
        "recommended_timing",
        "namespace",
        "name",
        "current_replicas",
        "min_replicas",
        "max_replicas",
        "source",
        "model",
        "cached",
        "created_at",
        "corrections",
        "inputs",
    ] {
        assert!(v.get(field).is_some(), "{field} missing from {v}");
    }
    // The demo pins shop/search at its maximum of 6 under demand it cannot meet.
    assert_eq!(v["action"], "at_max");
    assert_eq!(v["target_replicas"], 6);
    assert_eq!(v["source"], "policy");
    assert_eq!(v["change"]["kind"], "at_max");
    assert_eq!(
        v["changes"].as_array().map(Vec::len),
        Some(0),
        "nothing to apply at max"
    );
    assert!(
        v["nothing_to_apply"]
            .as_str()
            .is_some_and(|s| s.contains("at max"))
    );
    assert!(v["reasoning"].as_str().map_or(0, str::len) >= 50);
    let t = v["target_replicas"].as_u64().unwrap_or(0);
    assert!(v["min_replicas"].as_u64() <= Some(t) && Some(t) <= v["max_replicas"].as_u64());

    let all = ai4k8s(&["recommend", "--demo", "--all", "-o", "json"], dir.path());
    let list: serde_json::Value = serde_json::from_slice(&all.stdout).expect("JSON list");
    assert_eq!(list.as_array().map(Vec::len), Some(14));
    // What `a` would write, object by object: never a /scale for a deployment with an HPA.
    let mut with_changes = 0;
    for r in list.as_array().into_iter().flatten() {
        let changes = r["changes"].as_array().expect("changes");
        let has_hpa = !r["inputs"]["hpa"].is_null();
        for c in changes {
            for k in ["object", "field", "from", "to", "kubectl"] {
                assert!(c[k].is_string(), "{k} in {c}");
            }
            if has_hpa {
                assert_ne!(c["field"], "spec.replicas", "{r}");
            }
        }
        with_changes += usize::from(!changes.is_empty());
    }
    assert!(with_changes >= 1, "some deployment has something to apply");
}

#[test]
fn recommend_for_an_unknown_deployment_or_bad_name_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ai4k8s(&["recommend", "--demo", "shop/nope"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shop/nope"));
    let out = ai4k8s(&["recommend", "--demo", "nope"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAMESPACE/NAME"));
}

#[test]
fn the_same_seed_gives_the_same_recommendations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = ai4k8s(
        &["recommend", "--demo", "--seed", "9", "--all", "-o", "json"],
        dir.path(),
    );
    let b = ai4k8s(
        &["recommend", "--demo", "--seed", "9", "--all", "-o", "json"],
        dir.path(),
    );
    let c = ai4k8s(
        &["recommend", "--demo", "--seed", "10", "--all", "-o", "json"],
        dir.path(),
    );
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
}

#[test]
fn forecast_prints_json_and_bad_csv_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ai4k8s(
        &[
            "forecast",
            "--input",
            "assets/traces/crane_input9_1m.csv",
            "--horizon",
            "6h",
            "-o",
            "json",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for field in [
        "model",
        "step_seconds",
        "points",
        "peak",
        "trend",
        "anomalies",
    ] {
        assert!(v.get(field).is_some(), "{field} missing");
    }
    assert_eq!(v["step_seconds"], 60);
    assert_eq!(v["points"].as_array().map(Vec::len), Some(360));
    let p = &v["points"][0];
    assert!(
        p["lower"].as_f64() <= p["value"].as_f64() && p["value"].as_f64() <= p["upper"].as_f64()
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "timestamp,value\n0,1\n60,2\n120,oops\n").expect("write");
    let out = ai4k8s(
        &["forecast", "--input", bad.to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:4:"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
}

#[test]
fn completions_name_every_subcommand_and_flag_and_an_unknown_shell_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish"] {
        // No config is read: completions work wherever the binary is installed.
        let out = ai4k8s(
            &["completions", shell, "--config", "/nonexistent/ai4k8s.toml"],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for word in [
            "recommend",
            "forecast",
            "autopilot",
            "backtest",
            "serve",
            "completions",
            "demo",
            "policies",
        ] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let out = ai4k8s(&["completions", "tcsh"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
    assert!(
        err.contains("bash") && err.contains("zsh") && err.contains("fish"),
        "{err}"
    );
}
