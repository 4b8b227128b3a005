//! Property tests of request handling, driving the router in-process (no sockets, so a few
//! hundred cases take seconds): random methods, paths, query strings (huge numbers for
//! `limit`, `timeoutSeconds`, `resourceVersion`), headers and bodies (JSON, merge, JSON and
//! strategic patches, protobuf bytes) never panic, and every error is a Kubernetes `Status`
//! with a 4xx code. The one 5xx without a fault is the apiserver's own 504 "Too large resource
//! version" (reason Timeout, cause ResourceVersionTooLarge), which clients retry on.

mod harness;
mod properties;
mod strategies;
