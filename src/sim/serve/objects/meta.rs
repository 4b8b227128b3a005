//! What every rendered object shares: the rendering context, names, uids and labels derived from
//! the seed, timestamps, and the server's memory of condition transitions.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::model::{DeploymentKey, UnixSeconds};
use crate::sim::world::EPOCH;

/// Deployments (and their HPAs) were created this long before the simulation's epoch.
const CREATED_BEFORE_EPOCH: i64 = 30 * 86_400;

/// The annotation the deployment controller keeps on a Deployment and its ReplicaSet.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

pub fn time(t: UnixSeconds) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(t).unwrap_or_default())
}

/// What rendering needs besides the world: the seed (names, uids), the world's now, and the
/// offset from world time to the timestamps shown (wall-clock alignment, or 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub seed: u64,
    pub now: UnixSeconds,
    pub offset: i64,
}

impl Ctx {
    /// A world time as an API timestamp.
    pub fn time(&self, t: UnixSeconds) -> Time {
        time(t + self.offset)
    }

    /// Now, on the timestamps' clock (what ages are measured against).
    pub fn shown_now(&self) -> UnixSeconds {
        self.now + self.offset
    }
}

/// Seconds since the epoch of a Time (for ages).
pub fn unix(t: &Time) -> UnixSeconds {
    t.0.as_second()
}

/// FNV-1a: stable across Rust versions, so names and uids are a function of the seed only.
pub fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A UUID-shaped uid derived from `parts`.
pub fn uid(parts: &[&str]) -> String {
    let a = fnv(parts);
    let b = fnv(&[&a.to_string(), "uid"]);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// The alphabet Kubernetes uses for generated names (no vowels, no look-alikes).
pub(super) const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn encode(mut n: u64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(char::from(ALPHANUMS[(n % ALPHANUMS.len() as u64) as usize]));
        n /= ALPHANUMS.len() as u64;
    }
    s
}

/// Five generated-name characters derived from `parts` (generateName).
pub fn suffix(parts: &[&str]) -> String {
    encode(fnv(parts), 5)
}

/// The pod-template-hash of the deployment's (only) template.
pub fn template_hash(key: &DeploymentKey) -> String {
    encode(fnv(&[&key.namespace, &key.name, "template"]), 10)
}

pub fn replica_set_name(key: &DeploymentKey) -> String {
    format!("{}-{}", key.name, template_hash(key))
}

pub fn pod_name(key: &DeploymentKey, id: u64) -> String {
    let suffix = encode(fnv(&[&key.namespace, &key.name, &id.to_string()]), 5);
    format!("{}-{suffix}", replica_set_name(key))
}

pub(super) fn image(key: &DeploymentKey) -> String {
    format!("registry.ai4k8s.local/{}/{}:1.0.0", key.namespace, key.name)
}

pub(super) fn deployment_created() -> UnixSeconds {
    EPOCH - CREATED_BEFORE_EPOCH
}

pub fn deployment_uid(seed: u64, key: &DeploymentKey) -> String {
    uid(&[&seed.to_string(), "deployment", &key.namespace, &key.name])
}

pub(super) fn replica_set_uid(seed: u64, key: &DeploymentKey) -> String {
    uid(&[&seed.to_string(), "replicaset", &key.namespace, &key.name])
}

pub(super) fn selector_labels(key: &DeploymentKey) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), key.name.clone())])
}

/// `app=frontend`: the label selector string of the deployment (Scale's status.selector).
pub fn selector_string(key: &DeploymentKey) -> String {
    format!("app={}", key.name)
}

pub(super) fn pod_labels(key: &DeploymentKey) -> BTreeMap<String, String> {
    let mut l = selector_labels(key);
    l.insert("pod-template-hash".into(), template_hash(key));
    l
}

/// When each condition last changed status: the server's memory of transitions.
#[derive(Debug, Default)]
pub struct Clocks {
    seen: HashMap<String, (String, UnixSeconds)>,
    touched: HashSet<String>,
}

impl Clocks {
    /// The time `status` was first seen for `key` (now, when it just changed).
    pub(super) fn since(&mut self, key: String, status: &str, now: UnixSeconds) -> UnixSeconds {
        self.touched.insert(key.clone());
        let entry = self
            .seen
            .entry(key)
            .or_insert_with(|| (status.to_string(), now));
        if entry.0 != status {
            *entry = (status.to_string(), now);
        }
        entry.1
    }

    /// Remember `key` at the next sweep without re-rendering its object.
    pub fn keep(&mut self, key: String) {
        self.touched.insert(key);
    }

    /// Forget conditions of objects not rendered since the last sweep.
    pub fn sweep(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        self.seen.retain(|k, _| touched.contains(k));
    }
}
