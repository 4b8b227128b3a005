//! `ai4k8s sim serve` started from the built binary on a free loopback port, with a written
//! kubeconfig: the simulated cluster behind a Kubernetes REST front.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::BIN;

/// The served world's seed.
pub const SEED: u64 = 42;
/// The shortest warm-up the config accepts; both worlds use it.
pub const HISTORY_HOURS: u32 = 24;

/// `ai4k8s sim serve`, killed (by its own pid) when dropped.
pub struct SimServe {
    child: Child,
    pub kubeconfig: PathBuf,
}

impl Drop for SimServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary serving the cluster: this build's, or `$AI4K8S_SIM_SERVE_BIN` (another build's
/// `sim serve`, to check this client against it).
pub fn server_bin() -> String {
    std::env::var("AI4K8S_SIM_SERVE_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// Start the server; `deployments`: None for the demo cluster, Some(n) for n synthetic ones.
pub fn sim_serve(dir: &Path, deployments: Option<usize>, speed: &str) -> SimServe {
    sim_serve_with(dir, deployments, speed, &[])
}

/// `sim serve` with extra arguments (e.g. `--fault hpas=403`).
pub fn sim_serve_with(
    dir: &Path,
    deployments: Option<usize>,
    speed: &str,
    extra: &[&str],
) -> SimServe {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[demo]\nhistory_hours = {HISTORY_HOURS}\n"),
    )
    .expect("config");
    let kubeconfig = dir.join("kubeconfig");
    let mut cmd = Command::new(server_bin());
    cmd.args([
        "sim",
        "serve",
        "--port",
        "0",
        "--speed",
        speed,
        "--seed",
        &SEED.to_string(),
    ])
    .arg("--config")
    .arg(&config)
    .arg("--data-dir")
    .arg(dir.join("server-data"))
    .arg("--write-kubeconfig")
    .arg(&kubeconfig)
    .env_remove("AI4K8S_CONFIG")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(n) = deployments {
        cmd.args(["--deployments", &n.to_string()]);
    }
    cmd.args(extra);
    let mut child = cmd.spawn().expect("start sim serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    // Ready once it says where the kubeconfig is.
    while !line.contains("kubeconfig") {
        line.clear();
        let n = out.read_line(&mut line).expect("read sim serve");
        assert!(n > 0, "sim serve exited before it was ready");
    }
    SimServe { child, kubeconfig }
}
