//! Server-side printing: `meta.k8s.io/v1` Tables with the apiserver's columns, which is what
//! `kubectl get` asks for and prints (it has no printers of its own for built-in kinds).

mod cells;
mod columns;
mod leases;
mod rows;
#[cfg(test)]
mod tests;

pub use rows::{IncludeObject, row, table};
