//! A small etcd v3 running inside a deterministic network simulator.
//!
//! # Layout
//! * `request`: typed etcd v3 requests and responses.
//! * `error`: the one error type, with etcd's messages.
//! * `mvcc`: `Mvcc`, the multi-version key-value store (revisions, range, txn, compaction).

mod error;
mod mvcc;
mod request;

pub use error::{Error, Result};
pub use mvcc::Mvcc;
pub use request::*;
