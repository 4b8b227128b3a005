//! The global flags: where the config and data live, which cluster, and how it may be touched.

use std::path::PathBuf;

use clap::Args;

#[derive(Clone, Debug, Args)]
pub struct Global {
    /// Configuration file (default: $AI4K8S_CONFIG or ~/.config/ai4k8s/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// State, journal, logs and caches (default: $AI4K8S_DATA_DIR or the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kube context (default: the kubeconfig's current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Watch one namespace (default: all namespaces).
    #[arg(long, short = 'n', global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// Disable every write to the cluster.
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Seed of the simulated cluster.
    #[arg(long, global = true, value_name = "N")]
    pub seed: Option<u64>,

    /// Run on the embedded simulated cluster (no cluster, no key needed).
    #[arg(long, global = true)]
    pub demo: bool,

    /// Demo clock speed: cluster seconds per real second.
    #[arg(long, global = true, value_name = "N")]
    pub speed: Option<f64>,

    /// Prometheus to backfill history from (overrides [prometheus] url and discovery).
    #[arg(long, global = true, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// With --demo: a synthetic fleet of N deployments (1 to 100000) instead of the demo's 14.
    #[arg(long = "deployments", value_name = "N", requires = "demo")]
    pub demo_deployments: Option<usize>,
}
