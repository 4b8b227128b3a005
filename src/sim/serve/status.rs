//! Errors as the API server words them: `metav1.Status` bodies with the same codes, reasons,
//! messages and details, so clients (kubectl, kube-rs) branch on them as on a real cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    ListMeta, Status, StatusCause, StatusDetails,
};

use crate::cluster::ClusterError;

/// A failed request: the HTTP status and the `Status` object sent with it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: errors travel in every Result of the server.
    pub details: Option<Box<StatusDetails>>,
}

/// The group/resource pair errors name, e.g. `deployments.apps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupResource {
    pub group: &'static str,
    pub resource: &'static str,
}

impl GroupResource {
    pub const fn new(group: &'static str, resource: &'static str) -> Self {
        Self { group, resource }
    }

    /// `deployments.apps`, or `pods` for the core group.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// One field error of a 422, like apimachinery's `field.Error`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// FieldValueInvalid, FieldValueRequired, FieldValueForbidden, FieldValueNotSupported…
    pub reason: &'static str,
    pub field: String,
    /// The error body: "Invalid value: 4: must be …", "Required value", "Forbidden: …".
    pub body: String,
}

impl FieldError {
    /// `field.Invalid`: the value is printed as Go's `%#v` would (strings quoted).
    pub fn invalid(field: impl Into<String>, value: impl std::fmt::Display, detail: &str) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            body: format!("Invalid value: {value}: {detail}"),
        }
    }

    pub fn invalid_str(field: impl Into<String>, value: &str, detail: &str) -> Self {
        Self::invalid(field, format!("{value:?}"), detail)
    }

    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        Self {
            reason: "FieldValueRequired",
            field: field.into(),
            body: if detail.is_empty() {
                "Required value".into()
            } else {
                format!("Required value: {detail}")
            },
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.into(),
            body: format!("Forbidden: {detail}"),
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            body: format!("Unsupported value: {value:?}: supported values: {list}"),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body)
    }
}

fn details(gr: GroupResource, name: &str) -> StatusDetails {
    StatusDetails {
        name: Some(name.to_string()),
        group: (!gr.group.is_empty()).then(|| gr.group.to_string()),
        kind: Some(gr.resource.to_string()),
        ..Default::default()
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(gr: GroupResource, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(gr, name))),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", gr.qualified()),
            )
        }
    }

    /// An unknown path: what the apiserver's fallback handler sends.
    pub fn path_not_found() -> Self {
        Self {
            details: Some(Box::default()),
            ..Self::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        }
    }

    pub fn already_exists(gr: GroupResource, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(gr, name))),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", gr.qualified()),
            )
        }
    }

    /// A stale resourceVersion on an update or patch.
    pub fn conflict(gr: GroupResource, name: &str) -> Self {
        Self::conflict_because(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn conflict_because(gr: GroupResource, name: &str, why: &str) -> Self {
        Self {
            details: Some(Box::new(details(gr, name))),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    gr.qualified()
                ),
            )
        }
    }

    /// 422: `Kind.group "name" is invalid: field: body` (several errors in brackets).
    pub fn invalid(kind: &str, group: &str, name: &str, errors: Vec<FieldError>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let list = match errors.as_slice() {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Self {
            details: Some(Box::new(StatusDetails {
                name: Some(name.to_string()),
                group: (!group.is_empty()).then(|| group.to_string()),
                kind: Some(kind.to_string()),
                causes: Some(
                    errors
                        .into_iter()
                        .map(|e| StatusCause {
                            reason: Some(e.reason.to_string()),
                            message: Some(e.body),
                            field: Some(e.field),
                        })
                        .collect(),
                ),
                ..Default::default()
            })),
            ..Self::new(
                422,
                "Invalid",
                format!("{qualified} \"{name}\" is invalid: {list}"),
            )
        }
    }

    /// A 422 without field causes (a JSON patch that does not apply).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed() -> Self {
        Self {
            details: Some(Box::default()),
            ..Self::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        }
    }

    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 410 for a list or continue token older than the server keeps.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 403 as RBAC words it for the anonymous user.
    pub fn forbidden(gr: GroupResource, name: &str, verb: &str, namespace: &str) -> Self {
        Self::forbidden_sub(gr, None, name, verb, namespace)
    }

    /// 403 on a subresource: the resource is named `deployments/scale`.
    pub fn forbidden_sub(
        gr: GroupResource,
        subresource: Option<&str>,
        name: &str,
        verb: &str,
        namespace: &str,
    ) -> Self {
        let sub = if name.is_empty() {
            String::new()
        } else {
            format!(" \"{name}\"")
        };
        let scope = if namespace.is_empty() {
            " at the cluster scope".to_string()
        } else {
            format!(" in the namespace \"{namespace}\"")
        };
        Self {
            details: Some(Box::new(details(gr, name))),
            ..Self::new(
                403,
                "Forbidden",
                format!(
                    "{}{sub} is forbidden: User \"system:anonymous\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}",
                    gr.qualified(),
                    match subresource {
                        Some(s) => format!("{}/{s}", gr.resource),
                        None => gr.resource.to_string(),
                    },
                    gr.group
                ),
            )
        }
    }

    /// 504 for a resourceVersion the server has not reached within its wait.
    pub fn too_large_resource_version(asked: u64, current: u64) -> Self {
        Self {
            details: Some(Box::new(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ResourceVersionTooLarge".into()),
                    message: Some("Too large resource version".into()),
                    field: None,
                }]),
                retry_after_seconds: Some(1),
                ..Default::default()
            })),
            ..Self::new(
                504,
                "Timeout",
                format!("Too large resource version: {asked}, current: {current}"),
            )
        }
    }

    /// A write the simulator refused (fault injection, world validation).
    pub fn from_cluster(
        e: ClusterError,
        gr: GroupResource,
        name: &str,
        verb: &str,
        ns: &str,
    ) -> Self {
        match e {
            ClusterError::NotFound(_) => Self::not_found(gr, name),
            ClusterError::Conflict(m) if m.contains("already exists") => {
                Self::already_exists(gr, name)
            }
            ClusterError::Conflict(_) => Self::conflict(gr, name),
            ClusterError::Forbidden(_) | ClusterError::ReadOnly(_) => {
                Self::forbidden(gr, name, verb, ns)
            }
            ClusterError::Invalid(m) => Self::unprocessable(m),
            ClusterError::Unavailable(m) => Self {
                details: Some(Box::new(StatusDetails {
                    retry_after_seconds: Some(1),
                    ..Default::default()
                })),
                ..Self::new(503, "ServiceUnavailable", m)
            },
        }
    }

    pub fn to_status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            metadata: ListMeta::default(),
            reason: Some(self.reason.to_string()),
            status: Some("Failure".into()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_status()).unwrap_or_else(|_| {
            // Status always serializes; this is the shape it would have.
            format!(
                r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","code":{}}}"#,
                self.code
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_the_apiserver() {
        let deploy = GroupResource::new("apps", "deployments");
        let e = ApiError::not_found(deploy, "x");
        assert_eq!(e.message, "deployments.apps \"x\" not found");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).expect("json");
        assert_eq!(v["kind"], "Status");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["code"], 404);
        assert_eq!(v["reason"], "NotFound");
        assert_eq!(v["details"]["group"], "apps");
        assert_eq!(v["details"]["kind"], "deployments");
        assert_eq!(
            ApiError::not_found(GroupResource::new("", "pods"), "p").message,
            "pods \"p\" not found"
        );
        assert_eq!(
            ApiError::conflict(deploy, "ledger").message,
            "Operation cannot be fulfilled on deployments.apps \"ledger\": the object has been \
             modified; please apply your changes to the latest version and try again"
        );
        let e = ApiError::invalid(
            "HorizontalPodAutoscaler",
            "autoscaling",
            "frontend",
            vec![FieldError::invalid(
                "spec.maxReplicas",
                2,
                "must be greater than or equal to `minReplicas`",
            )],
        );
        assert_eq!(
            e.message,
            "HorizontalPodAutoscaler.autoscaling \"frontend\" is invalid: spec.maxReplicas: \
             Invalid value: 2: must be greater than or equal to `minReplicas`"
        );
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).expect("json");
        assert_eq!(v["details"]["causes"][0]["field"], "spec.maxReplicas");
        assert_eq!(
            ApiError::forbidden_sub(deploy, Some("scale"), "ledger", "patch", "payments").message,
            "deployments.apps \"ledger\" is forbidden: User \"system:anonymous\" cannot patch \
             resource \"deployments/scale\" in API group \"apps\" in the namespace \"payments\""
        );
        assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueInvalid");
    }
}
