//! Property tests of request handling, driving the router in-process (no sockets, so a few
//! hundred cases take seconds): random methods, paths, query strings (huge numbers for
//! `limit`, `timeoutSeconds`, `resourceVersion`), headers and bodies (JSON, merge, JSON and
//! strategic patches, protobuf bytes) never panic, and every error is a Kubernetes `Status`
//! with a 4xx code. The one 5xx without a fault is the apiserver's own 504 "Too large resource
//! version" (reason Timeout, cause ResourceVersionTooLarge), which clients retry on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::router;
use super::state::Server;
use super::validate::MAX_REPLICAS;
use super::{Faults, Options};
use crate::sim::{SimCluster, SimWorld, scenario};

const CASES: u32 = 256;

fn server(options: Options) -> Arc<Server> {
    Server::in_process(SimCluster::new(SimWorld::new(3, scenario::demo())), options)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// A request as generated: everything the router reads.
#[derive(Clone, Debug)]
struct Case {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    host: String,
    accept: String,
    content_type: String,
    body: Vec<u8>,
}

/// Percent-encode everything but unreserved characters (and `/` for paths, `%` when `raw`
/// keeps invalid escapes for the decoder to meet).
fn encode(s: &str, keep_slash: bool, raw_percent: bool) -> String {
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
    fn request(&self) -> Option<Request<Full<Bytes>>> {
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
struct Answer {
    code: u16,
    content_type: String,
    body: Bytes,
}

fn send(rt: &tokio::runtime::Runtime, server: &Arc<Server>, req: Request<Full<Bytes>>) -> Answer {
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
fn check_status(a: &Answer) -> Result<Value, TestCaseError> {
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
fn check_answer(a: &Answer) -> Result<(), TestCaseError> {
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

fn run<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
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

// ---- strategies ----

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        4 => Just(Method::GET),
        2 => Just(Method::PATCH),
        1 => Just(Method::PUT),
        1 => Just(Method::POST),
        1 => Just(Method::DELETE),
        1 => Just(Method::HEAD),
        1 => Just(Method::OPTIONS),
        1 => "[A-Z]{1,8}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET)),
    ]
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["shop", "payments", "default", "kube-system"]).prop_map(String::from),
        1 => "[a-z0-9.-]{0,12}",
        1 => "\\PC{0,8}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["frontend", "ledger", "checkout", "nope"]).prop_map(String::from),
        1 => "[a-z0-9.-]{0,12}",
        1 => "\\PC{0,8}",
    ]
}

/// Paths the router serves (with random names and namespaces), and random ones.
fn path() -> impl Strategy<Value = String> {
    let served = (
        prop::sample::select(vec![
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
            "/apis/apps/v1/namespaces/{ns}/deployments",
            "/apis/apps/v1/deployments",
            "/apis/apps/v1/namespaces/{ns}/replicasets",
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}",
            "/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers/{name}",
            "/apis/autoscaling/v1/horizontalpodautoscalers",
            "/api/v1/namespaces/{ns}/pods",
            "/api/v1/namespaces/{ns}/pods/{name}",
            "/api/v1/pods",
            "/api/v1/events",
            "/api/v1/namespaces",
            "/api/v1/namespaces/{ns}",
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}",
            "/apis/metrics.k8s.io/v1beta1/pods",
            "/api",
            "/apis",
            "/apis/autoscaling",
            "/apis/autoscaling/v2",
            "/version",
            "/openapi/v3",
            "/openapi/v3/apis/apps/v1",
        ]),
        namespace(),
        name(),
    )
        .prop_map(|(t, ns, n)| {
            t.replace("{ns}", &encode(&ns, false, false))
                .replace("{name}", &encode(&n, false, false))
        });
    let random = prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                "api",
                "apis",
                "v1",
                "v2",
                "apps",
                "autoscaling",
                "namespaces",
                "shop",
                "deployments",
                "horizontalpodautoscalers",
                "pods",
                "scale",
                "status",
                "..",
                ".",
                "metrics.k8s.io",
                "v1beta1",
            ])
            .prop_map(String::from),
            "\\PC{0,10}".prop_map(|s| encode(&s, false, false)),
            "[a-z%0-9]{0,6}",
        ],
        0..8,
    )
    .prop_map(|segs| format!("/{}", segs.join("/")));
    prop_oneof![3 => served, 1 => random]
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("99999999999999999".to_string()),
        // Past the clock's range when added to now.
        Just(i64::MAX.to_string()),
        (0i64..1 << 40).prop_map(|n| (i64::MAX - n).to_string()),
        Just("99999999999999999999999999999".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("1e9".to_string()),
        (0u64..50).prop_map(|n| n.to_string()),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        6 => prop::sample::select(vec![
            "limit", "continue", "timeoutSeconds", "resourceVersion", "resourceVersionMatch",
            "watch", "labelSelector", "fieldSelector", "dryRun", "fieldValidation",
            "includeObject", "allowWatchBookmarks", "sendInitialEvents",
        ])
        .prop_map(String::from),
        1 => "\\PC{0,6}",
    ];
    let value = prop_oneof![
        3 => number_text(),
        2 => prop::sample::select(vec![
            "true", "1", "false", "All", "Strict", "Ignore", "Exact", "NotOlderThan", "Object",
            "None", "Metadata", "app=frontend", "app in (a,b),!x", "metadata.name=ledger",
            "metadata.namespace!=shop", "status.phase=Running", "7b7d", "zz",
        ])
        .prop_map(String::from),
        2 => "[a-z=!,() .%-]{0,24}",
        1 => "\\PC{0,12}",
    ];
    prop::collection::vec((key, value), 0..6)
}

fn header_value(known: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(known).prop_map(String::from),
        1 => "[ -~]{0,40}".prop_map(|s| s.trim().to_string()),
    ]
}

fn accept() -> impl Strategy<Value = String> {
    header_value(vec![
        "",
        "application/json",
        "*/*",
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
        "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        "application/vnd.kubernetes.protobuf",
        "text/html",
    ])
}

fn content_type() -> impl Strategy<Value = String> {
    header_value(vec![
        "",
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/vnd.kubernetes.protobuf",
        "application/json; charset=utf-8",
    ])
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "metadata",
                        "spec",
                        "replicas",
                        "labels",
                        "annotations",
                        "name",
                        "namespace",
                        "resourceVersion",
                        "uid",
                        "minReplicas",
                        "maxReplicas",
                        "$patch",
                        "$retainKeys",
                        "kind",
                        "apiVersion",
                        "scaleTargetRef",
                        "metrics",
                        "behavior",
                        "template",
                        "selector",
                    ])
                    .prop_map(String::from),
                    "\\PC{0,6}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn replicas() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..30).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(1_000_000)),
        // (MAX_REPLICAS itself is accepted and costs 10 000 pods per case: validate.rs tests it.)
        Just(json!(MAX_REPLICAS + 1)),
        Just(json!(i64::from(i32::MAX) + 1)),
        Just(json!(2.5)),
        Just(json!("3")),
        Just(Value::Null),
    ]
}

fn pointer() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "/spec/replicas",
            "/spec/minReplicas",
            "/spec/maxReplicas",
            "/metadata/labels/x",
            "/metadata/annotations/a~1b",
            "/metadata/name",
            "/spec",
            "",
            "/",
            "/spec/metrics/0",
            "/spec/metrics/-",
            "/metadata/resourceVersion",
            "/status",
        ])
        .prop_map(String::from),
        "(/[a-z~0-9-]{0,6}){0,4}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let meta = prop_oneof![
        Just(json!({})),
        ("\\PC{0,10}", "\\PC{0,10}")
            .prop_map(|(k, v)| json!({"labels": {k.clone(): v.clone()}, "annotations": {v: k}})),
        json_value(),
    ];
    let field = prop::sample::select(vec!["replicas", "minReplicas", "maxReplicas"]);
    let merge = (field, replicas(), meta).prop_map(|(f, r, meta)| {
        json!({"spec": {f: r}, "metadata": meta})
            .to_string()
            .into_bytes()
    });
    let hpa = (replicas(), replicas(), name(), json_value()).prop_map(|(min, max, n, metrics)| {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": n},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"},
                "minReplicas": min,
                "maxReplicas": max,
                "metrics": metrics,
            },
        })
        .to_string()
        .into_bytes()
    });
    let op = (
        prop::sample::select(vec![
            "add", "remove", "replace", "move", "copy", "test", "nope",
        ]),
        pointer(),
        pointer(),
        prop_oneof![replicas(), json_value()],
    )
        .prop_map(
            |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
        );
    let json_patch =
        prop::collection::vec(op, 0..4).prop_map(|ops| Value::Array(ops).to_string().into_bytes());
    let deep =
        (0usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes());
    prop_oneof![
        2 => merge,
        2 => hpa,
        2 => json_patch,
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => deep,
        1 => prop::collection::vec(any::<u8>(), 0..96),
        1 => Just(Vec::new()),
    ]
}

fn host() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "127.0.0.1:6443",
        "localhost:8001",
        "[::1]:80",
        "localhost",
    ])
    .prop_map(String::from)
}

/// Anything: methods, paths, headers and bodies drawn apart.
fn random_case() -> impl Strategy<Value = Case> {
    (
        method(),
        path(),
        query(),
        host(),
        accept(),
        content_type(),
        body(),
    )
        .prop_map(
            |(method, path, query, host, accept, content_type, body)| Case {
                method,
                path,
                query,
                host,
                accept,
                content_type,
                body,
            },
        )
}

/// A write the router routes (method, object path and content type agree), with random
/// names, query, and bodies: these reach decoding, patching and validation.
fn write_case() -> impl Strategy<Value = Case> {
    const PATCHES: &[&str] = &[
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
    ];
    const BODIES: &[&str] = &["application/json", "application/vnd.kubernetes.protobuf"];
    let routes: Vec<(Method, &str, &[&str])> = vec![
        (
            Method::PATCH,
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
            PATCHES,
        ),
        (
            Method::PATCH,
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
            PATCHES,
        ),
        (
            Method::PATCH,
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}",
            PATCHES,
        ),
        (
            Method::PATCH,
            "/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers/{name}",
            PATCHES,
        ),
        (
            Method::PUT,
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
            BODIES,
        ),
        (
            Method::PUT,
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
            BODIES,
        ),
        (
            Method::PUT,
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}",
            BODIES,
        ),
        (
            Method::POST,
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
            BODIES,
        ),
        (
            Method::POST,
            "/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers",
            BODIES,
        ),
        (
            Method::DELETE,
            "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}",
            BODIES,
        ),
    ];
    (
        prop::sample::select(routes),
        any::<prop::sample::Index>(),
        prop::sample::select(vec!["shop", "payments"]),
        name(),
        // A bad dryRun or fieldValidation refuses a write before its body is read.
        prop_oneof![3 => Just(Vec::new()), 1 => query()],
        body(),
    )
        .prop_map(
            |((method, template, types), pick, ns, n, query, body)| Case {
                method,
                path: template
                    .replace("{ns}", ns)
                    .replace("{name}", &encode(&n, false, false)),
                query,
                host: "127.0.0.1:6443".into(),
                accept: "application/json".into(),
                content_type: pick.get(types).to_string(),
                body,
            },
        )
}

/// A read of a served path, with random query and Accept.
fn read_case() -> impl Strategy<Value = Case> {
    (path(), query(), accept()).prop_map(|(path, query, accept)| Case {
        method: Method::GET,
        path,
        query,
        host: "localhost".into(),
        accept,
        content_type: String::new(),
        body: Vec::new(),
    })
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![random_case(), write_case(), read_case()]
}

// ---- properties ----

#[test]
fn random_requests_never_panic_and_errors_are_4xx_status_objects() {
    let (rt, server) = (runtime(), server(Options::default()));
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    run(case(), |c| {
        let Some(req) = c.request() else {
            return Ok(());
        };
        let a = send(&rt, &server, req);
        *seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(a.code)
            .or_default() += 1;
        check_answer(&a)
    });
    // Not vacuous: answers of every kind came back.
    let seen = seen.into_inner().unwrap_or_else(|p| p.into_inner());
    for code in [200, 400, 404, 405] {
        assert!(
            seen.get(&code).is_some_and(|n| *n > 0),
            "no {code} in {seen:?}"
        );
    }
}

#[test]
fn huge_numbers_in_list_and_watch_queries_are_answered_not_panicked_on() {
    let (rt, server) = (runtime(), server(Options::default()));
    let target = prop::sample::select(vec![
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/namespaces/shop/deployments",
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
        "/apis/autoscaling/v1/horizontalpodautoscalers",
        "/api/v1/namespaces/payments/pods",
        "/api/v1/events",
        "/apis/metrics.k8s.io/v1beta1/pods",
    ]);
    let numbers = (
        any::<bool>(),
        prop::option::of(number_text()),
        prop::option::of(number_text()),
        prop::option::of(number_text()),
    );
    run((target, numbers), |(path, (watch, limit, timeout, rv))| {
        let mut query = Vec::new();
        if watch {
            query.push(("watch".to_string(), "true".to_string()));
        }
        for (k, v) in [
            ("limit", limit),
            ("timeoutSeconds", timeout),
            ("resourceVersion", rv),
        ] {
            if let Some(v) = v {
                query.push((k.to_string(), v));
            }
        }
        let c = Case {
            method: Method::GET,
            path: path.to_string(),
            query,
            host: "127.0.0.1:1".into(),
            accept: "application/json".into(),
            content_type: String::new(),
            body: Vec::new(),
        };
        let Some(req) = c.request() else {
            return Ok(());
        };
        let a = send(&rt, &server, req);
        check_answer(&a)?;
        prop_assert!(
            matches!(a.code, 200 | 400 | 405 | 410 | 504),
            "{} for {c:?}",
            a.code
        );
        Ok(())
    });
}

#[test]
fn no_write_leaves_more_replicas_than_the_limit() {
    let (rt, server) = (runtime(), server(Options::default()));
    const PATCHES: &[&str] = &[
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
    ];
    let scale = "/apis/apps/v1/namespaces/shop/deployments/frontend/scale";
    let write = (
        prop::sample::select(vec![
            ("PATCH", scale, PATCHES, "replicas"),
            ("PUT", scale, &["application/json"][..], "replicas"),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/payments/deployments/ledger",
                PATCHES,
                "replicas",
            ),
            (
                "PATCH",
                "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/frontend",
                PATCHES,
                "minReplicas",
            ),
            (
                "PATCH",
                "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/frontend",
                PATCHES,
                "maxReplicas",
            ),
            (
                "PATCH",
                "/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers/frontend",
                PATCHES,
                "maxReplicas",
            ),
        ]),
        any::<prop::sample::Index>(),
        replicas(),
    );
    run(write, |((method, path, types, field), pick, n)| {
        let ct = pick.get(types);
        let body = if *ct == "application/json-patch+json" {
            json!([{"op": "replace", "path": format!("/spec/{field}"), "value": n}])
        } else if method == "PUT" {
            json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                   "metadata": {"name": "frontend", "namespace": "shop"}, "spec": {field: n}})
        } else {
            json!({"spec": {field: n}})
        };
        let c = Case {
            method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::PATCH),
            path: path.to_string(),
            query: Vec::new(),
            host: "localhost".into(),
            accept: "application/json".into(),
            content_type: ct.to_string(),
            body: body.to_string().into_bytes(),
        };
        let Some(req) = c.request() else {
            return Ok(());
        };
        let a = send(&rt, &server, req);
        check_answer(&a)?;
        if n.as_i64().is_some_and(|v| v > i64::from(MAX_REPLICAS)) && a.code != 400 {
            let v = check_status(&a)?;
            prop_assert_eq!(a.code, 422, "{}", v);
            prop_assert_eq!(&v["reason"], "Invalid");
        }
        let max = u32::try_from(MAX_REPLICAS).unwrap_or(u32::MAX);
        for d in server.sim.world().snapshot().deployments {
            prop_assert!(
                d.desired_replicas <= max,
                "{}: {}",
                d.key,
                d.desired_replicas
            );
            if let Some(h) = &d.hpa {
                prop_assert!(
                    h.max_replicas <= max && h.min_replicas <= max,
                    "{}: {h:?}",
                    d.key
                );
            }
        }
        Ok(())
    });
}

#[test]
fn hosts_that_are_not_loopback_names_are_refused() {
    let (rt, server) = (runtime(), server(Options::default()));
    let host = prop_oneof![
        "[a-z]{1,10}\\.(com|example|io|nip\\.io)(:[0-9]{1,5})?",
        "127\\.0\\.0\\.1\\.[a-z]{2,6}(:[0-9]{1,4})?",
        "(10|192|0|169)\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,4})?",
    ];
    run((host, path()), |(host, path)| {
        let c = Case {
            method: Method::GET,
            path,
            query: Vec::new(),
            host,
            accept: String::new(),
            content_type: String::new(),
            body: Vec::new(),
        };
        let Some(req) = c.request() else {
            return Ok(());
        };
        let a = send(&rt, &server, req);
        let v = check_status(&a)?;
        prop_assert_eq!(a.code, 403);
        prop_assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("DNS rebinding"))
        );
        Ok(())
    });
}

#[test]
fn a_fault_answers_every_request_for_its_resource_and_only_those() {
    let faults = Faults::new(["hpas=500".parse().expect("fault")]);
    let (rt, server) = (
        runtime(),
        server(Options {
            faults,
            ..Options::default()
        }),
    );
    run(case(), |c| {
        let Some(req) = c.request() else {
            return Ok(());
        };
        let a = send(&rt, &server, req);
        let hpa_list = c.path == "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers"
            || c.path == "/apis/autoscaling/v1/horizontalpodautoscalers";
        if hpa_list && c.method == Method::GET {
            prop_assert_eq!(a.code, 500, "{:?}", c);
        }
        if a.code == 500 {
            let v = check_status(&a)?;
            prop_assert_eq!(&v["reason"], "InternalError");
            prop_assert!(c.path.contains("/horizontalpodautoscalers"), "{}", c.path);
        } else {
            check_answer(&a)?;
        }
        Ok(())
    });
}
