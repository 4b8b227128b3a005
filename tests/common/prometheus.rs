//! A real Prometheus (Debian's `prometheus` package) serving a TSDB directory on a free
//! loopback port, and its tools.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A tool from the `prometheus` package, or a failure that says how to get it.
pub fn tool(name: &str) -> PathBuf {
    for dir in std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
    {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not installed: this test needs a real Prometheus. Install it with \
         `apt-get install -y --no-install-recommends prometheus` (CI's .ci/run does)"
    );
}

/// A Prometheus serving `data`, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub async fn start_prometheus(data: &Path, work: &Path) -> Server {
    let binary = tool("prometheus");
    let config = work.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("config");
    let mut last_log = String::new();
    // The port is free when picked; another process may take it first, so try a few.
    for _ in 0..3 {
        let port = free_port();
        let log_path = work.join(format!("prometheus-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // The data is from 2024: keep it however old it is.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                break;
            }
            let ready = client
                .get(format!("{}/-/ready", server.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = server.child.kill();
        last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
    }
    panic!("prometheus did not become ready; its log:\n{last_log}");
}
