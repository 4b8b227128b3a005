//! The command line (DESIGN.md "CLI contract"): the subcommands and the flags of each. The
//! global flags are `global.rs`; a face with many flags keeps them beside it (`BacktestArgs`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use clap_complete::Shell;

use super::autopilot::AutopilotArgs;
use super::backtest::BacktestArgs;
use super::global::Global;
use super::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "ai4k8s",
    version,
    about = "Kubernetes autoscaling advisor: live metrics, 6-hour forecasts, LLM or rules recommendations",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Option<Commands>,

    /// Open the TUI on the fleet screen: every kubeconfig context, one row each (`:fleet`).
    #[arg(long)]
    pub all_contexts: bool,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Print the recommendation for a deployment (or all of them).
    Recommend {
        /// NAMESPACE/NAME
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        deployment: Option<String>,
        /// Every deployment.
        #[arg(long)]
        all: bool,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// The simulated cluster.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Apply recommendations headless for deployments with predictive autoscaling enabled
    /// (the `ai4k8s.io/predictive-autoscaling` annotation); stops on SIGINT/SIGTERM.
    Autopilot(Box<AutopilotArgs>),
    /// Forecast a `timestamp,value` CSV series.
    Forecast {
        #[arg(long, value_name = "FILE.csv")]
        input: PathBuf,
        /// How far ahead: 6h, 90m, 3600s.
        #[arg(long, default_value = "6h")]
        horizon: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Replay a trace through autoscaling policies and score them (HPA vs predictive vs oracle).
    Backtest(Box<BacktestArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// E.g. `ai4k8s completions bash > ~/.local/share/bash-completion/completions/ai4k8s`.
    Completions { shell: Shell },
    /// Probe every kubeconfig context and print one row each: reachability (or why not),
    /// deployments, at max, pending recommendations (rules only), savings, LLM state.
    Fleet {
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the simulated cluster as a Kubernetes API on 127.0.0.1 (for kubectl and kube-rs).
    Serve {
        /// Port on 127.0.0.1; 0 picks a free one (printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Cluster seconds per real second.
        #[arg(long, default_value_t = 1.0, value_name = "N")]
        speed: f64,
        /// Serve N synthetic deployments instead of the demo cluster.
        #[arg(long, value_name = "N")]
        deployments: Option<usize>,
        /// Write a kubeconfig (context ai4k8s-sim) pointing at the server.
        #[arg(long, value_name = "FILE")]
        write_kubeconfig: Option<PathBuf>,
        /// Make one resource fail like a real cluster can; repeatable.
        ///
        /// RESOURCE: deployments, hpas (autoscaling v2 and v1), pods, metrics (metrics.k8s.io),
        /// events, scale (deployments/scale), nodes, scaledobjects, vpas, leases. STATUS: 403 (Forbidden, as RBAC words it), 404
        /// (NotFound), 409 (Conflict), 500 (InternalError), or drop (every watch of the
        /// resource is cut after 3 s; reads and writes work). Errors are Kubernetes Status
        /// objects and apply to get, list, watch and writes of the resource; e.g.
        /// `--fault hpas=403` forbids listing and watching HPAs. `RESOURCE=STATUS@AFTER` starts
        /// the fault AFTER (e.g. 5s, 1500ms) past the server's start: `leases=500@5s`.
        #[arg(long = "fault", value_name = "RESOURCE=STATUS",  value_parser = parse_fault)]
        faults: Vec<crate::sim::serve::Fault>,
        /// Give some demo deployments other owners: shop/frontend's HPA made by a KEDA
        /// ScaledObject, a VPA in Auto mode on payments/api, Argo CD's labels on shop/checkout.
        #[arg(long)]
        owners: bool,
    },
}

fn parse_fault(s: &str) -> Result<crate::sim::serve::Fault, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_contract_parses() {
        Cli::command_is_valid();
        let c =
            Cli::try_parse_from(["ai4k8s", "--demo", "--speed", "60", "--seed", "7"]).expect("tui");
        assert!(c.global.demo && c.command.is_none());
        assert_eq!((c.global.speed, c.global.seed), (Some(60.0), Some(7)));
        let c = Cli::try_parse_from(["ai4k8s", "recommend", "--demo", "shop/web", "-o", "json"])
            .expect("recommend");
        assert!(c.global.demo);
        assert!(matches!(
            c.command,
            Some(Commands::Recommend { deployment: Some(ref d), all: false, output: Output::Json }) if d == "shop/web"
        ));
        assert!(
            Cli::try_parse_from(["ai4k8s", "recommend"]).is_err(),
            "needs NAME or --all"
        );
        let c = Cli::try_parse_from(["ai4k8s", "forecast", "--input", "x.csv", "--horizon", "3h"])
            .expect("forecast");
        assert!(
            matches!(c.command, Some(Commands::Forecast { ref horizon, .. }) if horizon == "3h")
        );
        let c = Cli::try_parse_from([
            "ai4k8s",
            "--seed",
            "3",
            "sim",
            "serve",
            "--port",
            "0",
            "--speed",
            "30",
            "--deployments",
            "1000",
            "--write-kubeconfig",
            "k.yaml",
        ])
        .expect("sim serve");
        assert!(matches!(
            c.command,
            Some(Commands::Sim {
                command: SimCommand::Serve {
                    port: 0,
                    deployments: Some(1000),
                    ..
                }
            })
        ));
        assert_eq!(c.global.seed, Some(3));
        let c = Cli::try_parse_from([
            "ai4k8s",
            "sim",
            "serve",
            "--fault",
            "hpas=403",
            "--fault",
            "pods=drop",
        ])
        .expect("faults");
        let Some(Commands::Sim {
            command: SimCommand::Serve { faults, .. },
        }) = c.command
        else {
            panic!("sim serve");
        };
        let shown: Vec<String> = faults.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["hpas=403", "pods=drop"]);
        let e = Cli::try_parse_from(["ai4k8s", "sim", "serve", "--fault", "hpas=418"])
            .expect_err("bad status");
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("unknown status \"418\": one of 403, 404, 409, 500, drop"),
            "{e}"
        );
    }

    #[test]
    fn the_fleet_faces_parse() {
        let c = Cli::try_parse_from(["ai4k8s", "--all-contexts", "--kubeconfig", "k"])
            .expect("tui on the fleet screen");
        assert!(c.all_contexts && c.command.is_none());
        let c = Cli::try_parse_from(["ai4k8s", "fleet", "-o", "json"]).expect("fleet");
        assert!(!c.all_contexts);
        assert!(matches!(
            c.command,
            Some(Commands::Fleet {
                output: Output::Json
            })
        ));
    }

    impl Cli {
        fn command_is_valid() {
            use clap::CommandFactory;
            Cli::command().debug_assert();
        }
    }
}
