//! Services of the simulated cluster: what a kube-prometheus install leaves behind
//! (`monitoring/prometheus-k8s` with its Prometheus behind it, Grafana next to it), plus the
//! decoys a real cluster has (a `prometheus-operated` whose Prometheus is gone, kube-dns, the
//! `kubernetes` service). The service proxy (`serve::prometheus::proxy`) answers from `backend`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec, ServiceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Ctx, deployment_created, uid};

/// What answers behind a Service's proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceBackend {
    /// The Prometheus HTTP API over the world's history.
    Prometheus,
    /// A web app that is not Prometheus (a 404 page on `/api/v1/...`).
    Grafana,
    /// No ready endpoints: the apiserver's 503.
    NoEndpoints,
}

#[derive(Debug)]
pub struct SimService {
    pub namespace: &'static str,
    pub name: &'static str,
    pub labels: &'static [(&'static str, &'static str)],
    /// (name, port)
    pub ports: &'static [(&'static str, i32)],
    pub cluster_ip: &'static str,
    pub backend: ServiceBackend,
}

pub const SERVICES: &[SimService] = &[
    SimService {
        namespace: "default",
        name: "kubernetes",
        labels: &[("component", "apiserver"), ("provider", "kubernetes")],
        ports: &[("https", 443)],
        cluster_ip: "10.96.0.1",
        backend: ServiceBackend::NoEndpoints,
    },
    SimService {
        namespace: "kube-system",
        name: "kube-dns",
        labels: &[("k8s-app", "kube-dns"), ("kubernetes.io/name", "CoreDNS")],
        ports: &[("dns-tcp", 53), ("metrics", 9153)],
        cluster_ip: "10.96.0.10",
        backend: ServiceBackend::NoEndpoints,
    },
    SimService {
        namespace: "monitoring",
        name: "grafana",
        labels: &[
            ("app.kubernetes.io/component", "grafana"),
            ("app.kubernetes.io/name", "grafana"),
            ("app.kubernetes.io/part-of", "kube-prometheus"),
        ],
        ports: &[("http", 3000)],
        cluster_ip: "10.96.40.3",
        backend: ServiceBackend::Grafana,
    },
    SimService {
        namespace: "monitoring",
        name: "prometheus-k8s",
        labels: &[
            ("app.kubernetes.io/component", "prometheus"),
            ("app.kubernetes.io/instance", "k8s"),
            ("app.kubernetes.io/name", "prometheus"),
            ("app.kubernetes.io/part-of", "kube-prometheus"),
            ("app.kubernetes.io/version", "2.42.0"),
        ],
        ports: &[("web", 9090), ("reloader-web", 8080)],
        cluster_ip: "10.96.40.9",
        backend: ServiceBackend::Prometheus,
    },
    // Left by an operator install whose Prometheus was deleted: found, but nothing answers.
    SimService {
        namespace: "observability",
        name: "prometheus-operated",
        labels: &[
            ("managed-by", "prometheus-operator"),
            ("operated-prometheus", "true"),
        ],
        ports: &[("web", 9090)],
        cluster_ip: "None",
        backend: ServiceBackend::NoEndpoints,
    },
];

/// The namespaces the Services live in.
pub fn service_namespaces() -> impl Iterator<Item = &'static str> {
    SERVICES.iter().map(|s| s.namespace)
}

pub fn find_service(namespace: &str, name: &str) -> Option<&'static SimService> {
    SERVICES
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)
}

pub fn service(s: &SimService, ctx: &Ctx) -> Service {
    let labels: BTreeMap<String, String> = s
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let headless = s.cluster_ip == "None";
    Service {
        metadata: ObjectMeta {
            name: Some(s.name.to_string()),
            namespace: Some(s.namespace.to_string()),
            uid: Some(uid(&[
                &ctx.seed.to_string(),
                "service",
                s.namespace,
                s.name,
            ])),
            creation_timestamp: Some(ctx.time(deployment_created() - 3000)),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(s.cluster_ip.to_string()),
            cluster_ips: Some(vec![s.cluster_ip.to_string()]),
            ports: Some(
                s.ports
                    .iter()
                    .map(|(name, port)| ServicePort {
                        name: Some(name.to_string()),
                        port: *port,
                        protocol: Some("TCP".into()),
                        target_port: Some(IntOrString::String(name.to_string())),
                        ..Default::default()
                    })
                    .collect(),
            ),
            selector: (!headless || s.backend != ServiceBackend::NoEndpoints).then_some(labels),
            session_affinity: Some("None".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ip_family_policy: Some("SingleStack".into()),
            internal_traffic_policy: Some("Cluster".into()),
            ..Default::default()
        }),
        status: Some(ServiceStatus::default()),
    }
}
