//! The server's versioned copy of the world: every object rendered to JSON with a
//! resourceVersion from one cluster-wide counter, bumped only when the object really changed;
//! metadata.generation bumped when its spec changed; and per kind a bounded log of changes plus
//! a broadcast channel that feed watches (the apiserver's watch cache, in small).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

use super::objects::{self, Clocks, Ctx, HpaMeta};
use crate::model::{DeploymentKey, UnixSeconds};
use crate::sim::SimWorld;

/// Changes kept per kind for watches that resume from a resourceVersion (about a minute and a
/// half of HPA status updates for 700 HPAs, like the apiserver's 75 s window).
const LOG_CAPACITY: usize = 4096;
/// Changes a watcher may fall behind before it is dropped (it then re-watches).
pub const BROADCAST_CAPACITY: usize = 4096;
/// Events live an hour, like the apiserver's default --event-ttl.
const EVENT_TTL: i64 = 3600;
/// Namespaces every cluster has, besides the deployments' own.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Node,
    Deployment,
    ReplicaSet,
    Pod,
    Hpa,
    Event,
    /// keda.sh/v1alpha1 ScaledObjects.
    ScaledObject,
    /// autoscaling.k8s.io/v1 VerticalPodAutoscalers.
    Vpa,
    /// coordination.k8s.io/v1 Leases (leader election).
    Lease,
    /// core/v1 Services (the sim's Prometheus behind its service proxy).
    Service,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::Pod,
        Kind::Hpa,
        Kind::Event,
        Kind::ScaledObject,
        Kind::Vpa,
        Kind::Lease,
        Kind::Service,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Kinds whose metadata.generation tracks spec changes.
    fn has_generation(self) -> bool {
        matches!(
            self,
            Kind::Deployment | Kind::ReplicaSet | Kind::Hpa | Kind::ScaledObject | Kind::Vpa
        )
    }

    /// Field selectors the apiserver accepts for the kind, besides metadata.name/namespace.
    pub fn selectable_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
            ],
            Kind::Event => &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
            Kind::Namespace => &["status.phase"],
            Kind::ReplicaSet => &["status.replicas"],
            Kind::Deployment
            | Kind::Hpa
            | Kind::Node
            | Kind::ScaledObject
            | Kind::Vpa
            | Kind::Lease
            | Kind::Service => &[],
        }
    }
}

/// One object version as stored: its JSON (with resourceVersion) and what selectors need.
#[derive(Debug)]
pub struct Obj {
    pub namespace: String,
    pub name: String,
    pub rv: u64,
    pub json: String,
    pub labels: BTreeMap<String, String>,
    /// Field-selector values (see `Kind::selectable_fields`), plus metadata.name/namespace.
    pub fields: Vec<(&'static str, String)>,
    /// The deployment the object belongs to ("" for namespaces and events).
    owner: String,
}

impl Obj {
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "metadata.name" => Some(&self.name),
            "metadata.namespace" => Some(&self.namespace),
            _ => self
                .fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct Change {
    pub etype: EventType,
    pub obj: Arc<Obj>,
    /// The version before (for MODIFIED), so selector watches can see objects leave.
    pub prev: Option<Arc<Obj>>,
}

struct Slot {
    obj: Arc<Obj>,
    /// Fingerprint of the world data the object was rendered from (0: always re-render).
    input: u64,
    body_hash: u64,
    spec_hash: u64,
    generation: i64,
}

struct KindState {
    objects: BTreeMap<(String, String), Slot>,
    log: VecDeque<Arc<Change>>,
    /// Changes up to this resourceVersion are no longer in the log.
    trimmed_upto: u64,
    tx: broadcast::Sender<Arc<Change>>,
}

/// An object rendered from the world, before the store versions it.
pub struct Rendered {
    kind: Kind,
    namespace: String,
    name: String,
    owner: String,
    value: Value,
    input: u64,
    /// Its inputs did not change since it was stored: nothing to render or compare.
    unchanged: bool,
}

impl Rendered {
    pub fn new<T: Serialize>(kind: Kind, object: &T, owner: &str) -> Option<Self> {
        let value = serde_json::to_value(object).ok()?;
        let meta = value.get("metadata")?;
        let text = |k: &str| {
            meta.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Some(Self {
            kind,
            namespace: text("namespace"),
            name: text("name"),
            owner: owner.to_string(),
            value,
            input: 0,
            unchanged: false,
        })
    }

    fn with_input(mut self, input: u64) -> Self {
        self.input = input;
        self
    }

    fn unchanged(kind: Kind, namespace: &str, name: String) -> Self {
        Self {
            kind,
            namespace: namespace.to_string(),
            name,
            owner: String::new(),
            value: Value::Null,
            input: 0,
            unchanged: true,
        }
    }
}

/// Changes a watch starts with, and the receiver of the ones that follow.
pub type WatchStart = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// Why a watch cannot start from the asked resourceVersion.
#[derive(Debug, PartialEq, Eq)]
pub struct TooOld {
    pub oldest: u64,
}

pub struct Store {
    seed: u64,
    /// World time to shown timestamps (see `Ctx`).
    offset: i64,
    rv: u64,
    kinds: Vec<KindState>,
    hpa_meta: HashMap<DeploymentKey, HpaMeta>,
    clocks: Clocks,
    /// The world generation last synced (None before the first sync).
    synced_generation: Option<u64>,
    next_scale_seq: u64,
    /// Events by expiry, oldest first: (expires at, namespace, name).
    event_expiry: VecDeque<(UnixSeconds, String, String)>,
}

pub fn hash(s: &str) -> u64 {
    objects::fnv(&[s])
}

fn field_values(kind: Kind, v: &Value) -> Vec<(&'static str, String)> {
    kind.selectable_fields()
        .iter()
        .filter_map(|f| {
            let mut cur = v;
            for part in f.split('.') {
                cur = cur.get(part)?;
            }
            let s = match cur {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                // source is an object; the apiserver matches on source.component.
                Value::Object(o) => o.get("component")?.as_str()?.to_string(),
                _ => return None,
            };
            Some((*f, s))
        })
        .collect()
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl Store {
    pub fn new(seed: u64, offset: i64) -> Self {
        Self {
            seed,
            offset,
            rv: 0,
            kinds: Kind::ALL
                .iter()
                .map(|_| KindState {
                    objects: BTreeMap::new(),
                    log: VecDeque::new(),
                    trimmed_upto: 0,
                    tx: broadcast::channel(BROADCAST_CAPACITY).0,
                })
                .collect(),
            hpa_meta: HashMap::new(),
            clocks: Clocks::default(),
            synced_generation: None,
            next_scale_seq: 0,
            event_expiry: VecDeque::new(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The rendering context at world time `now`.
    pub fn ctx(&self, now: UnixSeconds) -> Ctx {
        Ctx {
            seed: self.seed,
            now,
            offset: self.offset,
        }
    }

    /// The cluster-wide resourceVersion: that of the latest change.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    pub fn synced_generation(&self) -> Option<u64> {
        self.synced_generation
    }

    fn state(&self, kind: Kind) -> &KindState {
        &self.kinds[kind.index()]
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Obj>> {
        self.state(kind)
            .objects
            .get(&(namespace.to_string(), name.to_string()))
            .map(|s| s.obj.clone())
    }

    /// Objects of `kind` (in `namespace`, or all) in key order, starting after `after`.
    pub fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        after: Option<&(String, String)>,
    ) -> impl Iterator<Item = &Arc<Obj>> {
        let objects = &self.state(kind).objects;
        let range: Box<dyn Iterator<Item = (&(String, String), &Slot)>> = match after {
            Some(a) => Box::new(objects.range::<(String, String), _>((
                std::ops::Bound::Excluded(a.clone()),
                std::ops::Bound::Unbounded,
            ))),
            None => Box::new(objects.iter()),
        };
        let ns = namespace.map(str::to_string);
        range
            .filter(move |((n, _), _)| ns.as_ref().is_none_or(|ns| ns == n))
            .map(|(_, s)| &s.obj)
    }

    /// The HPA named `name` in `namespace`: its deployment and metadata.
    pub fn hpa_by_name(&self, namespace: &str, name: &str) -> Option<(DeploymentKey, HpaMeta)> {
        self.hpa_meta
            .iter()
            .find(|(k, m)| k.namespace == namespace && m.name == name)
            .map(|(k, m)| (k.clone(), m.clone()))
    }

    pub fn hpa_meta(&self, key: &DeploymentKey) -> Option<&HpaMeta> {
        self.hpa_meta.get(key)
    }

    /// Set an HPA's metadata before the world gets (or after it changed) the HPA.
    pub fn set_hpa_meta(&mut self, key: DeploymentKey, meta: HpaMeta) {
        self.hpa_meta.insert(key, meta);
    }

    /// Changes of `kind` after `from` still in the log, and a receiver for the ones to come;
    /// both taken under the store's lock so nothing falls between them.
    pub fn watch_from(&self, kind: Kind, from: u64) -> Result<WatchStart, TooOld> {
        let st = self.state(kind);
        if from < st.trimmed_upto {
            return Err(TooOld {
                oldest: st.trimmed_upto,
            });
        }
        let backlog = st.log.iter().filter(|c| c.obj.rv > from).cloned().collect();
        Ok((backlog, st.tx.subscribe()))
    }

    /// Every object of `kind` as a synthetic ADDED, and a receiver for what follows.
    pub fn watch_all(&self, kind: Kind) -> WatchStart {
        let st = self.state(kind);
        let added = st
            .objects
            .values()
            .map(|s| {
                Arc::new(Change {
                    etype: EventType::Added,
                    obj: s.obj.clone(),
                    prev: None,
                })
            })
            .collect();
        (added, st.tx.subscribe())
    }

    fn emit(&mut self, kind: Kind, change: Change) {
        let change = Arc::new(change);
        let st = &mut self.kinds[kind.index()];
        if st.log.len() == LOG_CAPACITY
            && let Some(old) = st.log.pop_front()
        {
            st.trimmed_upto = old.obj.rv;
        }
        st.log.push_back(change.clone());
        // No receivers is fine: nobody watches this kind right now.
        let _ = st.tx.send(change);
    }

    /// Store `r`, versioning it if it changed. Returns whether it did.
    fn upsert(&mut self, r: Rendered) -> bool {
        if r.unchanged {
            return false;
        }
        let Rendered {
            kind,
            namespace,
            name,
            owner,
            mut value,
            input,
            ..
        } = r;
        let key = (namespace, name);
        let spec_hash = value
            .get("spec")
            .map(|s| hash(&s.to_string()))
            .unwrap_or_default();
        let prev = self.kinds[kind.index()].objects.get(&key);
        let generation = match prev {
            Some(s) if s.spec_hash == spec_hash => s.generation,
            Some(s) => s.generation + 1,
            None => 1,
        };
        if kind.has_generation() {
            value["metadata"]["generation"] = generation.into();
            if let Some(status) = value.get_mut("status").and_then(Value::as_object_mut) {
                status.insert("observedGeneration".into(), generation.into());
            }
        }
        let body_hash = hash(&value.to_string());
        if prev.is_some_and(|p| p.body_hash == body_hash) {
            if let Some(slot) = self.kinds[kind.index()].objects.get_mut(&key) {
                slot.input = input;
            }
            return false;
        }
        let prev = prev.map(|p| p.obj.clone());
        self.rv += 1;
        value["metadata"]["resourceVersion"] = self.rv.to_string().into();
        let obj = Arc::new(Obj {
            labels: labels_of(&value),
            fields: field_values(kind, &value),
            json: value.to_string(),
            namespace: key.0.clone(),
            name: key.1.clone(),
            rv: self.rv,
            owner,
        });
        self.kinds[kind.index()].objects.insert(
            key,
            Slot {
                obj: obj.clone(),
                input,
                body_hash,
                spec_hash,
                generation,
            },
        );
        let etype = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(kind, Change { etype, obj, prev });
        true
    }

    /// Delete an object; the DELETED event carries its last state at a new resourceVersion.
    fn remove(&mut self, kind: Kind, namespace: &str, name: &str) {
        let key = (namespace.to_string(), name.to_string());
        let Some(slot) = self.kinds[kind.index()].objects.remove(&key) else {
            return;
        };
        self.rv += 1;
        let mut value: Value = serde_json::from_str(&slot.obj.json).unwrap_or(Value::Null);
        if value.is_object() {
            value["metadata"]["resourceVersion"] = self.rv.to_string().into();
        }
        let obj = Arc::new(Obj {
            namespace: key.0,
            name: key.1,
            rv: self.rv,
            json: value.to_string(),
            labels: slot.obj.labels.clone(),
            fields: slot.obj.fields.clone(),
            owner: slot.obj.owner.clone(),
        });
        self.emit(
            kind,
            Change {
                etype: EventType::Deleted,
                obj,
                prev: Some(slot.obj),
            },
        );
    }

    /// Store an object clients wrote (a Lease, an Event) as it is, versioned like the rest;
    /// the world never renders these, so syncs leave them alone.
    pub fn put(&mut self, kind: Kind, value: &Value) -> Option<Arc<Obj>> {
        let r = Rendered::new(kind, value, "")?;
        let (ns, name) = (r.namespace.clone(), r.name.clone());
        self.upsert(r);
        self.get(kind, &ns, &name)
    }

    /// Delete an object clients wrote; returns its last state.
    pub fn delete(&mut self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Obj>> {
        let last = self.get(kind, namespace, name)?;
        self.remove(kind, namespace, name);
        Some(last)
    }

    fn same_input(&self, kind: Kind, namespace: &str, name: &str, input: u64) -> bool {
        self.state(kind)
            .objects
            .get(&(namespace.to_string(), name.to_string()))
            .is_some_and(|s| s.input == input)
    }

    /// The deployment's objects as the world has them now.
    fn render_key(&mut self, w: &SimWorld, key: &DeploymentKey, initial: bool) -> Vec<Rendered> {
        let Some(view) = w.deployment_view(key) else {
            return Vec::new();
        };
        let ctx = self.ctx(w.now());
        let (seed, now) = (ctx.seed, ctx.now);
        let owner = key.name.as_str();
        let ns = key.namespace.as_str();
        let mut out = Vec::with_capacity(view.pods.len() + 3);
        // Most objects do not change at a step: fingerprint what they are rendered from and
        // skip rendering (the expensive part) when it is the same. HPAs change every sync.
        let ready = view.pods.iter().filter(|p| p.ready).count();
        let input = hash(&format!(
            "{}|{}|{ready}|{:?}|{:?}",
            view.replicas,
            view.pods.len(),
            view.annotations,
            view.labels
        ));
        if self.same_input(Kind::Deployment, ns, &key.name, input) {
            self.clocks
                .keep(objects::deployment_clock(&objects::deployment_uid(
                    seed, key,
                )));
            out.push(Rendered::unchanged(Kind::Deployment, ns, key.name.clone()));
        } else {
            out.extend(
                Rendered::new(
                    Kind::Deployment,
                    &objects::deployment(&view, &ctx, &mut self.clocks),
                    owner,
                )
                .map(|r| r.with_input(input)),
            );
        }
        let rs_name = objects::replica_set_name(key);
        let input = hash(&format!("{}|{}|{ready}", view.replicas, view.pods.len()));
        if self.same_input(Kind::ReplicaSet, ns, &rs_name, input) {
            out.push(Rendered::unchanged(Kind::ReplicaSet, ns, rs_name));
        } else {
            out.extend(
                Rendered::new(Kind::ReplicaSet, &objects::replica_set(&view, &ctx), owner)
                    .map(|r| r.with_input(input)),
            );
        }
        for p in &view.pods {
            let name = objects::pod_name(key, p.id);
            let input = hash(&format!(
                "{}|{}|{}|{}",
                p.id, p.created, p.ready_at, p.ready
            ));
            if self.same_input(Kind::Pod, ns, &name, input) {
                out.push(Rendered::unchanged(Kind::Pod, ns, name));
            } else {
                out.extend(
                    Rendered::new(Kind::Pod, &objects::pod(&view, p, &ctx), owner)
                        .map(|r| r.with_input(input)),
                );
            }
        }
        if view.hpa.is_some() {
            let meta = self.hpa_meta.entry(key.clone()).or_insert_with(|| {
                if initial {
                    HpaMeta::initial(seed, key)
                } else {
                    HpaMeta::new(seed, key, &key.name, now)
                }
            });
            if let Some(h) = objects::hpa(&view, meta, &ctx, &mut self.clocks) {
                out.extend(Rendered::new(Kind::Hpa, &h, owner));
            }
        } else {
            self.hpa_meta.remove(key);
        }
        // The other owners' custom resources (the scenario's `--owners`).
        if let Some(so) = objects::scaled_object(&view, &ctx) {
            out.extend(Rendered::new(Kind::ScaledObject, &so, owner));
        }
        if let Some(v) = objects::vpa(&view, &ctx) {
            out.extend(Rendered::new(Kind::Vpa, &v, owner));
        }
        out
    }

    /// Bring every object up to date with the world.
    pub fn sync_all(&mut self, w: &SimWorld) {
        let initial = self.synced_generation.is_none();
        let keys = w.deployment_keys();
        let mut seen: HashSet<(Kind, String, String)> = HashSet::new();
        let namespaces: std::collections::BTreeSet<String> = keys
            .iter()
            .map(|k| k.namespace.clone())
            .chain(SYSTEM_NAMESPACES.iter().map(|s| s.to_string()))
            .chain(objects::service_namespaces().map(str::to_string))
            .collect();
        for ns in &namespaces {
            let ctx = self.ctx(w.now());
            if let Some(r) = Rendered::new(Kind::Namespace, &objects::namespace(ns, &ctx), "") {
                seen.insert((Kind::Namespace, String::new(), ns.clone()));
                self.upsert(r);
            }
        }
        for (i, n) in w.nodes().iter().enumerate() {
            let ctx = self.ctx(w.now());
            if let Some(r) = Rendered::new(Kind::Node, &objects::node(n, i, &ctx), "") {
                seen.insert((Kind::Node, String::new(), n.name.clone()));
                self.upsert(r);
            }
        }
        // Static: rendered every sync, versioned once (an unchanged body keeps its version).
        for svc in objects::SERVICES {
            let ctx = self.ctx(w.now());
            if let Some(r) = Rendered::new(Kind::Service, &objects::service(svc, &ctx), "") {
                self.upsert(r);
            }
        }
        for key in &keys {
            for r in self.render_key(w, key, initial) {
                seen.insert((r.kind, r.namespace.clone(), r.name.clone()));
                self.upsert(r);
            }
        }
        for kind in [
            Kind::Namespace,
            Kind::Node,
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::Pod,
            Kind::Hpa,
            Kind::ScaledObject,
            Kind::Vpa,
        ] {
            let gone: Vec<(String, String)> = self
                .state(kind)
                .objects
                .keys()
                .filter(|(ns, n)| !seen.contains(&(kind, ns.clone(), n.clone())))
                .cloned()
                .collect();
            for (ns, n) in gone {
                self.remove(kind, &ns, &n);
            }
        }
        let world_keys: HashSet<&DeploymentKey> = keys.iter().collect();
        self.hpa_meta.retain(|k, _| world_keys.contains(k));
        self.clocks.sweep();
        if initial {
            // Scaling of the last hour, as `kubectl get events` would still show it.
            self.next_scale_seq = w
                .scale_records_since(0)
                .into_iter()
                .find(|r| r.time > w.now() - EVENT_TTL)
                .map_or(w.next_scale_seq(), |r| r.seq);
        }
        self.sync_events(w);
        if initial {
            // Watches can resume from any version handed out from now on, not before.
            for st in &mut self.kinds {
                st.trimmed_upto = self.rv;
                st.log.clear();
            }
        }
        self.synced_generation = Some(w.generation());
    }

    /// Bring one deployment's objects (and new events) up to date after a write.
    pub fn sync_key(&mut self, w: &SimWorld, key: &DeploymentKey) {
        if self.synced_generation.is_none() {
            self.sync_all(w);
            return;
        }
        let rendered = self.render_key(w, key, false);
        let seen: HashSet<(Kind, String)> =
            rendered.iter().map(|r| (r.kind, r.name.clone())).collect();
        for r in rendered {
            self.upsert(r);
        }
        for kind in [
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::Pod,
            Kind::Hpa,
            Kind::ScaledObject,
            Kind::Vpa,
        ] {
            let gone: Vec<String> = self
                .list(kind, Some(&key.namespace), None)
                .filter(|o| o.owner == key.name && !seen.contains(&(kind, o.name.clone())))
                .map(|o| o.name.clone())
                .collect();
            for n in gone {
                self.remove(kind, &key.namespace, &n);
            }
        }
        self.sync_events(w);
    }

    fn sync_events(&mut self, w: &SimWorld) {
        for r in w.scale_records_since(self.next_scale_seq) {
            self.next_scale_seq = r.seq + 1;
            let expires = r.time + EVENT_TTL;
            let ctx = self.ctx(w.now());
            for e in objects::events(&r, &ctx, self.hpa_meta.get(&r.key)) {
                if let Some(rendered) = Rendered::new(Kind::Event, &e, "") {
                    self.event_expiry.push_back((
                        expires,
                        rendered.namespace.clone(),
                        rendered.name.clone(),
                    ));
                    self.upsert(rendered);
                }
            }
        }
        let now = w.now();
        while let Some((expires, _, _)) = self.event_expiry.front() {
            if *expires > now {
                break;
            }
            if let Some((_, ns, name)) = self.event_expiry.pop_front() {
                self.remove(Kind::Event, &ns, &name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;

    fn synced() -> (SimWorld, Store) {
        let w = SimWorld::new(5, scenario::demo());
        let mut s = Store::new(5, 0);
        s.sync_all(&w);
        (w, s)
    }

    #[test]
    fn versions_change_only_with_the_object() {
        let (mut w, mut s) = synced();
        let key = DeploymentKey::new("payments", "ledger");
        let before = s
            .get(Kind::Deployment, "payments", "ledger")
            .expect("ledger");
        let rv = s.rv();
        s.sync_all(&w);
        assert_eq!(s.rv(), rv, "nothing changed, nothing versioned");
        w.scale(&key, 5).expect("scale");
        s.sync_key(&w, &key);
        let after = s
            .get(Kind::Deployment, "payments", "ledger")
            .expect("ledger");
        assert!(after.rv > before.rv);
        let v: Value = serde_json::from_str(&after.json).expect("json");
        assert_eq!(v["spec"]["replicas"], 5);
        assert_eq!(v["metadata"]["resourceVersion"], after.rv.to_string());
        assert_eq!(v["metadata"]["generation"], 2, "spec changed once");
        assert_eq!(v["status"]["observedGeneration"], 2);
        assert_eq!(
            s.list(Kind::Pod, Some("payments"), None)
                .filter(|p| p.name.starts_with("ledger-"))
                .count(),
            5
        );
        // Pods that become ready are re-rendered although most objects are skipped.
        w.advance(150);
        s.sync_all(&w);
        let ready = s
            .list(Kind::Pod, Some("payments"), None)
            .filter(|p| p.name.starts_with("ledger-"))
            .filter(|p| p.json.contains(r#""ready":true"#))
            .count();
        assert_eq!(ready, 5);
        let d: Value = serde_json::from_str(
            &s.get(Kind::Deployment, "payments", "ledger")
                .expect("ledger")
                .json,
        )
        .expect("json");
        assert_eq!(d["status"]["readyReplicas"], 5);
        // The scale shows up as the deployment controller's event.
        let ev: Vec<_> = s.list(Kind::Event, Some("payments"), None).collect();
        assert!(
            ev.iter().any(|e| e.json.contains("Scaled up replica set")),
            "{}",
            ev.len()
        );
    }

    #[test]
    fn watches_resume_from_the_log_and_expire_when_trimmed() {
        let (mut w, mut s) = synced();
        let start = s.rv();
        let key = DeploymentKey::new("payments", "ledger");
        let (backlog, _rx) = s.watch_from(Kind::Deployment, start).expect("fresh");
        assert!(backlog.is_empty());
        w.scale(&key, 4).expect("scale");
        s.sync_key(&w, &key);
        let (backlog, _rx) = s.watch_from(Kind::Deployment, start).expect("kept");
        assert_eq!(backlog.len(), 1);
        assert_eq!(backlog[0].etype, EventType::Modified);
        assert_eq!(
            s.watch_from(Kind::Deployment, start - 1).err(),
            Some(TooOld { oldest: start })
        );
        w.scale(&key, 2).expect("scale down");
        s.sync_key(&w, &key);
        let (backlog, _) = s.watch_from(Kind::Pod, start).expect("pods");
        assert!(backlog.iter().any(|c| c.etype == EventType::Deleted));
        assert!(backlog.iter().any(|c| c.etype == EventType::Added));
    }

    #[test]
    fn labels_and_fields_are_indexed() {
        let (_, s) = synced();
        let p = s.list(Kind::Pod, Some("shop"), None).next().expect("a pod");
        assert!(p.labels.contains_key("app"));
        assert_eq!(p.field("status.phase"), Some("Running"));
        assert!(
            p.field("spec.nodeName")
                .is_some_and(|n| n.starts_with("sim-node-"))
        );
        assert_eq!(p.field("metadata.namespace"), Some("shop"));
        assert!(s.get(Kind::Namespace, "", "kube-system").is_some());
        assert!(s.get(Kind::Hpa, "shop", "frontend").is_some());
        assert!(s.get(Kind::Hpa, "payments", "ledger").is_none());
    }
}
