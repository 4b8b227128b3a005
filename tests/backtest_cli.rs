//! `ai4k8s backtest` as a user runs it: the table, the JSON shape, and one-line exit-2 errors
//! naming the file and line for bad traces, bad flags and `--policies llm` without a key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ai4k8s");

/// A config without any key source, so the user's environment cannot leak in.
fn sandbox() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[llm]\napi_key_env = \"AI4K8S_TEST_NO_SUCH_KEY_VARIABLE\"\n",
    )
    .expect("config");
    (dir, cfg)
}

fn backtest(dir: &Path, cfg: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("backtest")
        .args(args)
        .env_remove("GROQ_API_KEY")
        .env_remove("AI4K8S_CONFIG")
        .output()
        .expect("runs")
}

/// Two days at 5 minutes with a daily peak.
fn write_trace(dir: &Path) -> PathBuf {
    let mut s = String::from("timestamp,value\n");
    for i in 0..576 {
        let minute_of_day = (i % 288) * 5;
        let v = if (600..720).contains(&minute_of_day) {
            90.0
        } else {
            30.0 + (i % 7) as f64
        };
        s.push_str(&format!("{},{v}\n", 1_700_006_400 + i * 300));
    }
    let path = dir.join("daily.csv");
    std::fs::write(&path, s).expect("trace");
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn prints_a_table_and_the_issues_json() {
    let (dir, cfg) = sandbox();
    let trace = write_trace(dir.path());
    let t = trace.to_string_lossy();
    let o = backtest(dir.path(), &cfg, &["--trace", &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    for name in [
        "hpa",
        "ai4k8s",
        "right%",
        "oracle-100",
        "oracle-70",
        "static",
        "replayed in",
    ] {
        assert!(table.contains(name), "{name} missing from\n{table}");
    }

    let o = backtest(
        dir.path(),
        &cfg,
        &[
            "--trace",
            &t,
            "--policies",
            "hpa,oracle",
            "-o",
            "json",
            "--startup",
            "90s",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["trace"], "daily");
    assert_eq!(v["model"]["startup_seconds"], 90);
    let policies = v["policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 3);
    for p in policies {
        for k in [
            "policy",
            "under_provisioned_minutes",
            "unserved_pct",
            "overprovisioned_pct",
            "replica_hours",
            "scale_events",
            "flaps",
        ] {
            assert!(!p[k].is_null(), "{k} missing in {p}");
        }
    }
}

#[test]
fn bad_trace_files_exit_2_naming_file_and_line() {
    let (dir, cfg) = sandbox();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "timestamp,value\n0,1\n60,2\n120,oops\n180,4\n").expect("write");
    let o = backtest(dir.path(), &cfg, &["--trace", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains(&format!("{}:4:", bad.display())), "{e}");
    assert!(e.contains("not a number"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");

    // A hole is rejected with its line, and the hint names the flag that fills it.
    let holed = dir.path().join("holed.csv");
    std::fs::write(&holed, "timestamp,value\n0,1\n60,2\n240,3\n300,4\n").expect("write");
    let h = holed.to_string_lossy();
    let o = backtest(dir.path(), &cfg, &["--trace", &h]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{}:4:", holed.display())) && e.contains("--fill-gaps"),
        "{e}"
    );
    let o = backtest(
        dir.path(),
        &cfg,
        &["--trace", &h, "--fill-gaps", "--policies", "static"],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let missing = dir.path().join("nope.csv");
    let o = backtest(dir.path(), &cfg, &["--trace", &missing.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.csv"), "{}", stderr(&o));
}

#[test]
fn bad_flags_and_llm_without_a_key_exit_2_with_a_reason() {
    let (dir, cfg) = sandbox();
    let trace = write_trace(dir.path());
    let t = trace.to_string_lossy();
    let o = backtest(
        dir.path(),
        &cfg,
        &["--trace", &t, "--policies", "hpa,magic"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown policy \"magic\""),
        "{}",
        stderr(&o)
    );

    let o = backtest(dir.path(), &cfg, &["--trace", &t, "--lag", "20s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("multiple of the 15 s tick"),
        "{}",
        stderr(&o)
    );

    let o = backtest(dir.path(), &cfg, &["--trace", &t, "--policies", "hpa,llm"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--policies llm needs an LLM key")
            && e.contains("AI4K8S_TEST_NO_SUCH_KEY_VARIABLE"),
        "{e}"
    );
}
