//! Writes: the requests each one sends, conflicts, refusals, error categories, dry run and
//! read-only.

use super::*;

/// shop/api (2 replicas, no HPA) scaled from 2 to `to`.
fn scale_api(to: u32) -> Change {
    Change::Scale { from: 2, to }
}

/// shop/web (3 replicas, scaled by web-hpa) scaled from 3 to `to`.
fn scale_web(to: u32) -> Change {
    Change::Scale { from: 3, to }
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    c.write(&key("shop/api"), &scale_api(4))
        .await
        .expect("scale");
    let w = writes(&fake, Method::PATCH);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/api/scale"
    );
    assert_eq!(w[0].body, Some(json!({"spec": {"replicas": 4}})));
    assert!(w[0].query.contains("fieldManager=ai4k8s"), "{}", w[0].query);
    eventually("the watch delivered it", || {
        find(&c.cached_snapshot(), "shop/api").desired_replicas == 4
    })
    .await;
}

#[tokio::test]
async fn annotate_sets_and_removes_with_a_merge_patch() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    // No change sets an annotation to "false": the writer's merge patch is checked directly
    // (the changes' own annotations in the next test).
    c.writer(false)
        .expect("writable")
        .annotate(
            &key("shop/api"),
            &[
                (annotations::PREDICTIVE.into(), Some("false".into())),
                (annotations::MAX_REPLICAS.into(), None),
            ],
        )
        .await
        .expect("annotate");
    let w = writes(&fake, Method::PATCH);
    assert_eq!(w[0].path, "/apis/apps/v1/namespaces/shop/deployments/api");
    assert_eq!(
        w[0].body,
        Some(json!({"metadata": {"annotations": {
            annotations::PREDICTIVE: "false", annotations::MAX_REPLICAS: null}}}))
    );
    eventually("applied", || {
        let s = c.cached_snapshot();
        let api = find(&s, "shop/api");
        !api.predictive_enabled && api.max_replicas == 8
    })
    .await;
}

#[tokio::test]
async fn annotation_changes_send_their_keys_in_one_merge_patch_each() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let api = key("shop/api");
    let bounds = Change::BoundsAnnotations {
        from: (Some(2), Some(6)),
        to: (Some(3), None),
    };
    c.write(&api, &bounds).await.expect("bounds");
    let predictive = Change::Predictive {
        from: true,
        to: false,
    };
    c.write(&api, &predictive).await.expect("predictive");
    let mark = crate::model::FloorMark {
        raised: true,
        at: 1_000,
        until: Some(1_600),
    };
    let floor = Change::FloorMark {
        from: None,
        to: Some(mark),
    };
    c.write(&api, &floor).await.expect("floor");
    let bodies: Vec<_> = writes(&fake, Method::PATCH)
        .into_iter()
        .map(|r| (r.path, r.body))
        .collect();
    let path = "/apis/apps/v1/namespaces/shop/deployments/api".to_string();
    assert_eq!(
        bodies,
        vec![
            (
                path.clone(),
                Some(json!({"metadata": {"annotations": {
                    annotations::MIN_REPLICAS: "3", annotations::MAX_REPLICAS: null}}}))
            ),
            (
                path.clone(),
                Some(json!({"metadata": {"annotations": {annotations::PREDICTIVE: null}}}))
            ),
            (
                path,
                Some(json!({"metadata": {"annotations": {
                    annotations::FLOOR: mark.to_annotation()}}}))
            ),
        ]
    );
}

#[tokio::test]
async fn create_hpa_posts_autoscaling_v2_with_utilization_targets() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let spec = HpaSpec {
        min_replicas: 2,
        max_replicas: 6,
        target_cpu_pct: Some(70),
        target_mem_pct: Some(80),
    };
    let create = Change::CreateHpa { spec };
    c.write(&key("shop/api"), &create).await.expect("create");
    let w = writes(&fake, Method::POST);
    assert_eq!(
        w[0].path,
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers"
    );
    let body = w[0].body.clone().unwrap_or_default();
    assert_eq!(
        body["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"})
    );
    assert_eq!(
        body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(body["spec"]["metrics"][1]["resource"]["name"], "memory");
    eventually("the HPA appears", || {
        find(&c.cached_snapshot(), "shop/api").hpa.is_some()
    })
    .await;
    // A second one is refused before asking the server.
    let e = c
        .write(&key("shop/web"), &create)
        .await
        .expect_err("web has one");
    assert!(
        matches!(e, ClusterError::Conflict(ref m) if m.contains("web-hpa")),
        "{e:?}"
    );
}

#[tokio::test]
async fn patch_hpa_sends_the_version_decided_on_and_retries_once_after_a_conflict() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let rv0 =
        fake.lock().objects["horizontalpodautoscalers"][0]["metadata"]["resourceVersion"].clone();
    // Someone else changes the HPA before our patch lands (the store has not seen it).
    set_hpa_spec(&fake, "maxReplicas", 12);
    c.write(&key("shop/web"), &web_min(2, 4))
        .await
        .expect("patched after re-read: minReplicas still 2");
    let w = writes(&fake, Method::PATCH);
    assert_eq!(w.len(), 2, "one conflict, one retry");
    assert_eq!(
        w[0].body
            .as_ref()
            .map(|b| b["metadata"]["resourceVersion"].clone()),
        Some(rv0.clone())
    );
    let rv1 = w[1]
        .body
        .as_ref()
        .map(|b| b["metadata"]["resourceVersion"].clone());
    assert!(
        rv1.is_some() && rv1 != Some(rv0),
        "the retry carries the re-read version"
    );
    assert_eq!(
        w[1].body.as_ref().map(|b| b["spec"].clone()),
        Some(json!({"minReplicas": 4}))
    );
    assert!(
        fake.count(&Method::GET, "/horizontalpodautoscalers/web-hpa", "") >= 1,
        "re-read"
    );
    let hpa = fake.lock().objects["horizontalpodautoscalers"][0].clone();
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone()
        ),
        (json!(4), json!(12)),
        "the other change is kept"
    );
}

/// Someone else changes web-hpa's spec on the server (the store has not seen it yet).
fn set_hpa_spec(fake: &FakeApi, field: &str, value: u32) {
    let mut changed = fake.lock().objects["horizontalpodautoscalers"].clone();
    changed[0]["spec"][field] = json!(value);
    fake.set("horizontalpodautoscalers", changed);
}

/// shop/web's HPA, web-hpa, with minReplicas from `from` to `to`.
fn web_min(from: u32, to: u32) -> Change {
    Change::HpaMin {
        hpa: "web-hpa".into(),
        from,
        to,
    }
}

#[tokio::test]
async fn a_conflict_that_moved_the_planned_field_stops_with_what_changed() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    // Someone raises minReplicas to 3 after the plan was made from 2.
    set_hpa_spec(&fake, "minReplicas", 3);
    let e = c
        .write(&key("shop/web"), &web_min(2, 6))
        .await
        .expect_err("the planned value moved");
    assert_eq!(
        e,
        ClusterError::Conflict("changed: hpa/web-hpa spec.minReplicas 2 → 3".into())
    );
    assert_eq!(writes(&fake, Method::PATCH).len(), 1, "not retried");
    let hpa = fake.lock().objects["horizontalpodautoscalers"][0].clone();
    assert_eq!(hpa["spec"]["minReplicas"], json!(3), "their change stays");
    // The CPU target path re-reads first and stops the same way.
    let e = c
        .write(
            &key("shop/web"),
            &Change::HpaTarget {
                hpa: "web-hpa".into(),
                from: 60,
                to: 80,
            },
        )
        .await
        .expect_err("the target is 70, not 60");
    assert!(
        matches!(&e, ClusterError::Conflict(m) if m.contains("cpu averageUtilization 60 % → 70 %")),
        "{e:?}"
    );
    assert_eq!(writes(&fake, Method::PATCH).len(), 1, "nothing sent");
}

#[tokio::test]
async fn two_hpas_on_one_deployment_are_refused_and_marked() {
    let fake = cluster_fake();
    let mut second = web_hpa();
    second["metadata"]["name"] = json!("web-hpa-2");
    fake.set("horizontalpodautoscalers", vec![web_hpa(), second]);
    let c = synced(&fake).await;
    let snap = c.snapshot().await.expect("snapshot");
    assert_eq!(
        find(&snap, "shop/web").write_block,
        Some(crate::model::WriteBlock::AmbiguousHpa(vec![
            "web-hpa".into(),
            "web-hpa-2".into()
        ]))
    );
    assert_eq!(find(&snap, "shop/api").write_block, None);
    let e = c
        .write(&key("shop/web"), &web_min(2, 4))
        .await
        .expect_err("ambiguous");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("AmbiguousSelector")),
        "{e:?}"
    );
    let e = c
        .write(&key("shop/web"), &scale_web(4))
        .await
        .expect_err("HPA-scaled");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("a /scale would fight it")),
        "{e:?}"
    );
    assert!(writes(&fake, Method::PATCH).is_empty(), "nothing sent");
}

#[tokio::test]
async fn hpas_that_cannot_be_listed_block_every_write() {
    let fake = cluster_fake();
    fake.lock()
        .refuse
        .insert("horizontalpodautoscalers", (403, "Forbidden"));
    let c = synced(&fake).await;
    let snap = c.snapshot().await.expect("deployments still show");
    for d in &snap.deployments {
        assert!(
            matches!(&d.write_block, Some(crate::model::WriteBlock::HpaUnknown(m)) if m.contains("forbidden")),
            "{}: {:?}",
            d.key,
            d.write_block
        );
    }
    // Even asked directly, the writer will not /scale what an unseen HPA may scale.
    let e = c
        .write(&key("shop/web"), &scale_web(4))
        .await
        .expect_err("unknown HPA");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("cannot tell whether an HPA scales")),
        "{e:?}"
    );
    assert!(writes(&fake, Method::PATCH).is_empty(), "nothing sent");
}

#[tokio::test]
async fn patch_hpa_rechecks_bounds_against_the_reread_hpa() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    set_hpa_spec(&fake, "maxReplicas", 3);
    // min 5 was fine against max 10, not against the max 3 someone set meanwhile.
    let e = c
        .write(&key("shop/web"), &web_min(2, 5))
        .await
        .expect_err("invalid now");
    assert!(
        matches!(e, ClusterError::Invalid(ref m) if m.contains("at most maxReplicas 3")),
        "{e:?}"
    );
    assert_eq!(writes(&fake, Method::PATCH).len(), 1, "not sent again");
}

#[tokio::test]
async fn a_second_conflict_is_reported_not_forced() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let conflict = || (409, status(409, "Conflict", "the object has been modified"));
    fake.lock().next_writes.extend([conflict(), conflict()]);
    let bounds = Change::HpaBounds {
        hpa: "web-hpa".into(),
        from: (2, 10),
        to: (2, 8),
    };
    let e = c
        .write(&key("shop/web"), &bounds)
        .await
        .expect_err("conflict");
    assert!(matches!(e, ClusterError::Conflict(_)), "{e:?}");
    assert_eq!(writes(&fake, Method::PATCH).len(), 2);
}

#[tokio::test]
async fn write_errors_map_to_the_ui_categories() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let k = key("shop/api");
    let invalid = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422, "reason": "Invalid",
        "message": "Scale.autoscaling \"api\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "details": {"name": "api", "kind": "Scale", "causes": [{"reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0", "field": "spec.replicas"}]}});
    fake.lock().next_writes.extend([
        (403, status(403, "Forbidden", "deployments.apps \"api\" is forbidden: User \"dev\" cannot patch resource \"deployments/scale\"")),
        (404, status(404, "NotFound", "deployments.apps \"api\" not found")),
        (422, invalid),
        (500, status(500, "InternalError", "etcdserver: leader changed")),
    ]);
    let e = c.write(&k, &scale_api(3)).await.expect_err("403");
    assert!(
        matches!(&e, ClusterError::Forbidden(m) if m.contains("cannot patch resource \"deployments/scale\"")),
        "{e:?}"
    );
    assert!(matches!(
        c.write(&k, &scale_api(3)).await,
        Err(ClusterError::NotFound(_))
    ));
    let e = c.write(&k, &scale_api(3)).await.expect_err("422");
    assert!(
        matches!(&e, ClusterError::Invalid(m) if m.contains("spec.replicas")),
        "{e:?}"
    );
    assert!(
        matches!(c.write(&k, &scale_api(3)).await, Err(ClusterError::Unavailable(m)) if m.contains("500"))
    );
    let e = c
        .write(&key("shop/api"), &web_min(2, 2))
        .await
        .expect_err("api has no HPA");
    assert!(
        matches!(e, ClusterError::NotFound(ref m) if m.contains("no HorizontalPodAutoscaler")),
        "{e:?}"
    );
}

#[tokio::test]
async fn dry_run_asks_the_server_and_changes_nothing() {
    let fake = cluster_fake();
    let c = synced(&fake).await;
    let api = key("shop/api");
    c.dry_run(&api, &scale_api(9)).await.expect("dry run");
    let create = Change::CreateHpa {
        spec: HpaSpec {
            min_replicas: 1,
            max_replicas: 3,
            target_cpu_pct: Some(60),
            target_mem_pct: None,
        },
    };
    c.dry_run(&api, &create).await.expect("dry run create");
    let sent = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != Method::GET)
        .collect::<Vec<_>>();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().all(|r| r.query.contains("dryRun=All")),
        "{sent:?}"
    );
    assert_eq!(
        fake.lock().objects["deployments"][1]["spec"]["replicas"],
        2,
        "unchanged"
    );
    assert_eq!(
        fake.lock().objects["horizontalpodautoscalers"].len(),
        1,
        "none created"
    );
    // The server's refusal comes back as it would for the real write.
    fake.lock()
        .next_writes
        .push_back((403, status(403, "Forbidden", "cannot patch")));
    assert!(matches!(
        c.dry_run(&api, &scale_api(9)).await,
        Err(ClusterError::Forbidden(_))
    ));
}

#[tokio::test]
async fn read_only_refuses_every_write_without_asking_the_server() {
    let fake = cluster_fake();
    let c = KubeCluster::from_client(
        fake.client(),
        "prod",
        KubeOptions {
            read_only: true,
            ..opts()
        },
    );
    c.snapshot().await.expect("reads work");
    let k = key("shop/web");
    assert!(matches!(
        c.write(&k, &scale_web(2)).await,
        Err(ClusterError::ReadOnly(_))
    ));
    assert!(matches!(
        c.write(&k, &web_min(2, 2)).await,
        Err(ClusterError::ReadOnly(_))
    ));
    assert!(matches!(
        c.write(
            &k,
            &Change::Predictive {
                from: false,
                to: true
            }
        )
        .await,
        Err(ClusterError::ReadOnly(_))
    ));
    let spec = HpaSpec {
        min_replicas: 1,
        max_replicas: 2,
        target_cpu_pct: Some(50),
        target_mem_pct: None,
    };
    assert!(matches!(
        c.write(&k, &Change::CreateHpa { spec }).await,
        Err(ClusterError::ReadOnly(_))
    ));
    assert!(fake.requests().iter().all(|r| r.method == Method::GET));
}
