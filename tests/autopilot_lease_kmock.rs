//! The Lease flow of `--leader-elect` on two emulators: `ai4k8s sim serve` and the third-party
//! kmock (PyPI), so the project's own emulator is not the only judge. The same calls (create,
//! get, update, a second candidate, a takeover after the lease duration) must behave the same
//! on both; where kmock is knowingly simpler (it keeps no resourceVersions, so a stale update
//! is not refused), the test says so and holds sim serve to the apiserver's 409.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::time::Duration;

use ai4k8s::autopilot::leader::{Elector, LeaseOptions, Round};
use ai4k8s::cluster::kube::kubeconfig;
use common::kmock::{kmock_installed, kubeconfig as kmock_kubeconfig, start_kmock};
use common::sim_serve::sim_serve;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

const NS: &str = "default";

async fn client(kc: &Path) -> kube::Client {
    kubeconfig::connect(Some(kc), None)
        .await
        .expect("connect")
        .client
}

fn opts(identity: &str, name: &str) -> LeaseOptions {
    LeaseOptions {
        name: name.into(),
        namespace: NS.into(),
        identity: identity.into(),
        duration: Duration::from_secs(2),
        renew_every: Duration::from_millis(500),
        scope: None,
    }
}

fn code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

/// What both emulators must agree on. Returns whether a stale update was refused (409).
async fn lease_flow(client: kube::Client) -> bool {
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("raw".into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("x".into()),
            lease_duration_seconds: Some(5),
            ..LeaseSpec::default()
        }),
    };
    api.create(&PostParams::default(), &lease)
        .await
        .expect("create");
    let again = api
        .create(&PostParams::default(), &lease)
        .await
        .expect_err("a second create");
    assert_eq!(code(&again), 409, "a second create is a conflict");
    let read = api.get("raw").await.expect("get");
    assert_eq!(
        read.spec.as_ref().unwrap().holder_identity.as_deref(),
        Some("x")
    );
    // A merge patch carrying the resourceVersion read, as the elector renews.
    let patch = |holder: &str, rv: Option<String>| {
        Patch::Merge(json!({
            "metadata": {"resourceVersion": rv},
            "spec": {"holderIdentity": holder},
        }))
    };
    let rv = read.metadata.resource_version.clone();
    let written = api
        .patch("raw", &PatchParams::default(), &patch("y", rv.clone()))
        .await
        .expect("a patch at the version read");
    assert_eq!(written.spec.unwrap().holder_identity.as_deref(), Some("y"));
    // The same patch again, at the version read before the last write.
    let refused = match api
        .patch("raw", &PatchParams::default(), &patch("z", rv))
        .await
    {
        Err(e) => {
            assert_eq!(code(&e), 409, "{e}");
            true
        }
        Ok(_) => false,
    };

    // Two candidates: the first takes the free lease, the second follows it until the
    // record has stood unrenewed for its duration, then takes over.
    let mut a = Elector::new(client.clone(), opts("a", "election"));
    let mut b = Elector::new(client.clone(), opts("b", "election"));
    assert!(matches!(a.round().await.expect("a"), Round::Leading(_)));
    assert_eq!(
        b.round().await.expect("b"),
        Round::Following(Some("a".into()))
    );
    assert!(matches!(
        a.round().await.expect("a renews"),
        Round::Leading(_)
    ));
    assert_eq!(
        b.round().await.expect("b"),
        Round::Following(Some("a".into()))
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(
        matches!(b.round().await.expect("b"), Round::Leading(_)),
        "a stopped renewing: b takes over after the lease duration"
    );
    assert_eq!(
        a.round().await.expect("a"),
        Round::Following(Some("b".into())),
        "a sees it lost"
    );
    let l = api.get("election").await.expect("get");
    let spec = l.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_duration_seconds, Some(2));
    assert_eq!(spec.lease_transitions, Some(1), "one handover");
    refused
}

#[tokio::test]
async fn the_lease_flow_is_the_same_on_sim_serve_and_kmock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = sim_serve(dir.path(), None, "1");
    let refused = lease_flow(client(&served.kubeconfig).await).await;
    assert!(
        refused,
        "sim serve refuses a stale resourceVersion, as the apiserver does"
    );

    if !kmock_installed() {
        eprintln!("skipping the kmock half: `pip install kmock` (CI installs it)");
        return;
    }
    let kdir = tempfile::tempdir().expect("tempdir");
    let kmock = start_kmock(kdir.path(), &json!([]), &["coordination.k8s.io/v1/leases"]);
    let refused = lease_flow(client(&kmock_kubeconfig(kdir.path(), kmock.port)).await).await;
    // kmock keeps no resourceVersions; the race between candidates is judged by sim serve.
    assert!(
        !refused,
        "kmock accepted the stale update: if it now refuses it, tighten this"
    );
}
