//! A kubeconfig for the server: cluster, context and user all named `ai4k8s-sim`, plain HTTP,
//! no credentials (kubectl and kube-rs accept both).

use std::io;
use std::net::SocketAddr;
use std::path::Path;

pub const CONTEXT: &str = "ai4k8s-sim";

pub fn kubeconfig_yaml(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: http://{addr}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
current-context: {CONTEXT}
preferences: {{}}
users:
- name: {CONTEXT}
  user: {{}}
"
    )
}

/// Write the kubeconfig to `path` (replacing it whole, never half-written).
pub fn write_kubeconfig(path: &Path, addr: SocketAddr) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, kubeconfig_yaml(addr))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_points_at_the_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/kubeconfig");
        let addr: SocketAddr = "127.0.0.1:6443".parse().expect("addr");
        write_kubeconfig(&path, addr).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("server: http://127.0.0.1:6443"));
        assert!(text.contains("current-context: ai4k8s-sim"));
        let parsed = kube::config::Kubeconfig::from_yaml(&text).expect("kube-rs parses it");
        assert_eq!(parsed.current_context.as_deref(), Some(CONTEXT));
    }
}
