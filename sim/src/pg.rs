//! A PostgreSQL-like database for the lock stories of seed 000: row locks held by a
//! transaction, advisory locks, an optimistic version column — with PostgreSQL 15's semantics,
//! SQLSTATEs and messages (measured with psql against Debian's 15.18).
//!
//! # Layout
//! * `statement`: the typed statements (`Statement`), results (`Reply`, `Answer`) and rows.
//! * `error`: `PgError` (SQLSTATE + message) and `Notice` (warnings), PostgreSQL's words.
//! * `engine`: `Engine`, one server's tables, transactions and locks as a deterministic state
//!   machine: READ COMMITTED, FIFO row-lock waits with NOWAIT / SKIP LOCKED / lock_timeout,
//!   deadlock detection, advisory locks, the WAL a replica applies.
//! * `wire`: the protocol's messages on a TCP-like connection (`world::stream`).
//! * `server`: one server as a turmoil host — a backend per connection, the kernel's
//!   keepalive and retransmission rules deciding when a dead client's locks are freed.
//! * `client`: `PgClient`, a libpq connection (multi-host, `target_session_attrs`).
//! * `driver`: `PgDriver`, psql sessions in a `ctl` host, for `locksim ctl --backend pg`.
//! * `cluster`: `PgCluster::add_to(&mut World)`, `PgConfig` (PostgreSQL's defaults).
//! * `sql`: the psql-like syntax of the statements (`parse`), for `locksim ctl --backend pg`
//!   and the conformance scripts.

pub mod client;
pub mod cluster;
pub mod driver;
pub mod engine;
pub mod error;
pub mod patroni;
pub(crate) mod server;
pub mod sql;
pub mod statement;
pub(crate) mod wire;

pub use crate::world::stream::{ConnectionEnd, Keepalive};
pub use client::{PgClient, PgClientConfig, TargetSession};
pub use cluster::{server_name, PgCluster, PgConfig, SyncCommit, SyncStandbys};
pub use engine::{BackendId, Engine, EngineConfig, Lsn, WalRecord};
pub use error::{Notice, PgError};
pub use patroni::PatroniConfig;
pub use statement::{Answer, LockWait, Reply, Row, Scope, Statement};
pub use wire::PG_PORT;
