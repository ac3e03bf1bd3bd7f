//! What travels between a PostgreSQL client and its server: the frontend/backend protocol's
//! messages that matter to locks, carried on a TCP-like connection
//! ([`crate::world::stream`]) — a backend lives exactly as long as its connection.

use serde::{Deserialize, Serialize};

use super::engine::{Lsn, WalRecord};
use super::error::PgError;
use super::statement::{Answer, Statement};
use crate::world::stream::Segment;

/// The port clients connect to (`port`, 5432).
pub const PG_PORT: u16 = 5432;

/// Frontend messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ClientBody {
    /// `StartupMessage`: open a session (a backend is forked for it); `application_name`
    /// names the client in the server's view (here: its host).
    Startup { application_name: String },
    /// `Query`: one statement.
    Query(#[serde(with = "as_json")] Statement),
    /// `Terminate`: the client closes the session.
    Terminate,
}

/// Backend messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ServerBody {
    /// `BackendKeyData` + `ReadyForQuery`: the session is open. `in_recovery`: the server is a
    /// standby (what libpq's `target_session_attrs=read-write` asks with `SHOW
    /// transaction_read_only`).
    Ready { pid: u32, in_recovery: bool },
    /// A statement's result, errors included.
    Result(#[serde(with = "as_json")] Answer),
    /// A `FATAL` error: the server closes the connection after it (the backend is gone).
    Fatal(PgError),
}

/// Streaming replication (a walsender and its walreceiver), beside the clients' port.
pub(crate) const REPLICATION_PORT: u16 = 5433;

/// Between a primary's walsender and a standby's walreceiver. Datagrams, each a whole
/// statement of position: a lost one is made good by the next.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Replication {
    /// Primary → standby: the flushed WAL after `from`, and the primary's timeline history
    /// (`(timeline, the position it began at)`, oldest first).
    Wal {
        timeline: u32,
        history: Vec<(u32, Lsn)>,
        from: Lsn,
        records: Vec<WalRecord>,
    },
    /// Standby → its upstream: how far it wrote, flushed and applied (`StandbyStatusUpdate`).
    Feedback {
        name: String,
        timeline: u32,
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
    },
}

/// A client's segment.
pub(crate) type ToServer = Segment<ClientBody>;
/// A server's segment.
pub(crate) type ToClient = Segment<ServerBody>;

/// Statements and answers are internally tagged for the history's JSON (`{"pg": "begin"}`),
/// which bincode cannot read back: on the wire they travel as their JSON text.
mod as_json {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_string(v)
            .map_err(S::Error::custom)?
            .serialize(s)
    }

    pub(super) fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        serde_json::from_str(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}
