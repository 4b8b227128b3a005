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
        // The url as given may carry credentials: the error shows it without them.
        let bad = |reason: String| PromError::BadUrl {
            url: crate::redact::url(url),
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
            let body = read_body(http::Response::from(resp).into_body())
                .await
                .map_err(unreachable)?;
            Ok(PromResponse { status, body })
        })
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// An answer's buffer is allocated once from its length when the server says it (capped: a
/// length is only a claim), and each chunk is dropped once copied, so an answer of megabytes
/// is held once, not as its chunks, a joined copy of them and a `Vec` of that.
fn preallocated(length: Option<u64>) -> usize {
    const CAP: u64 = 32 << 20;
    length.unwrap_or(0).min(CAP) as usize
}

/// A body read frame by frame into one buffer (see `preallocated`).
pub(crate) async fn read_body<B>(mut body: B) -> Result<Vec<u8>, B::Error>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
{
    use http_body_util::BodyExt;
    let hint = body.size_hint();
    let mut out = Vec::with_capacity(preallocated(hint.exact().or(Some(hint.lower()))));
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_without_showing_its_credentials() {
        for url in [
            "ftp://admin:hunter2@prom.example:9090",
            "htp:/admin:hunter2@prom.example",
            "http://admin:hunter2@[::1",
        ] {
            let e = HttpTransport::new(url, Duration::from_secs(1))
                .err()
                .unwrap_or_else(|| panic!("{url} was accepted"));
            let shown = e.to_string();
            assert!(matches!(e, PromError::BadUrl { .. }), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("prom.example") || shown.contains("::1"),
                "{shown}"
            );
        }
    }

    #[tokio::test]
    async fn a_body_of_many_frames_is_read_whole_into_one_buffer() {
        let frames: Vec<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>> = (0..50)
            .map(|i| {
                Ok(hyper::body::Frame::data(bytes::Bytes::from(format!(
                    "{i},"
                ))))
            })
            .collect();
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
        let read = read_body(body).await.expect("reads");
        let want: String = (0..50).map(|i| format!("{i},")).collect();
        assert_eq!(read, want.as_bytes());
        // A failing frame is the error, not a short answer.
        let broken: Vec<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>> = vec![
            Ok(hyper::body::Frame::data(bytes::Bytes::from_static(
                b"{\"status\"",
            ))),
            Err(std::io::Error::other("connection reset")),
        ];
        let err = read_body(http_body_util::StreamBody::new(futures::stream::iter(
            broken,
        )))
        .await
        .expect_err("the reset");
        assert!(err.to_string().contains("reset"));
    }

    #[test]
    fn a_claimed_length_is_preallocated_up_to_a_cap() {
        assert_eq!(preallocated(Some(1_000)), 1_000);
        assert_eq!(preallocated(None), 0);
        assert_eq!(preallocated(Some(u64::MAX)), 32 << 20);
    }
}
