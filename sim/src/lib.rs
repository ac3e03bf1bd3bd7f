//! A small etcd v3 running inside a deterministic network simulator.
//!
//! N members, each a turmoil host running tikv raft-rs, replicate an MVCC key-value store with
//! etcd's revision numbering, transactions, leases and watches. Clients reach them over
//! simulated UDP; every operation lands in a [`History`] stamped with simulated time.
//!
//! # Layout
//! * `request`: typed etcd v3 requests and responses (etcdserverpb's shapes).
//! * `error`: the one error type, with etcd's messages.
//! * `mvcc`: `Mvcc`, the revisioned key-value store: range, txn, compaction, watch events.
//! * `lease`: `Lessor`, lease TTLs and expiry, run by the leader.
//! * `state_machine`: what a committed entry does to the store and the lessor.
//! * `storage`: `MemberStorage`, a member's durable Raft disk (survives crashes).
//! * `transport`: datagrams between hosts and their encoding.
//! * `watch`: `WatchHub`, watch polls held until events arrive.
//! * `clock`: `Clock`, a host's own time: process pause and clock skew act on it.
//! * `link_faults`: `LinkFaults`, per-datagram loss and duplication.
//! * `fault`: `FaultPlan` (faults in time, aimed at hosts or roles) and `FaultInjector`.
//! * `page_cache`: written-but-not-fsynced Raft writes (lost on power loss).
//! * `member`: `Member`, one etcd server: the Ready loop.
//! * `cluster`: `Cluster`, members on a turmoil `Sim`, with crash/restart/partition.
//! * `client`: `Client`, the clientv3-like API, recording every call.
//! * `history`: `History`, the run's operations and events; its digest is the determinism check.
//! * `driver`: `Driver`, a synchronous handle for `locksim ctl` and tests.
//! * `check`: linearizability checking (WGL search, per-key partitions) of a `History` or of
//!   histories from elsewhere (Jepsen logs, EDN).
//! * `ap`: the AP contrast — a Redis-like store (primary, async replicas, Sentinel failover)
//!   on the same `Cluster`: `ApStore`, `ApClient` (a public module: its names are Redis's).

pub mod ap;
pub mod check;
mod client;
mod clock;
mod cluster;
mod driver;
mod error;
mod fault;
mod history;
mod lease;
mod link_faults;
mod member;
mod mvcc;
mod page_cache;
mod request;
mod state_machine;
mod storage;
mod transport;
mod watch;

pub use client::{Client, ClientConfig, Watcher};
pub use clock::Clock;
pub use cluster::{member_name, Cluster, ClusterConfig, SimError};
pub use driver::{Driver, CTL_HOST};
pub use error::{Error, Result};
pub use fault::{
    Fault, FaultError, FaultInjector, FaultPlan, NoRoles, RoleResolver, ScheduledFault, Target,
};
pub use history::{sim_now, ClusterEvent, History, OpHandle, Operation, Outcome, Record};
pub use lease::{
    min_lease_ttl, LeaseIdGenerator, Lessor, EXPIRED_LEASE_RETRY_INTERVAL, LEASE_REVOKE_RATE,
    MAX_LEASE_TTL,
};
pub use link_faults::{LinkFaults, LinkRule};
pub use member::{MemberConfig, MemberStatus, ReadMode, Role, StatusBoard, CLUSTER_ID};
pub use mvcc::Mvcc;
pub use request::*;
pub use storage::{Disk, MemberStorage};
pub use transport::{ClientRequest, ClientResponse, WatchRequest, WatchResponse};
