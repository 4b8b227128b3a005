use serde_json::json;

use super::cells::{hpa_targets, human_duration};
use super::*;
use crate::model::DeploymentKey;
use crate::sim::SimWorld;
use crate::sim::serve::objects::{self, Clocks, HpaMeta};
use crate::sim::serve::store::Kind;

#[test]
fn ages_read_like_kubectl() {
    for (s, want) in [
        (-5, "<invalid>"),
        (-1, "0s"),
        (59, "59s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (10 * 3600, "10h"),
        (3 * 86_400 + 3600, "3d1h"),
        (30 * 86_400, "30d"),
        (3 * 365 * 86_400, "3y"),
    ] {
        assert_eq!(human_duration(s), want, "{s}");
    }
}

#[test]
fn rows_carry_the_columns_kubectl_prints() {
    let mut w = SimWorld::new(2, crate::sim::scenario::demo());
    w.advance(60);
    let key = DeploymentKey::new("shop", "frontend");
    let view = w.deployment_view(&key).expect("frontend");
    let ctx = objects::Ctx {
        seed: 2,
        now: w.now(),
        offset: 0,
    };
    let d = serde_json::to_value(objects::deployment(&view, &ctx, &mut Clocks::default()))
        .expect("json");
    let r = row(Some(Kind::Deployment), &d, w.now(), IncludeObject::Metadata).expect("row");
    assert_eq!(r["cells"][0], "frontend");
    assert_eq!(
        r["cells"][1],
        format!(
            "{}/{}",
            view.pods.iter().filter(|p| p.ready).count(),
            view.replicas
        )
    );
    assert_eq!(r["cells"][4], "30d");
    assert_eq!(r["cells"][7], "app=frontend");
    assert_eq!(r["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(r["object"]["metadata"]["namespace"], "shop");
    let h = objects::hpa(
        &view,
        &HpaMeta::initial(2, &key),
        &ctx,
        &mut Clocks::default(),
    )
    .expect("hpa");
    let targets = hpa_targets(&h);
    assert!(
        targets.starts_with("cpu: ") && targets.ends_with("%/70%"),
        "{targets}"
    );
    let r = row(
        Some(Kind::Hpa),
        &serde_json::to_value(&h).expect("json"),
        w.now(),
        IncludeObject::None,
    )
    .expect("row");
    assert_eq!(r["cells"][1], "Deployment/frontend");
    assert_eq!(r["cells"][3], "2");
    assert_eq!(r["cells"][4], 20);
    assert!(r.get("object").is_none());
    let t = table(
        Some(Kind::Hpa),
        vec![r],
        json!({"resourceVersion": "5"}),
        true,
    );
    assert_eq!(t["columnDefinitions"][2]["name"], "Targets");
}
