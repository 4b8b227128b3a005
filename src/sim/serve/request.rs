//! A request as the handlers see it: its method, query, negotiated headers and body, and what
//! its path names (resource, namespace, name, subresource).

use bytes::Bytes;
use http::Method;

use super::discovery::{self, Resource};
use super::http::Query;

/// Everything a handler needs from the request.
pub struct Req {
    pub method: Method,
    pub query: Query,
    pub accept: String,
    pub content_type: String,
    pub host: String,
    pub body: Bytes,
}

/// What the path names inside a group/version.
#[derive(Debug)]
pub struct Target<'a> {
    pub resource: &'static Resource,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<&'a str>,
}

/// Parse `[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]` of a served group/version.
pub fn target<'a>(group: &str, version: &str, rest: &[&'a str]) -> Option<Target<'a>> {
    if !discovery::serves(group, version) {
        return None;
    }
    let find = |plural: &str| discovery::find(group, version, plural);
    let owned = |s: &str| Some(s.to_string());
    let t = match rest {
        // The namespaces resource itself, and its (unserved) subresources.
        ["namespaces", ns] if group.is_empty() => Target {
            resource: find("namespaces")?,
            namespace: None,
            name: owned(ns),
            subresource: None,
        },
        ["namespaces", _, "status" | "finalize"] if group.is_empty() => return None,
        ["namespaces", ns, plural, tail @ ..] => {
            let r = find(plural)?;
            if !r.namespaced {
                return None;
            }
            match tail {
                [] => Target {
                    resource: r,
                    namespace: owned(ns),
                    name: None,
                    subresource: None,
                },
                [name] => Target {
                    resource: r,
                    namespace: owned(ns),
                    name: owned(name),
                    subresource: None,
                },
                [name, sub] => Target {
                    resource: r,
                    namespace: owned(ns),
                    name: owned(name),
                    subresource: Some(sub),
                },
                _ => return None,
            }
        }
        [plural] => Target {
            resource: find(plural)?,
            namespace: None,
            name: None,
            subresource: None,
        },
        [plural, name, tail @ ..] => {
            let r = find(plural)?;
            // Namespaced objects are only addressable under their namespace.
            if r.namespaced {
                return None;
            }
            Target {
                resource: r,
                namespace: None,
                name: owned(name),
                subresource: match tail {
                    [] => None,
                    [sub] => Some(sub),
                    _ => return None,
                },
            }
        }
        [] => return None,
    };
    Some(t)
}
