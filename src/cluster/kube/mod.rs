//! Live clusters through kube-rs. Deployments, autoscaling/v2 HPAs and pods are watched into
//! reflector stores (all namespaces, or one); pod metrics are polled from metrics.k8s.io every
//! 15 s. `snapshot()` only reads memory: after the first list it never waits on the network,
//! and before it waits a bounded time. Failures are kept per source for `status()`.

pub mod capacity;
pub mod describe;
pub mod errors;
pub mod hpa;
pub mod kubeconfig;
pub mod metrics;
pub mod ownership;
pub mod prometheus_discovery;
pub mod slim_deployment;
pub mod slim_pod;
pub mod snapshot;
pub mod sources;
pub mod trim;
pub mod utilization;
mod watched_as;
pub mod writes;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::reflector::Store;
use kube::{Api, Client};

use self::metrics::{MetricsState, PodMetrics};
use self::slim_deployment::SlimDeployment;
use self::slim_pod::SlimPod;
use self::sources::{Health, Liveness, Shared, lock, wall_now};
use super::{Change, Cluster, ClusterError, ClusterStatus, Operation, SourceState, SourceStatus};
use crate::model::{ClusterSnapshot, DeploymentKey, Sample};

pub use kubeconfig::contexts;

#[derive(Clone, Debug)]
pub struct KubeOptions {
    /// Kubeconfig file (else `$KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Context (else the kubeconfig's current context).
    pub context: Option<String>,
    /// Watch one namespace; None watches all of them.
    pub namespace: Option<String>,
    /// Every write returns `ClusterError::ReadOnly` (defence in depth under `--read-only`).
    pub read_only: bool,
    /// Period of the pod metrics poll (metrics-server scrapes every 15 s).
    pub metrics_every: Duration,
    /// The longest the first `snapshot()` waits for the first lists.
    pub first_sync_timeout: Duration,
    /// The longest a write or a poll waits for an answer.
    pub request_timeout: Duration,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            namespace: None,
            read_only: false,
            metrics_every: Duration::from_secs(15),
            first_sync_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A live cluster behind the `Cluster` trait. Dropping it stops its watches.
pub struct KubeCluster {
    client: Client,
    context: String,
    opts: KubeOptions,
    deployments: Store<SlimDeployment>,
    hpas: Store<HorizontalPodAutoscaler>,
    pods: Store<SlimPod>,
    /// None when one namespace is watched: other namespaces' pods are unseen, so what the
    /// nodes have spare cannot be known.
    nodes: Option<(Store<Node>, Arc<Mutex<Health>>)>,
    deployments_health: Arc<Mutex<Health>>,
    hpas_health: Arc<Mutex<Health>>,
    pods_health: Arc<Mutex<Health>>,
    metrics: Arc<Mutex<MetricsState>>,
    /// ScaledObjects and VPAs, polled (`ownership.rs`).
    owners: Arc<Mutex<ownership::OwnersState>>,
    shared: Arc<Shared>,
    /// From the last snapshot: how many deployments lack CPU/memory %, and one example why.
    unknown_utilization: Mutex<Option<(usize, String)>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// For Prometheus through the service proxy (no retry of 503s); the watch client in tests.
    proxy_client: Client,
}

impl Drop for KubeCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

impl KubeCluster {
    /// Load the kubeconfig (like kubectl) and start watching. Does not wait for the server.
    pub async fn connect(opts: KubeOptions) -> Result<Self, ClusterError> {
        let conn = kubeconfig::connect(opts.kubeconfig.as_deref(), opts.context.as_deref()).await?;
        let mut cluster = Self::from_client(conn.client, conn.context, opts);
        cluster.proxy_client = conn.proxy_client;
        Ok(cluster)
    }

    /// Start watching through an existing client (tests hand in a mock service).
    pub fn from_client(client: Client, context: impl Into<String>, opts: KubeOptions) -> Self {
        let shared = Arc::new(Shared {
            liveness: Mutex::new(Liveness::default()),
        });
        let ns = opts.namespace.as_deref();
        let every = opts.metrics_every;
        let (deployments, deployments_health, t1) = sources::spawn(
            "deployments",
            api::<SlimDeployment>(&client, ns),
            trim::deployment,
            every,
            shared.clone(),
        );
        let (hpas, hpas_health, t2) = sources::spawn(
            "horizontalpodautoscalers",
            api::<HorizontalPodAutoscaler>(&client, ns),
            trim::hpa,
            every,
            shared.clone(),
        );
        let (pods, pods_health, t3) = sources::spawn(
            "pods",
            api::<SlimPod>(&client, ns),
            trim::pod,
            every,
            shared.clone(),
        );
        let mut tasks = Vec::with_capacity(5);
        let nodes = ns.is_none().then(|| {
            let (store, health, task) = sources::spawn(
                "nodes",
                Api::<Node>::all(client.clone()),
                trim::node,
                every,
                shared.clone(),
            );
            tasks.push(task);
            (store, health)
        });
        let metrics = Arc::new(Mutex::new(MetricsState::default()));
        let t4 = tokio::spawn(metrics::poll_loop(
            api::<PodMetrics>(&client, ns),
            metrics.clone(),
            shared.clone(),
            pods_health.clone(),
            every,
            opts.request_timeout,
        ));
        let owners = Arc::new(Mutex::new(ownership::OwnersState::default()));
        let t5 = tokio::spawn(ownership::poll_loop(
            client.clone(),
            opts.namespace.clone(),
            owners.clone(),
            shared.clone(),
            every,
            opts.request_timeout,
        ));
        Self {
            proxy_client: client.clone(),
            client,
            context: context.into(),
            opts,
            deployments,
            hpas,
            pods,
            nodes,
            deployments_health,
            hpas_health,
            pods_health,
            metrics,
            owners,
            shared,
            unknown_utilization: Mutex::new(None),
            tasks: {
                tasks.extend([t1, t2, t3, t4, t5]);
                tasks
            },
        }
    }

    pub fn namespace(&self) -> Option<&str> {
        self.opts.namespace.as_deref()
    }

    /// Whether the first lists are in (deployments synced; the others synced or failed).
    fn first_data_in(&self) -> bool {
        let settled = |h: &Mutex<Health>| {
            let h = lock(h);
            h.synced || h.failure.is_some()
        };
        lock(&self.deployments_health).synced
            && settled(&self.hpas_health)
            && settled(&self.pods_health)
            && lock(&self.metrics).attempted
    }

    /// Wait (bounded) for the first lists; fail at once if deployments cannot be listed.
    async fn first_sync(&self) -> Result<(), ClusterError> {
        let deadline = tokio::time::Instant::now() + self.opts.first_sync_timeout;
        loop {
            {
                let d = lock(&self.deployments_health);
                if !d.synced
                    && let Some(f) = &d.failure
                {
                    return Err(match &f.error {
                        // RBAC often allows one namespace but not all of them.
                        ClusterError::Forbidden(m) if self.opts.namespace.is_none() => {
                            ClusterError::Forbidden(format!(
                                "{m} (to watch a single namespace, pass --namespace NS)"
                            ))
                        }
                        e => e.clone(),
                    });
                }
            }
            if self.first_data_in() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return if lock(&self.deployments_health).synced {
                    Ok(())
                } else {
                    Err(ClusterError::Unavailable(format!(
                        "no list of deployments from context {} within {} s",
                        self.context,
                        self.opts.first_sync_timeout.as_secs()
                    )))
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server is down now: its failure not followed by any answer.
    fn down(&self) -> Option<ClusterError> {
        let live = lock(&self.shared.liveness);
        let (since, reason) = live.down()?;
        let shown = lock(&self.deployments_health).last_ok_wall;
        Some(ClusterError::Unavailable(format!(
            "API server of {} unreachable since {}: {reason}{}",
            self.context,
            crate::model::rfc3339(since),
            shown.map_or(String::new(), |t| format!(
                "; data shown is from {}",
                crate::model::rfc3339(t)
            ))
        )))
    }

    /// The snapshot from the stores as they are, without any check (the last good data).
    pub fn cached_snapshot(&self) -> ClusterSnapshot {
        self.build().0
    }

    fn build(&self) -> (ClusterSnapshot, snapshot::Reasons) {
        let deployments = self.deployments.state();
        let hpas = self.hpas.state();
        let hpas_unknown = {
            let h = lock(&self.hpas_health);
            (!h.synced).then(|| match &h.failure {
                Some(f) => f.error.to_string(),
                None => "not listed yet".to_string(),
            })
        };
        let pods_usable = lock(&self.pods_health).synced;
        let pods = pods_usable.then(|| self.pods.state());
        let usage = {
            let m = lock(&self.metrics);
            let fresh = m
                .fetched_at
                .is_some_and(|t| t.elapsed() <= metrics::MAX_AGE);
            (m.health.synced && fresh).then(|| m.usage.clone())
        };
        // Spare capacity needs every pod's requests and every node: unknown (None, nothing
        // capped) until both are listed.
        let capacity = match (&self.nodes, &pods) {
            (Some((store, health)), Some(pods)) if lock(health).synced => {
                Some(capacity::capacity(&store.state(), pods, &deployments))
            }
            _ => None,
        };
        let owners = lock(&self.owners).index.clone();
        let (mut snap, reasons) = snapshot::build(&snapshot::Inputs {
            context: &self.context,
            now: wall_now(),
            deployments: &deployments,
            hpas: &hpas,
            pods: pods.as_deref(),
            usage: usage.as_deref(),
            hpas_unknown,
            owners: &owners,
        });
        snap.capacity = capacity;
        (snap, reasons)
    }

    /// The nodes source, saying what its absence means: capacity unknown, nothing capped.
    fn nodes_status(&self) -> SourceStatus {
        const UNKNOWN: &str = "capacity unknown: scale-ups are not capped";
        let Some((_, health)) = &self.nodes else {
            return SourceStatus {
                source: "nodes".into(),
                state: SourceState::Missing,
                detail: Some(format!(
                    "one namespace is watched, other namespaces' pods are unseen; {UNKNOWN}"
                )),
                updated_at: None,
            };
        };
        let mut s = lock(health).status();
        if s.state == SourceState::Missing {
            s.detail = s.detail.map(|d| format!("{d}; {UNKNOWN}"));
        } else if s.state == SourceState::Ok && !lock(&self.pods_health).synced {
            s.detail = Some(format!("pods not listed; {UNKNOWN}"));
        }
        s
    }

    fn writer(&self, dry_run: bool) -> Result<writes::Writer<'_>, ClusterError> {
        if self.opts.read_only && !dry_run {
            return Err(ClusterError::ReadOnly(format!(
                "context {} is read-only",
                self.context
            )));
        }
        Ok(writes::Writer {
            client: &self.client,
            hpas: &self.hpas,
            hpas_synced: lock(&self.hpas_health).synced,
            timeout: self.opts.request_timeout,
            dry_run,
        })
    }

    /// The one dispatch from a change to the writer, for writes and dry runs alike.
    async fn send(
        &self,
        key: &DeploymentKey,
        change: &Change,
        dry_run: bool,
    ) -> Result<(), ClusterError> {
        let writer = self.writer(dry_run)?;
        match change.operation() {
            Operation::Scale { replicas } => writer.scale(key, replicas).await,
            Operation::PatchHpa {
                expect,
                min_replicas,
                max_replicas,
            } => {
                writer
                    .patch_hpa(key, &expect, min_replicas, max_replicas)
                    .await
            }
            Operation::PatchHpaTarget { expect, cpu_pct } => {
                writer.patch_hpa_target(key, &expect, cpu_pct).await
            }
            Operation::Annotate { changes } => writer.annotate(key, &changes).await,
            Operation::CreateHpa { spec } => writer.create_hpa(key, &spec).await,
            Operation::PatchScaledObject {
                expect,
                min_replica_count,
                max_replica_count,
            } => {
                let params = kube::api::PatchParams {
                    field_manager: Some(writes::FIELD_MANAGER.into()),
                    dry_run,
                    ..Default::default()
                };
                ownership::patch_scaled_object(
                    &self.client,
                    key,
                    &expect,
                    (min_replica_count, max_replica_count),
                    &params,
                    self.opts.request_timeout,
                )
                .await
            }
        }
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    fn context(&self) -> String {
        self.context.clone()
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        self.first_sync().await?;
        if let Some(e) = self.down() {
            return Err(e);
        }
        let (snap, reasons) = self.build();
        *lock(&self.unknown_utilization) = reasons
            .iter()
            .next()
            .map(|(k, why)| (reasons.len(), format!("{k}: {why}")));
        Ok(snap)
    }

    async fn history(&self) -> Result<Vec<(DeploymentKey, Vec<Sample>)>, ClusterError> {
        // A live cluster keeps no history of its own (Prometheus backfill is separate).
        Ok(Vec::new())
    }

    async fn write(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        self.send(key, change, false).await
    }

    async fn dry_run(&self, key: &DeploymentKey, change: &Change) -> Result<(), ClusterError> {
        self.send(key, change, true).await
    }

    async fn record_event(
        &self,
        key: &DeploymentKey,
        event: &super::ChangeEvent,
    ) -> Result<(), ClusterError> {
        self.writer(false)?.record_event(key, event).await
    }

    fn prometheus_transport(
        &self,
        timeout: Duration,
    ) -> Option<Arc<dyn crate::metrics::prom_transport::PromTransport>> {
        Some(prometheus_discovery::DiscoveredPrometheus::new(
            self.proxy_client.clone(),
            timeout,
        ))
    }

    async fn describe(
        &self,
        key: &DeploymentKey,
    ) -> Result<crate::model::DeploymentDetail, ClusterError> {
        let reader = describe::Reader {
            client: &self.client,
            deployments: &self.deployments,
            pods: &self.pods,
            hpas: &self.hpas,
            usage: lock(&self.metrics).usage.clone(),
            timeout: self.opts.request_timeout,
        };
        describe::describe(reader, key).await
    }

    fn status(&self) -> ClusterStatus {
        let mut sources = Vec::with_capacity(5);
        if let Some(e) = self.down() {
            sources.push(SourceStatus {
                source: "API server".into(),
                state: SourceState::Stale,
                detail: Some(e.to_string()),
                updated_at: lock(&self.deployments_health).last_ok_wall,
            });
        }
        sources.push(lock(&self.deployments_health).status());
        sources.push(lock(&self.hpas_health).status());
        let mut pods = lock(&self.pods_health).status();
        if pods.state == SourceState::Missing {
            pods.detail = pods.detail.map(|d| {
                format!("{d}; ready counts from deployment status, requests from pod templates")
            });
        }
        sources.push(pods);
        sources.push(self.nodes_status());
        let m = lock(&self.metrics);
        let mut metrics = m.health.status();
        if metrics.state == SourceState::Ok
            && m.fetched_at.is_some_and(|t| t.elapsed() > metrics::MAX_AGE)
        {
            metrics.state = SourceState::Stale;
            metrics.detail = Some("older than 2 minutes: CPU and memory not shown".into());
        }
        if matches!(metrics.state, SourceState::Missing) {
            metrics.detail = metrics
                .detail
                .map(|d| format!("{d}; CPU and memory % not shown"));
        }
        drop(m);
        // Kept from the last snapshot: status() must stay cheap at any cluster size.
        if metrics.state == SourceState::Ok
            && let Some((n, example)) = lock(&self.unknown_utilization).clone()
        {
            metrics.detail = Some(format!(
                "{n} deployments without CPU/memory %, e.g. {example}"
            ));
        }
        sources.push(metrics);
        sources.extend(lock(&self.owners).statuses());
        ClusterStatus { sources }
    }
}
