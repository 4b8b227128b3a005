//! The apiserver's service proxy: `/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/
//! PATH` forwards to the Service's port, which here is answered in-process by what the Service
//! fronts (`objects::ServiceBackend`): the Prometheus API, a web app that is not Prometheus, or
//! the apiserver's 503 when the Service has no endpoints.

use bytes::Bytes;
use http::Response;

use super::{HistorySource, answer};
use crate::sim::serve::http::{self as h, Body, Query};
use crate::sim::serve::objects::{ServiceBackend, find_service};
use crate::sim::serve::request::Req;
use crate::sim::serve::state::Server;
use crate::sim::serve::status::{ApiError, GroupResource};

const SERVICES: GroupResource = GroupResource::new("", "services");

pub(crate) fn handle(
    server: &Server,
    req: &Req,
    namespace: &str,
    service_ref: &str,
    path: &[&str],
) -> Result<Response<Body>, ApiError> {
    // [scheme:]name[:port], as `kubectl proxy` and client-go spell it.
    let parts: Vec<&str> = service_ref.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [name] => (*name, ""),
        [name, port] => (*name, *port),
        ["http" | "https", name, port] => (*name, *port),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid service request {service_ref:?}"
            )));
        }
    };
    let svc = find_service(namespace, name).ok_or_else(|| ApiError::not_found(SERVICES, name))?;
    let known_port = port.is_empty()
        || svc
            .ports
            .iter()
            .any(|(n, p)| *n == port || p.to_string() == port);
    let port_index = svc
        .ports
        .iter()
        .position(|(n, p)| port.is_empty() || *n == port || p.to_string() == port);
    if !known_port || svc.backend == ServiceBackend::NoEndpoints {
        return Err(ApiError {
            code: 503,
            reason: "ServiceUnavailable",
            message: format!("no endpoints available for service \"{name}\""),
            details: None,
        });
    }
    let form;
    let params = if req.method == http::Method::POST
        && req
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    {
        form = Query::parse(Some(&String::from_utf8_lossy(&req.body)));
        &form
    } else {
        &req.query
    };
    Ok(match svc.backend {
        // Prometheus listens on the first port (web); the others are sidecars.
        ServiceBackend::Prometheus if port_index == Some(0) => {
            let source = {
                let world = server.sim.world();
                let offset = server.store().ctx(world.now()).offset;
                HistorySource::from_world(&world, offset)
            };
            answer(&source, path, params)
        }
        ServiceBackend::Grafana if path.is_empty() || path == ["login"] => h::respond(
            200,
            "text/html; charset=UTF-8",
            Bytes::from_static(
                b"<!DOCTYPE html><html><head><title>Grafana</title></head><body></body></html>",
            ),
        ),
        ServiceBackend::Grafana => h::json(404, r#"{"message":"Not found"}"#),
        _ => h::respond(404, "text/plain; charset=utf-8", "404 page not found\n"),
    })
}
