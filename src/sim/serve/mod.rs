//! `ai4k8s sim serve`: the simulated cluster behind a Kubernetes API front, over plain HTTP on
//! loopback, in the real REST wire format (discovery, list/get/watch with resourceVersions,
//! the `/scale` subresource, merge/JSON/strategic patches, HPAs v2 and v1, pods, events and
//! metrics.k8s.io), so kubectl and kube-rs can be tested against it.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use ai4k8s::sim::{SimCluster, SimWorld};
//! let sim = SimCluster::new(SimWorld::demo(42, 1));
//! let (addr, server) = ai4k8s::sim::serve::serve(sim.clone(), "127.0.0.1:0".parse().unwrap()).await?;
//! ai4k8s::sim::serve::write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"), addr)?;
//! // ... kubectl --kubeconfig /tmp/kubeconfig get deploy -A ...
//! server.abort();
//! # Ok(()) }
//! ```

mod discovery;
mod faults;
#[cfg(test)]
mod fuzz;
mod host;
mod http;
mod kubeconfig;
mod listen;
mod objects;
mod openapi;
mod patch;
pub mod prometheus;
mod proto;
mod reads;
mod request;
mod router;
mod run;
mod selector;
mod state;
mod status;
mod store;
mod table;
mod validate;
mod versions;
mod watch;
mod writes;

pub use faults::{DROP_WATCHES_AFTER, Fault, FaultResource, FaultStatus, Faults};
pub use kubeconfig::{CONTEXT, kubeconfig_yaml, write_kubeconfig};
pub use listen::{serve, serve_with};
pub use run::{ServeArgs, run};
pub use state::{HEADER_READ_TIMEOUT, Options};
