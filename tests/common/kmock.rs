//! kmock (PyPI), a third-party Kubernetes API emulator, started by `tests/kmock_launch.py` on
//! a free loopback port, and a kubeconfig that points at it.

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The emulator process; killed (by its own pid) when the test ends.
pub struct Kmock {
    child: Child,
    pub port: u16,
}

impl Drop for Kmock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn kmock_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import kmock"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn start_kmock(dir: &Path, objects: &Value, declare: &[&str]) -> Kmock {
    let file = dir.join("objects.json");
    std::fs::write(&file, objects.to_string()).expect("write objects");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kmock_launch.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(&file)
        .args(declare)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start kmock");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read kmock");
    let port = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("kmock did not start: {line:?}"));
    Kmock { child, port }
}

pub fn kubeconfig(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let mut f = std::fs::File::create(&path).expect("kubeconfig");
    write!(
        f,
        "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n\
         clusters:\n- name: kmock\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         contexts:\n- name: kmock\n  context:\n    cluster: kmock\n    user: tester\n    namespace: shop\n\
         users:\n- name: tester\n  user:\n    token: test\n"
    )
    .expect("write kubeconfig");
    path
}
