//! A ZooKeeper-like ensemble on the world: servers `z1..zN` replicate ZooKeeper's znode tree and
//! sessions through the shared Raft core, with ZooKeeper 3.8's numbering, errors, sessions,
//! watches and connection behaviour (measured against the real server where it matters).
//!
//! # Layout
//! * `tree`: `DataTree`, the znodes: create modes, `Stat`, versions, `multi`, ephemerals.
//! * `state`: `ZkState` (tree + sessions + zxid numbering) and `Txn`, what a log entry does.
//! * `wire`: requests, answers, watch events, and the connection's datagrams.
//! * `server/`: one server — applying the log, client connections (`connections`), the
//!   leader's session expiry (`sessions`), watches (`watches`).
//! * `client`: `ZkClient`, the ZooKeeper handle (connection states, failover, watches).
//! * `summary`: requests and answers in zkCli's words.
//! * `driver`: `ZkDriver`, zkCli's session in a `ctl` host, for `locksim ctl --backend zk`.
//! * `ensemble`: `ZkEnsemble::add_to(&mut World)`, `ZkConfig` (ZooKeeper's defaults).

pub mod client;
pub mod driver;
pub mod ensemble;
pub(crate) mod server;
pub mod state;
pub(crate) mod summary;
pub mod tree;
pub mod wire;

pub use client::{ConnState, Watch, ZkClient, ZkClientConfig};
pub use driver::ZkDriver;
pub use ensemble::{server_name, ZkConfig, ZkEnsemble};
pub use state::{MultiFailure, WriteOp};
pub use tree::{CreateMode, MultiOp, MultiResult, SessionId, Stat, ZkError, Zxid};
pub use wire::{Answer, EventType, KeeperState, WatchedEvent, ZkRequest, CLIENT_PORT};
