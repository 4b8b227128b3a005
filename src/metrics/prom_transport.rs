//! How the Prometheus client reaches Prometheus: straight at a URL (`[prometheus] url`), or
//! through something a higher floor provides (the API server's service proxy, with the
//! kubeconfig's credentials: `cluster::kube::prometheus_discovery`). The client only asks for a
//! path under the Prometheus API root and reads the status and body back.

use std::time::Duration;

use futures::future::BoxFuture;

use super::prom_error::PromError;

/// One answer as received: HTTP status and body.
#[derive(Clone, Debug, PartialEq)]
pub struct PromResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

pub trait PromTransport: Send + Sync {
    /// GET `path_and_query`, relative to the Prometheus root (e.g. `api/v1/query?query=up`).
    fn get<'a>(&'a self, path_and_query: &'a str)
    -> BoxFuture<'a, Result<PromResponse, PromError>>;
    /// Where answers come from, for the status bar and errors: a URL without credentials, or
    /// "prometheus-k8s via API proxy". Never a secret.
    fn describe(&self) -> String;
}

/// Straight HTTP(S) to a URL, which may carry a path prefix (`http://host/prometheus`).
pub struct HttpTransport {
    base: url::Url,
    shown: String,
    client: reqwest::Client,
}

impl HttpTransport {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, PromError> {
        let bad = |reason: String| PromError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let mut base = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("must start with http:// or https://".into()));
        }
        // A path prefix (`http://host/prometheus`) is kept when the API path is joined on.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("ai4k8s/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PromError::Client(e.to_string()))?;
        let mut shown = base.clone();
        // Never show credentials embedded in the url.
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        Ok(Self {
            base,
            shown: shown.to_string(),
            client,
        })
    }

    #[cfg(test)]
    pub(crate) fn base(&self) -> &url::Url {
        &self.base
    }
}

impl PromTransport for HttpTransport {
    fn get<'a>(
        &'a self,
        path_and_query: &'a str,
    ) -> BoxFuture<'a, Result<PromResponse, PromError>> {
        Box::pin(async move {
            let url = self
                .base
                .join(path_and_query)
                .map_err(|e| PromError::BadUrl {
                    url: self.shown.clone(),
                    reason: e.to_string(),
                })?;
            let unreachable = |e: reqwest::Error| PromError::Unreachable {
                url: self.shown.clone(),
                reason: error_chain(&e),
            };
            let resp = self.client.get(url).send().await.map_err(unreachable)?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await.map_err(unreachable)?;
            Ok(PromResponse {
                status,
                body: body.to_vec(),
            })
        })
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// reqwest's Display hides the cause (connection refused, timeout): show the chain.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
