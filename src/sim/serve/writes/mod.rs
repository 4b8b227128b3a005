//! Writes: the Deployment `/scale` subresource (GET is a read), Deployment patch/update
//! (spec.replicas, labels, annotations), and HPA create/patch/update/delete in autoscaling/v2
//! or through the v1 view. Every write checks the resourceVersion precondition (409), validates
//! (422), honours `dryRun=All` and lands in the world under its lock, then the store re-renders
//! the deployment so the response carries the new resourceVersion.

mod decode;
mod deployments;
mod dispatch;
mod events;
mod hpas;
mod leases;
#[cfg(test)]
mod leases_tests;
mod scaledobjects;

pub use dispatch::handle;
