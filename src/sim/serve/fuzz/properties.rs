//! The properties over generated requests.

use http::Method;
use proptest::prelude::*;
use serde_json::json;

use super::harness::{Case, check_answer, check_status, run, runtime, send, server};
use super::strategies::{case, number_text, path, replicas};
use crate::sim::serve::validate::MAX_REPLICAS;
use crate::sim::serve::{Faults, Options};

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
