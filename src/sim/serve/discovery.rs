//! What the server serves and how it says so: `/version`, the legacy discovery documents
//! (`/api`, `/apis`, APIResourceLists) and aggregated discovery (apidiscovery.k8s.io/v2, which
//! kubectl 1.30+ asks for first). One table of resources feeds all of them and the router.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde::Serialize;

use super::status::GroupResource;
use super::store::Kind;

/// How a resource is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// From the store, as stored.
    Stored(Kind),
    /// HPAs through the autoscaling/v1 conversion.
    HpaV1,
    /// metrics.k8s.io PodMetrics, computed on request (not watchable).
    PodMetrics,
}

#[derive(Debug)]
pub struct Subresource {
    pub name: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

#[derive(Debug)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Only the verbs this server implements.
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    pub backend: Backend,
}

impl Resource {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(self.group, self.plural)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const HPA_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const SCALE: Subresource = Subresource {
    name: "scale",
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
    verbs: &["get", "patch", "update"],
};

pub const RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        verbs: READ,
        short_names: &["ns"],
        categories: &[],
        subresources: &[],
        backend: Backend::Stored(Kind::Namespace),
    },
    Resource {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        verbs: READ,
        short_names: &["no"],
        categories: &[],
        subresources: &[],
        backend: Backend::Stored(Kind::Node),
    },
    Resource {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        verbs: READ,
        short_names: &["po"],
        categories: &["all"],
        subresources: &[],
        backend: Backend::Stored(Kind::Pod),
    },
    Resource {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        verbs: &["create", "get", "list", "watch"],
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        backend: Backend::Stored(Kind::Event),
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        verbs: &["get", "list", "patch", "update", "watch"],
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &[SCALE],
        backend: Backend::Stored(Kind::Deployment),
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        kind: "ReplicaSet",
        namespaced: true,
        verbs: READ,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &[],
        backend: Backend::Stored(Kind::ReplicaSet),
    },
    Resource {
        group: "autoscaling",
        version: "v2",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        kind: "HorizontalPodAutoscaler",
        namespaced: true,
        verbs: HPA_VERBS,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &[],
        backend: Backend::Stored(Kind::Hpa),
    },
    Resource {
        group: "autoscaling",
        version: "v1",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        kind: "HorizontalPodAutoscaler",
        namespaced: true,
        verbs: HPA_VERBS,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &[],
        backend: Backend::HpaV1,
    },
    Resource {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "pods",
        singular: "",
        kind: "PodMetrics",
        namespaced: true,
        verbs: &["get", "list"],
        short_names: &[],
        categories: &[],
        subresources: &[],
        backend: Backend::PodMetrics,
    },
    Resource {
        group: "keda.sh",
        version: "v1alpha1",
        plural: "scaledobjects",
        singular: "scaledobject",
        kind: "ScaledObject",
        namespaced: true,
        verbs: &["get", "list", "patch", "update", "watch"],
        short_names: &["so"],
        categories: &["keda", "scaledobject"],
        subresources: &[],
        backend: Backend::Stored(Kind::ScaledObject),
    },
    Resource {
        group: "autoscaling.k8s.io",
        version: "v1",
        plural: "verticalpodautoscalers",
        singular: "verticalpodautoscaler",
        kind: "VerticalPodAutoscaler",
        namespaced: true,
        verbs: READ,
        short_names: &["vpa"],
        categories: &[],
        subresources: &[],
        backend: Backend::Stored(Kind::Vpa),
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        verbs: LEASE_VERBS,
        short_names: &[],
        categories: &[],
        subresources: &[],
        backend: Backend::Stored(Kind::Lease),
    },
    Resource {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        verbs: READ,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &[Subresource {
            name: "proxy",
            group: "",
            version: "v1",
            kind: "ServiceProxyOptions",
            verbs: &["create", "delete", "get", "patch", "update"],
        }],
        backend: Backend::Stored(Kind::Service),
    },
];

/// Leases are what leader election reads and races on.
const LEASE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// Groups in the order /apis lists them, versions preferred first.
const GROUPS: &[(&str, &[&str])] = &[
    ("apps", &["v1"]),
    ("autoscaling", &["v2", "v1"]),
    ("metrics.k8s.io", &["v1beta1"]),
    ("keda.sh", &["v1alpha1"]),
    ("autoscaling.k8s.io", &["v1"]),
    ("coordination.k8s.io", &["v1"]),
];

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// True when the group/version is served at all (an unknown resource in it is then a 404 of
/// the resource, not of the path).
pub fn serves(group: &str, version: &str) -> bool {
    RESOURCES
        .iter()
        .any(|r| r.group == group && r.version == version)
}

/// The Kubernetes version the server claims (kubectl picks its skew rules from it).
pub fn version_info() -> Info {
    Info {
        major: "1".into(),
        minor: "33".into(),
        emulation_major: Some("1".into()),
        emulation_minor: Some("33".into()),
        min_compatibility_major: Some("1".into()),
        min_compatibility_minor: Some("32".into()),
        git_version: "v1.33.0".into(),
        git_commit: "0000000000000000000000000000000000000000".into(),
        git_tree_state: "clean".into(),
        build_date: "2026-03-02T00:00:00Z".into(),
        go_version: format!("ai4k8s {} (rust)", env!("CARGO_PKG_VERSION")),
        compiler: "rustc".into(),
        platform: format!("{}/{}", std::env::consts::OS, go_arch()),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn api_versions(server_address: &str) -> APIVersions {
    APIVersions {
        versions: vec!["v1".into()],
        server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
            client_cidr: "0.0.0.0/0".into(),
            server_address: server_address.to_string(),
        }],
    }
}

fn group_version(group: &str, version: &str) -> GroupVersionForDiscovery {
    GroupVersionForDiscovery {
        group_version: format!("{group}/{version}"),
        version: version.into(),
    }
}

pub fn api_group(name: &str) -> Option<APIGroup> {
    let (_, versions) = GROUPS.iter().find(|(g, _)| *g == name)?;
    Some(APIGroup {
        name: name.to_string(),
        versions: versions.iter().map(|v| group_version(name, v)).collect(),
        preferred_version: versions.first().map(|v| group_version(name, v)),
        server_address_by_client_cidrs: None,
    })
}

pub fn api_group_list() -> APIGroupList {
    APIGroupList {
        groups: GROUPS.iter().filter_map(|(g, _)| api_group(g)).collect(),
    }
}

fn strs(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

fn non_empty(s: &[&str]) -> Option<Vec<String>> {
    (!s.is_empty()).then(|| strs(s))
}

/// The APIResourceList of a group/version (`/api/v1`, `/apis/apps/v1`…).
pub fn resource_list(group: &str, version: &str) -> Option<APIResourceList> {
    if !serves(group, version) {
        return None;
    }
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        resources.push(APIResource {
            name: r.plural.into(),
            singular_name: r.singular.into(),
            namespaced: r.namespaced,
            kind: r.kind.into(),
            verbs: strs(r.verbs),
            short_names: non_empty(r.short_names),
            categories: non_empty(r.categories),
            ..Default::default()
        });
        for s in r.subresources {
            resources.push(APIResource {
                name: format!("{}/{}", r.plural, s.name),
                singular_name: String::new(),
                namespaced: r.namespaced,
                group: Some(s.group.into()),
                version: Some(s.version.into()),
                kind: s.kind.into(),
                verbs: strs(s.verbs),
                ..Default::default()
            });
        }
    }
    Some(APIResourceList {
        group_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        resources,
    })
}

/// Aggregated discovery (apidiscovery.k8s.io/v2); k8s-openapi has no types for it.
pub mod aggregated {
    use super::*;

    pub const CONTENT_TYPE: &str =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct GroupDiscoveryList {
        kind: &'static str,
        api_version: &'static str,
        metadata: serde_json::Map<String, serde_json::Value>,
        items: Vec<GroupDiscovery>,
    }

    #[derive(Serialize)]
    struct GroupDiscovery {
        metadata: serde_json::Value,
        versions: Vec<VersionDiscovery>,
    }

    #[derive(Serialize)]
    struct VersionDiscovery {
        version: &'static str,
        resources: Vec<ResourceDiscovery>,
        freshness: &'static str,
    }

    #[derive(Serialize)]
    struct Gvk {
        group: &'static str,
        version: &'static str,
        kind: &'static str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ResourceDiscovery {
        resource: &'static str,
        response_kind: Gvk,
        scope: &'static str,
        singular_resource: &'static str,
        verbs: &'static [&'static str],
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        short_names: &'static [&'static str],
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        categories: &'static [&'static str],
        #[serde(skip_serializing_if = "Vec::is_empty")]
        subresources: Vec<SubresourceDiscovery>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct SubresourceDiscovery {
        subresource: &'static str,
        response_kind: Gvk,
        verbs: &'static [&'static str],
    }

    fn version(group: &str, version: &'static str) -> VersionDiscovery {
        VersionDiscovery {
            version,
            freshness: "Current",
            resources: RESOURCES
                .iter()
                .filter(|r| r.group == group && r.version == version)
                .map(|r| ResourceDiscovery {
                    resource: r.plural,
                    response_kind: Gvk {
                        group: r.group,
                        version: r.version,
                        kind: r.kind,
                    },
                    scope: if r.namespaced {
                        "Namespaced"
                    } else {
                        "Cluster"
                    },
                    singular_resource: r.singular,
                    verbs: r.verbs,
                    short_names: r.short_names,
                    categories: r.categories,
                    subresources: r
                        .subresources
                        .iter()
                        .map(|s| SubresourceDiscovery {
                            subresource: s.name,
                            response_kind: Gvk {
                                group: s.group,
                                version: s.version,
                                kind: s.kind,
                            },
                            verbs: s.verbs,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn list(items: Vec<GroupDiscovery>) -> GroupDiscoveryList {
        GroupDiscoveryList {
            kind: "APIGroupDiscoveryList",
            api_version: "apidiscovery.k8s.io/v2",
            metadata: Default::default(),
            items,
        }
    }

    /// `/api`: the core group (named "").
    pub fn core() -> GroupDiscoveryList {
        list(vec![GroupDiscovery {
            metadata: serde_json::json!({"creationTimestamp": null}),
            versions: vec![version("", "v1")],
        }])
    }

    /// `/apis`: every named group.
    pub fn groups() -> GroupDiscoveryList {
        list(
            GROUPS
                .iter()
                .map(|(g, versions)| GroupDiscovery {
                    metadata: serde_json::json!({"name": g, "creationTimestamp": null}),
                    versions: versions.iter().map(|v| version(g, v)).collect(),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_documents_describe_the_served_resources() {
        let apps = resource_list("apps", "v1").expect("apps/v1");
        let v = serde_json::to_value(&apps).expect("json");
        assert_eq!(v["kind"], "APIResourceList");
        assert_eq!(v["groupVersion"], "apps/v1");
        let deploy = &v["resources"][0];
        assert_eq!(deploy["name"], "deployments");
        assert_eq!(deploy["shortNames"][0], "deploy");
        assert_eq!(deploy["namespaced"], true);
        let scale = &v["resources"][1];
        assert_eq!(scale["name"], "deployments/scale");
        assert_eq!(scale["kind"], "Scale");
        assert_eq!(scale["group"], "autoscaling");
        let groups = serde_json::to_value(api_group_list()).expect("json");
        assert_eq!(groups["groups"][1]["name"], "autoscaling");
        assert_eq!(groups["groups"][1]["preferredVersion"]["version"], "v2");
        assert!(resource_list("apps", "v2").is_none());
        let core = serde_json::to_value(resource_list("", "v1")).expect("json");
        assert_eq!(core["groupVersion"], "v1");
        let agg = serde_json::to_value(aggregated::groups()).expect("json");
        assert_eq!(agg["kind"], "APIGroupDiscoveryList");
        assert_eq!(agg["items"][0]["metadata"]["name"], "apps");
        assert_eq!(
            agg["items"][0]["versions"][0]["resources"][0]["subresources"][0]["subresource"],
            "scale"
        );
    }
}
