//! Fault injection (`ai4k8s sim serve --fault RESOURCE=STATUS`): make one resource fail the way
//! a real cluster can, so a client's error paths can be tried end to end: RBAC that forbids
//! listing HPAs (403), an API that is not there (404), a write that loses a race (409), a
//! broken apiserver (500), or watches whose connections are cut every few seconds (`drop`).
//! Errors are the API server's own `Status` objects; the fault applies to get, list, watch
//! and every write of the resource. `RESOURCE=STATUS@AFTER` (e.g. `leases=500@5s`) starts the
//! fault that long after the server started, so a client can first work, then lose the API.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

use super::discovery::Resource;
use super::status::ApiError;

/// How long a watch of a `drop`-faulted resource lives before its connection is cut (a load
/// balancer or a flaky network does this to long-lived requests).
pub const DROP_WATCHES_AFTER: Duration = Duration::from_secs(3);

/// The resources a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultResource {
    /// apps/v1 deployments (not their `/scale`, which RBAC names apart: `scale`).
    Deployments,
    /// autoscaling horizontalpodautoscalers, in both served versions (v2 and v1).
    Hpas,
    /// core/v1 pods.
    Pods,
    /// metrics.k8s.io PodMetrics (`kubectl top pods`).
    Metrics,
    /// core/v1 events.
    Events,
    /// The deployments/scale subresource (`kubectl scale`).
    Scale,
    /// core/v1 nodes (the cluster's capacity).
    Nodes,
    /// keda.sh ScaledObjects.
    ScaledObjects,
    /// autoscaling.k8s.io VerticalPodAutoscalers.
    Vpas,
    /// coordination.k8s.io leases (leader election).
    Leases,
}

const RESOURCES: [(&str, FaultResource); 10] = [
    ("deployments", FaultResource::Deployments),
    ("hpas", FaultResource::Hpas),
    ("pods", FaultResource::Pods),
    ("metrics", FaultResource::Metrics),
    ("events", FaultResource::Events),
    ("scale", FaultResource::Scale),
    ("nodes", FaultResource::Nodes),
    ("scaledobjects", FaultResource::ScaledObjects),
    ("vpas", FaultResource::Vpas),
    ("leases", FaultResource::Leases),
];

impl FaultResource {
    pub fn name(self) -> &'static str {
        RESOURCES
            .iter()
            .find(|(_, r)| *r == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether a request for `resource` (and `subresource`) is one this fault targets.
    pub fn covers(self, resource: &Resource, subresource: Option<&str>) -> bool {
        let (group, plural) = (resource.group, resource.plural);
        match self {
            Self::Deployments => {
                group == "apps" && plural == "deployments" && subresource.is_none()
            }
            Self::Scale => {
                group == "apps" && plural == "deployments" && subresource == Some("scale")
            }
            Self::Hpas => group == "autoscaling" && plural == "horizontalpodautoscalers",
            Self::Pods => group.is_empty() && plural == "pods",
            Self::Metrics => group == "metrics.k8s.io",
            Self::Events => group.is_empty() && plural == "events",
            Self::Nodes => group.is_empty() && plural == "nodes",
            Self::ScaledObjects => group == "keda.sh" && plural == "scaledobjects",
            Self::Vpas => group == "autoscaling.k8s.io",
            Self::Leases => group == "coordination.k8s.io" && plural == "leases",
        }
    }
}

/// What a faulted request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStatus {
    /// 403 Forbidden, worded as RBAC words it.
    Forbidden,
    /// 404 NotFound: the named object, or for a collection the resource, is not there.
    NotFound,
    /// 409 Conflict, as for a stale resourceVersion.
    Conflict,
    /// 500 InternalError.
    InternalError,
    /// Reads and writes work; every watch is cut after [`DROP_WATCHES_AFTER`].
    Drop,
}

const STATUSES: [(&str, FaultStatus); 5] = [
    ("403", FaultStatus::Forbidden),
    ("404", FaultStatus::NotFound),
    ("409", FaultStatus::Conflict),
    ("500", FaultStatus::InternalError),
    ("drop", FaultStatus::Drop),
];

impl FaultStatus {
    pub fn name(self) -> &'static str {
        STATUSES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }
}

/// One `--fault RESOURCE=STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub resource: FaultResource,
    pub status: FaultStatus,
    /// How long after the server starts the fault begins (zero: from the start).
    pub after: Duration,
}

fn names<T>(table: &[(&str, T)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((resource, status)) = s.split_once('=') else {
            return Err(format!(
                "expected RESOURCE=STATUS (e.g. hpas=403), got {s:?}"
            ));
        };
        let resource = RESOURCES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(resource.trim()))
            .map(|(_, r)| *r)
            .ok_or_else(|| {
                format!(
                    "unknown resource {resource:?}: one of {}",
                    names(&RESOURCES)
                )
            })?;
        let (status, after) = match status.split_once('@') {
            Some((status, after)) => (status, parse_after(after)?),
            None => (status, Duration::ZERO),
        };
        let status = STATUSES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(status.trim()))
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("unknown status {status:?}: one of {}", names(&STATUSES)))?;
        Ok(Self {
            resource,
            status,
            after,
        })
    }
}

/// `5s`, `1500ms`: when a fault starts.
fn parse_after(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("expected a delay such as 5s or 1500ms after @, got {s:?}");
    let (digits, unit) = match s.strip_suffix("ms") {
        Some(d) => (d, 1),
        None => (s.strip_suffix('s').ok_or_else(bad)?, 1000),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    Ok(Duration::from_millis(n.saturating_mul(unit)))
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.resource.name(), self.status.name())?;
        if !self.after.is_zero() {
            write!(f, "@{}ms", self.after.as_millis())?;
        }
        Ok(())
    }
}

/// The faults a server injects (none by default), timed from when the server started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults(Vec<Fault>, Option<Instant>);

/// What a request is, for a fault: the resource, the verb the router chose, and where.
pub struct Request<'a> {
    pub resource: &'static Resource,
    pub subresource: Option<&'a str>,
    pub verb: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl Faults {
    pub fn new(faults: impl IntoIterator<Item = Fault>) -> Self {
        Self(faults.into_iter().collect(), Some(Instant::now()))
    }

    /// Whether a fault has begun (see [`Fault::after`]).
    fn begun(&self, f: &Fault) -> bool {
        f.after.is_zero() || self.1.is_some_and(|t| t.elapsed() >= f.after)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The error status for a request, if one is configured (the last given wins).
    fn status_for(&self, r: &Request<'_>) -> Option<Fault> {
        self.0
            .iter()
            .rev()
            .find(|f| {
                f.status != FaultStatus::Drop
                    && f.resource.covers(r.resource, r.subresource)
                    && self.begun(f)
            })
            .copied()
    }

    /// Whether watches of the resource are cut after [`DROP_WATCHES_AFTER`].
    pub fn drops_watches(&self, resource: &Resource, subresource: Option<&str>) -> bool {
        self.0
            .iter()
            .any(|f| f.status == FaultStatus::Drop && f.resource.covers(resource, subresource))
    }

    /// The error a request gets instead of its answer, if a fault targets it.
    pub fn error(&self, r: &Request<'_>) -> Option<ApiError> {
        let fault = self.status_for(r)?;
        let gr = r.resource.group_resource();
        let name = r.name.unwrap_or_default();
        let ns = r.namespace.unwrap_or_default();
        let injected = format!("injected by `ai4k8s sim serve --fault {fault}`");
        Some(match fault.status {
            FaultStatus::Forbidden => ApiError::forbidden_sub(gr, r.subresource, name, r.verb, ns),
            FaultStatus::NotFound if r.name.is_some() => ApiError::not_found(gr, name),
            // A collection that is not there: the resource is not served.
            FaultStatus::NotFound => ApiError::path_not_found(),
            FaultStatus::Conflict => {
                let what = if name.is_empty() {
                    gr.qualified()
                } else {
                    format!("{} \"{name}\"", gr.qualified())
                };
                ApiError {
                    code: 409,
                    reason: "Conflict",
                    message: format!(
                        "Operation cannot be fulfilled on {what}: the object has been modified; please apply your changes to the latest version and try again ({injected})"
                    ),
                    details: Some(Box::new(StatusDetails {
                        name: (!name.is_empty()).then(|| name.to_string()),
                        group: (!gr.group.is_empty()).then(|| gr.group.to_string()),
                        kind: Some(gr.resource.to_string()),
                        ..Default::default()
                    })),
                }
            }
            FaultStatus::InternalError => ApiError {
                code: 500,
                reason: "InternalError",
                message: format!("Internal error occurred: {injected}"),
                details: Some(Box::new(StatusDetails {
                    causes: Some(vec![StatusCause {
                        message: Some(injected),
                        ..Default::default()
                    }]),
                    ..Default::default()
                })),
            },
            FaultStatus::Drop => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::serve::discovery;

    fn hpa(version: &str) -> &'static Resource {
        discovery::find("autoscaling", version, "horizontalpodautoscalers").expect("hpas")
    }

    #[test]
    fn faults_parse_and_refuse_bad_values() {
        let f: Fault = "hpas=403".parse().expect("fault");
        assert_eq!(
            f,
            Fault {
                resource: FaultResource::Hpas,
                status: FaultStatus::Forbidden,
                after: Duration::ZERO,
            }
        );
        assert_eq!(f.to_string(), "hpas=403");
        for (s, status) in [
            ("scale=404", FaultStatus::NotFound),
            ("pods=409", FaultStatus::Conflict),
            ("metrics=500", FaultStatus::InternalError),
            ("events=DROP", FaultStatus::Drop),
        ] {
            assert_eq!(s.parse::<Fault>().map(|f| f.status), Ok(status), "{s}");
        }
        let e = "hpas".parse::<Fault>().expect_err("no status");
        assert!(e.contains("RESOURCE=STATUS"), "{e}");
        let e = "statefulsets=403".parse::<Fault>().expect_err("resource");
        assert_eq!(
            e,
            "unknown resource \"statefulsets\": one of deployments, hpas, pods, metrics, events, scale, nodes, scaledobjects, vpas, leases"
        );
        let e = "hpas=418".parse::<Fault>().expect_err("status");
        assert_eq!(e, "unknown status \"418\": one of 403, 404, 409, 500, drop");
    }

    #[test]
    fn a_forbidden_hpa_list_is_worded_as_rbac_words_it_in_both_versions() {
        let faults = Faults::new(["hpas=403".parse().expect("fault")]);
        for version in ["v2", "v1"] {
            let e = faults
                .error(&Request {
                    resource: hpa(version),
                    subresource: None,
                    verb: "list",
                    namespace: None,
                    name: None,
                })
                .expect("faulted");
            assert_eq!((e.code, e.reason), (403, "Forbidden"));
            assert_eq!(
                e.message,
                "horizontalpodautoscalers.autoscaling is forbidden: User \"system:anonymous\" \
                 cannot list resource \"horizontalpodautoscalers\" in API group \"autoscaling\" \
                 at the cluster scope"
            );
        }
        let deploy = discovery::find("apps", "v1", "deployments").expect("deployments");
        let other = Request {
            resource: deploy,
            subresource: None,
            verb: "list",
            namespace: None,
            name: None,
        };
        assert_eq!(faults.error(&other), None, "deployments are not faulted");
    }

    #[test]
    fn scale_and_deployments_are_targeted_apart() {
        let deploy = discovery::find("apps", "v1", "deployments").expect("deployments");
        assert!(FaultResource::Scale.covers(deploy, Some("scale")));
        assert!(!FaultResource::Scale.covers(deploy, None));
        assert!(FaultResource::Deployments.covers(deploy, None));
        assert!(!FaultResource::Deployments.covers(deploy, Some("scale")));
        let faults = Faults::new([
            "scale=500".parse().expect("fault"),
            "scale=409".parse().expect("fault"),
            "deployments=drop".parse().expect("fault"),
        ]);
        let e = faults
            .error(&Request {
                resource: deploy,
                subresource: Some("scale"),
                verb: "patch",
                namespace: Some("shop"),
                name: Some("frontend"),
            })
            .expect("faulted");
        assert_eq!((e.code, e.reason), (409, "Conflict"), "the last one wins");
        assert!(faults.drops_watches(deploy, None));
        assert!(!faults.drops_watches(deploy, Some("scale")));
        assert_eq!(
            faults.error(&Request {
                resource: deploy,
                subresource: None,
                verb: "get",
                namespace: Some("shop"),
                name: Some("frontend"),
            }),
            None,
            "drop leaves gets alone"
        );
    }

    #[test]
    fn a_delayed_lease_fault_starts_late() {
        let f: Fault = "leases=500@1500ms".parse().expect("fault");
        assert_eq!(f.resource, FaultResource::Leases);
        assert_eq!(f.after, Duration::from_millis(1500));
        assert_eq!(f.to_string(), "leases=500@1500ms");
        assert_eq!(
            "leases=500@2s".parse::<Fault>().map(|f| f.after),
            Ok(Duration::from_secs(2))
        );
        let e = "leases=500@soon".parse::<Fault>().expect_err("bad delay");
        assert!(e.contains("5s or 1500ms"), "{e}");
        let leases = discovery::find("coordination.k8s.io", "v1", "leases").expect("leases");
        let renew = Request {
            resource: leases,
            subresource: None,
            verb: "update",
            namespace: Some("default"),
            name: Some("ai4k8s-autopilot"),
        };
        let now = Faults::new(["leases=500".parse().expect("fault")]);
        assert_eq!(now.error(&renew).map(|e| e.code), Some(500));
        let later = Faults::new(["leases=500@3600s".parse().expect("fault")]);
        assert_eq!(later.error(&renew), None, "not begun yet");
    }
}
