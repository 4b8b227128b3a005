//! The simulated cluster's history as the series a kube-prometheus install scrapes: cAdvisor's
//! `container_cpu_usage_seconds_total` (a counter) and `container_memory_working_set_bytes` per
//! container (the app's and the pause container `POD`), kube-state-metrics'
//! `kube_pod_container_resource_requests` (cpu in cores, memory in bytes), and `up`.
//!
//! Computed from the world's traces on request, never stored: a deployment's demand per minute
//! (the scenario's trace, phase and growth, with seeded noise), its replicas as an HPA at its
//! CPU target would keep them (5-minute scale-down stabilization; fixed without an HPA), and
//! pods that live while the replica count covers them. History starts 14 days before the
//! world's epoch (so there are at least 14 days before any "now") and ends at the world's now;
//! one scrape a minute, on the minute of the served clock (world time + the server's offset).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::eval::{Labels, Series};
use super::query::Selector;
use crate::model::DeploymentKey;
use crate::sim::SimWorld;
use crate::sim::scenario::{self, DeploymentSpec};
use crate::sim::serve::objects::{fnv, pod_name};
use crate::sim::world::EPOCH;
use crate::traces::{Trace, embedded};

pub const CPU: &str = "container_cpu_usage_seconds_total";
pub const MEM: &str = "container_memory_working_set_bytes";
pub const REQUESTS: &str = "kube_pod_container_resource_requests";
pub const UP: &str = "up";
const FAMILIES: [&str; 4] = [CPU, MEM, REQUESTS, UP];
/// Days of history before the world's epoch.
pub const DAYS_BEFORE_EPOCH: i64 = 14;
const MIB: f64 = 1024.0 * 1024.0;
const MINUTE_MS: i64 = 60_000;
/// The pause container's own use.
const PAUSE_CORES: f64 = 0.0005;
const PAUSE_BYTES: f64 = 0.7 * MIB;
const KSM_INSTANCE: &str = "10.244.0.9:8080";

/// Label names every family carries, for `/api/v1/labels` without a match.
pub const LABEL_NAMES: &[&str] = &[
    "__name__",
    "container",
    "cpu",
    "endpoint",
    "instance",
    "job",
    "metrics_path",
    "namespace",
    "node",
    "pod",
    "resource",
    "service",
    "unit",
];

/// What the history is computed from, copied out of the world (no lock is held while
/// computing).
pub struct HistorySource {
    seed: u64,
    /// Served clock minus world clock, seconds.
    offset: i64,
    /// First and last scrape, minutes since the Unix epoch on the served clock.
    first_minute: i64,
    last_minute: i64,
    deployments: Vec<(DeploymentKey, DeploymentSpec)>,
    nodes: Vec<String>,
}

impl HistorySource {
    pub fn from_world(w: &SimWorld, offset: i64) -> Self {
        let deployments = w
            .deployment_keys()
            .into_iter()
            .filter_map(|k| {
                let spec = w.deployment_view(&k)?.spec.clone();
                Some((k, spec))
            })
            .collect();
        Self {
            seed: w.seed(),
            offset,
            first_minute: (EPOCH - DAYS_BEFORE_EPOCH * 86_400 + offset).div_euclid(60) + 1,
            last_minute: (w.now() + offset).div_euclid(60),
            deployments,
            nodes: w.nodes().iter().map(|n| n.name.clone()).collect(),
        }
    }

    /// Now on the served clock, ms.
    pub fn now_ms(&self) -> i64 {
        self.last_minute * MINUTE_MS
    }

    /// The series any of `selectors` may select, with their samples in [from, to] (ms).
    pub fn series(&self, selectors: &[&Selector], from: i64, to: i64) -> Vec<Series> {
        let from_m = from.div_euclid(MINUTE_MS) + i64::from(from.rem_euclid(MINUTE_MS) != 0);
        let from_m = from_m.max(self.first_minute);
        let to_m = to.div_euclid(MINUTE_MS).min(self.last_minute);
        let mut out = Vec::new();
        if from_m > to_m {
            return out;
        }
        // What a selector rules out by name, namespace, pod or container is never generated.
        let wants = |family: &str, ns: Option<&str>, container: Option<&str>, pod: Option<&str>| {
            selectors.iter().any(|s| {
                s.matchers.iter().all(|m| match m.name.as_str() {
                    "__name__" => m.matches(family),
                    "namespace" => ns.is_none_or(|ns| m.matches(ns)),
                    "container" => container.is_none_or(|c| m.matches(c)),
                    "pod" => pod.is_none_or(|p| m.matches(p)),
                    _ => true,
                })
            })
        };
        if wants(UP, None, None, None) {
            out.extend(self.up(from_m, to_m));
        }
        for (key, spec) in &self.deployments {
            let families: Vec<&str> = FAMILIES[..3]
                .iter()
                .copied()
                .filter(|f| wants(f, Some(&key.namespace), None, None))
                .collect();
            if !families.is_empty() {
                let wanted = |family: &str, container: Option<&str>, pod: &str| {
                    families.contains(&family)
                        && wants(family, Some(&key.namespace), container, Some(pod))
                };
                self.deployment_series(key, spec, &wanted, from_m, to_m, &mut out);
            }
        }
        out.retain(|s| !s.samples.is_empty() && selectors.iter().any(|sel| s.matches(sel)));
        out
    }

    fn up(&self, from_m: i64, to_m: i64) -> Vec<Series> {
        let samples: Vec<(i64, f64)> = (from_m..=to_m).map(|m| (m * MINUTE_MS, 1.0)).collect();
        let mut out: Vec<Series> = self
            .nodes
            .iter()
            .map(|n| Series {
                labels: labels(&[
                    ("__name__", UP),
                    ("endpoint", "https-metrics"),
                    ("instance", &format!("{n}:10250")),
                    ("job", "kubelet"),
                    ("metrics_path", "/metrics/cadvisor"),
                    ("node", n),
                    ("service", "kubelet"),
                ]),
                samples: samples.clone(),
            })
            .collect();
        out.push(Series {
            labels: labels(&[
                ("__name__", UP),
                ("instance", KSM_INSTANCE),
                ("job", "kube-state-metrics"),
            ]),
            samples,
        });
        out
    }

    /// Demand in cores at a served-clock minute.
    fn demand(
        &self,
        key: &DeploymentKey,
        spec: &DeploymentSpec,
        trace: &(Trace, f64),
        m: i64,
    ) -> f64 {
        let world_t = m * 60 - self.offset;
        let base = scenario::base_demand(&spec.demand, &trace.0, trace.1, world_t - EPOCH);
        let noise = unit(fnv(&[
            &self.seed.to_string(),
            &key.namespace,
            &key.name,
            &m.to_string(),
        ]));
        base * (1.0 + spec.demand.noise * noise).max(0.0)
    }

    /// Replicas and each pod's base CPU (cores) per minute, from the first minute to the last
    /// (a query reads the prefix it needs: the timeline runs forward from the first minute, so
    /// every range of one now shares it). Cached: the backfill asks four kinds of series of a
    /// deployment, in chunks, at one now.
    fn timeline(&self, key: &DeploymentKey, spec: &DeploymentSpec) -> Arc<Timeline> {
        type Cache = HashMap<(u64, i64, DeploymentKey, i64), Arc<Timeline>>;
        static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
        let to_m = self.last_minute;
        let id = (self.seed, self.offset, key.clone(), to_m);
        let cache = CACHE.get_or_init(Mutex::default);
        if let Some(t) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return t.clone();
        }
        let t = Arc::new(self.compute_timeline(key, spec, to_m));
        let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(id, t.clone());
        t
    }

    fn compute_timeline(&self, key: &DeploymentKey, spec: &DeploymentSpec, to_m: i64) -> Timeline {
        let trace = trace(spec.demand.trace);
        let n = (to_m - self.first_minute + 1).max(0) as usize;
        let (lo, hi) = (spec.min_replicas.max(1), spec.max_replicas.max(1));
        let target = spec
            .hpa
            .as_ref()
            .and_then(|h| h.target_cpu_pct)
            .map(|t| f64::from(t.max(1)) / 100.0);
        let request = f64::from(spec.cpu_request_millis.max(1)) / 1000.0;
        let mut wants = Vec::with_capacity(n);
        let mut replicas: Vec<u32> = Vec::with_capacity(n);
        let mut cores = Vec::with_capacity(n);
        let mut current = spec.initial_replicas.clamp(lo, hi);
        for i in 0..n {
            let d = self.demand(key, spec, &trace, self.first_minute + i as i64);
            let want = match target {
                // The HPA's rule: no change within 10 % of the target.
                Some(t) => {
                    let ratio = d / (f64::from(current) * request * t);
                    if (ratio - 1.0).abs() <= 0.1 {
                        current
                    } else {
                        ((d / (request * t)).ceil() as u32).clamp(lo, hi)
                    }
                }
                None => current,
            };
            wants.push(want);
            // Scale-down stabilization: the highest recommendation of the last 5 minutes.
            current = wants[i.saturating_sub(4)..=i]
                .iter()
                .copied()
                .max()
                .unwrap_or(want);
            replicas.push(current);
            cores.push(d / f64::from(current.max(1)));
        }
        Timeline { replicas, cores }
    }

    fn deployment_series(
        &self,
        key: &DeploymentKey,
        spec: &DeploymentSpec,
        wanted: &dyn Fn(&str, Option<&str>, &str) -> bool,
        from_m: i64,
        to_m: i64,
        out: &mut Vec<Series>,
    ) {
        let timeline = self.timeline(key, spec);
        let (replicas, cores) = (&timeline.replicas, &timeline.cores);
        let idx = |m: i64| (m - self.first_minute) as usize;
        let max = replicas.iter().copied().max().unwrap_or(0);
        for k in 0..max {
            // Each run of minutes where the replica count covers pod k is one pod.
            let mut m = self.first_minute;
            while m <= to_m {
                if replicas[idx(m)] <= k {
                    m += 1;
                    continue;
                }
                let start = m;
                while m <= to_m && replicas[idx(m)] > k {
                    m += 1;
                }
                let end = m - 1;
                if end >= from_m {
                    let pod = Pod::new(self, key, k, start);
                    if FAMILIES[..3].iter().any(|f| wanted(f, None, &pod.name)) {
                        let wanted = |f: &str, c: &str| wanted(f, Some(c), &pod.name);
                        pod.series(
                            self,
                            spec,
                            &wanted,
                            cores,
                            (start, end),
                            (from_m, to_m),
                            out,
                        );
                    }
                }
            }
        }
    }
}

/// Per minute from the first: replicas, and each pod's average CPU (cores).
struct Timeline {
    replicas: Vec<u32>,
    cores: Vec<f64>,
}

struct Pod {
    name: String,
    node: String,
    /// This pod's share of the load relative to the average (±8 %).
    skew: f64,
}

impl Pod {
    fn new(h: &HistorySource, key: &DeploymentKey, k: u32, start: i64) -> Self {
        let id = ((start as u64) << 8) | u64::from(k & 0xff);
        let name = pod_name(key, id);
        let node = h
            .nodes
            .get((fnv(&[&name]) % h.nodes.len().max(1) as u64) as usize)
            .cloned()
            .unwrap_or_else(|| "node-0".into());
        let skew = 1.0 + 0.08 * unit(fnv(&[&name, "skew"]));
        Self { name, node, skew }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one pod's run, window and inputs"
    )]
    fn series(
        &self,
        h: &HistorySource,
        spec: &DeploymentSpec,
        wanted: &dyn Fn(&str, &str) -> bool,
        cores: &[f64],
        (start, end): (i64, i64),
        (from_m, to_m): (i64, i64),
        out: &mut Vec<Series>,
    ) {
        let key_ns = spec.namespace;
        let container = spec.name;
        let lo = start.max(from_m);
        let hi = end.min(to_m);
        if lo > hi {
            return;
        }
        let at = |m: i64| cores[(m - h.first_minute) as usize] * self.skew;
        let cadvisor = |name: &str, c: &str| {
            let mut l = labels(&[
                ("__name__", name),
                ("container", c),
                ("endpoint", "https-metrics"),
                ("instance", &format!("{}:10250", self.node)),
                ("job", "kubelet"),
                ("metrics_path", "/metrics/cadvisor"),
                ("namespace", key_ns),
                ("node", &self.node),
                ("pod", &self.name),
                ("service", "kubelet"),
            ]);
            if name == CPU {
                l.insert("cpu".into(), "total".into());
            }
            l
        };
        if wanted(CPU, container) {
            // The counter counts from the pod's start; seconds of CPU.
            let mut total = 0.0;
            let mut app = Vec::with_capacity((hi - lo + 1) as usize);
            for m in start..=hi {
                if m > start {
                    total += at(m) * 60.0;
                }
                if m >= lo {
                    app.push((m * MINUTE_MS, total));
                }
            }
            out.push(Series {
                labels: cadvisor(CPU, container),
                samples: app,
            });
        }
        if wanted(CPU, "POD") {
            let pause = (lo..=hi)
                .map(|m| (m * MINUTE_MS, (m - start) as f64 * 60.0 * PAUSE_CORES))
                .collect();
            out.push(Series {
                labels: cadvisor(CPU, "POD"),
                samples: pause,
            });
        }
        if wanted(MEM, container) {
            let app = (lo..=hi)
                .map(|m| {
                    let mib = spec.mem_base_mib + spec.mem_per_core_mib * at(m);
                    (m * MINUTE_MS, (mib * MIB).round())
                })
                .collect();
            out.push(Series {
                labels: cadvisor(MEM, container),
                samples: app,
            });
        }
        if wanted(MEM, "POD") {
            let pause = (lo..=hi)
                .map(|m| (m * MINUTE_MS, PAUSE_BYTES.round()))
                .collect();
            out.push(Series {
                labels: cadvisor(MEM, "POD"),
                samples: pause,
            });
        }
        if wanted(REQUESTS, container) {
            for (resource, unit, value) in [
                ("cpu", "core", f64::from(spec.cpu_request_millis) / 1000.0),
                ("memory", "byte", f64::from(spec.mem_request_mib) * MIB),
            ] {
                out.push(Series {
                    labels: labels(&[
                        ("__name__", REQUESTS),
                        ("container", container),
                        ("instance", KSM_INSTANCE),
                        ("job", "kube-state-metrics"),
                        ("namespace", key_ns),
                        ("node", &self.node),
                        ("pod", &self.name),
                        ("resource", resource),
                        ("unit", unit),
                    ]),
                    samples: (lo..=hi).map(|m| (m * MINUTE_MS, value)).collect(),
                });
            }
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A hash as a number in [-1, 1].
fn unit(h: u64) -> f64 {
    (h % 2_000_001) as f64 / 1_000_000.0 - 1.0
}

/// A trace and its p99, loaded once per process.
fn trace(name: &str) -> Arc<(Trace, f64)> {
    type Traces = HashMap<String, Arc<(Trace, f64)>>;
    static TRACES: OnceLock<Mutex<Traces>> = OnceLock::new();
    let mut cache = TRACES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            let t = embedded::load(name).unwrap_or_else(|| Trace {
                name: name.to_string(),
                start: 0,
                step_seconds: 60,
                values: vec![1.0],
            });
            let p99 = t.quantile(0.99);
            Arc::new((t, p99))
        })
        .clone()
}

/// Series as OpenMetrics text with timestamps (what `promtool tsdb create-blocks-from
/// openmetrics` reads), for cross-checking against a real Prometheus.
pub fn openmetrics(series: &[Series]) -> String {
    use std::fmt::Write as _;
    let mut by_family: std::collections::BTreeMap<&str, Vec<&Series>> = Default::default();
    for s in series {
        let name = s.labels.get("__name__").map_or("", String::as_str);
        by_family.entry(name).or_default().push(s);
    }
    let mut out = String::new();
    for (family, list) in by_family {
        // Typed as gauges: OpenMetrics would name a counter family without its `_total`, and
        // neither promtool nor `rate` looks at the type.
        let _ = writeln!(out, "# TYPE {family} gauge");
        for s in list {
            let labels: Vec<String> = s
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            for (t, v) in &s.samples {
                let _ = writeln!(
                    out,
                    "{family}{{{}}} {v} {}.{:03}",
                    labels.join(","),
                    t.div_euclid(1000),
                    t.rem_euclid(1000)
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}
