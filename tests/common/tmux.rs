//! A real terminal (tmux, on its own server socket) running a command: keys in, the screen
//! read back, waits on what the screen shows (never blind sleeps).

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// `name` keeps tests running in parallel on separate tmux servers.
    pub fn start(name: &str, cmd: &str, w: u16, h: u16) -> Self {
        let socket = format!("ai4k8s-test-{}-{name}", std::process::id());
        let t = Tmux {
            socket,
            session: "t".into(),
        };
        let ok = Command::new("tmux")
            .args(["-L", &t.socket, "new-session", "-d", "-s", &t.session])
            .args(["-x", &w.to_string(), "-y", &h.to_string(), cmd])
            .status()
            .expect("tmux must be installed (apt-get install tmux)");
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    pub fn keys(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(ok.success());
    }

    /// Resize the window (the app gets a resize event, as from a terminal emulator).
    pub fn resize(&self, w: u16, h: u16) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", &self.session])
            .args(["-x", &w.to_string(), "-y", &h.to_string()])
            .status()
            .expect("tmux resize-window");
        assert!(ok.success());
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &self.session,
            ])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait up to `limit` until the screen satisfies `pred`, or fail showing the last screen.
    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
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
