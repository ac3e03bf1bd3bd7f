//! A small etcd v3 running inside a deterministic network simulator.
//!
//! # Layout
//! * `request`: typed etcd v3 requests and responses.
//! * `error`: the one error type, with etcd's messages.
//! * `lease`: `Lessor`, the lease table: grant, keepalive, expiry run by the leader.
//! * `storage`: `MemberStorage`, the Raft log, hard state and snapshot on a member's durable disk.

mod error;
mod lease;
mod request;
mod storage;

pub use error::{Error, Result};
pub use lease::{
    min_lease_ttl, LeaseIdGenerator, Lessor, EXPIRED_LEASE_RETRY_INTERVAL, LEASE_REVOKE_RATE,
    MAX_LEASE_TTL,
};
pub use request::*;
pub use storage::{Disk, MemberStorage};
