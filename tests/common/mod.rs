//! What several test binaries share: the servers they start and the fakes they talk to. Each
//! binary uses only some of it.
#![allow(dead_code)]

pub mod kube;
