//! CPU and memory utilization of a deployment the way the HPA computes it: the sum of the usage
//! of the pods that have metrics over the sum of those pods' requests, in percent.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;

use crate::k8s::quantity;

/// What metrics-server reports for one pod, summed over its containers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodUsage {
    pub cpu_millis: f64,
    pub mem_bytes: f64,
    /// The pod's labels (metrics-server copies them), for matching when pods cannot be listed;
    /// empty once they are (`metrics::pod_usage`).
    pub labels: BTreeMap<String, String>,
}

/// A pod's requests summed over its containers; None when a container has none (the HPA then
/// cannot compute utilization either).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRequests {
    pub cpu_millis: Option<f64>,
    pub mem_bytes: Option<f64>,
    /// The first container without a CPU or memory request, for the reason.
    pub missing: Option<String>,
}

/// A container's request of `resource` ("cpu": millicores, else bytes) as the API server
/// defaults it, its limit where the request is unset; None when neither is set or the
/// quantity does not parse.
pub fn container_request(resources: Option<&ResourceRequirements>, resource: &str) -> Option<f64> {
    let r = resources?;
    // The API server defaults a missing request to the limit; templates are not defaulted.
    let q = r
        .requests
        .as_ref()
        .and_then(|m| m.get(resource))
        .or_else(|| r.limits.as_ref().and_then(|m| m.get(resource)))?;
    match resource {
        "cpu" => quantity::cpu_millis(&q.0).ok(),
        _ => quantity::bytes(&q.0).ok(),
    }
}

/// Requests summed over (name, CPU, memory) of each container.
pub fn summed<'a>(
    containers: impl ExactSizeIterator<Item = (&'a str, Option<f64>, Option<f64>)>,
) -> PodRequests {
    if containers.len() == 0 {
        return PodRequests::default();
    }
    let mut out = PodRequests {
        cpu_millis: Some(0.0),
        mem_bytes: Some(0.0),
        missing: None,
    };
    for (name, cpu, memory) in containers {
        match cpu {
            Some(v) => out.cpu_millis = out.cpu_millis.map(|s| s + v),
            None => {
                out.cpu_millis = None;
                out.missing
                    .get_or_insert_with(|| format!("container {name} has no cpu request"));
            }
        }
        match memory {
            Some(v) => out.mem_bytes = out.mem_bytes.map(|s| s + v),
            None => {
                out.mem_bytes = None;
                out.missing
                    .get_or_insert_with(|| format!("container {name} has no memory request"));
            }
        }
    }
    out
}

/// A deployment's utilization, with the reason when a value is unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Utilization {
    pub cpu_pct: Option<f64>,
    pub mem_pct: Option<f64>,
    pub pods_with_metrics: u32,
    pub reason: Option<String>,
}

/// Aggregate over (requests, usage) of the deployment's running pods.
pub fn aggregate<'a>(
    pods: impl IntoIterator<Item = (&'a PodRequests, Option<&'a PodUsage>)>,
) -> Utilization {
    let (mut cpu_use, mut cpu_req, mut mem_use, mut mem_req) = (0.0, 0.0, 0.0, 0.0);
    let (mut cpu_ok, mut mem_ok) = (true, true);
    let mut n = 0u32;
    let mut missing = None;
    for (req, usage) in pods {
        let Some(u) = usage else { continue };
        n += 1;
        match req.cpu_millis {
            Some(r) => {
                cpu_use += u.cpu_millis;
                cpu_req += r;
            }
            None => cpu_ok = false,
        }
        match req.mem_bytes {
            Some(r) => {
                mem_use += u.mem_bytes;
                mem_req += r;
            }
            None => mem_ok = false,
        }
        if missing.is_none() {
            missing.clone_from(&req.missing);
        }
    }
    let pct =
        |ok: bool, used: f64, req: f64| (ok && n > 0 && req > 0.0).then(|| used / req * 100.0);
    let cpu_pct = pct(cpu_ok, cpu_use, cpu_req);
    let mem_pct = pct(mem_ok, mem_use, mem_req);
    let reason = if n == 0 {
        Some("no pod has metrics yet".to_string())
    } else if cpu_pct.is_none() || mem_pct.is_none() {
        Some(missing.unwrap_or_else(|| "pods request no resources".into()))
    } else {
        None
    };
    Utilization {
        cpu_pct,
        mem_pct,
        pods_with_metrics: n,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Containers' requests as a pod template's spec carries them, summed.
    fn requests(containers: serde_json::Value) -> PodRequests {
        let spec: super::super::slim_pod::SlimPodSpec =
            serde_json::from_value(serde_json::json!({ "containers": containers }))
                .unwrap_or_else(|e| panic!("test spec: {e}"));
        spec.requests()
    }

    fn usage(cpu_millis: f64, mem_mib: f64) -> PodUsage {
        PodUsage {
            cpu_millis,
            mem_bytes: mem_mib * 1048576.0,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn requests_sum_containers_and_fall_back_to_limits() {
        let r = requests(serde_json::json!([
            {"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
            {"name": "sidecar", "resources": {"limits": {"cpu": "50m", "memory": "64Mi"}}}
        ]));
        assert_eq!(r.cpu_millis, Some(300.0));
        assert_eq!(r.mem_bytes, Some(320.0 * 1048576.0));
        assert_eq!(r.missing, None);
        let r = requests(serde_json::json!([
            {"name": "app", "resources": {"requests": {"cpu": "1"}}}
        ]));
        assert_eq!(r.cpu_millis, Some(1000.0));
        assert_eq!(r.mem_bytes, None);
        assert_eq!(
            r.missing.as_deref(),
            Some("container app has no memory request")
        );
    }

    #[test]
    fn utilization_is_summed_usage_over_summed_requests_of_pods_with_metrics() {
        // Hand-computed: pods of 300m/400m/500m requests use 150m/400m/250m, and one new pod
        // (request 300m) has no metrics yet and is left out, as the HPA does.
        // CPU = (150 + 400 + 250) / (300 + 400 + 500) = 800 / 1200 = 66.67 %.
        // Memory (requests 256 Mi each) = (128 + 256 + 64) / 768 = 58.33 %.
        let req = |cpu: f64| PodRequests {
            cpu_millis: Some(cpu),
            mem_bytes: Some(256.0 * 1048576.0),
            missing: None,
        };
        let (a, b, c, d) = (req(300.0), req(400.0), req(500.0), req(300.0));
        let (ua, ub, uc) = (usage(150.0, 128.0), usage(400.0, 256.0), usage(250.0, 64.0));
        let u = aggregate([
            (&a, Some(&ua)),
            (&b, Some(&ub)),
            (&c, Some(&uc)),
            (&d, None),
        ]);
        assert_eq!(u.pods_with_metrics, 3);
        assert!((u.cpu_pct.unwrap_or(0.0) - 800.0 / 1200.0 * 100.0).abs() < 1e-9);
        assert!((u.mem_pct.unwrap_or(0.0) - 448.0 / 768.0 * 100.0).abs() < 1e-9);
        assert_eq!(u.reason, None);
        // Not the mean of per-pod percentages (50 %, 100 %, 50 % → 66.67 % here by chance;
        // 10m/100m and 900m/1000m show the difference: 910/1100 = 82.7 %, mean 50 %).
        let (e, f) = (req(100.0), req(1000.0));
        let (ue, uf) = (usage(10.0, 0.0), usage(900.0, 0.0));
        let u = aggregate([(&e, Some(&ue)), (&f, Some(&uf))]);
        assert!((u.cpu_pct.unwrap_or(0.0) - 910.0 / 1100.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_utilization_says_why() {
        let u = aggregate(std::iter::empty());
        assert_eq!(
            (u.cpu_pct, u.reason.as_deref()),
            (None, Some("no pod has metrics yet"))
        );
        let no_cpu = PodRequests {
            cpu_millis: None,
            mem_bytes: Some(1.0),
            missing: Some("container app has no cpu request".into()),
        };
        let x = usage(10.0, 1.0);
        let u = aggregate([(&no_cpu, Some(&x))]);
        assert_eq!(u.cpu_pct, None);
        assert!(u.mem_pct.is_some());
        assert_eq!(
            u.reason.as_deref(),
            Some("container app has no cpu request")
        );
    }
}
