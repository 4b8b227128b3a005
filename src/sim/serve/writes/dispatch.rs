//! Which write a request is: its resource, subresource and verb.

use std::sync::Arc;

use http::Response;

use super::decode::{Edit, WriteOpts, body_json};
use super::deployments::{write_deployment, write_scale};
use super::events::create_event;
use super::hpas::{create_hpa, delete_hpa, write_hpa};
use super::leases::{create_lease, delete_lease, write_lease};
use super::scaledobjects::write_scaled_object;
use crate::sim::serve::discovery::Backend;
use crate::sim::serve::http::Body;
use crate::sim::serve::patch::PatchType;
use crate::sim::serve::request::{Req, Target};
use crate::sim::serve::state::Server;
use crate::sim::serve::status::ApiError;
use crate::sim::serve::store::Kind;

pub fn handle(
    server: &Arc<Server>,
    req: &Req,
    t: &Target<'_>,
    verb: &str,
) -> Result<Response<Body>, ApiError> {
    let opts = WriteOpts {
        dry_run: req.query.dry_run()?,
        strict: match req.query.get("fieldValidation") {
            None | Some("" | "Ignore" | "Warn") => false,
            Some("Strict") => true,
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
                )));
            }
        },
    };
    let backend = t.resource.backend;
    let edit = || -> Result<Edit<'_>, ApiError> {
        Ok(if verb == "patch" {
            Edit::Patch(PatchType::from_content_type(&req.content_type)?, &req.body)
        } else {
            Edit::Put(body_json(req, backend)?)
        })
    };
    let ns = t.namespace.as_deref().unwrap_or_default();
    let name = t.name.as_deref().unwrap_or_default();
    match (backend, t.subresource, verb) {
        (Backend::Stored(Kind::Deployment), Some("scale"), "update" | "patch") => {
            write_scale(server, ns, name, edit()?, opts)
        }
        (Backend::Stored(Kind::Deployment), None, "update" | "patch") => {
            write_deployment(server, ns, name, edit()?, opts)
        }
        (Backend::Stored(Kind::Hpa) | Backend::HpaV1, None, "create") => {
            create_hpa(server, ns, body_json(req, backend)?, backend, opts)
        }
        (Backend::Stored(Kind::Hpa) | Backend::HpaV1, None, "update" | "patch") => {
            write_hpa(server, ns, name, edit()?, backend, opts)
        }
        (Backend::Stored(Kind::Hpa) | Backend::HpaV1, None, "delete") => {
            delete_hpa(server, ns, name, &req.body, backend, opts.dry_run)
        }
        (Backend::Stored(Kind::ScaledObject), None, "update" | "patch") => {
            write_scaled_object(server, ns, name, edit()?, opts)
        }
        (Backend::Stored(Kind::Lease), None, "create") => {
            create_lease(server, ns, body_json(req, backend)?, opts)
        }
        (Backend::Stored(Kind::Lease), None, "update" | "patch") => {
            write_lease(server, ns, name, edit()?, opts)
        }
        (Backend::Stored(Kind::Lease), None, "delete") => {
            delete_lease(server, ns, name, &req.body, opts.dry_run)
        }
        (Backend::Stored(Kind::Event), None, "create") => {
            create_event(server, ns, body_json(req, backend)?, opts)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}
