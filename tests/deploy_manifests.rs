//! The manifests in `deploy/`: rendered by kustomize (`kubectl kustomize`, as `kubectl apply
//! -k deploy/` renders them), validated against the Kubernetes schemas by a third-party
//! validator (PyPI `kubernetes-validate --strict`, which refuses unknown fields), and held to
//! what the issue asks of them: least privilege, two replicas with probes, non-root,
//! read-only root filesystem, a PodDisruptionBudget.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

fn rendered() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("kubectl (installed on the dev machines and in CI)");
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The rendered documents as JSON (PyYAML comes with kubernetes-validate).
fn documents(yaml: &str) -> Vec<Value> {
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    py.stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("feed python");
    let out = py.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "PyYAML (pip install kubernetes-validate)"
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn the_manifests_pass_kubernetes_validate_strict() {
    let yaml = rendered();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, &yaml).expect("write");
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&file)
        .output()
        .expect(
            "kubernetes-validate is not installed: `python3 -m pip install kubernetes-validate==1.37.0` \
             (CI's .ci/run does)",
        );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "kubernetes-validate --strict:\n{text}"
    );
    let passed = text.matches(" passed for resource ").count();
    assert_eq!(
        passed,
        documents(&yaml).len(),
        "every resource validated:\n{text}"
    );
}

#[test]
fn the_deployment_runs_two_locked_down_replicas_with_probes_and_a_pdb() {
    let docs = documents(&rendered());
    let d = find(&docs, "Deployment");
    assert_eq!(d.len(), 1);
    let d = d[0];
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["serviceAccountName"], "ai4k8s-autopilot");
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    for k in ["requests", "limits"] {
        assert!(c["resources"][k]["cpu"].is_string(), "{k}");
        assert!(c["resources"][k]["memory"].is_string(), "{k}");
    }
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--leader-elect"), "{args:?}");
    assert!(args.contains(&"--metrics-addr=0.0.0.0:8080"), "{args:?}");
    // The args parse as the binary's own command line.
    let out = Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .args(args.iter().filter(|a| !a.starts_with("--config")))
        .arg("--help")
        .output()
        .expect("ai4k8s");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The key comes from the Secret, the config from the ConfigMap, the data dir is writable.
    let env = c["env"].as_array().unwrap();
    let key = env.iter().find(|e| e["name"] == "GROQ_API_KEY").unwrap();
    assert_eq!(key["valueFrom"]["secretKeyRef"]["name"], "ai4k8s-llm");
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["configMap"]["name"] == "ai4k8s-config")
    );
    assert!(
        volumes
            .iter()
            .any(|v| v["name"] == "data" && v["emptyDir"].is_object())
    );
    let cm = find(&docs, "ConfigMap");
    assert_eq!(cm.len(), 1);
    // The ConfigMap's file is a config the binary accepts (unknown keys are errors).
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        cm[0]["data"]["config.toml"].as_str().expect("config.toml"),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ai4k8s"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--demo", "recommend", "shop/frontend"])
        .env_remove("GROQ_API_KEY")
        .output()
        .expect("ai4k8s");
    assert!(
        out.status.success(),
        "the ConfigMap's config.toml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(find(&docs, "Secret").len(), 1);
    let pdb = find(&docs, "PodDisruptionBudget");
    assert_eq!(pdb.len(), 1);
    assert_eq!(
        pdb[0]["spec"]["selector"]["matchLabels"],
        d["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn rbac_grants_only_what_the_autopilot_uses() {
    let docs = documents(&rendered());
    let role = find(&docs, "ClusterRole");
    assert_eq!(role.len(), 1);
    let mut granted: Vec<(String, String, String)> = Vec::new();
    for rule in role[0]["rules"].as_array().unwrap() {
        for g in rule["apiGroups"].as_array().unwrap() {
            for r in rule["resources"].as_array().unwrap() {
                for v in rule["verbs"].as_array().unwrap() {
                    granted.push((
                        g.as_str().unwrap().into(),
                        r.as_str().unwrap().into(),
                        v.as_str().unwrap().into(),
                    ));
                }
            }
        }
    }
    let has =
        |g: &str, r: &str, v: &str| granted.iter().any(|x| x == &(g.into(), r.into(), v.into()));
    for (g, r) in [
        ("apps", "deployments"),
        ("", "pods"),
        ("autoscaling", "horizontalpodautoscalers"),
    ] {
        for v in ["get", "list", "watch"] {
            assert!(has(g, r, v), "{g}/{r} {v}");
        }
    }
    assert!(has("metrics.k8s.io", "pods", "list"));
    assert!(has("autoscaling", "horizontalpodautoscalers", "patch"));
    assert!(has("apps", "deployments/scale", "patch"));
    assert!(has("", "events", "create"));
    // A KEDA-owned HPA is changed through its ScaledObject (the HPA patch would be undone).
    assert!(has("keda.sh", "scaledobjects", "patch"));
    assert!(has("autoscaling.k8s.io", "verticalpodautoscalers", "list"));
    assert!(
        granted.iter().all(|(g, r, v)| g != "*"
            && r != "*"
            && v != "*"
            && v != "delete"
            && v != "deletecollection"),
        "no wildcards, no deletes: {granted:?}"
    );
    assert!(
        !has("", "secrets", "get"),
        "the key comes by env, not by reading Secrets"
    );
    // Leases only in its own namespace, through a Role.
    assert!(!granted.iter().any(|(g, _, _)| g == "coordination.k8s.io"));
    let lease_role = find(&docs, "Role");
    assert_eq!(lease_role.len(), 1);
    assert_eq!(lease_role[0]["metadata"]["namespace"], "ai4k8s");
    let rules = lease_role[0]["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["resources"][0] == "leases"));
    let binding = find(&docs, "RoleBinding");
    assert_eq!(binding[0]["subjects"][0]["name"], "ai4k8s-autopilot");
    assert_eq!(binding[0]["subjects"][0]["namespace"], "ai4k8s");
}
