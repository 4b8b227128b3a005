//! Finding Prometheus in a cluster the way the field does, and querying it through the API
//! server's service proxy (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/...`) with the
//! kubeconfig's own credentials, so a laptop or bastion host that cannot reach
//! `prometheus.monitoring:9090` still gets history.
//!
//! Services are matched by well-known names and labels in every namespace (`candidates`),
//! ranked (Thanos query's global view first, then the operator's `prometheus-operated`,
//! kube-prometheus-stack, kube-prometheus, the community chart, VictoriaMetrics, anything else
//! labelled Prometheus), and probed in that order with `up`; the first that answers is used.
//! When none does, the error names each candidate and why.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, Client};
use tokio::sync::OnceCell;

use crate::metrics::prom_transport::{PromResponse, PromTransport};
use crate::metrics::prometheus::{PromError, probe};

/// One Service that looks like a Prometheus API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub namespace: String,
    pub name: String,
    /// The port as the proxy path names it (its name, else its number).
    pub port: String,
    /// Where the Prometheus API sits below the port's root (VictoriaMetrics' vmselect).
    pub prefix: &'static str,
    /// Lower is tried first.
    pub rank: u8,
    /// What it was recognised as.
    pub kind: &'static str,
}

impl Candidate {
    pub fn proxy_path(&self) -> String {
        format!(
            "/api/v1/namespaces/{}/services/{}:{}/proxy/{}",
            self.namespace, self.name, self.port, self.prefix
        )
    }

    pub fn shown(&self) -> String {
        format!("{}/{}:{}", self.namespace, self.name, self.port)
    }
}

/// The names discovery looks for, for messages.
const LOOKED_FOR: &str = "thanos-query*, prometheus-operated, *-kube-prometheus-prometheus, \
    prometheus-k8s, prometheus-server, vmselect-*, vmsingle-*, or app.kubernetes.io/name=prometheus";

/// The Services that look like Prometheus, best first.
pub fn candidates(services: &[Service]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = services.iter().filter_map(candidate).collect();
    out.sort_by(|a, b| {
        (a.rank, a.namespace != "monitoring", &a.namespace, &a.name).cmp(&(
            b.rank,
            b.namespace != "monitoring",
            &b.namespace,
            &b.name,
        ))
    });
    out
}

fn candidate(svc: &Service) -> Option<Candidate> {
    let name = svc.metadata.name.as_deref()?;
    let namespace = svc.metadata.namespace.as_deref()?;
    let label = |k: &str| {
        svc.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(k))
            .map(String::as_str)
            .unwrap_or_default()
    };
    let app_name = label("app.kubernetes.io/name");
    let app = label("app");
    let (rank, kind, ports, prefix): (u8, &'static str, &[i32], &'static str) =
        if name.starts_with("thanos-query") && !name.contains("frontend-")
            || app_name == "thanos-query"
        {
            (0, "Thanos query", &[9090, 10902], "")
        } else if name == "prometheus-operated" || label("operated-prometheus") == "true" {
            (1, "prometheus-operator", &[9090], "")
        } else if name.ends_with("-kube-prometheus-prometheus")
            || app == "kube-prometheus-stack-prometheus"
        {
            (2, "kube-prometheus-stack", &[9090], "")
        } else if name == "prometheus-k8s" {
            (3, "kube-prometheus", &[9090], "")
        } else if name == "prometheus-server"
            || app == "prometheus" && label("component") == "server"
            || app_name == "prometheus" && label("app.kubernetes.io/component") == "server"
        {
            (4, "prometheus community chart", &[80, 9090], "")
        } else if name.starts_with("vmselect-") || app_name == "vmselect" {
            (
                5,
                "VictoriaMetrics vmselect",
                &[8481],
                "select/0/prometheus/",
            )
        } else if name.starts_with("vmsingle-") || app_name == "vmsingle" {
            (6, "VictoriaMetrics vmsingle", &[8428], "")
        } else if app_name == "prometheus" || app == "prometheus" {
            (7, "labelled prometheus", &[9090, 80], "")
        } else {
            return None;
        };
    let svc_ports = svc.spec.as_ref()?.ports.as_deref().unwrap_or_default();
    let by_name = |p: &&k8s_openapi::api::core::v1::ServicePort| {
        matches!(
            p.name.as_deref(),
            Some("web" | "http-web" | "http" | "http-query")
        )
    };
    let port = svc_ports
        .iter()
        .find(|p| ports.contains(&p.port))
        .or_else(|| svc_ports.iter().find(by_name))
        .or_else(|| svc_ports.first())?;
    Some(Candidate {
        namespace: namespace.to_string(),
        name: name.to_string(),
        port: port
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| port.port.to_string()),
        prefix,
        rank,
        kind,
    })
}

/// Prometheus behind the API server's service proxy.
pub struct ProxyTransport {
    client: Client,
    candidate: Candidate,
    timeout: Duration,
}

impl ProxyTransport {
    pub fn new(client: Client, candidate: Candidate, timeout: Duration) -> Self {
        Self {
            client,
            candidate,
            timeout,
        }
    }
}

impl PromTransport for ProxyTransport {
    fn get<'a>(
        &'a self,
        path_and_query: &'a str,
    ) -> BoxFuture<'a, Result<PromResponse, PromError>> {
        Box::pin(async move {
            let unreachable = |reason: String| PromError::Unreachable {
                url: self.describe(),
                reason,
            };
            let uri = format!("{}{path_and_query}", self.candidate.proxy_path());
            let req = http::Request::get(uri)
                .body(kube::client::Body::from(Vec::new()))
                .map_err(|e| unreachable(e.to_string()))?;
            let call = async {
                let resp = self
                    .client
                    .send(req)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                let status = resp.status().as_u16();
                let body = crate::metrics::prom_transport::read_body(resp.into_body())
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                Ok(PromResponse { status, body })
            };
            tokio::time::timeout(self.timeout, call)
                .await
                .map_err(|_| {
                    unreachable(format!("no answer within {} s", self.timeout.as_secs()))
                })?
        })
    }

    fn describe(&self) -> String {
        format!("{} via API proxy", self.candidate.name)
    }
}

/// List Services in every namespace, rank them, and probe each until one answers.
pub async fn discover(client: &Client, timeout: Duration) -> Result<ProxyTransport, PromError> {
    let services = tokio::time::timeout(
        timeout,
        Api::<Service>::all(client.clone()).list(&ListParams::default()),
    )
    .await
    .map_err(|_| {
        PromError::NotFound(format!(
            "Services not listed within {} s",
            timeout.as_secs()
        ))
    })?
    .map_err(|e| {
        PromError::NotFound(format!(
            "cannot list Services to look for one ({e}); set [prometheus] url or --prometheus-url"
        ))
    })?;
    let found = candidates(&services.items);
    if found.is_empty() {
        return Err(PromError::NotFound(format!(
            "no Service in any namespace looks like Prometheus ({LOOKED_FOR}); set [prometheus] url \
             or --prometheus-url"
        )));
    }
    let mut tried = Vec::new();
    for c in found {
        let transport = ProxyTransport::new(client.clone(), c.clone(), timeout);
        match probe(&transport).await {
            Ok(()) => {
                tracing::info!(
                    "prometheus: {} ({}) answers through the API proxy",
                    c.shown(),
                    c.kind
                );
                return Ok(transport);
            }
            Err(e) => {
                tracing::info!("prometheus: {} does not answer: {e}", c.shown());
                tried.push(format!("{} ({}): {}", c.shown(), c.kind, reason(&e)));
            }
        }
    }
    Err(PromError::NotFound(format!(
        "none answers through the API proxy: {}",
        tried.join("; ")
    )))
}

/// The error without the transport's name (the candidate is named already).
fn reason(e: &PromError) -> String {
    match e {
        PromError::Http {
            status, message, ..
        } => format!("HTTP {status}: {message}"),
        PromError::Unreachable { reason, .. } | PromError::BadAnswer { reason, .. } => {
            reason.clone()
        }
        e => e.to_string(),
    }
}

/// Prometheus found on first use (the engine's backfill, after the first frame), then kept.
pub struct DiscoveredPrometheus {
    client: Client,
    timeout: Duration,
    found: OnceCell<Result<ProxyTransport, PromError>>,
}

impl DiscoveredPrometheus {
    pub fn new(client: Client, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            client,
            timeout,
            found: OnceCell::new(),
        })
    }
}

impl PromTransport for DiscoveredPrometheus {
    fn get<'a>(
        &'a self,
        path_and_query: &'a str,
    ) -> BoxFuture<'a, Result<PromResponse, PromError>> {
        Box::pin(async move {
            let found = self
                .found
                .get_or_init(|| discover(&self.client, self.timeout))
                .await;
            match found {
                Ok(t) => t.get(path_and_query).await,
                Err(e) => Err(e.clone()),
            }
        })
    }

    fn describe(&self) -> String {
        match self.found.get() {
            Some(Ok(t)) => t.describe(),
            _ => "Prometheus (discovered through the API proxy)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ns: &str, name: &str, labels: &[(&str, &str)], ports: &[(&str, i32)]) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "namespace": ns,
                "name": name,
                "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
            },
            "spec": {"ports": ports.iter().map(|(n, p)| serde_json::json!({"name": n, "port": p})).collect::<Vec<_>>()},
        }))
        .expect("a Service")
    }

    #[test]
    fn the_fields_names_are_ranked_and_their_ports_and_prefixes_chosen() {
        let found = candidates(&[
            svc("vm", "vmselect-main", &[], &[("http", 8481)]),
            svc(
                "monitoring",
                "grafana",
                &[("app.kubernetes.io/name", "grafana")],
                &[("http", 3000)],
            ),
            svc(
                "monitoring",
                "kps-kube-prometheus-prometheus",
                &[],
                &[("reloader-web", 8080), ("http-web", 9090)],
            ),
            svc(
                "monitoring",
                "prometheus-operator",
                &[("app.kubernetes.io/name", "prometheus-operator")],
                &[("https", 8443)],
            ),
            svc(
                "thanos",
                "thanos-query",
                &[],
                &[("grpc", 10901), ("http", 10902)],
            ),
            svc("metrics", "prometheus-server", &[], &[("http", 80)]),
            svc("vm", "vmsingle-db", &[], &[("http", 8428)]),
            svc("obs", "prometheus-operated", &[], &[("web", 9090)]),
            svc(
                "obs",
                "my-prom",
                &[("app.kubernetes.io/name", "prometheus")],
                &[("web", 9090)],
            ),
        ]);
        let shown: Vec<String> = found
            .iter()
            .map(|c| format!("{}{}", c.shown(), c.prefix))
            .collect();
        assert_eq!(
            shown,
            [
                "thanos/thanos-query:http",
                "obs/prometheus-operated:web",
                "monitoring/kps-kube-prometheus-prometheus:http-web",
                "metrics/prometheus-server:http",
                "vm/vmselect-main:httpselect/0/prometheus/",
                "vm/vmsingle-db:http",
                "obs/my-prom:web",
            ]
        );
        assert_eq!(
            found[4].proxy_path(),
            "/api/v1/namespaces/vm/services/vmselect-main:http/proxy/select/0/prometheus/"
        );
    }
}
