//! Leases and Event creation through the router, in-process: the status codes and bodies a
//! leader-election client races on.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::sim::serve::Options;
use crate::sim::serve::router;
use crate::sim::serve::state::Server;
use crate::sim::{SimCluster, SimWorld, scenario};

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn server() -> Arc<Server> {
    Server::in_process(
        SimCluster::new(SimWorld::new(3, scenario::demo())),
        Options::default(),
    )
}

fn call(server: &Arc<Server>, method: Method, uri: &str, ct: &str, body: Value) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::HOST, "127.0.0.1")
            .header(http::header::CONTENT_TYPE, ct)
            .body(Full::new(Bytes::from(if body.is_null() {
                String::new()
            } else {
                body.to_string()
            })))
            .expect("request");
        let r = router::handle(server.clone(), req).await;
        let code = r.status().as_u16();
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    })
}

fn lease(holder: &str) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3}})
}

#[test]
fn leases_race_on_resource_versions_like_the_apiservers() {
    let s = server();
    let json = "application/json";
    let (code, created) = call(&s, Method::POST, LEASES, json, lease("a"));
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert!(created["metadata"]["uid"].is_string());
    let rv = created["metadata"]["resourceVersion"].clone();
    let (code, again) = call(&s, Method::POST, LEASES, json, lease("b"));
    assert_eq!(
        (code, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    // A PUT and a merge patch at the version read win once; the loser gets the Status body.
    let mut put = created.clone();
    put["spec"]["holderIdentity"] = "b".into();
    let (code, won) = call(
        &s,
        Method::PUT,
        &format!("{LEASES}/leader"),
        json,
        put.clone(),
    );
    assert_eq!(code, 200, "{won}");
    assert_ne!(won["metadata"]["resourceVersion"], rv);
    assert_eq!(won["metadata"]["uid"], created["metadata"]["uid"]);
    let (code, lost) = call(&s, Method::PUT, &format!("{LEASES}/leader"), json, put);
    assert_eq!(code, 409);
    assert_eq!(lost["kind"], "Status");
    assert_eq!(lost["reason"], "Conflict");
    assert!(
        lost["message"]
            .as_str()
            .is_some_and(|m| m.contains("the object has been modified")),
        "{lost}"
    );
    let merge = "application/merge-patch+json";
    let stale = json!({"metadata": {"resourceVersion": rv}, "spec": {"holderIdentity": "c"}});
    let (code, _) = call(&s, Method::PATCH, &format!("{LEASES}/leader"), merge, stale);
    assert_eq!(
        code, 409,
        "a patch carrying a stale resourceVersion loses too"
    );
    let fresh = json!({"metadata": {"resourceVersion": won["metadata"]["resourceVersion"]},
        "spec": {"holderIdentity": "c"}});
    let (code, patched) = call(&s, Method::PATCH, &format!("{LEASES}/leader"), merge, fresh);
    assert_eq!(
        (code, patched["spec"]["holderIdentity"].as_str()),
        (200, Some("c"))
    );

    let bad = json!({"spec": {"leaseDurationSeconds": 0}});
    let (code, invalid) = call(&s, Method::PATCH, &format!("{LEASES}/leader"), merge, bad);
    assert_eq!(
        (code, invalid["reason"].as_str()),
        (422, Some("Invalid")),
        "{invalid}"
    );

    let (code, list) = call(&s, Method::GET, LEASES, json, Value::Null);
    assert_eq!(code, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (code, _) = call(
        &s,
        Method::DELETE,
        &format!("{LEASES}/leader"),
        json,
        Value::Null,
    );
    assert_eq!(code, 200);
    let (code, _) = call(
        &s,
        Method::GET,
        &format!("{LEASES}/leader"),
        json,
        Value::Null,
    );
    assert_eq!(code, 404);
}

#[test]
fn created_events_are_listed_and_selected_by_their_fields() {
    let s = server();
    let events = "/api/v1/namespaces/shop/events";
    let event = json!({"metadata": {"name": "frontend.1"},
        "involvedObject": {"kind": "Deployment", "namespace": "shop", "name": "frontend"},
        "reason": "AutopilotScaled", "message": "replicas 2 → 4: load", "type": "Normal",
        "reportingComponent": "ai4k8s-autopilot", "reportingInstance": "a"});
    let (code, created) = call(&s, Method::POST, events, "application/json", event.clone());
    assert_eq!(code, 201, "{created}");
    assert!(
        created["firstTimestamp"].is_string(),
        "defaulted: {created}"
    );
    let (code, _) = call(&s, Method::POST, events, "application/json", event);
    assert_eq!(code, 409);
    let (code, list) = call(
        &s,
        Method::GET,
        &format!("{events}?fieldSelector=reportingComponent%3Dai4k8s-autopilot"),
        "application/json",
        Value::Null,
    );
    assert_eq!(code, 200);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["reason"], "AutopilotScaled");
    let elsewhere = json!({"metadata": {"name": "x.1"},
        "involvedObject": {"kind": "Deployment", "namespace": "data", "name": "x"}});
    let (code, _) = call(&s, Method::POST, events, "application/json", elsewhere);
    assert_eq!(code, 422, "an event about another namespace's object");
}
