//! A `ClusterSnapshot` assembled from the reflector stores and the last pod metrics: pods are
//! matched to deployments through the deployment's selector, HPAs through their scale target.
//! Pure and fast (no network): the stores are in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::slim_deployment::SlimDeployment as Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use super::hpa;
use super::metrics::UsageMap;
use super::slim_pod::SlimPod as Pod;
use super::utilization::{self, PodRequests, Utilization};
use crate::cluster::{annotations, deployment_bounds};
use crate::k8s::selector::Selector;
use crate::model::{ClusterSnapshot, DeploymentKey, DeploymentState, UnixSeconds, WriteBlock};

pub struct Inputs<'a> {
    pub context: &'a str,
    pub now: UnixSeconds,
    pub deployments: &'a [Arc<Deployment>],
    pub hpas: &'a [Arc<HorizontalPodAutoscaler>],
    /// None when pods cannot be listed: counts then come from the deployment's status and
    /// metrics are matched through the labels metrics-server copies onto PodMetrics.
    pub pods: Option<&'a [Arc<Pod>]>,
    /// None when pod metrics are missing.
    pub usage: Option<&'a UsageMap>,
    /// Why the HPAs are not known (never listed: forbidden, failing, not arrived yet); then
    /// every deployment may be scaled by an HPA the app cannot see.
    pub hpas_unknown: Option<String>,
    /// The ScaledObjects and VPAs last listed (empty: none, or not served).
    pub owners: &'a super::ownership::OwnersIndex,
}

/// Per deployment, why CPU or memory is unknown.
pub type Reasons = BTreeMap<DeploymentKey, String>;

fn running(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none() && !matches!(p.phase(), Some("Succeeded" | "Failed"))
}

/// Pods indexed by (namespace, label key, label value), and by namespace.
struct PodIndex<'a> {
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Pod>>,
    by_ns: HashMap<&'a str, Vec<&'a Pod>>,
}

impl<'a> PodIndex<'a> {
    fn new(pods: &'a [Arc<Pod>]) -> Self {
        let mut by_label: HashMap<_, Vec<&Pod>> = HashMap::new();
        let mut by_ns: HashMap<_, Vec<&Pod>> = HashMap::new();
        for p in pods.iter().map(|p| p.as_ref()).filter(|p| running(p)) {
            let ns = p.metadata.namespace.as_deref().unwrap_or("");
            by_ns.entry(ns).or_default().push(p);
            for (k, v) in p.metadata.labels.iter().flatten() {
                by_label
                    .entry((ns, k.as_str(), v.as_str()))
                    .or_default()
                    .push(p);
            }
        }
        Self { by_label, by_ns }
    }

    fn matching(&self, ns: &str, sel: &Selector) -> Vec<&'a Pod> {
        let candidates = match sel.required_label() {
            Some((k, v)) => self.by_label.get(&(ns, k, v)),
            None => self.by_ns.get(ns),
        };
        let empty = BTreeMap::new();
        candidates
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|p| sel.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn build(inp: &Inputs<'_>) -> (ClusterSnapshot, Reasons) {
    let index = inp.pods.map(PodIndex::new);
    // HPAs by (namespace, target deployment name), first by name as kubectl lists them.
    let mut hpas: HashMap<(&str, &str), Vec<&HorizontalPodAutoscaler>> = HashMap::new();
    for h in inp.hpas {
        let ns = h.metadata.namespace.as_deref().unwrap_or("");
        if let Some(spec) = &h.spec
            && hpa::targets(h, &spec.scale_target_ref.name)
        {
            hpas.entry((ns, spec.scale_target_ref.name.as_str()))
                .or_default()
                .push(h);
        }
    }
    for targeting in hpas.values_mut() {
        targeting.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    let mut reasons = Reasons::new();
    let mut out = Vec::with_capacity(inp.deployments.len());
    for d in inp.deployments {
        let (Some(ns), Some(name)) = (&d.metadata.namespace, &d.metadata.name) else {
            continue;
        };
        let key = DeploymentKey::new(ns.as_str(), name.as_str());
        let spec = d.spec.as_ref();
        let status = d.status.as_ref();
        let desired = spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as u32;
        let template_req = d.template_requests();
        let selector = spec.map_or_else(
            || Selector::from_label_selector(&Default::default()),
            |s| Selector::from_label_selector(&s.selector),
        );

        let (ready_n, total, util) = match &index {
            Some(index) => {
                let pods = index.matching(ns, &selector);
                let ready_n = pods.iter().filter(|p| p.ready()).count() as u32;
                let reqs: Vec<(PodRequests, Option<&_>)> = pods
                    .iter()
                    .map(|p| {
                        let r = p.requests();
                        let u = inp.usage.and_then(|m| {
                            m.get(&(ns.clone(), p.metadata.name.clone().unwrap_or_default()))
                        });
                        (r, u)
                    })
                    .collect();
                let util = utilization::aggregate(reqs.iter().map(|(r, u)| (r, *u)));
                (ready_n, pods.len() as u32, util)
            }
            None => {
                // Without pods: metrics matched by their copied labels, template requests.
                let util = match inp.usage {
                    Some(m) => utilization::aggregate(
                        m.iter()
                            .filter(|((pns, _), u)| pns == ns && selector.matches(&u.labels))
                            .map(|(_, u)| (&template_req, Some(u))),
                    ),
                    None => Utilization::default(),
                };
                (
                    status.and_then(|s| s.ready_replicas).unwrap_or(0).max(0) as u32,
                    status.and_then(|s| s.replicas).unwrap_or(0).max(0) as u32,
                    util,
                )
            }
        };
        if inp.usage.is_some()
            && let Some(r) = &util.reason
        {
            reasons.insert(key.clone(), r.clone());
        }

        let targeting = hpas
            .get(&(ns.as_str(), name.as_str()))
            .map_or(&[][..], Vec::as_slice);
        let hpa_state = targeting.first().map(|h| hpa::state(h));
        let write_block = match (&inp.hpas_unknown, targeting) {
            (Some(why), _) => Some(WriteBlock::HpaUnknown(why.clone())),
            (None, [_, _, ..]) => Some(WriteBlock::AmbiguousHpa(
                targeting
                    .iter()
                    .map(|h| h.metadata.name.clone().unwrap_or_default())
                    .collect(),
            )),
            (None, _) => None,
        };
        let no_annotations = BTreeMap::new();
        let annotations = d.metadata.annotations.as_ref().unwrap_or(&no_annotations);
        let annotated = |k: &str| {
            annotations
                .get(k)
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        let annotated_bounds = (
            annotated(annotations::MIN_REPLICAS),
            annotated(annotations::MAX_REPLICAS),
        );
        // The same rule as the simulator's (annotations, else the HPA's, capped by its max).
        let (min, max) = deployment_bounds(annotated_bounds, hpa_state.as_ref(), desired);
        out.push(DeploymentState {
            key,
            desired_replicas: desired,
            ready_replicas: ready_n,
            total_pods: total,
            min_replicas: min,
            max_replicas: max,
            cpu_request_millis: template_req.cpu_millis.unwrap_or(0.0).round() as u32,
            mem_request_mib: (template_req.mem_bytes.unwrap_or(0.0) / 1048576.0).round() as u32,
            cpu_pct: util.cpu_pct,
            mem_pct: util.mem_pct,
            hpa: hpa_state,
            predictive_enabled: annotations
                .get(annotations::PREDICTIVE)
                .is_some_and(|v| v == "true"),
            annotated_bounds,
            floor_mark: annotations
                .get(annotations::FLOOR)
                .and_then(|v| crate::model::FloorMark::parse(v)),
            write_block,
            ownership: super::ownership::ownership_of(d, targeting.first().copied(), inp.owners),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    (
        ClusterSnapshot {
            context: inp.context.to_string(),
            time: inp.now,
            deployments: out,
            capacity: None,
        },
        reasons,
    )
}
