//! Pod metrics from `metrics.k8s.io/v1beta1` (metrics-server), polled every 15 s like the HPA's
//! resource metrics client. The newest good answer is kept with its health: missing when the
//! API is not served (no metrics-server) or forbidden, stale after a failed poll.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};

use super::errors;
use super::sources::{Health, Shared, lock};
use super::utilization::PodUsage;
use crate::cluster::ClusterError;
use crate::k8s::quantity;

/// `metrics.k8s.io/v1beta1` PodMetrics: what `kubectl top pods` reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PodMetrics {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

impl Resource for PodMetrics {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "PodMetrics".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "metrics.k8s.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1beta1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Usage per (namespace, pod name).
pub type UsageMap = HashMap<(String, String), PodUsage>;

/// Sum a pod's containers; None when a quantity does not parse (the pod is left out). The
/// labels metrics-server copies are kept only when asked: they serve only while pods cannot be
/// listed, and are most of what a fleet's usage map would hold (a tree node a pod).
pub fn pod_usage(m: &PodMetrics, keep_labels: bool) -> Option<PodUsage> {
    let mut u = PodUsage {
        labels: if keep_labels {
            m.metadata.labels.clone().unwrap_or_default()
        } else {
            BTreeMap::new()
        },
        ..PodUsage::default()
    };
    for c in &m.containers {
        u.cpu_millis += quantity::cpu_millis(c.usage.get("cpu")?).ok()?;
        u.mem_bytes += quantity::bytes(c.usage.get("memory")?).ok()?;
    }
    Some(u)
}

pub struct MetricsState {
    pub usage: Arc<UsageMap>,
    pub health: Health,
    /// A poll has been attempted (answered or failed).
    pub attempted: bool,
    pub fetched_at: Option<Instant>,
    /// Pods left out because a quantity did not parse.
    pub unparsed: usize,
}

impl Default for MetricsState {
    fn default() -> Self {
        Self {
            usage: Arc::new(UsageMap::new()),
            health: Health::new("pod metrics"),
            attempted: false,
            fetched_at: None,
            unparsed: 0,
        }
    }
}

/// Metrics older than this are not shown as current.
pub const MAX_AGE: Duration = Duration::from_secs(120);

/// Polls every `every`; `pods` is the pod source's health: until pods are listed, each pod's
/// labels are kept for matching.
pub async fn poll_loop(
    api: Api<PodMetrics>,
    state: Arc<Mutex<MetricsState>>,
    shared: Arc<Shared>,
    pods: Arc<Mutex<Health>>,
    every: Duration,
    timeout: Duration,
) {
    // A zero period panics in tokio.
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let keep_labels = !lock(&pods).synced;
        poll_once(&api, &state, &shared, keep_labels, timeout).await;
    }
}

pub async fn poll_once(
    api: &Api<PodMetrics>,
    state: &Mutex<MetricsState>,
    shared: &Shared,
    keep_labels: bool,
    timeout: Duration,
) {
    let what = "list pod metrics (metrics.k8s.io/v1beta1)";
    let answer = tokio::time::timeout(timeout, api.list(&ListParams::default())).await;
    let mut s = lock(state);
    s.attempted = true;
    match answer {
        Ok(Ok(list)) => {
            let mut usage = UsageMap::with_capacity(list.items.len());
            let mut unparsed = 0;
            for m in &list.items {
                let (Some(ns), Some(name)) = (&m.metadata.namespace, &m.metadata.name) else {
                    continue;
                };
                match pod_usage(m, keep_labels) {
                    Some(u) => {
                        usage.insert((ns.clone(), name.clone()), u);
                    }
                    None => unparsed += 1,
                }
            }
            s.usage = Arc::new(usage);
            s.unparsed = unparsed;
            s.fetched_at = Some(Instant::now());
            s.health.synced = true;
            s.health.ok();
            s.health.note = (unparsed > 0)
                .then(|| format!("{unparsed} pods left out: usage quantities did not parse"));
            lock(&shared.liveness).answered();
        }
        Ok(Err(e)) => {
            let unreachable = errors::is_unreachable(&e);
            let mapped = match &e {
                kube::Error::Api(st) if errors::code(st) == 404 => ClusterError::NotFound(format!(
                    "{what}: not served: is metrics-server installed? ({})",
                    st.message
                )),
                kube::Error::Api(st) if errors::code(st) == 503 => {
                    ClusterError::Unavailable(format!(
                        "{what}: the metrics API is registered but not answering (metrics-server down?): {}",
                        st.message
                    ))
                }
                _ => errors::map(&e, what),
            };
            // The aggregated API's 5xx says nothing about the API server itself.
            match &e {
                kube::Error::Api(_) => lock(&shared.liveness).answered(),
                _ if unreachable => lock(&shared.liveness).failed(mapped.to_string()),
                _ => {}
            }
            if matches!(
                mapped,
                ClusterError::NotFound(_) | ClusterError::Forbidden(_)
            ) {
                // Not served or not allowed: nothing to show, not merely stale.
                s.usage = Arc::new(UsageMap::new());
                s.health.synced = false;
            }
            s.health.fail(mapped, unreachable);
        }
        Err(_) => {
            let mapped = ClusterError::Unavailable(format!(
                "{what}: no answer within {} s",
                timeout.as_secs()
            ));
            // A slow metrics API is not a dead API server: only the metrics go stale.
            s.health.fail(mapped, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_usage_sums_containers_and_skips_unparsable_pods() {
        let m: PodMetrics = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
            "timestamp": "2026-03-02T10:00:00Z", "window": "15s",
            "containers": [
                {"name": "app", "usage": {"cpu": "123456789n", "memory": "100Mi"}},
                {"name": "proxy", "usage": {"cpu": "10m", "memory": "20Mi"}}
            ]
        }))
        .unwrap_or_default();
        let u = pod_usage(&m, true).unwrap_or_default();
        assert!((u.cpu_millis - 133.456789).abs() < 1e-9, "{}", u.cpu_millis);
        assert_eq!(u.mem_bytes, 120.0 * 1048576.0);
        assert_eq!(u.labels.get("app").map(String::as_str), Some("web"));
        // Once pods are listed the labels are not needed: not kept.
        let u = pod_usage(&m, false).unwrap_or_default();
        assert_eq!(u.mem_bytes, 120.0 * 1048576.0);
        assert!(u.labels.is_empty());
        let bad: PodMetrics = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x"}, "containers": [{"name": "a", "usage": {"cpu": "lots", "memory": "1"}}]
        }))
        .unwrap_or_default();
        assert!(pod_usage(&bad, true).is_none());
    }
}
