//! The generators: methods, paths the router serves and random ones, queries with huge numbers,
//! headers, bodies (JSON, patches, protobuf bytes) and hosts, combined into whole requests.

use http::Method;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::harness::{Case, encode};
use crate::sim::serve::validate::MAX_REPLICAS;

pub(super) fn method() -> impl Strategy<Value = Method> {
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

pub(super) fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["shop", "payments", "default", "kube-system"]).prop_map(String::from),
        1 => "[a-z0-9.-]{0,12}",
        1 => "\\PC{0,8}",
    ]
}

pub(super) fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["frontend", "ledger", "checkout", "nope"]).prop_map(String::from),
        1 => "[a-z0-9.-]{0,12}",
        1 => "\\PC{0,8}",
    ]
}

/// Paths the router serves (with random names and namespaces), and random ones.
pub(super) fn path() -> impl Strategy<Value = String> {
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

pub(super) fn number_text() -> impl Strategy<Value = String> {
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

pub(super) fn query() -> impl Strategy<Value = Vec<(String, String)>> {
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

pub(super) fn content_type() -> impl Strategy<Value = String> {
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

pub(super) fn replicas() -> impl Strategy<Value = Value> {
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

pub(super) fn body() -> impl Strategy<Value = Vec<u8>> {
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

pub(super) fn host() -> impl Strategy<Value = String> {
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

pub(super) fn case() -> impl Strategy<Value = Case> {
    prop_oneof![random_case(), write_case(), read_case()]
}
