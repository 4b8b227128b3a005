//! `ai4k8s sim serve`: build the world, run its clock, serve it until Ctrl-C.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::faults::{Fault, Faults};
use super::kubeconfig::{CONTEXT, write_kubeconfig};
use super::listen::serve_with;
use super::state::Options;
use crate::sim::{SimCluster, SimWorld, scenario};

/// `ai4k8s sim serve` arguments.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    pub seed: u64,
    pub port: u16,
    pub speed: f64,
    /// None: the demo cluster; Some(n): n synthetic deployments.
    pub deployments: Option<usize>,
    pub history_hours: u32,
    pub kubeconfig: Option<PathBuf>,
    pub read_only: bool,
    pub faults: Vec<Fault>,
    /// Give some demo deployments other owners (`scenario::demo_owners`): a KEDA ScaledObject,
    /// a VPA, Argo CD's labels.
    pub owners: bool,
}

/// Run the server until Ctrl-C, printing where it listens.
#[allow(
    clippy::print_stdout,
    reason = "`sim serve` says where it listens (tests wait for that line)"
)]
pub async fn run(args: ServeArgs) -> io::Result<()> {
    let world = match args.deployments {
        None => SimWorld::demo(args.seed, args.history_hours),
        // A short warm-up: thousands of deployments take long to simulate for a day.
        Some(n) => SimWorld::warmed_up(args.seed, scenario::synthetic(n), 1),
    };
    let mut world = world;
    if args.owners {
        for (key, ownership) in scenario::demo_owners() {
            // Absent from a synthetic cluster: nothing to own.
            let _ = world.set_ownership(&key, ownership);
        }
    }
    let sim = SimCluster::new(world);
    let clock = sim.spawn_clock(args.speed);
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let (addr, server) = serve_with(
        sim,
        addr,
        Options {
            read_only: args.read_only,
            faults: Faults::new(args.faults.iter().copied()),
            ..Options::default()
        },
    )
    .await?;
    // Written, not println!: whoever started the server may stop reading its stdout once
    // it is ready, and a closed pipe must not stop the server.
    use std::io::Write;
    let mut out = io::stdout();
    let _ = writeln!(out, "ai4k8s sim serve: listening on http://{addr}");
    for f in &args.faults {
        let _ = writeln!(out, "ai4k8s sim serve: injecting fault {f}");
    }
    if let Some(path) = &args.kubeconfig {
        write_kubeconfig(path, addr)?;
        let _ = writeln!(
            out,
            "ai4k8s sim serve: wrote kubeconfig {} (context {CONTEXT})",
            path.display()
        );
    }
    let _ = out.flush();
    let stopped = tokio::signal::ctrl_c().await;
    server.abort();
    clock.abort();
    stopped
}
