//! Driving the router in-process: a request as generated, its answer, and the checks every
//! answer must pass.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use crate::sim::serve::Options;
use crate::sim::serve::router;
use crate::sim::serve::state::Server;
use crate::sim::{SimCluster, SimWorld, scenario};

const CASES: u32 = 256;

pub(super) fn server(options: Options) -> Arc<Server> {
    Server::in_process(SimCluster::new(SimWorld::new(3, scenario::demo())), options)
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// A request as generated: everything the router reads.
#[derive(Clone, Debug)]
pub(super) struct Case {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) host: String,
    pub(super) accept: String,
    pub(super) content_type: String,
    pub(super) body: Vec<u8>,
}

/// Percent-encode everything but unreserved characters (and `/` for paths, `%` when `raw`
/// keeps invalid escapes for the decoder to meet).
pub(super) fn encode(s: &str, keep_slash: bool, raw_percent: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
            || (raw_percent && b == b'%');
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Case {
    pub(super) fn request(&self) -> Option<Request<Full<Bytes>>> {
        let mut uri = self.path.clone();
        if !self.query.is_empty() {
            uri.push('?');
            let pairs: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k, false, false), encode(v, false, true)))
                .collect();
            uri.push_str(&pairs.join("&"));
        }
        let mut b = Request::builder().method(self.method.clone()).uri(uri);
        if !self.host.is_empty() {
            b = b.header(http::header::HOST, self.host.as_str());
        }
        if !self.accept.is_empty() {
            b = b.header(http::header::ACCEPT, self.accept.as_str());
        }
        if !self.content_type.is_empty() {
            b = b.header(http::header::CONTENT_TYPE, self.content_type.as_str());
        }
        b.body(Full::new(Bytes::from(self.body.clone()))).ok()
    }
}

/// The answer: status, content type and (for a streaming answer, the first part of) the body.
pub(super) struct Answer {
    pub(super) code: u16,
    pub(super) content_type: String,
    pub(super) body: Bytes,
}

pub(super) fn send(
    rt: &tokio::runtime::Runtime,
    server: &Arc<Server>,
    req: Request<Full<Bytes>>,
) -> Answer {
    rt.block_on(async {
        let r = router::handle(server.clone(), req).await;
        let code = r.status().as_u16();
        let content_type = r
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut body = r.into_body();
        let mut bytes = Vec::new();
        // Watches stream until their timeout: read what comes at once, then stop.
        while let Ok(Some(frame)) =
            tokio::time::timeout(Duration::from_millis(30), body.frame()).await
        {
            match frame {
                Ok(f) => {
                    if let Some(d) = f.data_ref() {
                        bytes.extend_from_slice(d);
                    }
                }
                Err(_) => break,
            }
            if bytes.len() > 1 << 20 {
                break;
            }
        }
        Answer {
            code,
            content_type,
            body: Bytes::from(bytes),
        }
    })
}

/// An error answer must be a `metav1.Status` with the same code.
pub(super) fn check_status(a: &Answer) -> Result<Value, TestCaseError> {
    prop_assert_eq!(a.content_type.as_str(), "application/json");
    let v: Value = serde_json::from_slice(&a.body)
        .map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&a.body))))?;
    prop_assert_eq!(&v["kind"], "Status");
    prop_assert_eq!(&v["apiVersion"], "v1");
    prop_assert_eq!(&v["status"], "Failure");
    prop_assert_eq!(v["code"].as_u64(), Some(u64::from(a.code)));
    prop_assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    prop_assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    Ok(v)
}

/// No 5xx (but the apiserver's 504 for a resourceVersion from the future), and every error a
/// Status.
pub(super) fn check_answer(a: &Answer) -> Result<(), TestCaseError> {
    if a.code >= 400 {
        let v = check_status(a)?;
        if a.code >= 500 {
            prop_assert_eq!(a.code, 504, "{}", v);
            prop_assert_eq!(
                &v["details"]["causes"][0]["reason"],
                "ResourceVersionTooLarge"
            );
        }
    }
    Ok(())
}

pub(super) fn run<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}
