//! Leader election over a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection
//! does it: get the Lease, take it if it is free or its record has not changed for its
//! duration on *our* clock, renew it by a merge patch that carries the resourceVersion read
//! (the apiserver's precondition: a stale one is a 409, the other candidate won), and never
//! trust a remote timestamp. (A patch rather than a PUT: same precondition, and the `patch`
//! verb is all the Role grants.)
//!
//! The write gate ([`Leadership::may_write`]) is what keeps two writers apart: a renewal sent
//! at local instant `t` makes this replica a writer until `t + duration - margin` on the local
//! monotonic clock. Any other candidate first saw that renewal after it was written, so after
//! `t`, and waits a full `duration` from then on its own clock before it takes over: this
//! replica has stopped writing `margin` before, whatever the wall clocks say, and with clock
//! *rates* that differ by less than margin / duration.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::model::ownership::{
    AUTOPILOT_LEASE_LABEL, AUTOPILOT_LEASE_LABEL_VALUE, AUTOPILOT_SCOPE_ANNOTATION,
};

/// What the election needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseOptions {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    /// How long a holder's record stands without renewal (the Lease's leaseDurationSeconds).
    pub duration: Duration,
    /// How often the holder renews, and a candidate retries.
    pub renew_every: Duration,
    /// The one namespace the autopilot watches (None: all), written on the Lease so the TUI
    /// can tell which deployments it manages.
    pub scope: Option<String>,
}

impl LeaseOptions {
    /// How long before its lease could expire for others a leader stops writing: a quarter of
    /// the duration (the clock-rate skew and request latency tolerated).
    pub fn margin(&self) -> Duration {
        self.duration / 4
    }

    /// Renewing must fit well within the time a renewal buys, or the gate flaps.
    pub fn check(&self) -> Result<(), String> {
        if self.duration.as_secs() < 1 {
            return Err("--lease-duration must be at least 1 second".into());
        }
        if self.renew_every.is_zero() || self.renew_every >= self.duration - self.margin() {
            return Err(format!(
                "--renew-every {:?} must be above zero and below 3/4 of --lease-duration {:?}",
                self.renew_every, self.duration
            ));
        }
        if self.identity.is_empty() {
            return Err("--identity must not be empty".into());
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct GateState {
    /// No election: always the writer.
    sole: bool,
    /// Writes are allowed until this local instant (None: not the leader).
    valid_until: Option<Instant>,
    /// The holder last seen on the Lease (None before the first answer).
    holder: Option<String>,
    /// The election has had an answer from the API (leader or not).
    known: bool,
    transitions: u64,
}

/// This replica's standing, shared by the elector (which extends it) and every writer (which
/// checks it before each write).
#[derive(Clone, Debug, Default)]
pub struct Leadership {
    state: Arc<Mutex<GateState>>,
    identity: String,
}

impl Leadership {
    /// Always the leader: the autopilot without `--leader-elect`.
    pub fn sole() -> Self {
        let l = Self::default();
        {
            let mut st = l.lock();
            st.sole = true;
            st.known = true;
        }
        l
    }

    fn new(identity: &str) -> Self {
        Self {
            state: Arc::default(),
            identity: identity.to_string(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this replica may write now (checked on the monotonic clock before each write).
    pub fn may_write(&self) -> bool {
        let st = self.lock();
        st.sole || st.valid_until.is_some_and(|t| Instant::now() < t)
    }

    /// Whether the election has heard from the API at least once.
    pub fn known(&self) -> bool {
        self.lock().known
    }

    /// The holder last seen on the Lease.
    pub fn holder(&self) -> Option<String> {
        self.lock().holder.clone()
    }

    /// Times this replica became the leader.
    pub fn transitions(&self) -> u64 {
        self.lock().transitions
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn lead_until(&self, until: Instant) {
        let mut st = self.lock();
        if st.valid_until.is_none_or(|t| t <= Instant::now()) {
            st.transitions += 1;
        }
        st.valid_until = Some(until);
        st.holder = Some(self.identity.clone());
        st.known = true;
    }

    fn follow(&self, holder: Option<String>) {
        let mut st = self.lock();
        st.valid_until = None;
        st.holder = holder;
        st.known = true;
    }

    /// Stop writing now (shutdown, or a record that says someone else holds the Lease).
    pub fn step_down(&self) {
        let mut st = self.lock();
        st.valid_until = None;
        st.sole = false;
    }
}

/// The Lease record as last observed, and when (on our clock) it was first seen so.
#[derive(Debug, Default)]
struct Observed {
    record: Option<(Option<String>, Option<MicroTime>, Option<i32>)>,
    at: Option<Instant>,
}

/// What one round of the election ended in.
#[derive(Debug, PartialEq, Eq)]
pub enum Round {
    /// We hold the Lease; writes allowed until the instant given.
    Leading(Instant),
    /// Someone else holds it (their identity, if any).
    Following(Option<String>),
}

pub struct Elector {
    api: Api<Lease>,
    opts: LeaseOptions,
    observed: Observed,
    leadership: Leadership,
}

fn holder_of(l: &Lease) -> Option<String> {
    l.spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty())
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl Elector {
    pub fn new(client: Client, opts: LeaseOptions) -> Self {
        let leadership = Leadership::new(&opts.identity);
        Self {
            api: Api::namespaced(client, &opts.namespace),
            opts,
            observed: Observed::default(),
            leadership,
        }
    }

    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.opts.duration.as_secs()).unwrap_or(i32::MAX)
    }

    fn spec(&self, acquire: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.opts.identity.clone()),
            lease_duration_seconds: Some(self.duration_secs()),
            acquire_time: Some(acquire.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: acquire or renew. `sent` is when this round started on our clock; a
    /// successful write makes us the writer until `sent + duration - margin`.
    pub async fn round(&mut self) -> Result<Round, kube::Error> {
        let sent = Instant::now();
        let until = sent + self.opts.duration - self.opts.margin();
        let Some(current) = self.get().await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.opts.name.clone()),
                    namespace: Some(self.opts.namespace.clone()),
                    labels: Some(
                        [(
                            AUTOPILOT_LEASE_LABEL.into(),
                            AUTOPILOT_LEASE_LABEL_VALUE.into(),
                        )]
                        .into(),
                    ),
                    annotations: self
                        .opts
                        .scope
                        .as_ref()
                        .map(|s| [(AUTOPILOT_SCOPE_ANNOTATION.to_string(), s.clone())].into()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Round::Leading(until)),
                // Another candidate created it first.
                Err(e) if is_conflict(&e) => Ok(Round::Following(None)),
                Err(e) => Err(e),
            };
        };
        let spec = current.spec.clone().unwrap_or_default();
        let record = (
            spec.holder_identity.clone(),
            spec.renew_time.clone(),
            spec.lease_duration_seconds,
        );
        if self.observed.record.as_ref() != Some(&record) {
            self.observed = Observed {
                record: Some(record),
                at: Some(Instant::now()),
            };
        }
        let holder = holder_of(&current);
        let ours = holder.as_deref() == Some(self.opts.identity.as_str());
        let their_duration = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        );
        let unchanged_for = self.observed.at.map_or(Duration::ZERO, |t| t.elapsed());
        if holder.is_some() && !ours && unchanged_for < their_duration {
            return Ok(Round::Following(holder));
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let (acquire, transitions) = if ours {
            (spec.acquire_time.clone(), transitions)
        } else {
            (None, transitions.saturating_add(1))
        };
        // The patch carries the resourceVersion read: if anyone wrote since, this is a 409.
        match self
            .patch(
                &current,
                serde_json::to_value(self.spec(acquire, transitions)),
            )
            .await
        {
            Ok(written) => {
                let s = written.spec.unwrap_or_default();
                self.observed = Observed {
                    record: Some((s.holder_identity, s.renew_time, s.lease_duration_seconds)),
                    at: Some(Instant::now()),
                };
                Ok(Round::Leading(until))
            }
            Err(e) if is_conflict(&e) => Ok(Round::Following(holder)),
            Err(e) => Err(e),
        }
    }

    /// Run rounds every `renew_every` until `stop` resolves; then step down and release the
    /// Lease (an empty holder lets a standby take over at once).
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            // A slow round still counts while it can extend the gate (`until` is from its start).
            let patience = self.opts.duration - self.opts.margin();
            match tokio::time::timeout(patience, self.round()).await {
                Ok(Ok(Round::Leading(until))) => {
                    if !self.leadership.may_write() {
                        tracing::info!(
                            "leader election: {} now leads lease {}/{}",
                            self.opts.identity,
                            self.opts.namespace,
                            self.opts.name
                        );
                    }
                    self.leadership.lead_until(until);
                }
                Ok(Ok(Round::Following(holder))) => {
                    if self.leadership.may_write() {
                        tracing::warn!("leader election: lost the lease to {holder:?}");
                    }
                    self.leadership.follow(holder);
                }
                // The gate runs out by itself: nothing to do but try again.
                Ok(Err(e)) => tracing::warn!("leader election: {e}"),
                Err(_) => tracing::warn!("leader election: the API did not answer in time"),
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(self.opts.renew_every) => {}
            }
        }
        // The loop may have stepped down already (it stops writing first); the Lease may
        // still name us.
        let held = self.leadership.holder().as_deref() == Some(self.opts.identity.as_str());
        self.leadership.step_down();
        if held {
            self.release().await;
        }
    }

    /// The Lease, or None if there is none (any 404: emulators word its reason differently).
    async fn get(&self) -> Result<Option<Lease>, kube::Error> {
        match self.api.get(&self.opts.name).await {
            Ok(l) => Ok(Some(l)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A merge patch of the spec at the resourceVersion `read` was read at.
    async fn patch(
        &self,
        read: &Lease,
        spec: Result<serde_json::Value, serde_json::Error>,
    ) -> Result<Lease, kube::Error> {
        let body = serde_json::json!({
            "metadata": {
                "resourceVersion": read.metadata.resource_version,
                // Marks a Lease made before them (or by hand) as the autopilot's too.
                "labels": { (AUTOPILOT_LEASE_LABEL): AUTOPILOT_LEASE_LABEL_VALUE },
                "annotations": { (AUTOPILOT_SCOPE_ANNOTATION): self.opts.scope },
            },
            "spec": spec.map_err(kube::Error::SerdeError)?,
        });
        self.api
            .patch(
                &self.opts.name,
                &PatchParams::default(),
                &Patch::Merge(&body),
            )
            .await
    }

    async fn release(&self) {
        let Ok(Some(current)) = self.get().await else {
            return;
        };
        if holder_of(&current).as_deref() != Some(self.opts.identity.as_str()) {
            return;
        }
        // No holder, a one-second lease: a standby may take it at once.
        let spec = serde_json::json!({
            "holderIdentity": null,
            "leaseDurationSeconds": 1,
            "renewTime": MicroTime(k8s_openapi::jiff::Timestamp::now()),
        });
        if let Err(e) = self.patch(&current, Ok(spec)).await {
            tracing::warn!("leader election: releasing the lease: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(duration: u64, renew_ms: u64) -> LeaseOptions {
        LeaseOptions {
            name: "l".into(),
            namespace: "default".into(),
            identity: "me".into(),
            duration: Duration::from_secs(duration),
            renew_every: Duration::from_millis(renew_ms),
            scope: None,
        }
    }

    #[test]
    fn renewal_must_fit_within_the_margin() {
        assert_eq!(opts(3, 1000).check(), Ok(()));
        assert_eq!(opts(15, 2000).margin(), Duration::from_millis(3750));
        assert!(opts(3, 2500).check().is_err(), "2.5 s > 3 s - 0.75 s");
        assert!(opts(3, 0).check().is_err());
        assert!(opts(0, 100).check().is_err());
        let mut o = opts(3, 1000);
        o.identity.clear();
        assert!(o.check().is_err());
    }

    #[test]
    fn the_gate_closes_when_the_renewal_runs_out() {
        let l = Leadership::new("me");
        assert!(!l.may_write() && !l.known());
        l.lead_until(Instant::now() + Duration::from_millis(150));
        assert!(l.may_write() && l.known());
        assert_eq!(l.holder().as_deref(), Some("me"));
        assert_eq!(l.transitions(), 1);
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !l.may_write(),
            "no renewal: no writes, without anyone saying so"
        );
        l.lead_until(Instant::now() + Duration::from_secs(5));
        assert_eq!(l.transitions(), 2, "it led again after a gap");
        l.follow(Some("other".into()));
        assert!(!l.may_write());
        assert_eq!(l.holder().as_deref(), Some("other"));
        let sole = Leadership::sole();
        assert!(sole.may_write() && sole.known());
        sole.step_down();
        assert!(!sole.may_write(), "shutting down: no more writes");
    }
}
