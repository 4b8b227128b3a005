//! The demo cluster's deployments: what each one serves, how its demand moves and how it is
//! scaled. Shapes are mixed on purpose (daily cycles, bursts, flat, growing; with and without
//! an HPA; one pinned at its max) so every kind of recommendation shows up.

use crate::traces::Trace;

/// How one deployment's demand (in CPU cores) moves over time.
#[derive(Clone, Debug)]
pub struct DemandSpec {
    /// Embedded trace driving the shape (see `assets/traces/README.md`).
    pub trace: &'static str,
    /// Demand, in cores, at the trace's 99th percentile.
    pub p99_cores: f64,
    /// Shift into the trace so deployments on the same trace do not move in lockstep, hours.
    pub phase_hours: f64,
    /// Growth of demand per day (0.05 = +5 %/day), compounding from the simulation's start.
    pub growth_per_day: f64,
    /// Relative noise per minute (0.05 = ±5 %).
    pub noise: f64,
}

#[derive(Clone, Debug)]
pub struct HpaSpecSim {
    pub target_cpu_pct: Option<u32>,
    pub target_mem_pct: Option<u32>,
}

/// One deployment of the demo cluster.
#[derive(Clone, Debug)]
pub struct DeploymentSpec {
    pub namespace: &'static str,
    pub name: &'static str,
    pub cpu_request_millis: u32,
    pub mem_request_mib: u32,
    /// Memory a pod uses at idle, MiB.
    pub mem_base_mib: f64,
    /// Extra memory per core of load, MiB.
    pub mem_per_core_mib: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Replicas at the start of the warm-up (the HPA, if any, takes over from there).
    pub initial_replicas: u32,
    pub hpa: Option<HpaSpecSim>,
    /// Seconds from pod creation to Ready (each pod jitters ±25 %).
    pub startup_seconds: u32,
    pub demand: DemandSpec,
    /// Starts with the seed's predictive-autoscaling annotation (the autopilot acts on it).
    pub predictive: bool,
}

const fn hpa(cpu: u32) -> Option<HpaSpecSim> {
    Some(HpaSpecSim {
        target_cpu_pct: Some(cpu),
        target_mem_pct: None,
    })
}

#[allow(clippy::too_many_arguments)]
const fn dep(
    namespace: &'static str,
    name: &'static str,
    cpu_request_millis: u32,
    mem_request_mib: u32,
    (min_replicas, max_replicas, initial_replicas): (u32, u32, u32),
    hpa: Option<HpaSpecSim>,
    startup_seconds: u32,
    demand: DemandSpec,
) -> DeploymentSpec {
    DeploymentSpec {
        namespace,
        name,
        cpu_request_millis,
        mem_request_mib,
        mem_base_mib: mem_request_mib as f64 * 0.35,
        mem_per_core_mib: mem_request_mib as f64 * 0.4,
        min_replicas,
        max_replicas,
        initial_replicas,
        hpa,
        startup_seconds,
        demand,
        predictive: false,
    }
}

const fn demand(
    trace: &'static str,
    p99_cores: f64,
    phase_hours: f64,
    growth_per_day: f64,
    noise: f64,
) -> DemandSpec {
    DemandSpec {
        trace,
        p99_cores,
        phase_hours,
        growth_per_day,
        noise,
    }
}

/// The demo cluster: 14 deployments in 4 namespaces.
pub fn demo() -> Vec<DeploymentSpec> {
    let mut specs = vec![
        // Daily cycle, HPA on CPU.
        dep(
            "shop",
            "frontend",
            250,
            256,
            (2, 20, 4),
            hpa(70),
            30,
            demand("crane_input9_1m", 3.2, 0.0, 0.0, 0.04),
        ),
        dep(
            "shop",
            "checkout",
            500,
            512,
            (2, 12, 3),
            hpa(60),
            45,
            demand("crane_input0_1m", 3.0, 5.0, 0.0, 0.05),
        ),
        // Noisy web traffic with a weekly rhythm.
        dep(
            "shop",
            "catalog",
            200,
            384,
            (2, 16, 3),
            hpa(70),
            25,
            demand("nasa_http_requests_1m", 2.2, 0.0, 0.0, 0.03),
        ),
        // Bursty and too small a max: pinned at its maximum.
        dep(
            "shop",
            "search",
            500,
            1024,
            (2, 6, 4),
            hpa(65),
            60,
            demand("crane_input11_1m", 5.5, 2.0, 0.0, 0.05),
        ),
        // CPU and memory targets.
        dep(
            "payments",
            "api",
            300,
            512,
            (3, 15, 3),
            Some(HpaSpecSim {
                target_cpu_pct: Some(70),
                target_mem_pct: Some(80),
            }),
            40,
            demand(
                "nab_cpu_utilization_asg_misconfiguration_5m",
                2.4,
                0.0,
                0.0,
                0.04,
            ),
        ),
        // No HPA, bounds from annotations.
        dep(
            "payments",
            "ledger",
            1000,
            2048,
            (2, 6, 3),
            None,
            90,
            demand("nab_rds_cpu_utilization_cc0c53_5m", 1.8, 0.0, 0.0, 0.03),
        ),
        // Bursts.
        dep(
            "payments",
            "fraud-scorer",
            400,
            768,
            (2, 24, 3),
            hpa(60),
            50,
            demand("nab_twitter_volume_AMZN_5m", 4.0, 0.0, 0.0, 0.06),
        ),
        dep(
            "platform",
            "ingress-gateway",
            200,
            128,
            (3, 30, 4),
            hpa(75),
            20,
            demand("crane_input9_1m", 3.5, 7.0, 0.0, 0.03),
        ),
        // Flat and over-provisioned without an HPA.
        dep(
            "platform",
            "auth",
            250,
            256,
            (2, 8, 6),
            None,
            30,
            demand("azure2019_vm_cpu_total_5m", 0.45, 0.0, 0.0, 0.02),
        ),
        // Growing without an HPA.
        dep(
            "platform",
            "metrics-collector",
            500,
            1024,
            (1, 10, 2),
            None,
            40,
            demand("crane_input0_1m", 0.6, 11.0, 0.12, 0.03),
        ),
        dep(
            "data",
            "etl-worker",
            1000,
            2048,
            (1, 8, 2),
            hpa(80),
            60,
            demand("nab_rds_cpu_utilization_cc0c53_5m", 4.0, 30.0, 0.0, 0.05),
        ),
        // Flat and tiny: a scale-down candidate.
        dep(
            "data",
            "report-builder",
            500,
            512,
            (1, 10, 6),
            None,
            45,
            demand("azure2019_vm_cpu_total_5m", 0.35, 100.0, 0.0, 0.02),
        ),
        // Growing with a daily cycle, HPA.
        dep(
            "data",
            "stream-ingest",
            300,
            512,
            (2, 12, 2),
            hpa(70),
            35,
            demand("crane_input11_1m", 1.2, 9.0, 0.06, 0.04),
        ),
        // Memory-heavy cache without an HPA.
        dep(
            "data",
            "feature-cache",
            200,
            4096,
            (2, 6, 3),
            None,
            120,
            demand("crane_input9_1m", 0.5, 3.0, 0.0, 0.02),
        ),
    ];
    // A few deployments opt in to predictive autoscaling, so `autopilot --demo` has work.
    for d in &mut specs {
        d.predictive = matches!(
            d.name,
            "frontend" | "ledger" | "report-builder" | "metrics-collector"
        );
    }
    specs
}

/// `sim serve --owners`: demo deployments owned in part by other controllers, as on real
/// clusters. shop/frontend's HPA is made by a KEDA ScaledObject with the demo's bounds (2, 20),
/// so its numbers stay the demo's; payments/api has a VPA in Auto mode on CPU and memory;
/// shop/checkout is tracked by Argo CD.
pub fn demo_owners() -> Vec<(crate::model::DeploymentKey, crate::model::Ownership)> {
    use crate::model::ownership::{GitOps, GitOpsTool, ScaledObjectRef, VpaMode, VpaRef};
    use crate::model::{DeploymentKey, Ownership};
    vec![
        (
            DeploymentKey::new("shop", "frontend"),
            Ownership {
                keda: Some(ScaledObjectRef {
                    name: "frontend".into(),
                    min_replica_count: 2,
                    max_replica_count: 20,
                }),
                ..Ownership::default()
            },
        ),
        (
            DeploymentKey::new("payments", "api"),
            Ownership {
                vpa: Some(VpaRef {
                    name: "api".into(),
                    mode: VpaMode::Auto,
                    resources: vec!["cpu".into(), "memory".into()],
                }),
                ..Ownership::default()
            },
        ),
        (
            DeploymentKey::new("shop", "checkout"),
            Ownership {
                gitops: Some(GitOps {
                    tool: GitOpsTool::ArgoCd,
                    detail: "application shop-checkout".into(),
                }),
                ..Ownership::default()
            },
        ),
    ]
}

/// `count` deployments for benchmarks and stress tests: the fleet (`fleet`), shared by
/// `sim serve --deployments N` and `ai4k8s --demo --deployments N`.
pub fn synthetic(count: usize) -> Vec<DeploymentSpec> {
    fleet(count)
}

/// Namespaces of the fleet; deployment `i` lives in `i % FLEET_NAMESPACES`.
const FLEET_NAMESPACES: usize = 25;

/// FNV-1a of a number: a stable per-deployment draw (no RNG state, the same on every run).
fn draw(i: usize, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in (i as u64).to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A fleet of `count` deployments driven by the shared traces: the demo's shapes in turn, each
/// with its own phase (0–24 h), size (0.5–2× demand and bounds), growth and HPA (CPU targets
/// 50–85 %, some on memory, some without an HPA), all a function of its index.
pub fn fleet(count: usize) -> Vec<DeploymentSpec> {
    let base = demo();
    let namespaces: Vec<&'static str> = (0..FLEET_NAMESPACES.min(count.max(1)))
        .map(|n| &*Box::leak(format!("team-{n:02}").into_boxed_str()))
        .collect();
    (0..count)
        .map(|i| {
            let mut d = base[i % base.len()].clone();
            d.namespace = namespaces[i % namespaces.len()];
            // Leaked once per process for 'static names; the fleet is built once.
            d.name = Box::leak(format!("{}-{i:05}", d.name).into_boxed_str());
            d.predictive = false;
            let phase = draw(i, 1) % 1440;
            d.demand.phase_hours += phase as f64 / 60.0;
            let scale = 0.5 + (draw(i, 2) % 151) as f64 / 100.0;
            d.demand.p99_cores *= scale;
            d.demand.growth_per_day = match draw(i, 3) % 10 {
                0 => 0.03,
                1 => -0.01,
                _ => d.demand.growth_per_day,
            };
            d.max_replicas =
                ((f64::from(d.max_replicas) * scale).ceil() as u32).max(d.min_replicas + 1);
            d.initial_replicas = d.initial_replicas.clamp(d.min_replicas, d.max_replicas);
            const TARGETS: [u32; 7] = [50, 60, 65, 70, 75, 80, 85];
            d.hpa = match draw(i, 4) % 10 {
                0 | 1 => None,
                2 => Some(HpaSpecSim {
                    target_cpu_pct: None,
                    target_mem_pct: Some(75),
                }),
                k => Some(HpaSpecSim {
                    target_cpu_pct: Some(TARGETS[(k as usize + i) % TARGETS.len()]),
                    target_mem_pct: None,
                }),
            };
            d
        })
        .collect()
}

/// Demand in cores at cluster time `t` (seconds since the simulation's epoch), before noise.
pub fn base_demand(spec: &DemandSpec, trace: &Trace, p99: f64, t: i64) -> f64 {
    let shifted = trace.start + t + (spec.phase_hours * 3600.0) as i64;
    let v = trace.value_at_wrapping(shifted).max(0.0);
    let growth = (1.0 + spec.growth_per_day).powf(t as f64 / 86_400.0);
    if p99 <= 0.0 {
        return 0.0;
    }
    spec.p99_cores * v / p99 * growth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::embedded;

    #[test]
    fn demo_meets_the_mix_the_issue_asks_for() {
        let d = demo();
        assert!(d.len() >= 12);
        let mut ns: Vec<_> = d.iter().map(|x| x.namespace).collect();
        ns.dedup();
        assert!(ns.len() >= 3);
        assert!(d.iter().any(|x| x.hpa.is_some()) && d.iter().any(|x| x.hpa.is_none()));
        assert!(d.iter().any(|x| x.demand.growth_per_day > 0.0));
        for x in &d {
            assert!(
                embedded::load(x.demand.trace).is_some(),
                "{}",
                x.demand.trace
            );
            assert!(x.min_replicas <= x.initial_replicas && x.initial_replicas <= x.max_replicas);
        }
    }

    #[test]
    fn demand_follows_the_trace_scaled_to_its_p99_and_grows() {
        let trace = embedded::load("crane_input9_1m").expect("trace");
        let p99 = trace.quantile(0.99);
        let spec = demand("crane_input9_1m", 2.0, 0.0, 0.1, 0.0);
        let at0 = base_demand(&spec, &trace, p99, 0);
        assert!((at0 - 2.0 * trace.values[0] / p99).abs() < 1e-9);
        let day = base_demand(&spec, &trace, p99, 86_400);
        let raw_day = 2.0 * trace.values[1440] / p99;
        assert!((day - raw_day * 1.1).abs() < 1e-9, "{day} vs {raw_day}");
        assert_eq!(synthetic(30).len(), 30);
    }

    #[test]
    fn the_fleet_is_varied_and_the_same_on_every_build() {
        let a = fleet(500);
        let b = fleet(500);
        assert_eq!(a.len(), 500);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.namespace, x.name), (y.namespace, y.name));
            assert_eq!(x.demand.phase_hours, y.demand.phase_hours);
            assert_eq!(x.max_replicas, y.max_replicas);
            assert!(x.min_replicas <= x.initial_replicas && x.initial_replicas <= x.max_replicas);
            assert!(embedded::load(x.demand.trace).is_some());
        }
        let mut names: Vec<_> = a.iter().map(|d| (d.namespace, d.name)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 500, "unique keys");
        let no_hpa = a.iter().filter(|d| d.hpa.is_none()).count();
        let mem = a
            .iter()
            .filter(|d| d.hpa.as_ref().is_some_and(|h| h.target_mem_pct.is_some()))
            .count();
        let mut targets: Vec<u32> = a
            .iter()
            .filter_map(|d| d.hpa.as_ref()?.target_cpu_pct)
            .collect();
        targets.sort();
        targets.dedup();
        assert!(
            no_hpa > 50 && mem > 20 && targets.len() >= 5,
            "{no_hpa} {mem} {targets:?}"
        );
        // Same shape, different phase and size: copies do not move in lockstep.
        let same_shape: Vec<_> = a.iter().step_by(demo().len()).take(10).collect();
        let mut phases: Vec<i64> = same_shape
            .iter()
            .map(|d| (d.demand.phase_hours * 60.0) as i64)
            .collect();
        phases.sort();
        phases.dedup();
        assert!(phases.len() >= 8, "{phases:?}");
        let mut namespaces: Vec<_> = a.iter().map(|d| d.namespace).collect();
        namespaces.sort();
        namespaces.dedup();
        assert_eq!(namespaces.len(), 25);
    }
}
