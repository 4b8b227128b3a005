//! kube-rs errors mapped to the categories the UI tells apart (`ClusterError`).

use kube::core::Status;
use kube::runtime::watcher;

use crate::cluster::ClusterError;

/// Map a client error; `what` names the request ("list deployments.apps", "scale shop/web").
pub fn map(e: &kube::Error, what: &str) -> ClusterError {
    match e {
        kube::Error::Api(status) => map_status(status, what),
        kube::Error::Auth(e) => ClusterError::Forbidden(format!("{what}: authentication: {e}")),
        kube::Error::SerdeError(e) => ClusterError::Unavailable(format!(
            "{what}: unexpected answer from the API server: {e}"
        )),
        kube::Error::BuildRequest(e) => ClusterError::Invalid(format!("{what}: {e}")),
        other => ClusterError::Unavailable(format!("{what}: {}", connection_reason(other))),
    }
}

/// Map a watcher error (list, watch start, watch event or stream failure).
pub fn map_watcher(e: &watcher::Error, what: &str) -> ClusterError {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => map(e, what),
        watcher::Error::WatchError(status) => map_status(status, what),
        watcher::Error::NoResourceVersion => ClusterError::Unavailable(format!(
            "{what}: the server gives no resourceVersion, so it cannot be watched"
        )),
    }
}

/// Whether the error says the server could not be reached or failed (not a refusal).
pub fn is_unreachable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500,
        kube::Error::Auth(_)
        | kube::Error::SerdeError(_)
        | kube::Error::BuildRequest(_)
        | kube::Error::FromUtf8(_) => false,
        _ => true,
    }
}

pub fn is_watcher_unreachable(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => is_unreachable(e),
        watcher::Error::WatchError(s) => s.code >= 500,
        watcher::Error::NoResourceVersion => false,
    }
}

/// HTTP status code of an API error, from the Status body or, when the body had none, its reason.
pub fn code(status: &Status) -> u16 {
    if status.code != 0 {
        return status.code;
    }
    match status.reason.as_str() {
        "Forbidden" => 403,
        "Unauthorized" => 401,
        "NotFound" => 404,
        "AlreadyExists" | "Conflict" => 409,
        "Gone" | "Expired" => 410,
        "Invalid" => 422,
        "BadRequest" => 400,
        "TooManyRequests" => 429,
        "ServiceUnavailable" => 503,
        "Timeout" => 504,
        _ => 500,
    }
}

pub fn map_status(status: &Status, what: &str) -> ClusterError {
    let msg = if status.message.is_empty() {
        status.reason.clone()
    } else {
        status.message.clone()
    };
    match code(status) {
        401 => ClusterError::Forbidden(format!(
            "{what}: unauthorized (credentials rejected): {msg}"
        )),
        403 => ClusterError::Forbidden(format!("{what}: {msg}")),
        404 => ClusterError::NotFound(format!("{what}: {msg}")),
        409 => ClusterError::Conflict(format!("{what}: {msg}")),
        400 | 422 => {
            // The server lists each rejected field; name them all.
            let causes: Vec<String> = status
                .details
                .iter()
                .flat_map(|d| d.causes.iter())
                .map(|c| match (c.field.is_empty(), c.message.is_empty()) {
                    (false, false) => format!("{}: {}", c.field, c.message),
                    (true, false) => c.message.clone(),
                    _ => c.reason.clone(),
                })
                .filter(|c| !c.is_empty() && !msg.contains(c.as_str()))
                .collect();
            if causes.is_empty() {
                ClusterError::Invalid(format!("{what}: {msg}"))
            } else {
                ClusterError::Invalid(format!("{what}: {msg} ({})", causes.join("; ")))
            }
        }
        410 => ClusterError::Unavailable(format!("{what}: expired (410 Gone), re-listing: {msg}")),
        429 => ClusterError::Unavailable(format!("{what}: throttled by the API server: {msg}")),
        c if c >= 500 => ClusterError::Unavailable(format!("{what}: server error {c}: {msg}")),
        c => ClusterError::Invalid(format!("{what}: HTTP {c}: {msg}")),
    }
}

fn connection_reason(e: &kube::Error) -> String {
    // The innermost cause says most ("connection refused", "timed out").
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    format!("API server unreachable: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn status_codes_map_to_the_ui_categories() {
        let forbidden = api(
            403,
            "Forbidden",
            "deployments.apps is forbidden: User \"dev\" cannot list resource",
        );
        assert_eq!(
            map(&forbidden, "list deployments.apps"),
            ClusterError::Forbidden(
                "list deployments.apps: deployments.apps is forbidden: User \"dev\" cannot list resource"
                    .into()
            )
        );
        assert!(matches!(
            map(&api(404, "NotFound", "x"), "get"),
            ClusterError::NotFound(_)
        ));
        assert!(matches!(
            map(&api(409, "Conflict", "x"), "patch"),
            ClusterError::Conflict(_)
        ));
        assert!(matches!(
            map(&api(409, "AlreadyExists", "x"), "create"),
            ClusterError::Conflict(_)
        ));
        assert!(matches!(
            map(&api(500, "InternalError", "x"), "list"),
            ClusterError::Unavailable(_)
        ));
        assert!(matches!(
            map(&api(503, "", "x"), "list"),
            ClusterError::Unavailable(_)
        ));
        assert!(matches!(
            map(&api(401, "Unauthorized", "x"), "list"),
            ClusterError::Forbidden(_)
        ));
        assert!(is_unreachable(&api(503, "", "x")));
        assert!(!is_unreachable(&api(403, "Forbidden", "x")));
        // A Status without a code still maps by its reason.
        assert!(matches!(
            map(&api(0, "Forbidden", "x"), "list"),
            ClusterError::Forbidden(_)
        ));
    }

    #[test]
    fn invalid_names_every_cause() {
        let status = Status::failure(
            "HorizontalPodAutoscaler.autoscaling \"web\" is invalid",
            "Invalid",
        )
        .with_code(422)
        .with_details(StatusDetails {
            causes: vec![
                StatusCause {
                    reason: "FieldValueInvalid".into(),
                    message: "must be greater than or equal to 1".into(),
                    field: "spec.minReplicas".into(),
                },
                StatusCause {
                    reason: "FieldValueInvalid".into(),
                    message: "must be greater than or equal to `minReplicas`".into(),
                    field: "spec.maxReplicas".into(),
                },
            ],
            name: "web".into(),
            group: "autoscaling".into(),
            kind: "horizontalpodautoscalers".into(),
            uid: String::new(),
            retry_after_seconds: 0,
        });
        let e = map(&kube::Error::Api(status.boxed()), "patch hpa shop/web");
        let ClusterError::Invalid(msg) = e else {
            panic!("not invalid: {e:?}")
        };
        assert!(
            msg.contains("spec.minReplicas: must be greater than or equal to 1"),
            "{msg}"
        );
        assert!(msg.contains("spec.maxReplicas"), "{msg}");
    }

    #[test]
    fn watcher_errors_map_through() {
        let gone = watcher::Error::WatchError(
            Status::failure("too old resource version: 1 (5)", "Expired")
                .with_code(410)
                .boxed(),
        );
        assert!(
            matches!(map_watcher(&gone, "watch pods"), ClusterError::Unavailable(m) if m.contains("410"))
        );
        assert!(!is_watcher_unreachable(&gone));
        let forbidden = watcher::Error::InitialListFailed(api(403, "Forbidden", "no"));
        assert!(matches!(
            map_watcher(&forbidden, "list pods"),
            ClusterError::Forbidden(_)
        ));
    }
}
