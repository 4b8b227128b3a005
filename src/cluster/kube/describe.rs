//! `Cluster::describe` on a live cluster, like `kubectl describe deployment`: the pods the
//! deployment's selector matches (from the pod store, with their usage from the last
//! metrics poll), the conditions of the HPA that targets it (from the HPA store), and its and
//! its HPA's recent events, listed on demand with `involvedObject` field selectors. Events that
//! cannot be read are named in `problems`; the rest is still shown.

use std::sync::Arc;
use std::time::Duration;

use super::slim_deployment::SlimDeployment as Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::reflector::Store;

use super::metrics::UsageMap;
use super::slim_pod::SlimPod;
use super::sources::wall_now;
use super::{errors, hpa};
use crate::cluster::ClusterError;
use crate::k8s::selector::Selector;
use crate::model::{
    DeploymentDetail, DeploymentKey, EventDetail, HpaCondition, HpaDetail, PodDetail, UnixSeconds,
};

/// Events a describe shows, the latest.
const EVENTS_SHOWN: usize = 20;

fn unix(t: &Time) -> UnixSeconds {
    t.0.as_second()
}

/// What a describe reads: the stores, the last pod usage, and the client for events.
pub struct Reader<'a> {
    pub client: &'a kube::Client,
    pub deployments: &'a Store<Deployment>,
    pub pods: &'a Store<SlimPod>,
    pub hpas: &'a Store<HorizontalPodAutoscaler>,
    pub usage: Arc<UsageMap>,
    pub timeout: Duration,
}

pub async fn describe(
    c: Reader<'_>,
    key: &DeploymentKey,
) -> Result<DeploymentDetail, ClusterError> {
    let deployment = c
        .deployments
        .state()
        .into_iter()
        .find(|d| {
            d.metadata.namespace.as_deref() == Some(key.namespace.as_str())
                && d.metadata.name.as_deref() == Some(key.name.as_str())
        })
        .ok_or_else(|| ClusterError::NotFound(format!("deployment {key}")))?;
    let selector = deployment
        .spec
        .as_ref()
        .map(|s| Selector::from_label_selector(&s.selector));
    let usage = c.usage.clone();
    let mut pods: Vec<PodDetail> = match &selector {
        None => Vec::new(),
        Some(sel) => c
            .pods
            .state()
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(key.namespace.as_str()))
            .filter(|p| p.metadata.labels.as_ref().is_some_and(|l| sel.matches(l)))
            .map(|p| pod_detail(p, &key.namespace, &usage))
            .collect(),
    };
    pods.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));

    let hpa = c
        .hpas
        .state()
        .into_iter()
        .filter(|h| h.metadata.namespace.as_deref() == Some(key.namespace.as_str()))
        .find(|h| hpa::targets(h, &key.name));
    let hpa_detail = hpa.as_ref().map(|h| HpaDetail {
        name: h.metadata.name.clone().unwrap_or_default(),
        conditions: h
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|c| HpaCondition {
                kind: c.type_,
                status: c.status,
                reason: c.reason.unwrap_or_default(),
                message: c.message.unwrap_or_default(),
                since: c.last_transition_time.as_ref().map(unix),
            })
            .collect(),
    });

    let mut problems = Vec::new();
    let mut events = Vec::new();
    let mut objects = vec![("Deployment", "deployment", key.name.clone())];
    if let Some(h) = &hpa_detail {
        objects.push(("HorizontalPodAutoscaler", "hpa", h.name.clone()));
    }
    let api: Api<Event> = Api::namespaced(c.client.clone(), &key.namespace);
    for (kind, short, name) in objects {
        let fields = format!("involvedObject.kind={kind},involvedObject.name={name}");
        let list =
            tokio::time::timeout(c.timeout, api.list(&ListParams::default().fields(&fields))).await;
        match list {
            Ok(Ok(list)) => events.extend(list.items.into_iter().map(|e| event_detail(e, short))),
            Ok(Err(e)) => problems.push(format!(
                "events of {short}/{name}: {}",
                errors::map(&e, "events")
            )),
            Err(_) => problems.push(format!(
                "events of {short}/{name}: no answer within {} s",
                c.timeout.as_secs()
            )),
        }
    }
    events.sort_by_key(|e| e.time);
    let skip = events.len().saturating_sub(EVENTS_SHOWN);
    Ok(DeploymentDetail {
        key: key.clone(),
        read_at: wall_now(),
        pods,
        hpa: hpa_detail,
        events: events.split_off(skip),
        problems,
    })
}

fn pod_detail(p: &SlimPod, namespace: &str, usage: &UsageMap) -> PodDetail {
    let name = p.metadata.name.clone().unwrap_or_default();
    let u = usage.get(&(namespace.to_string(), name.clone()));
    PodDetail {
        phase: p.phase().unwrap_or("Unknown").to_string(),
        ready: p.ready(),
        created: p.metadata.creation_timestamp.as_ref().map(unix),
        cpu_millis: u.map(|u| u.cpu_millis),
        mem_mib: u.map(|u| u.mem_bytes / 1_048_576.0),
        name,
    }
}

fn event_detail(e: Event, short: &str) -> EventDetail {
    let name = e.involved_object.name.clone().unwrap_or_default();
    // events.k8s.io-era recorders set eventTime and leave the timestamps empty.
    let time = e
        .last_timestamp
        .as_ref()
        .or(e.first_timestamp.as_ref())
        .map(unix)
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(unix));
    EventDetail {
        time,
        kind: e.type_.unwrap_or_else(|| "Normal".into()),
        reason: e.reason.unwrap_or_default(),
        object: format!("{short}/{name}"),
        message: e.message.unwrap_or_default(),
        count: e.count.map_or(1, |c| c.max(0) as u32),
    }
}
