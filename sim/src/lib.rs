//! A small etcd v3 running inside a deterministic network simulator.
//!
//! N members, each a turmoil host running tikv raft-rs, replicate an MVCC key-value store with
//! etcd's revision numbering, transactions, leases and watches. Clients reach them over
//! simulated UDP; every operation lands in a [`History`] stamped with simulated time.
//!
//! # Layout
//! * `request`: typed etcd v3 requests and responses (etcdserverpb's shapes).
//! * `error`: the one error type, with etcd's messages.
//! * `mvcc`: `Mvcc`, the multi-version key-value store (revisions, range, txn, compaction).

mod client;
mod cluster;
mod driver;
mod error;
mod mvcc;
mod request;
mod state_machine;
mod storage;
mod transport;
mod watch;

pub use client::{Client, ClientConfig, Watcher};
pub use cluster::{member_name, Cluster, ClusterConfig, SimError};
pub use driver::{Driver, CTL_HOST};
pub use error::{Error, Result};
pub use mvcc::Mvcc;
pub use request::*;
pub use storage::{Disk, MemberStorage};
pub use transport::{ClientRequest, ClientResponse, WatchRequest, WatchResponse};
