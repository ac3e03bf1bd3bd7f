//! Typed Redis commands and replies (RESP's shapes), and Redis's errors.
//!
//! Why typed commands and not RESP text: the simulation never parses a wire protocol, and the
//! history records commands as data a checker can match on. Names and semantics follow Redis 7.

use serde::{Deserialize, Serialize};

/// One command a client sends to a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// `GET key` → `Bulk` or `Nil`.
    Get {
        /// The key to read.
        key: Vec<u8>,
    },
    /// `SET key value [NX] [PX ms]` → `Ok`, or `Nil` when `NX` found the key. Without `PX` the
    /// key loses any TTL it had (Redis: SET discards the TTL unless `KEEPTTL`).
    Set {
        /// The key to write.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
        /// `NX`: set only if the key does not exist (a lock's acquire).
        nx: bool,
        /// `PX`: time to live in milliseconds of the primary's own clock (replicated as an
        /// absolute `PXAT`); `None`: no expiry.
        px: Option<u64>,
    },
    /// `DEL key` → `Integer(0|1)`.
    Del {
        /// The key to delete.
        key: Vec<u8>,
    },
    /// The lock release script, atomic on the node as a Lua script is:
    /// `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else
    /// return 0 end` → `Integer(0|1)`.
    CompareAndDelete {
        /// The lock key.
        key: Vec<u8>,
        /// The value the key must hold (the holder's token) for the delete to happen.
        value: Vec<u8>,
    },
    /// The lock extend script: `PEXPIRE key ms` only if `GET key == value` → `Integer(0|1)`.
    CompareAndPexpire {
        /// The lock key.
        key: Vec<u8>,
        /// The value the key must hold (the holder's token) for the TTL to change.
        value: Vec<u8>,
        /// The new time to live, in milliseconds of the primary's clock from now.
        ms: u64,
    },
    /// `PEXPIRE key ms` → `Integer(1)` if the key exists, else `Integer(0)`. `ms = 0` deletes it.
    Pexpire {
        /// The key whose TTL to set.
        key: Vec<u8>,
        /// Time to live in milliseconds of the primary's clock from now.
        ms: u64,
    },
    /// `INCR key` → `Integer(new value)`; a missing key counts as 0. Keeps the key's TTL.
    Incr {
        /// The counter's key; its value must be a decimal `i64`.
        key: Vec<u8>,
    },
    /// `WAIT numreplicas timeout` → `Integer(replicas that acknowledged)`. `timeout_ms = 0`
    /// blocks until enough replicas acknowledged (Redis's meaning). Never a guarantee of
    /// durability across a failover.
    Wait {
        /// How many replicas must have acknowledged the primary's replication offset as of the
        /// `WAIT` (so every write executed before it, this client's included).
        replicas: u32,
        /// How long to wait, in milliseconds of the primary's clock; 0: no limit.
        timeout_ms: u64,
    },
}

impl Command {
    /// Short name used in histories and logs (Redis's command name).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Get { .. } => "GET",
            Command::Set { .. } => "SET",
            Command::Del { .. } => "DEL",
            Command::CompareAndDelete { .. } => "EVAL release",
            Command::CompareAndPexpire { .. } => "EVAL extend",
            Command::Pexpire { .. } => "PEXPIRE",
            Command::Incr { .. } => "INCR",
            Command::Wait { .. } => "WAIT",
        }
    }

    /// Whether the command may change the dataset. Such a command is refused by a replica
    /// (`READONLY`) and is never resent after a lost answer: it may have been applied.
    pub fn is_write(&self) -> bool {
        !matches!(self, Command::Get { .. } | Command::Wait { .. })
    }

    /// The key the command touches, if any.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Command::Get { key }
            | Command::Set { key, .. }
            | Command::Del { key }
            | Command::CompareAndDelete { key, .. }
            | Command::CompareAndPexpire { key, .. }
            | Command::Pexpire { key, .. }
            | Command::Incr { key } => Some(key),
            Command::Wait { .. } => None,
        }
    }
}

/// A RESP reply.
///
/// Externally tagged (serde's default), not `tag`/`content`: bincode, which frames every
/// datagram, cannot decode adjacently tagged enums.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// `+OK`
    Ok,
    /// `$-1`: no such key, or `SET NX` did nothing.
    Nil,
    /// `$<len>`: a value (`GET`).
    Bulk(Vec<u8>),
    /// `:<n>`: a count or a number (`DEL`, `INCR`, `WAIT`, the scripts).
    Integer(i64),
}

/// Errors of the AP store, with Redis's messages word for word.
///
/// Why a type of its own and not variants of [`crate::Error`]: that enum carries etcd's messages
/// and gRPC codes, which `locksim ctl` prints as etcdctl does; Redis errors have neither.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApError {
    /// A write sent to a replica. Definite: not applied.
    #[error("READONLY You can't write against a read only replica.")]
    ReadOnly,
    /// `INCR` on a value that is not a decimal `i64`. Definite: not applied.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// `INCR` past `i64::MAX`. Definite: not applied.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// No sentinel answered with a primary before the deadline (redis-py's
    /// `MasterNotFoundError`). Definite: nothing was sent to a node.
    #[error("No master found for 'mymaster'")]
    NoPrimary,
    /// A read or `WAIT` got no answer before the deadline. Definite for the dataset (it
    /// changes nothing), so the history records it as a failure.
    #[error("Timeout reading from socket")]
    Timeout,
    /// A write got no answer: it may or may not have been applied (and replicated).
    #[error("Timeout reading from socket (the write may have been applied)")]
    Indeterminate,
    /// A command the node or client cannot carry out as given (`WAIT` on a replica, a client
    /// socket that cannot be bound); the text says why. Definite: not applied.
    #[error("ERR {0}")]
    InvalidArgument(String),
}

impl ApError {
    /// True when the command certainly did not take effect.
    pub fn is_definite(&self) -> bool {
        !matches!(self, ApError::Indeterminate)
    }
}

/// A result whose error is the AP store's [`ApError`].
pub type ApResult<T> = std::result::Result<T, ApError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::datagram::{decode, encode};

    #[test]
    fn commands_and_replies_survive_the_datagram_codec() {
        let replies = [
            Ok(Reply::Ok),
            Ok(Reply::Nil),
            Ok(Reply::Bulk(b"v".to_vec())),
            Ok(Reply::Integer(-3)),
            Err(ApError::ReadOnly),
            Err(ApError::InvalidArgument("x".into())),
        ];
        for reply in replies {
            let back: Result<Reply, ApError> = decode(&encode(&reply)).unwrap();
            assert_eq!(back, reply);
        }
        let command = Command::Set {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            nx: true,
            px: Some(5),
        };
        assert_eq!(decode::<Command>(&encode(&command)), Some(command));
    }
}
