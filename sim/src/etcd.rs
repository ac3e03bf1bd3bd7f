//! A small etcd v3: N members, each a turmoil host running tikv raft-rs, replicate an MVCC
//! key-value store with etcd's revision numbering, transactions, leases and watches.

pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod driver;
pub(crate) mod error;
#[cfg(feature = "grpc")]
pub(crate) mod grpc;
pub(crate) mod lease;
pub(crate) mod member;
pub(crate) mod mvcc;
pub(crate) mod request;
pub(crate) mod state_machine;
pub(crate) mod summary;
pub(crate) mod transport;
pub(crate) mod watch;
