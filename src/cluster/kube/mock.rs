//! A fake Kubernetes API server behind a `tower-test` mock service, for tests of the kube path
//! (its unit tests, and through `tests/common/kube.rs` the engine and TUI tests): lists with
//! resourceVersions, watch streams the test feeds (events, 410 Gone, dropped connections),
//! scripted write answers (403, 404, 409, 422, 500), and a switch that makes the server
//! unreachable. Every request is recorded for assertions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::channel::mpsc;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;
type Events = mpsc::UnboundedSender<Result<Frame<Bytes>, BoxError>>;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
}

#[derive(Default)]
pub struct State {
    /// Objects per resource: "deployments", "horizontalpodautoscalers", "pods", "podmetrics".
    pub objects: HashMap<&'static str, Vec<Value>>,
    pub rv: u64,
    /// Resources whose list/watch answer this status code (403, 404, 500…).
    pub refuse: HashMap<&'static str, (u16, &'static str)>,
    /// Every request fails as a refused connection.
    pub down: bool,
    /// Answers for the next writes (PATCH/POST/PUT), before the default handling.
    pub next_writes: VecDeque<(u16, Value)>,
    watchers: Vec<(&'static str, Events)>,
    pub requests: Vec<Recorded>,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    pub state: Arc<Mutex<State>>,
}

pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn full(code: u16, v: &Value) -> Response<Body> {
    let bytes = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
    let mut r = Response::new(Full::new(bytes).map_err(|n| match n {}).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

fn merge(target: &mut Value, patch: &Value) {
    // RFC 7386 JSON merge patch.
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The autoscaling/v1 Scale view of a deployment, as `/scale` answers.
fn scale_of(d: &Value) -> Value {
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
           "metadata": {"name": d["metadata"]["name"], "namespace": d["metadata"]["namespace"],
                        "resourceVersion": d["metadata"]["resourceVersion"]},
           "spec": {"replicas": d["spec"]["replicas"]},
           "status": {"replicas": d["status"]["replicas"]}})
}

fn resource_of(group: &str, plural: &str) -> Option<&'static str> {
    Some(match (group, plural) {
        ("apps", "deployments") => "deployments",
        ("autoscaling", "horizontalpodautoscalers") => "horizontalpodautoscalers",
        ("", "pods") => "pods",
        ("", "nodes") => "nodes",
        ("metrics.k8s.io", "pods") => "podmetrics",
        _ => return None,
    })
}

fn list_kind(resource: &str) -> &'static str {
    match resource {
        "deployments" => "DeploymentList",
        "horizontalpodautoscalers" => "HorizontalPodAutoscalerList",
        "pods" => "PodList",
        "nodes" => "NodeList",
        _ => "PodMetricsList",
    }
}

impl FakeApi {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A kube client whose every request this fake answers.
    pub fn client(&self) -> kube::Client {
        let (svc, mut handle) =
            tower_test::mock::pair::<Request<kube::client::Body>, Response<Body>>();
        let fake = self.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                match fake.answer(&parts.method, &parts.uri, &bytes) {
                    Ok(r) => send.send_response(r),
                    Err(e) => send.send_error(e),
                }
            }
        });
        kube::Client::new(svc, "default")
    }

    pub fn set(&self, resource: &'static str, objects: Vec<Value>) {
        let mut s = self.lock();
        s.rv += 1;
        let rv = s.rv.to_string();
        let objects = objects
            .into_iter()
            .map(|mut o| {
                o["metadata"]["resourceVersion"] = json!(rv);
                o
            })
            .collect();
        s.objects.insert(resource, objects);
    }

    /// Send a raw watch event line to every open watch of `resource`.
    pub fn push_event(&self, resource: &'static str, event: &Value) {
        let line = Bytes::from(format!("{event}\n"));
        let mut s = self.lock();
        s.watchers.retain(|(r, tx)| {
            *r != resource || tx.unbounded_send(Ok(Frame::data(line.clone()))).is_ok()
        });
    }

    /// Break every open watch of `resource` mid-stream, as a dropped connection does.
    #[allow(dead_code)] // Only the engine tests over the kube path (tests/) drop watches.
    pub fn drop_watches(&self, resource: &'static str) {
        let mut s = self.lock();
        for (r, tx) in &s.watchers {
            if *r == resource {
                let e: BoxError = Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                ));
                let _ = tx.unbounded_send(Err(e));
            }
        }
        s.watchers.retain(|(r, _)| *r != resource);
    }

    pub fn open_watches(&self, resource: &str) -> usize {
        self.lock()
            .watchers
            .iter()
            .filter(|(r, tx)| *r == resource && !tx.is_closed())
            .count()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn count(&self, method: &Method, path_part: &str, query_part: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| {
                r.method == method && r.path.contains(path_part) && r.query.contains(query_part)
            })
            .count()
    }

    fn answer(
        &self,
        method: &Method,
        uri: &http::Uri,
        body: &[u8],
    ) -> Result<Response<Body>, BoxError> {
        let path = uri.path().to_string();
        let query = uri.query().unwrap_or("").to_string();
        let body_json: Option<Value> = serde_json::from_slice(body).ok();
        let mut s = self.lock();
        s.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body_json.clone(),
        });
        if s.down {
            return Err(Box::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )));
        }
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match segs.as_slice() {
            ["api", "v1", rest @ ..] => ("", rest),
            ["apis", g, _v, rest @ ..] => (*g, rest),
            _ => {
                return Ok(full(
                    404,
                    &status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    ),
                ));
            }
        };
        let (ns, rest) = match rest {
            ["namespaces", ns, rest @ ..] => (Some(ns.to_string()), rest),
            r => (None, r),
        };
        let Some((plural, name, sub)) = rest
            .first()
            .map(|p| (*p, rest.get(1).map(|s| s.to_string()), rest.get(2).copied()))
        else {
            return Ok(full(404, &status(404, "NotFound", "no resource")));
        };
        let Some(resource) = resource_of(group, plural) else {
            return Ok(full(
                404,
                &status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            ));
        };
        let dry_run = query.contains("dryRun=All");
        let is_write = matches!(*method, Method::PATCH | Method::POST | Method::PUT);
        if is_write && let Some((code, v)) = s.next_writes.pop_front() {
            return Ok(full(code, &v));
        }
        if !is_write && let Some((code, reason)) = s.refuse.get(resource).copied() {
            let msg = match code {
                403 => format!(
                    "{plural} is forbidden: User \"dev\" cannot list resource \"{plural}\" in API group \"{group}\" at the cluster scope"
                ),
                404 => "the server could not find the requested resource".to_string(),
                _ => "etcdserver: request timed out".to_string(),
            };
            return Ok(full(code, &status(code, reason, &msg)));
        }
        let in_ns = |o: &Value| {
            ns.as_deref()
                .is_none_or(|n| o["metadata"]["namespace"] == n)
        };
        let find = |s: &State, name: &str| {
            s.objects.get(resource).and_then(|v| {
                v.iter()
                    .position(|o| in_ns(o) && o["metadata"]["name"] == name)
            })
        };
        match (method.clone(), name, sub) {
            (Method::GET, None, _) if query.contains("watch=true") => {
                let (tx, rx) = mpsc::unbounded();
                s.watchers.push((resource, tx));
                let mut r = Response::new(StreamBody::new(rx).boxed());
                *r.status_mut() = StatusCode::OK;
                Ok(r)
            }
            (Method::GET, None, _) => {
                let items: Vec<Value> = s
                    .objects
                    .get(resource)
                    .map(|v| v.iter().filter(|o| in_ns(o)).cloned().collect())
                    .unwrap_or_default();
                Ok(full(
                    200,
                    &json!({"kind": list_kind(resource), "apiVersion": "v1",
                    "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
                ))
            }
            (Method::GET, Some(name), _) => match find(&s, &name) {
                Some(i) => Ok(full(200, &s.objects[resource][i])),
                None => Ok(full(
                    404,
                    &status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
                )),
            },
            (Method::PATCH, Some(name), sub) => {
                let Some(i) = find(&s, &name) else {
                    return Ok(full(
                        404,
                        &status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
                    ));
                };
                let patch = body_json.unwrap_or(Value::Null);
                let mut obj = s.objects[resource][i].clone();
                if let Some(want) = patch["metadata"]["resourceVersion"].as_str()
                    && obj["metadata"]["resourceVersion"] != want
                {
                    return Ok(full(
                        409,
                        &status(
                            409,
                            "Conflict",
                            &format!(
                                "Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                            ),
                        ),
                    ));
                }
                if sub == Some("scale") {
                    merge(&mut obj["spec"], &patch["spec"]);
                } else {
                    merge(&mut obj, &patch);
                }
                if dry_run {
                    return Ok(full(
                        200,
                        &if sub == Some("scale") {
                            scale_of(&obj)
                        } else {
                            obj
                        },
                    ));
                }
                s.rv += 1;
                obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
                if let Some(v) = s.objects.get_mut(resource) {
                    v[i] = obj.clone();
                }
                drop(s);
                self.push_event(resource, &json!({"type": "MODIFIED", "object": obj}));
                Ok(full(
                    200,
                    &if sub == Some("scale") {
                        scale_of(&obj)
                    } else {
                        obj
                    },
                ))
            }
            (Method::POST, None, _) => {
                let mut obj = body_json.unwrap_or(Value::Null);
                let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
                if find(&s, &name).is_some() {
                    return Ok(full(
                        409,
                        &status(
                            409,
                            "AlreadyExists",
                            &format!("{plural} \"{name}\" already exists"),
                        ),
                    ));
                }
                if dry_run {
                    return Ok(full(201, &obj));
                }
                s.rv += 1;
                obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
                s.objects.entry(resource).or_default().push(obj.clone());
                drop(s);
                self.push_event(resource, &json!({"type": "ADDED", "object": obj}));
                Ok(full(201, &obj))
            }
            _ => Ok(full(
                405,
                &status(405, "MethodNotAllowed", "not supported by the fake"),
            )),
        }
    }
}
