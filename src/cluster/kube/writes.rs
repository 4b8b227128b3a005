//! Writes: `/scale` for replicas, merge patches for HPA bounds and annotations, a POST for a
//! new autoscaling/v2 HPA; each can run as a server-side dry run. `KubeCluster` calls the one
//! that a `Change`'s `operation()` names.
//! - `/scale` is refused for a deployment an HPA scales, and when the HPAs cannot be known.
//! - HPA patches go to the one HPA that targets the deployment (two or more: refused, as the
//!   controller refuses, AmbiguousSelector), only while it shows the values the plan starts from
//!   (`HpaExpect`), at the resourceVersion those values were read at. A 409 re-reads the HPA:
//!   if the planned fields still hold (the controller only updated its status) it retries once;
//!   if they changed it stops with "changed: X → Y", so nothing is overwritten blindly.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Api, Resource};
use serde_json::{Map, Value, json};

use super::{errors, hpa};
use crate::cluster::{ClusterError, HpaExpect, HpaSpec};
use crate::model::DeploymentKey;

/// Field manager named in managedFields, so `kubectl` users see who changed what.
pub const FIELD_MANAGER: &str = "ai4k8s";

pub struct Writer<'a> {
    pub client: &'a kube::Client,
    pub hpas: &'a Store<HorizontalPodAutoscaler>,
    /// The HPA store holds a complete list (otherwise it cannot say that none targets a
    /// deployment).
    pub hpas_synced: bool,
    pub timeout: Duration,
    pub dry_run: bool,
}

impl Writer<'_> {
    fn patch_params(&self) -> PatchParams {
        PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            dry_run: self.dry_run,
            ..PatchParams::default()
        }
    }

    async fn bounded<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(|e| errors::map(&e, what)),
            Err(_) => Err(ClusterError::Unavailable(format!(
                "{what}: no answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    pub async fn scale(&self, key: &DeploymentKey, replicas: u32) -> Result<(), ClusterError> {
        // An HPA would undo a /scale, or fight it; one the app cannot see might.
        match self.targeting(key).await {
            Ok(hpas) if hpas.is_empty() => {}
            Ok(hpas) => {
                return Err(ClusterError::Invalid(format!(
                    "hpa/{} scales deployment {key}: a /scale would fight it; change the HPA instead",
                    hpas[0].metadata.name.as_deref().unwrap_or("?")
                )));
            }
            Err(e) => {
                return Err(ClusterError::Invalid(format!(
                    "cannot tell whether an HPA scales deployment {key} ({e}): /scale refused"
                )));
            }
        }
        // The replica count is absolute, like `kubectl scale`: no precondition needed.
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        let what = format!("scale deployment {key} to {replicas}");
        let url = Deployment::url_path(&(), Some(&key.namespace));
        let req = kube::core::Request::new(url)
            .patch_subresource("scale", &key.name, &self.patch_params(), &patch)
            .map_err(|e| ClusterError::Invalid(format!("{what}: {e}")))?;
        // Read the answer as plain JSON: servers differ in which Scale version (or object)
        // they return, and only the status code matters here.
        self.bounded(&what, self.client.request::<Value>(req))
            .await
            .map(|_| ())
    }

    pub async fn annotate(
        &self,
        key: &DeploymentKey,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ClusterError> {
        if let Some((k, _)) = changes
            .iter()
            .find(|(k, _)| k.is_empty() || k.contains(' '))
        {
            return Err(ClusterError::Invalid(format!(
                "annotation key {k:?} is not valid"
            )));
        }
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &key.namespace);
        // In a merge patch, null removes a key.
        let annotations: Map<String, Value> = changes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
            .collect();
        let patch = Patch::Merge(json!({ "metadata": { "annotations": annotations } }));
        let what = format!("annotate deployment {key}");
        self.bounded(&what, api.patch(&key.name, &self.patch_params(), &patch))
            .await
            .map(|_| ())
    }

    /// The HPAs that target the deployment, sorted by name: from the store when it holds a
    /// complete list, else from listing the namespace.
    async fn targeting(
        &self,
        key: &DeploymentKey,
    ) -> Result<Vec<HorizontalPodAutoscaler>, ClusterError> {
        let of_key =
            |h: &HorizontalPodAutoscaler| h.metadata.namespace.as_deref() == Some(&key.namespace);
        let mut found: Vec<HorizontalPodAutoscaler> = if self.hpas_synced {
            self.hpas
                .state()
                .iter()
                .filter(|h| of_key(h) && hpa::targets(h, &key.name))
                .map(|h| (**h).clone())
                .collect()
        } else {
            let api: Api<HorizontalPodAutoscaler> =
                Api::namespaced(self.client.clone(), &key.namespace);
            let what = format!("list hpas in {}", key.namespace);
            let list = self
                .bounded(&what, api.list(&ListParams::default()))
                .await?;
            list.items
                .into_iter()
                .filter(|h| hpa::targets(h, &key.name))
                .collect()
        };
        found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(found)
    }

    /// The one HPA scaling the deployment; `fresh`: re-read from the server.
    async fn find_hpa(
        &self,
        key: &DeploymentKey,
        fresh: bool,
    ) -> Result<HorizontalPodAutoscaler, ClusterError> {
        let mut targeting = self.targeting(key).await?;
        if targeting.len() > 1 {
            let names: Vec<String> = targeting
                .iter()
                .map(|h| format!("hpa/{}", h.metadata.name.as_deref().unwrap_or("?")))
                .collect();
            return Err(ClusterError::Invalid(format!(
                "{} all target deployment {key} (AmbiguousSelector): not written",
                names.join(", ")
            )));
        }
        let Some(found) = targeting.pop() else {
            return Err(ClusterError::NotFound(format!(
                "no HorizontalPodAutoscaler scales deployment {key}"
            )));
        };
        if !fresh {
            return Ok(found);
        }
        let name = found.metadata.name.clone().unwrap_or_default();
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client.clone(), &key.namespace);
        self.bounded(&format!("get hpa {}/{name}", key.namespace), api.get(&name))
            .await
    }

    /// Patch the deployment's HPA with what `body_for` makes of it, while it shows what
    /// `expect` says, at the resourceVersion read; after a 409, re-read and try once more.
    async fn patch_expected(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        what: &str,
        fresh: bool,
        body_for: impl Fn(&HorizontalPodAutoscaler) -> Result<Value, ClusterError>,
    ) -> Result<(), ClusterError> {
        let mut current = self.find_hpa(key, fresh).await?;
        for attempt in 0..2 {
            let name = current.metadata.name.clone().unwrap_or_default();
            let shown = hpa::state(&current);
            expect.check(
                &name,
                shown.min_replicas,
                shown.max_replicas,
                shown.target_cpu_pct,
            )?;
            let mut body = body_for(&current)?;
            // The version decided on: the server refuses the patch (409) if the HPA changed since.
            if let Some(rv) = &current.metadata.resource_version {
                body["metadata"] = json!({ "resourceVersion": rv });
            }
            let api: Api<HorizontalPodAutoscaler> =
                Api::namespaced(self.client.clone(), &key.namespace);
            let what = format!("{what} hpa {}/{name}", key.namespace);
            match self
                .bounded(
                    &what,
                    api.patch(&name, &self.patch_params(), &Patch::Merge(body)),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(ClusterError::Conflict(m)) if attempt == 0 => {
                    tracing::info!("{m}; re-reading to see whether the planned values still hold");
                    current = self.find_hpa(key, true).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClusterError::Conflict(format!(
            "hpa for {key} kept changing; not retried again"
        )))
    }

    pub async fn patch_hpa(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Result<(), ClusterError> {
        if min.is_none() && max.is_none() {
            return Ok(());
        }
        self.patch_expected(key, expect, "patch", false, |current| {
            let name = current.metadata.name.as_deref().unwrap_or("?");
            let shown = hpa::state(current);
            let new_min = min.unwrap_or(shown.min_replicas);
            let new_max = max.unwrap_or(shown.max_replicas);
            // Checked against the HPA as it is now, not as it was when the change was decided.
            if new_min < 1 || new_min > new_max {
                return Err(ClusterError::Invalid(format!(
                    "hpa {}/{name}: minReplicas {new_min} must be at least 1 and at most maxReplicas {new_max}",
                    key.namespace
                )));
            }
            let mut spec_patch = Map::new();
            if let Some(m) = min {
                spec_patch.insert("minReplicas".into(), json!(m));
            }
            if let Some(m) = max {
                spec_patch.insert("maxReplicas".into(), json!(m));
            }
            Ok(json!({ "spec": spec_patch }))
        })
        .await
    }

    /// Set the CPU Resource metric's averageUtilization. A merge patch replaces the whole
    /// metrics list, so the list is sent back as read with only that target changed, at the
    /// resourceVersion read: a concurrent change is a 409, never overwritten.
    pub async fn patch_hpa_target(
        &self,
        key: &DeploymentKey,
        expect: &HpaExpect,
        cpu_pct: u32,
    ) -> Result<(), ClusterError> {
        if !(1..=100).contains(&cpu_pct) {
            return Err(ClusterError::Invalid(format!(
                "a CPU target of {cpu_pct} % is outside 1..=100"
            )));
        }
        // Read fresh: the whole metrics list goes back, so it must be the server's latest.
        self.patch_expected(key, expect, "patch cpu target of", true, |current| {
            let name = current.metadata.name.as_deref().unwrap_or("?");
            let spec = current.spec.clone().unwrap_or_default();
            let mut metrics = serde_json::to_value(spec.metrics.unwrap_or_default())
                .map_err(|e| ClusterError::Invalid(format!("hpa metrics: {e}")))?;
            let mut found = false;
            if let Some(list) = metrics.as_array_mut() {
                for m in list {
                    let is_cpu = m["type"] == "Resource"
                        && m["resource"]["name"] == "cpu"
                        && m["resource"]["target"]["type"] == "Utilization";
                    if is_cpu {
                        m["resource"]["target"]["averageUtilization"] = json!(cpu_pct);
                        found = true;
                    }
                }
            }
            if !found {
                return Err(ClusterError::Invalid(format!(
                    "hpa {}/{name} has no CPU utilization target to move",
                    key.namespace
                )));
            }
            Ok(json!({ "spec": { "metrics": metrics } }))
        })
        .await
    }

    pub async fn create_hpa(
        &self,
        key: &DeploymentKey,
        spec: &HpaSpec,
    ) -> Result<(), ClusterError> {
        if spec.min_replicas < 1 || spec.min_replicas > spec.max_replicas {
            return Err(ClusterError::Invalid(format!(
                "minReplicas {} must be at least 1 and at most maxReplicas {}",
                spec.min_replicas, spec.max_replicas
            )));
        }
        if spec.target_cpu_pct.is_none() && spec.target_mem_pct.is_none() {
            return Err(ClusterError::Invalid(
                "an HPA needs a CPU or a memory target".into(),
            ));
        }
        // From the store when it is complete, else from the server: a second HPA on one
        // deployment would stop the controller (AmbiguousSelector).
        if let Some(h) = self.targeting(key).await?.first() {
            return Err(ClusterError::Conflict(format!(
                "deployment {key} already has HorizontalPodAutoscaler {}",
                h.metadata.name.as_deref().unwrap_or("?")
            )));
        }
        let body: HorizontalPodAutoscaler = serde_json::from_value(hpa_manifest(key, spec))
            .map_err(|e| ClusterError::Invalid(format!("hpa manifest: {e}")))?;
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client.clone(), &key.namespace);
        let pp = PostParams {
            dry_run: self.dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        let what = format!("create hpa for deployment {key}");
        self.bounded(&what, api.create(&pp, &body))
            .await
            .map(|_| ())
    }
}

/// The seed's HPA manager's manifest: autoscaling/v2, CPU and/or memory utilization targets.
pub fn hpa_manifest(key: &DeploymentKey, spec: &HpaSpec) -> Value {
    let resource = |name: &str, pct: u32| {
        json!({ "type": "Resource", "resource": { "name": name,
            "target": { "type": "Utilization", "averageUtilization": pct } } })
    };
    let metrics: Vec<Value> = [
        ("cpu", spec.target_cpu_pct),
        ("memory", spec.target_mem_pct),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.map(|p| resource(n, p)))
    .collect();
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": key.name,
            "namespace": key.namespace,
            "labels": { "app.kubernetes.io/managed-by": "ai4k8s" }
        },
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": key.name },
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": metrics
        }
    })
}

impl Writer<'_> {
    /// A core/v1 Event on the deployment (with its uid, which `kubectl describe` matches on),
    /// named as client-go's recorder names them: "<object>.<unix nanos in hex>".
    pub async fn record_event(
        &self,
        key: &DeploymentKey,
        event: &crate::cluster::ChangeEvent,
    ) -> Result<(), ClusterError> {
        use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &key.namespace);
        let d = self
            .bounded(&format!("get deployment {key}"), deployments.get(&key.name))
            .await?;
        let now = k8s_openapi::jiff::Timestamp::now();
        let nanos = now.as_nanosecond();
        let e = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{nanos:x}", key.name)),
                namespace: Some(key.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some(key.name.clone()),
                namespace: Some(key.namespace.clone()),
                uid: d.meta().uid.clone(),
                resource_version: d.meta().resource_version.clone(),
                ..ObjectReference::default()
            },
            reason: Some(event.reason.clone()),
            message: Some(event.message.clone()),
            type_: Some("Normal".into()),
            source: Some(EventSource {
                component: Some(event.component.clone()),
                host: None,
            }),
            reporting_component: Some(event.component.clone()),
            reporting_instance: Some(event.instance.clone()),
            action: Some("Scale".into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            count: Some(1),
            ..Event::default()
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &key.namespace);
        self.bounded(
            &format!("create event on deployment {key}"),
            events.create(&PostParams::default(), &e),
        )
        .await
        .map(|_| ())
    }
}
