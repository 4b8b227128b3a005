//! Parsers of outside input never panic: random edits of real inputs (the shipped traces,
//! the example config, a kubeconfig with real test certificates) yield a value or an error
//! that says where and why. Each property runs 256–512 cases; the edits come from
//! `src/mutate.rs`, shared with the unit tests of the crate-private parsers (LLM replies,
//! Prometheus answers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::OnceLock;

use ai4k8s::config::Config;
use ai4k8s::traces::{self, Gaps, MAX_STEP_SECONDS, MIN_ROWS, MIN_STEP_SECONDS};
use proptest::prelude::*;

#[path = "../src/mutate.rs"]
mod mutate;

const TRACES: &[&str] = &[
    include_str!("../assets/traces/crane_input9_1m.csv"),
    include_str!("../assets/traces/crane_input0_1m.csv"),
    include_str!("../assets/traces/nasa_http_requests_1m.csv"),
    include_str!("../assets/traces/nab_cpu_utilization_asg_misconfiguration_5m.csv"),
    include_str!("../assets/traces/nab_twitter_volume_AMZN_5m.csv"),
    include_str!("../assets/traces/azure2019_vm_cpu_total_5m.csv"),
];

/// The NASA log's 3.5-day hole is at data line 39,695; windows are drawn around it too.
const NASA_GAP_LINE: usize = 39_694;

/// The header and `len` data lines from `off` (the trace's whole text would make each case
/// slow in a debug build; windows reach every part of it over the run).
fn window(text: &str, off: usize, len: usize) -> String {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let data: Vec<&str> = lines.collect();
    let start = off % data.len().saturating_sub(len).max(1);
    let mut out = String::from(header);
    for l in data.iter().skip(start).take(len) {
        out.push('\n');
        out.push_str(l);
    }
    out.push('\n');
    out
}

const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJoekNDQVMyZ0F3SUJBZ0lVUjVDNVVPaitBeTRKeDFYRStXY05DQWJaWVJRd0NnWUlLb1pJemowRUF3SXcKR1RFWE1CVUdBMVVFQXd3T1lXazBhemh6TFhSbGMzUXRZMkV3SGhjTk1qWXhNakF4TVRBME5EUXpXaGNOTXpZeApNVEk0TVRBME5EUXpXakFaTVJjd0ZRWURWUVFEREE1aGFUUnJPSE10ZEdWemRDMWpZVEJaTUJNR0J5cUdTTTQ5CkFnRUdDQ3FHU000OUF3RUhBMElBQkdyY1plc0dpYUdTSnZVNmhqbng0UkszUXVlc1BLdUc3ZWhURkYrRG1ZTTMKV1M4em1kUm5SamhoS0hwaFI4NEc5ZGhBZWtOL3NMQnpMWVB1QUZLRENPQ2pVekJSTUIwR0ExVWREZ1FXQkJSMwp5ZEtzb0JRcWlCSyt3TnNqbUd1amhJMmJzakFmQmdOVkhTTUVHREFXZ0JSM3lkS3NvQlFxaUJLK3dOc2ptR3VqCmhJMmJzakFQQmdOVkhSTUJBZjhFQlRBREFRSC9NQW9HQ0NxR1NNNDlCQU1DQTBnQU1FVUNJUUR3ZmtvZU13YnEKVCtPSFhqUGFuRGhUM3BJZVQ5ZGNTbERyZGRiNk1HaWRKd0lnWkNRWnJIcUd1MCt1Vml4RWRVUEZMVEhPYXlEaAo2dlRDRHV3c1MyYmoyb0E9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
- name: lab
  cluster:
    server: http://127.0.0.1:8001
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context:
    cluster: local
    user: dev
    namespace: shop
- name: lab
  context:
    cluster: lab
    user: token
users:
- name: dev
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJsekNDQVQ2Z0F3SUJBZ0lVQWxjU1ZkZ0dzd2cwaWZhVTRNVUxJTURXN2g4d0NnWUlLb1pJemowRUF3SXcKR1RFWE1CVUdBMVVFQXd3T1lXazBhemh6TFhSbGMzUXRZMkV3SGhjTk1qWXhNakF4TVRBME5UUXlXaGNOTXpZeApNVEk0TVRBME5UUXlXakFPTVF3d0NnWURWUVFEREFOa1pYWXdXVEFUQmdjcWhrak9QUUlCQmdncWhrak9QUU1CCkJ3TkNBQVIrN1VYaWQ0L3g4WldwMkFDYUhzUXAvS1JteGxPZUowenZ4TU9PTm5ML1V2eWZHRWFRVTlGSTZ5Tm8KQmRodWVTbDBkODVZT2FQWFN4aFV4WkdyeUhlN28yOHdiVEFKQmdOVkhSTUVBakFBTUFzR0ExVWREd1FFQXdJSApnREFUQmdOVkhTVUVEREFLQmdnckJnRUZCUWNEQWpBZEJnTlZIUTRFRmdRVXNSVUY0eVAwbndEZFRMcGE2ZVVECktiTDdvRjR3SHdZRFZSMGpCQmd3Rm9BVWQ4blNyS0FVS29nU3ZzRGJJNWhybzRTTm03SXdDZ1lJS29aSXpqMEUKQXdJRFJ3QXdSQUlnSHZWNDVxdmhLQnZvNFRLc3NQbUI1RUJTZThsdTA0M0hrZ1VqU1dCcE95MENJQzJtMS9HZgp4WWkyNDR0OWFQZlZISXo2dVdTVHlxb2tRc3BmemkvcDQvcXMKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ2NlZGJMUEJCeGVSbm56SGoKTUtIenlWbTZGZjJxN2c5aHhMMnV2QXpZRUdlaFJBTkNBQVIrN1VYaWQ0L3g4WldwMkFDYUhzUXAvS1JteGxPZQpKMHp2eE1PT05uTC9VdnlmR0VhUVU5Rkk2eU5vQmRodWVTbDBkODVZT2FQWFN4aFV4WkdyeUhlNwotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==
- name: token
  user:
    token: not-a-real-token
"#;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

#[test]
fn the_seeds_are_valid_inputs() {
    // Otherwise the mutations would mostly test the first error.
    for t in TRACES {
        traces::parse("t.csv", "t", t, Gaps::FillWithLast).expect("trace seed parses");
    }
    let gap = window(TRACES[2], NASA_GAP_LINE - 5, 10);
    assert!(traces::parse("t.csv", "t", &gap, Gaps::Reject).is_err());
    let filled = traces::parse("t.csv", "t", &gap, Gaps::FillWithLast).expect("filled");
    assert!(filled.len() > 4000, "{}", filled.len());
    Config::parse("c.toml", include_str!("../config.example.toml")).expect("config seed");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config");
    std::fs::write(&path, KUBECONFIG).expect("write");
    let (names, current) = ai4k8s::cluster::kube::contexts(Some(&path)).expect("contexts");
    assert_eq!(names, ["dev", "lab"]);
    assert_eq!(current.as_deref(), Some("dev"));
    for ctx in ["dev", "lab"] {
        let c = runtime()
            .block_on(ai4k8s::cluster::kube::kubeconfig::connect(
                Some(&path),
                Some(ctx),
            ))
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(c.context, ctx);
    }
}

fn one_line(s: &str) -> bool {
    !s.is_empty() && !s.contains('\n')
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn csv_traces_parse_or_say_which_line(
        which in 0..TRACES.len(),
        off in any::<usize>(),
        near_gap in any::<bool>(),
        len in 3usize..300,
        edits in mutate::edits(6),
        fill in any::<bool>(),
    ) {
        let text = if near_gap {
            window(TRACES[2], NASA_GAP_LINE - len / 2, len)
        } else {
            window(TRACES[which], off, len)
        };
        let input = mutate::apply_text(&text, &edits);
        let gaps = if fill { Gaps::FillWithLast } else { Gaps::Reject };
        match traces::parse("t.csv", "t", &input, gaps) {
            Ok(t) => {
                prop_assert!(t.len() >= MIN_ROWS);
                prop_assert!(t.len() <= traces::MAX_VALUES.max(input.lines().count()));
                prop_assert!(t.values.iter().all(|v| v.is_finite()));
                let step = i64::from(t.step_seconds);
                prop_assert!((MIN_STEP_SECONDS..=MAX_STEP_SECONDS).contains(&step));
                // Every timestamp of the trace is representable.
                prop_assert!(chrono::DateTime::from_timestamp(t.end(), 0).is_some());
            }
            Err(e) => {
                prop_assert!(one_line(&e.to_string()), "{e}");
                prop_assert!(e.line <= input.lines().count(), "{e}");
                prop_assert!(e.to_string().starts_with("t.csv"), "{e}");
            }
        }
    }

    #[test]
    fn config_toml_parses_or_names_file_and_line(edits in mutate::edits(6)) {
        let seed = include_str!("../config.example.toml");
        let input = mutate::apply_text(seed, &edits);
        match Config::parse("c.toml", &input) {
            Ok(cfg) => {
                // Whatever parsed passed validation: the values that would panic later are out.
                prop_assert!(cfg.ui.tick_ms >= 10);
                prop_assert!(cfg.advisor.refresh_seconds >= 1);
                prop_assert!(cfg.advisor.max_step >= 1);
            }
            Err(e) => {
                prop_assert!(one_line(&e.to_string()), "{e}");
                prop_assert!(e.to_string().starts_with("c.toml"), "{e}");
                prop_assert!(e.line <= input.lines().count() + 1, "{e}");
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn kubeconfigs_connect_or_say_why(edits in mutate::edits(4), context in 0usize..3) {
        let input = mutate::apply(KUBECONFIG.as_bytes(), &edits);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, &input).expect("write");
        match ai4k8s::cluster::kube::contexts(Some(&path)) {
            Ok((names, _)) => prop_assert!(names.len() <= 64),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let ctx = ["dev", "lab", ""][context];
        let ctx = (!ctx.is_empty()).then_some(ctx);
        // Builds a client (TLS, certificates, auth) but sends nothing.
        match runtime().block_on(ai4k8s::cluster::kube::kubeconfig::connect(Some(&path), ctx)) {
            Ok(c) => prop_assert!(!c.context.is_empty()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
