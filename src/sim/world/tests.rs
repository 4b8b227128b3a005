use super::*;
use crate::cluster::HpaSpec;

fn key(ns: &str, name: &str) -> DeploymentKey {
    DeploymentKey::new(ns, name)
}

#[test]
fn same_seed_same_world_different_seed_different_noise() {
    let a = SimWorld::demo(7, 24);
    let b = SimWorld::demo(7, 24);
    let c = SimWorld::demo(8, 24);
    assert_eq!(a.snapshot(), b.snapshot());
    assert_eq!(a.history(), b.history());
    assert_ne!(a.snapshot(), c.snapshot());
    assert_eq!(a.now(), EPOCH + 24 * 3600);
}

#[test]
fn warm_up_records_a_minute_sample_per_deployment_per_minute() {
    let w = SimWorld::demo(1, 24);
    for (k, h) in w.history() {
        assert_eq!(h.len(), 24 * 60, "{k}");
        assert!(h.windows(2).all(|p| p[1].timestamp - p[0].timestamp == 60));
        let known = h.iter().filter(|s| s.cpu_pct.is_finite()).count();
        assert!(known > 24 * 60 - 5, "{k}: {known} minutes with metrics");
    }
}

#[test]
fn new_pods_become_ready_after_their_startup_delay_and_report_metrics_late() {
    let mut w = SimWorld::new(3, scenario::demo());
    let k = key("payments", "ledger"); // no HPA, 90 s start-up
    w.scale(&k, 5).expect("scale");
    let s = w.snapshot();
    let d = s.deployments.iter().find(|d| d.key == k).expect("ledger");
    assert_eq!(
        (d.desired_replicas, d.ready_replicas, d.total_pods),
        (5, 3, 5)
    );
    w.advance(60);
    let d = w
        .snapshot()
        .deployments
        .into_iter()
        .find(|d| d.key == k)
        .expect("ledger");
    assert_eq!(d.ready_replicas, 3, "start-up takes at least 67 s");
    w.advance(60);
    let d = w
        .snapshot()
        .deployments
        .into_iter()
        .find(|d| d.key == k)
        .expect("ledger");
    assert_eq!(d.ready_replicas, 5, "start-up takes at most 113 s");
}

#[test]
fn the_hpa_scales_a_deployment_with_demand_and_the_pinned_one_sits_at_max() {
    let w = SimWorld::demo(42, 48);
    let h = w.history();
    let frontend = &h
        .iter()
        .find(|(k, _)| k.name == "frontend")
        .expect("frontend")
        .1;
    let (lo, hi) = frontend.iter().fold((u32::MAX, 0), |(lo, hi), s| {
        (lo.min(s.replicas), hi.max(s.replicas))
    });
    assert!(
        hi >= lo + 3,
        "frontend followed its daily cycle: {lo}..{hi}"
    );
    let s = w.snapshot();
    let search = s
        .deployments
        .iter()
        .find(|d| d.key.name == "search")
        .expect("search");
    let hpa = search.hpa.as_ref().expect("search has an HPA");
    assert_eq!(search.desired_replicas, hpa.max_replicas);
    assert!(search.cpu_pct.unwrap_or(0.0) > 65.0, "{:?}", search.cpu_pct);
}

#[test]
fn writes_validate_and_faults_surface() {
    let mut w = SimWorld::new(3, scenario::demo());
    let k = key("shop", "frontend");
    assert!(matches!(
        w.patch_hpa(&k, Some(9), Some(4)),
        Err(ClusterError::Invalid(_))
    ));
    w.patch_hpa(&k, Some(5), None).expect("patch");
    assert_eq!(w.snapshot().deployments[0].min_replicas, 5);
    w.inject_fault(ClusterError::Conflict(
        "the object has been modified".into(),
    ));
    assert!(matches!(w.scale(&k, 3), Err(ClusterError::Conflict(_))));
    assert_eq!(
        w.snapshot().deployments[0].desired_replicas,
        4,
        "nothing half applied"
    );
    assert!(matches!(
        w.scale(&key("x", "y"), 1),
        Err(ClusterError::NotFound(_))
    ));
    let ledger = key("payments", "ledger");
    w.annotate(
        &ledger,
        &[(annotations::PREDICTIVE.into(), Some("true".into()))],
    )
    .expect("annotate");
    let s = w.snapshot();
    assert!(
        s.deployments
            .iter()
            .any(|d| d.key == ledger && d.predictive_enabled)
    );
    assert!(matches!(
        w.create_hpa(
            &k,
            &HpaSpec {
                min_replicas: 1,
                max_replicas: 3,
                target_cpu_pct: Some(70),
                target_mem_pct: None
            }
        ),
        Err(ClusterError::Conflict(_))
    ));
    w.create_hpa(
        &ledger,
        &HpaSpec {
            min_replicas: 2,
            max_replicas: 5,
            target_cpu_pct: Some(70),
            target_mem_pct: None,
        },
    )
    .expect("create");
    assert!(
        w.snapshot()
            .deployments
            .iter()
            .any(|d| d.key == ledger && d.hpa.is_some())
    );
}
