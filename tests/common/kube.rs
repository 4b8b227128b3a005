//! The kube unit tests' fake API server and fake cluster, for tests that drive the engine and
//! the TUI through the kube path. Both files live beside the unit tests in `src/` and are
//! included here by path, so there is one fake; they name what this module puts in scope.

pub use ai4k8s::cluster::annotations;
pub use ai4k8s::cluster::kube::{KubeCluster, KubeOptions};

#[path = "../../src/cluster/kube/mock.rs"]
pub mod mock;
pub use mock::FakeApi;

#[path = "../../src/cluster/kube/tests/fixtures.rs"]
pub mod fixtures;
