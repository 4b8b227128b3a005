//! Routes a request the way the apiserver lays out its paths: discovery documents, then
//! `/api/v1/...` and `/apis/GROUP/VERSION/...`, cluster-wide or under `namespaces/NS/`, an
//! object name and a subresource; the HTTP method picks the verb.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Limited};

use super::discovery;
use super::faults;
use super::http::{self as h, Body, Media, Offers, Query};
use super::request::{Req, target};
use super::state::Server;
use super::status::ApiError;
use super::{host, openapi, reads, writes};

/// The apiserver refuses request bodies over 3 MiB.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Answer one request. Generic over the body so tests drive it in-process.
pub async fn handle<B>(server: Arc<Server>, req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    if let Err(e) = host::check(&parts) {
        tracing::debug!(
            "sim serve: refused {} {}: {}",
            parts.method,
            parts.uri,
            e.message
        );
        return h::error(&e);
    }
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return h::json(
                413,
                ApiError {
                    code: 413,
                    reason: "RequestEntityTooLarge",
                    message: "the request body is too large, or could not be read".into(),
                    details: None,
                }
                .to_json(),
            );
        }
    };
    let req = Req {
        method: parts.method.clone(),
        query: Query::parse(parts.uri.query()),
        accept: header(header::ACCEPT),
        content_type: header(header::CONTENT_TYPE),
        host: header(header::HOST),
        body,
    };
    let segments: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| h::percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    tracing::debug!("sim serve: {} {}", req.method, parts.uri);
    match route(&server, &req, &segs).await {
        Ok(r) => r,
        Err(e) => h::error(&e),
    }
}

async fn route(server: &Arc<Server>, req: &Req, segs: &[&str]) -> Result<Response<Body>, ApiError> {
    let get_only = || {
        if req.method == Method::GET || req.method == Method::HEAD {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    let discovery_doc = |json: Result<String, serde_json::Error>| {
        json.map(|j| h::json(200, j))
            .map_err(|e| ApiError::bad_request(e.to_string()))
    };
    let offers = Offers {
        discovery: true,
        ..Offers::default()
    };
    match segs {
        ["version"] => {
            get_only()?;
            discovery_doc(serde_json::to_string(&discovery::version_info()))
        }
        ["healthz" | "livez" | "readyz"] => {
            get_only()?;
            Ok(h::respond(200, "text/plain; charset=utf-8", "ok"))
        }
        ["api"] => {
            get_only()?;
            match h::negotiate(&req.accept, offers)? {
                Media::Discovery => Ok(h::respond(
                    200,
                    discovery::aggregated::CONTENT_TYPE,
                    serde_json::to_string(&discovery::aggregated::core()).unwrap_or_default(),
                )),
                _ => discovery_doc(serde_json::to_string(&discovery::api_versions(&req.host))),
            }
        }
        ["apis"] => {
            get_only()?;
            match h::negotiate(&req.accept, offers)? {
                Media::Discovery => Ok(h::respond(
                    200,
                    discovery::aggregated::CONTENT_TYPE,
                    serde_json::to_string(&discovery::aggregated::groups()).unwrap_or_default(),
                )),
                _ => discovery_doc(serde_json::to_string(&discovery::api_group_list())),
            }
        }
        ["api", "v1"] => {
            get_only()?;
            discovery_doc(serde_json::to_string(
                &discovery::resource_list("", "v1").ok_or_else(ApiError::path_not_found)?,
            ))
        }
        ["apis", group] => {
            get_only()?;
            discovery_doc(serde_json::to_string(
                &discovery::api_group(group).ok_or_else(ApiError::path_not_found)?,
            ))
        }
        ["apis", group, version] => {
            get_only()?;
            discovery_doc(serde_json::to_string(
                &discovery::resource_list(group, version).ok_or_else(ApiError::path_not_found)?,
            ))
        }
        ["openapi", "v3"] => {
            get_only()?;
            Ok(h::json(200, openapi::root().to_string()))
        }
        ["openapi", "v3", gv @ ..] => {
            get_only()?;
            let doc = openapi::group_version(&gv.join("/")).ok_or_else(ApiError::path_not_found)?;
            Ok(h::json(200, doc.to_string()))
        }
        // The service proxy: what the Service fronts answers (`prometheus::proxy`).
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "services",
            svc,
            "proxy",
            path @ ..,
        ] => super::prometheus::proxy::handle(server, req, ns, svc, path),
        ["api", "v1", rest @ ..] => resource(server, req, "", "v1", rest).await,
        ["apis", group, version, rest @ ..] => resource(server, req, group, version, rest).await,
        _ => Err(ApiError::path_not_found()),
    }
}

async fn resource(
    server: &Arc<Server>,
    req: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let t = target(group, version, rest).ok_or_else(ApiError::path_not_found)?;
    if let Some(sub) = t.subresource
        && !t.resource.subresources.iter().any(|s| s.name == sub)
    {
        return Err(ApiError::path_not_found());
    }
    let verb = match (&req.method, t.name.is_some(), req.query.flag("watch")) {
        (&Method::GET | &Method::HEAD, _, true) => "watch",
        (&Method::GET | &Method::HEAD, true, false) => "get",
        (&Method::GET | &Method::HEAD, false, false) => "list",
        (&Method::POST, false, _) => "create",
        (&Method::PUT, true, _) => "update",
        (&Method::PATCH, true, _) => "patch",
        (&Method::DELETE, true, _) => "delete",
        (&Method::DELETE, false, _) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed()),
    };
    let allowed = match t.subresource {
        Some(sub) => t
            .resource
            .subresources
            .iter()
            .any(|s| s.name == sub && s.verbs.contains(&verb)),
        None => t.resource.supports(verb),
    };
    if !allowed {
        return Err(ApiError::method_not_allowed());
    }
    if let Some(e) = server.options.faults.error(&faults::Request {
        resource: t.resource,
        subresource: t.subresource,
        verb,
        namespace: t.namespace.as_deref(),
        name: t.name.as_deref(),
    }) {
        return Err(e);
    }
    match verb {
        "watch" => reads::watch(server, req, &t),
        "get" => reads::get(server, req, &t),
        "list" => reads::list(server, req, &t),
        _ => {
            if server.options.read_only {
                return Err(ApiError::forbidden_sub(
                    t.resource.group_resource(),
                    t.subresource,
                    t.name.as_deref().unwrap_or_default(),
                    verb,
                    t.namespace.as_deref().unwrap_or_default(),
                ));
            }
            writes::handle(server, req, &t, verb)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_the_apiservers() {
        let t = target(
            "apps",
            "v1",
            &["namespaces", "shop", "deployments", "frontend", "scale"],
        )
        .expect("scale");
        assert_eq!(t.resource.plural, "deployments");
        assert_eq!(t.namespace.as_deref(), Some("shop"));
        assert_eq!(t.name.as_deref(), Some("frontend"));
        assert_eq!(t.subresource, Some("scale"));
        let t = target("apps", "v1", &["deployments"]).expect("all namespaces");
        assert_eq!((t.namespace, t.name), (None, None));
        let t = target("", "v1", &["namespaces", "shop"]).expect("a namespace");
        assert_eq!(
            (t.resource.plural, t.name.as_deref()),
            ("namespaces", Some("shop"))
        );
        let t = target("", "v1", &["namespaces"]).expect("namespaces");
        assert_eq!(t.resource.plural, "namespaces");
        assert!(
            target("apps", "v1", &["deployments", "frontend"]).is_none(),
            "needs a namespace"
        );
        assert!(target("apps", "v1", &["statefulsets"]).is_none());
        assert!(target("apps", "v9", &["deployments"]).is_none());
        assert!(target("", "v1", &["namespaces", "shop", "pods", "a", "log", "x"]).is_none());
        let t =
            target("metrics.k8s.io", "v1beta1", &["namespaces", "shop", "pods"]).expect("metrics");
        assert_eq!(t.resource.kind, "PodMetrics");
    }
}
