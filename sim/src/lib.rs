//! A deterministic simulated world with stores in it: a small etcd v3 (a real raft-rs cluster)
//! and a Redis-like AP store, plus the linearizability checker that judges their histories.
//!
//! Every host is a turmoil host; clients reach servers over simulated UDP; every operation and
//! world event lands in a [`History`] stamped with simulated time.
//!
//! # Layout
//! * `world/` — what every store shares; nothing in it knows a store (the history holds every
//!   store's operations through `op`, the one seam).
//!   * `sim`: `World`, the turmoil `Sim` with its hosts, clocks, links and the fault verbs
//!     (crash, restart, partition, pause, skew, loss, latency); stores add their hosts to it.
//!   * `clock`: `Clock`, a host's own time: process pause and clock skew act on it.
//!   * `link_faults`: `LinkFaults`, per-datagram loss and duplication, decided at the sender.
//!   * `datagram`: the one codec and receive-buffer size for datagrams between hosts.
//!   * `host_loop`: the one server loop of every host (member, node, sentinel): inbound from
//!     receive tasks, one or two timers on the host's clock, an async hook after every wake.
//!   * `rpc`: `RpcSocket`, the one request/response layer of every store's client: attempts
//!     with deadlines on the host's own clock, the retry rule, the endpoint ring.
//!   * `fault/`: `FaultPlan` (faults in time, aimed at hosts or roles) and its validation
//!     (`plan`), `RoleResolver` (`roles`: each store answers for its own roles), and the
//!     `FaultInjector` (`injector`) — **where a fault reaches a host**: `world/fault/injector.rs`
//!     resolves its targets and calls the `World`'s verb (`world/sim.rs`: crash, partition, …).
//!   * `history`: `History`, the run's operations and events; its digest is the determinism check.
//! * `etcd/` — the small etcd.
//!   * `request`, `error`: etcdserverpb's request/response shapes; etcd's error messages.
//!   * `mvcc/`: `Mvcc`, the revisioned key-value store: range, txn, compaction, watch events.
//!   * `lease`: `Lessor`, lease TTLs and expiry run by the leader — **where a lease expires**:
//!     `etcd/lease.rs` (`Lessor::expired`), revoked through Raft by the leader's lease pass.
//!   * `state_machine`: what a committed entry does to the store and the lessor.
//!   * `watch`: `WatchHub`, watch polls held until events arrive.
//!   * `member/`: `Member`, one etcd server on the host loop: `config` (`MemberConfig`, the
//!     status board), `requests` (client requests: batched proposals, ReadIndex reads,
//!     watches, replies), `ready` (the member's part of the shared Ready loop).
//!   * `cluster`: `EtcdCluster::add_to(&mut World)`, the members with their disks, leader and
//!     status; `Cluster`, a `World` with an etcd cluster in it (the world's verbs by `Deref`).
//!   * `summary`: requests and answers in etcdctl's words (history summaries).
//!   * `transport`, `client`, `driver`: wire types; `Client` (clientv3-like, recording every
//!     call); `Driver`, a synchronous handle for `locksim ctl` and tests.
//! * `raft_core/` — the Raft core every replicated store shares: `RaftCore` (a `RawNode`, seeded
//!   election timeouts, peer sends), the one Ready loop (`on_ready`, over a store's `Replica`),
//!   `storage` (`MemberStorage`, the durable disk), `page_cache` (written, not yet fsynced),
//!   `status` (`MemberStatus` on the `StatusBoard`) and `roles` (`RaftRoles`: leader, followers
//!   and members for fault plans).
//! * `zk/` — a ZooKeeper ensemble on the Raft core: `tree` (znodes, ZooKeeper's numbering and
//!   errors), `state` (tree + sessions + zxids, what the log applies), `wire`, `server/` (one
//!   server: connections, watches, the leader's session expiry), `ensemble` (`ZkEnsemble`,
//!   `ZkConfig`), `client` (`ZkClient`: connection states, failover, watches), `driver`
//!   (`ZkDriver` for `locksim ctl --backend zk`).
//! * `pg/` — a PostgreSQL-like database (seed 000's locks): `engine` (`Engine`: tables,
//!   READ COMMITTED transactions, row and advisory locks, the WAL), `statement`, `error`
//!   (SQLSTATEs and messages as PostgreSQL 15 prints them).
//! * `ap/` — the AP contrast: a Redis-like store (primary, async replicas, Sentinel failover):
//!   `ApStore::add_to(&mut World)`, `ApClient` (a public module: its names are Redis's).
//! * `op` — `Request`, `Response`, `OpError`: every store's operations as the history records
//!   them, each with a summary in the store's words.
//! * `check/` — linearizability checking (WGL search, per-key partitions) of a `History` or of
//!   histories from elsewhere (Jepsen logs, EDN).
//!   * `kv/`: `Kv`, the etcd KV model (`ops`, its vocabulary; `model`, its semantics;
//!     `describe`, its words in reports) and `kv_partitions`, a history to per-key partitions
//!     (`universe`, keys and values interned; `convert`, records to partitions).
//!
//! **Mutual exclusion is decided** outside this crate, from the history this crate records: in
//! `lock/src/checker/mutual_exclusion.rs` (belief intervals of different clients never overlap).

#![warn(missing_docs)]

pub mod ap;
pub mod check;
mod etcd;
mod op;
pub mod pg;
mod raft_core;
mod world;
pub mod zk;

/// etcd's v3 gRPC API in the simulation: `connect` gives simulated code an
/// `etcd_client::Client` (feature `grpc`).
#[cfg(feature = "grpc")]
pub mod grpc {
    pub use crate::etcd::grpc::{connect, GrpcOptions};
    /// The `etcd-client` crate these functions speak, so tests and harness code name the very
    /// version the server was built against.
    pub use etcd_client;
}
pub use etcd::client::{Client, ClientConfig, Watcher};
pub use etcd::cluster::{member_name, Cluster, ClusterConfig, EtcdCluster};
pub use etcd::driver::{Driver, CTL_HOST};
pub use etcd::error::{Error, Result};
pub use etcd::lease::{
    min_lease_ttl, LeaseIdGenerator, Lessor, EXPIRED_LEASE_RETRY_INTERVAL, LEASE_REVOKE_RATE,
    MAX_LEASE_TTL,
};
pub use etcd::member::{MemberConfig, MemberStatus, ReadMode, Role, StatusBoard, CLUSTER_ID};
pub use etcd::mvcc::Mvcc;
pub use etcd::request::*;
pub use etcd::transport::{ClientRequest, ClientResponse, WatchRequest, WatchResponse};
pub use op::{OpError, Request, Response};
pub use raft_core::roles::{EtcdRoles, RaftRoles};
pub use raft_core::storage::{Disk, MemberStorage};
pub use world::active_faults::{ActiveFaults, FaultKind, FaultSpan};
pub use world::clock::Clock;
pub use world::fault::{
    Fault, FaultError, FaultInjector, FaultPlan, RoleResolver, ScheduledFault, Target,
};
pub use world::history::{sim_now, ClusterEvent, History, OpHandle, Operation, Outcome, Record};
pub use world::link_faults::{LinkFaults, LinkRule};
pub use world::sim::{SimError, World, WorldConfig};
