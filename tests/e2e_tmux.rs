//! End to end: the built binary with `--demo` in a real terminal (tmux), driven by keys, read
//! back from the screen. Asserts the screen text after each key and a clean exit: status 0 and
//! the terminal back in cooked mode with the alternate screen left.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// `name` keeps tests running in parallel on separate tmux servers.
    fn start(name: &str, cmd: &str, w: u16, h: u16) -> Self {
        let socket = format!("ai4k8s-e2e-{}-{name}", std::process::id());
        let t = Tmux {
            socket,
            session: "e2e".into(),
        };
        let ok = Command::new("tmux")
            .args(["-L", &t.socket, "new-session", "-d", "-s", &t.session])
            .args(["-x", &w.to_string(), "-y", &h.to_string(), cmd])
            .status()
            .expect("tmux must be installed (apt-get install tmux)");
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    fn keys(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        self.capture(&[])
    }

    /// The screen with its colours and attributes as escape sequences.
    fn styled_screen(&self) -> String {
        self.capture(&["-e"])
    }

    fn capture(&self, flags: &[&str]) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &self.session,
            ])
            .args(flags)
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen satisfies `pred`, or fail showing the last screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn demo_tui_navigates_filters_helps_and_quits_cleanly() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_ai4k8s");
    let cmd = format!(
        "env -u GROQ_API_KEY -u AI4K8S_CONFIG {bin} --demo --seed 42 --data-dir {}; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60",
        data.path().display()
    );
    let t = Tmux::start("nav", &cmd, 100, 30);

    let s = t.wait_for("the deployments table", |s| {
        s.contains("Deployments [all] 14/14") && s.contains("data/etl-worker ·")
    });
    assert!(s.contains("RECOMMEND"), "{s}");
    assert!(
        s.contains("no key ($GROQ_API_KEY unset): policy only"),
        "{s}"
    );

    // j moves the selection: the card follows it to the second deployment.
    t.keys(&["j"]);
    t.wait_for("the card of the second deployment", |s| {
        s.contains("data/feature-cache ·")
    });

    // ? opens help generated from the keymap; Esc closes it.
    t.keys(&["?"]);
    t.wait_for("help", |s| {
        s.contains("Help · esc closes") && s.contains("filter by name")
    });
    t.keys(&["Escape"]);
    t.wait_for("help to close", |s| !s.contains("Help · esc closes"));

    // / filters by name.
    t.keys(&["/", "l", "e", "d", "g", "e", "r", "Enter"]);
    let s = t.wait_for("the filtered table", |s| {
        s.contains("Deployments [all] 1/14")
    });
    assert!(s.contains("payments  ledger"), "{s}");
    assert!(!s.contains("frontend"), "filtered out:\n{s}");
    // The card follows the only row; on a loaded machine its forecast may
    // still be computing when the filter lands, so wait for it.
    let s = t.wait_for("the card of the only row", |s| {
        s.contains("payments/ledger ·")
    });
    assert!(s.contains("Deployments [all] 1/14"), "{s}");

    // q quits: exit status 0, the terminal is back in canonical mode, the app's screen is gone.
    t.keys(&["q"]);
    // Wait for the line after EXIT= too: stty prints it a moment later.
    let s = t.wait_for("exit", |s| {
        s.contains("EXIT=") && s.lines().any(|l| l.trim().ends_with("icanon"))
    });
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(
        s.lines().any(|l| l.trim() == "icanon"),
        "terminal left in raw mode:\n{s}"
    );
    assert!(!s.contains("RECOMMEND"), "alternate screen not left:\n{s}");
    let log = std::fs::read_to_string(data.path().join("logs/ai4k8s.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn apply_and_edit_flows_in_a_real_terminal() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_ai4k8s");
    let cmd = format!(
        "env -u GROQ_API_KEY -u AI4K8S_CONFIG {bin} --demo --seed 42 --speed 1 --data-dir {}; echo EXIT=$?; sleep 60",
        data.path().display()
    );
    let t = Tmux::start("flows", &cmd, 120, 40);
    t.wait_for("recommendations", |s| s.contains("▼ DOWN 2"));

    // Apply: the confirm dialog names the object, the field and the kubectl command.
    t.keys(&["/", "l", "e", "d", "g", "e", "r", "Enter", "a"]);
    let s = t.wait_for("the confirm dialog", |s| {
        s.contains("Confirm · payments/ledger")
    });
    assert!(
        s.contains("deployment/ledger scale: spec.replicas 3 → 2"),
        "{s}"
    );
    assert!(
        s.contains("kubectl -n payments scale deployment/ledger --replicas=2"),
        "{s}"
    );
    t.keys(&["y"]);
    t.wait_for("the write", |s| s.contains("done: deployment/ledger scale"));
    t.wait_for("the table to show it", |s| {
        s.contains("2/2") && s.contains("payments/ledger")
    });

    // Edit: a bad value is refused inline, Esc leaves everything unchanged.
    t.keys(&["e"]);
    t.wait_for("the editor", |s| {
        s.contains("Edit min/max · payments/ledger")
    });
    t.keys(&["BSpace", "BSpace", "x"]);
    t.wait_for("the inline error", |s| s.contains("is not a whole number"));
    t.keys(&["Enter"]);
    t.wait_for("the editor to stay open", |s| s.contains("Edit min/max"));
    t.keys(&["Escape"]);
    t.wait_for("cancel", |s| s.contains("cancelled: nothing changed"));

    // A valid edit writes the annotations (no HPA on ledger).
    t.keys(&["e", "BSpace", "BSpace", "3", "Tab", "BSpace", "BSpace", "8"]);
    t.wait_for("a valid form", |s| {
        s.contains("annotations min 2 → 3, max 6 → 8")
    });
    t.keys(&["Enter"]);
    t.wait_for("the edit", |s| {
        s.contains("done: deployment/ledger: annotations")
    });
    t.wait_for("new bounds in the table", |s| s.contains("3-8"));

    t.keys(&["q"]);
    let s = t.wait_for("exit", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    let journal = std::fs::read_to_string(data.path().join("journal.jsonl")).expect("journal");
    let kinds: Vec<&str> = journal
        .lines()
        .filter_map(|l| l.split("\"kind\":\"").nth(1))
        .filter_map(|r| r.split('"').next())
        .collect();
    // Each write is its intent, then its outcome.
    assert_eq!(kinds, vec!["apply", "apply", "edit", "edit"], "{journal}");
    assert_eq!(journal.matches("\"pending\":true").count(), 2, "{journal}");
    assert_eq!(journal.matches("\"ok\":true").count(), 2, "{journal}");
}

/// The parameters of every SGR sequence (`ESC [ … m`) on a styled screen.
fn sgr(styled: &str) -> Vec<Vec<u32>> {
    styled
        .split("\x1b[")
        .skip(1)
        .filter_map(|seq| {
            let end = seq.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            (seq[end..].starts_with('m')).then(|| {
                seq[..end]
                    .split(';')
                    .map(|p| p.parse().unwrap_or(0))
                    .collect()
            })
        })
        .collect()
}

/// The SGR sequences that set a colour: 30-49 or 90-107 (38 and 48 with theirs).
fn colour_codes(styled: &str) -> Vec<Vec<u32>> {
    sgr(styled)
        .into_iter()
        .filter(|ps| {
            ps.iter()
                .any(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107))
        })
        .collect()
}

/// `[keys]` from the config file rebinds keys in the real binary, the hint bar follows what
/// has the keyboard, and NO_COLOR draws without a colour. A bad binding exits 2 and says which.
#[test]
fn rebound_keys_and_no_color_in_a_real_terminal() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_ai4k8s");
    let config = data.path().join("keys.toml");
    std::fs::write(&config, "[keys.normal]\nquit = \"Q\"\nhelp = \"f1\"\n").expect("config");
    let cmd = format!(
        "env -u GROQ_API_KEY NO_COLOR=1 {bin} --demo --seed 42 --config {} --data-dir {}; echo EXIT=$?; sleep 60",
        config.display(),
        data.path().display()
    );
    let t = Tmux::start("keys", &cmd, 120, 40);
    // The hint bar names the new help key (it is first; the bar is cut at 120 columns).
    t.wait_for("the deployments table", |s| {
        s.contains("Deployments [all] 14/14") && s.contains("│ f1 help  tab pane")
    });
    // Without colour, the selection is reversed and no cell has a colour.
    let styled = t.styled_screen();
    assert_eq!(colour_codes(&styled), Vec::<Vec<u32>>::new(), "{styled}");
    assert!(sgr(&styled).iter().any(|ps| ps.contains(&7)), "{styled}");

    // q does nothing now; f1 opens help, whose hint bar names its own keys.
    t.keys(&["q"]);
    t.keys(&["F1"]);
    // Waited for together: tmux may capture a frame half written (the popup in, the status bar
    // not yet), so the hint bar is part of what is waited for, not read from the first capture.
    let s = t.wait_for("help and its hint bar", |s| {
        s.contains("Help · esc closes") && s.lines().any(|l| l.contains("│ esc close"))
    });
    assert!(s.contains("Q          quit"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("help to close", |s| !s.contains("Help · esc closes"));

    // The editor's hint bar is the editor's keys.
    t.keys(&["e"]);
    t.wait_for("the editor and its hint bar", |s| {
        s.contains("Edit min/max")
            && s.lines()
                .any(|l| l.contains("│ enter save  esc cancel  tab next field"))
    });
    t.keys(&["Escape"]);
    t.wait_for("cancel", |s| s.contains("cancelled: nothing changed"));
    t.keys(&["Q"]);
    let s = t.wait_for("exit", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");

    // Two actions on one key: exit 2 before the terminal is taken, naming the binding.
    std::fs::write(&config, "[keys.normal]\nquit = \"j\"\n").expect("config");
    let out = Command::new(bin)
        .args(["--demo", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("GROQ_API_KEY")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "ai4k8s: config: [keys.normal] quit: \"j\" is also the key of down in normal mode: one key, one action"
    );
}

/// `--demo --deployments N` in a real terminal: the fleet's table fills (the time to it is
/// printed), shift-C sorts by CPU with the header saying so, `:filter atmax` shows "N of M",
/// Enter opens the selected deployment (pods, HPA conditions, events) and Esc closes it; the
/// savings column shows at 120x40 and is left out at 80x24.
#[test]
fn fleet_demo_sorts_filters_and_opens_a_deployment() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_ai4k8s");
    let n = 2000;
    let cmd = |size: &str| {
        format!(
            "env -u GROQ_API_KEY -u AI4K8S_CONFIG {bin} --demo --deployments {n} --seed 42 --data-dir {}/{size}; echo EXIT=$?; sleep 60",
            data.path().display()
        )
    };
    let started = Instant::now();
    let t = Tmux::start("fleet", &cmd("wide"), 120, 40);
    let s = t.wait_for("the fleet's table", |s| {
        s.contains(&format!("Deployments [all] {n}/{n}"))
    });
    println!(
        "fleet of {n}: start to the first frame with every row: {} ms (debug build)",
        started.elapsed().as_millis()
    );
    assert!(s.contains("SAVE/D") && s.contains("NAME↑"), "{s}");
    assert!(s.contains("team-00"), "{s}");

    t.keys(&["C"]);
    t.wait_for("the CPU sort", |s| s.contains("CPU↓"));
    t.keys(&["C"]);
    t.wait_for("the CPU sort reversed", |s| s.contains("CPU↑"));

    t.keys(&[
        ":", "f", "i", "l", "t", "e", "r", " ", "a", "t", "m", "a", "x", "Enter",
    ]);
    let s = t.wait_for("the at-max filter", |s| s.contains("atmax: "));
    assert!(s.contains(&format!(" of {n} ")), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the filter cleared", |s| {
        s.contains(&format!("Deployments [all] {n}/{n}"))
    });

    t.keys(&["Enter"]);
    let s = t.wait_for("the deployment opened", |s| {
        s.contains("POD") && s.contains("events")
    });
    assert!(s.contains("esc closes"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the popup closed", |s| !s.contains("esc closes"));
    t.keys(&["q"]);
    let s = t.wait_for("exit", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");

    // 80x24: no savings column; the names and recommendations stay.
    let t = Tmux::start("fleet-narrow", &cmd("narrow"), 80, 24);
    let s = t.wait_for("the fleet's table at 80x24", |s| {
        s.contains(&format!("{n}/{n}")) && s.contains("RECOMMEND")
    });
    assert!(!s.contains("SAVE/D"), "{s}");
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXIT=0"));
}
