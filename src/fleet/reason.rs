//! Why a context cannot be reached, read from the cluster client's error: the kube path maps
//! its errors to `ClusterError` (401 and 403 as `Forbidden`, connection failures as
//! `Unavailable` with the innermost cause), so the reason is in its category and words.

use std::time::Duration;

use super::row::{Reason, Unreachable};
use crate::cluster::ClusterError;

/// The probe gave up waiting.
pub fn timed_out(after: Duration) -> Unreachable {
    Unreachable {
        reason: Reason::Timeout,
        detail: format!("no answer within {} s", after.as_secs_f64().ceil()),
    }
}

pub fn classify(e: &ClusterError) -> Unreachable {
    let detail = e.to_string();
    let lower = detail.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let reason = match e {
        ClusterError::Forbidden(_) if has(&["unauthorized", "401", "authentication"]) => {
            Reason::Unauthorized
        }
        ClusterError::Forbidden(_) => Reason::Forbidden,
        _ if has(&["connection refused", "os error 111"]) => Reason::Refused,
        _ if has(&[
            "tls",
            "certificate",
            "handshake",
            "ssl",
            "invalidcontenttype",
        ]) =>
        {
            Reason::Tls
        }
        _ if has(&["timed out", "timeout", "within"]) => Reason::Timeout,
        _ if has(&["dns", "failed to lookup", "name or service not known"]) => Reason::Dns,
        ClusterError::Invalid(_) => Reason::Config,
        _ => Reason::Other,
    };
    Unreachable { reason, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_gets_its_word() {
        let cases = [
            (
                ClusterError::Unavailable(
                    "list deployments.apps: API server unreachable: Connection refused (os error 111)"
                        .into(),
                ),
                Reason::Refused,
            ),
            (
                ClusterError::Forbidden(
                    "list deployments.apps: unauthorized (credentials rejected): Unauthorized".into(),
                ),
                Reason::Unauthorized,
            ),
            (
                ClusterError::Forbidden("list deployments.apps: deployments.apps is forbidden".into()),
                Reason::Forbidden,
            ),
            (
                ClusterError::Unavailable(
                    "list deployments.apps: API server unreachable: received corrupt message of type InvalidContentType"
                        .into(),
                ),
                Reason::Tls,
            ),
            (
                ClusterError::Unavailable(
                    "no list of deployments from context slow within 3 s".into(),
                ),
                Reason::Timeout,
            ),
            (
                ClusterError::Invalid("kubeconfig: context \"x\" has no cluster".into()),
                Reason::Config,
            ),
            (
                ClusterError::Unavailable("list deployments.apps: server error 500: boom".into()),
                Reason::Other,
            ),
        ];
        for (e, want) in cases {
            let u = classify(&e);
            assert_eq!(u.reason, want, "{e}");
            assert_eq!(u.detail, e.to_string());
        }
        assert_eq!(
            timed_out(Duration::from_millis(2500)).detail,
            "no answer within 3 s"
        );
    }
}
