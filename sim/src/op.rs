//! The operations of every store as the history records them — where the stores meet the
//! [`History`](crate::History): one sum type for requests, one for answers, one for errors, each
//! with a summary in its store's own words (`SET lock "c1:8050:67" NX PX 10000 → OK`,
//! `put lock/… lease 0x… → ok, put, rev 57 (n3, term 2)`).
//!
//! Why sum types and not a trait object: a history is data — serialized, hashed, read back by
//! `locksim check` — and a checker matches on the request it cares about. Untagged, so that an
//! etcd operation's JSON (and so every etcd run's digest) is what it was before other stores
//! joined; the stores' own encodings (etcd's `Put`, Redis's `set`) never collide.
//!
//! A new store (ZooKeeper, Postgres) adds its variant to each enum and its summary module.

use serde::{Deserialize, Serialize};

use crate::ap::{ApError, Command, Reply};
use crate::etcd::error::Error;
use crate::etcd::summary as etcd_summary;
use crate::etcd::transport::{ClientRequest, ClientResponse};
use crate::pg::{PgError, Reply as PgReply, Statement};
use crate::world::history::{Operation, Outcome};
use crate::zk::{Answer as ZkAnswer, ZkError, ZkRequest};

/// A client request to any store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Request {
    /// An etcd RPC.
    Etcd(ClientRequest),
    /// A command to the Redis-like AP store.
    Redis(Command),
    /// A ZooKeeper request.
    Zk(ZkRequest),
    /// A statement to a PostgreSQL server.
    Pg(Statement),
}

/// A store's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    /// An etcd member's answer.
    Etcd(ClientResponse),
    /// The AP store's reply.
    Redis(Reply),
    /// A ZooKeeper server's answer.
    Zk(ZkAnswer),
    /// A PostgreSQL statement's result.
    Pg(PgReply),
}

/// A store's definite refusal of a [`Request`], with the store's own message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(untagged)]
pub enum OpError {
    /// An etcd error, with etcd's message.
    #[error("{0}")]
    Etcd(Error),
    /// An AP store error, with Redis's message.
    #[error("{0}")]
    Redis(ApError),
    /// A ZooKeeper error (`KeeperException.Code`).
    #[error("{0}")]
    Zk(ZkError),
    /// A PostgreSQL error (SQLSTATE and message).
    #[error("{0}")]
    Pg(PgError),
}

impl OpError {
    /// "No answer came": the request may or may not have taken effect (each store's
    /// `Indeterminate`). The history records it as an indeterminate outcome, not a failure.
    pub fn is_indeterminate(&self) -> bool {
        matches!(
            self,
            OpError::Etcd(Error::Indeterminate)
                | OpError::Redis(ApError::Indeterminate)
                | OpError::Zk(ZkError::ConnectionLoss)
        ) || matches!(self, OpError::Pg(e) if e.is_connection_lost())
    }

    /// True when the request certainly did not take effect.
    pub fn is_definite(&self) -> bool {
        match self {
            OpError::Etcd(e) => e.is_definite(),
            OpError::Redis(e) => e.is_definite(),
            OpError::Zk(e) => e.is_definite(),
            OpError::Pg(e) => !e.is_connection_lost(),
        }
    }
}

impl Request {
    /// The request as its store's command-line client would show it.
    pub fn summary(&self) -> String {
        match self {
            Request::Etcd(r) => etcd_summary::request(r),
            Request::Redis(c) => crate::ap::summary::command(c),
            Request::Zk(r) => crate::zk::summary::request(r),
            Request::Pg(s) => s.to_string(),
        }
    }

    /// Short name used in histories and logs: etcd's RPC (`lease_keep_alive`), Redis's
    /// command (`SET`).
    pub fn name(&self) -> &'static str {
        match self {
            Request::Etcd(r) => r.name(),
            Request::Redis(c) => c.name(),
            Request::Zk(r) => r.name(),
            Request::Pg(s) => s.name(),
        }
    }

    /// Whether the request may change the store: never resent after a lost answer, and
    /// indeterminate then.
    pub fn is_write(&self) -> bool {
        match self {
            Request::Etcd(r) => r.is_mutation(),
            Request::Redis(c) => c.is_write(),
            Request::Zk(r) => r.is_write(),
            Request::Pg(s) => s.is_write(),
        }
    }

    /// The etcd request, if this is one.
    pub fn as_etcd(&self) -> Option<&ClientRequest> {
        match self {
            Request::Etcd(r) => Some(r),
            _ => None,
        }
    }

    /// The AP store command, if this is one.
    pub fn as_redis(&self) -> Option<&Command> {
        match self {
            Request::Redis(c) => Some(c),
            _ => None,
        }
    }

    /// The ZooKeeper request, if this is one.
    pub fn as_zk(&self) -> Option<&ZkRequest> {
        match self {
            Request::Zk(r) => Some(r),
            _ => None,
        }
    }
}

impl Response {
    /// The answer as its store's command-line client would show it.
    pub fn summary(&self) -> String {
        match self {
            Response::Etcd(r) => etcd_summary::response(r),
            Response::Redis(r) => crate::ap::summary::reply(r),
            Response::Zk(a) => crate::zk::summary::answer(a),
            Response::Pg(r) => r.to_string(),
        }
    }

    /// The etcd response, if this is one.
    pub fn as_etcd(&self) -> Option<&ClientResponse> {
        match self {
            Response::Etcd(r) => Some(r),
            _ => None,
        }
    }

    /// The ZooKeeper answer, if this is one.
    pub fn as_zk(&self) -> Option<&ZkAnswer> {
        match self {
            Response::Zk(a) => Some(a),
            _ => None,
        }
    }
}

impl Outcome {
    /// What a store client's result becomes in the history, the same rule for every store: an
    /// answer is `Ok`, no answer is `Indeterminate`, any other error a `Fail`.
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome
    where
        T: Clone + Into<Response>,
        E: Clone + Into<OpError>,
    {
        match result {
            Ok(answer) => Outcome::Ok(answer.clone().into()),
            Err(e) => {
                let e: OpError = e.clone().into();
                if e.is_indeterminate() {
                    Outcome::Indeterminate
                } else {
                    Outcome::Fail(e)
                }
            }
        }
    }

    /// The outcome in a few words: `OK`, `ok, put, rev 57 (n3, term 2)`, `fail: etcdserver: no
    /// leader`, `indeterminate: no answer came`.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Pending => "pending".into(),
            Outcome::Indeterminate => "indeterminate: no answer came".into(),
            Outcome::Fail(e) => format!("fail: {e}"),
            Outcome::Ok(r) => r.summary(),
        }
    }

    /// The etcd answer, if this is one.
    pub fn etcd_response(&self) -> Option<&ClientResponse> {
        match self {
            Outcome::Ok(r) => r.as_etcd(),
            _ => None,
        }
    }
}

impl Operation {
    /// `SET lock "c1:8050:67" NX PX 10000 → OK`.
    pub fn summary(&self) -> String {
        format!("{} → {}", self.request.summary(), self.outcome.summary())
    }
}

impl From<ClientRequest> for Request {
    fn from(r: ClientRequest) -> Self {
        Request::Etcd(r)
    }
}

impl From<Command> for Request {
    fn from(c: Command) -> Self {
        Request::Redis(c)
    }
}

impl From<ClientResponse> for Response {
    fn from(r: ClientResponse) -> Self {
        Response::Etcd(r)
    }
}

impl From<Reply> for Response {
    fn from(r: Reply) -> Self {
        Response::Redis(r)
    }
}

impl From<ZkRequest> for Request {
    fn from(r: ZkRequest) -> Self {
        Request::Zk(r)
    }
}

impl From<ZkAnswer> for Response {
    fn from(a: ZkAnswer) -> Self {
        Response::Zk(a)
    }
}

impl From<Statement> for Request {
    fn from(s: Statement) -> Self {
        Request::Pg(s)
    }
}

impl From<PgReply> for Response {
    fn from(r: PgReply) -> Self {
        Response::Pg(r)
    }
}

impl From<PgError> for OpError {
    fn from(e: PgError) -> Self {
        OpError::Pg(e)
    }
}

impl From<ZkError> for OpError {
    fn from(e: ZkError) -> Self {
        OpError::Zk(e)
    }
}

impl From<Error> for OpError {
    fn from(e: Error) -> Self {
        OpError::Etcd(e)
    }
}

impl From<ApError> for OpError {
    fn from(e: ApError) -> Self {
        OpError::Redis(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::request::PutRequest;
    use crate::world::history::Record;

    /// Each store's operations read back as the same store's, through JSON.
    #[test]
    fn operations_of_every_store_round_trip_through_json() {
        let ops = [
            Operation {
                index: 0,
                process: "c1".into(),
                request: Request::Etcd(ClientRequest::Put(PutRequest {
                    key: b"k".to_vec(),
                    value: b"v".to_vec(),
                    ..Default::default()
                })),
                invoke_ms: 1,
                return_ms: None,
                node: None,
                outcome: Outcome::Fail(OpError::Etcd(Error::Timeout)),
            },
            Operation {
                index: 1,
                process: "c2".into(),
                request: Request::Redis(Command::Get { key: b"k".to_vec() }),
                invoke_ms: 2,
                return_ms: Some(3),
                node: Some("r1".into()),
                outcome: Outcome::Fail(OpError::Redis(ApError::Timeout)),
            },
            Operation {
                index: 2,
                process: "c2".into(),
                request: Request::Redis(Command::Incr { key: b"f".to_vec() }),
                invoke_ms: 2,
                return_ms: Some(3),
                node: Some("r1".into()),
                outcome: Outcome::Ok(Response::Redis(Reply::Ok)),
            },
            Operation {
                index: 3,
                process: "c1".into(),
                request: Request::Pg(crate::pg::Statement::Begin),
                invoke_ms: 4,
                return_ms: Some(5),
                node: Some("p1".into()),
                outcome: Outcome::Ok(Response::Pg(PgReply::Tag {
                    tag: "BEGIN".into(),
                })),
            },
            Operation {
                index: 4,
                process: "c1".into(),
                request: Request::Pg(crate::pg::Statement::AdvisoryUnlockAll),
                invoke_ms: 4,
                return_ms: Some(5),
                node: Some("p1".into()),
                outcome: Outcome::Fail(OpError::Pg(PgError::lock_timeout())),
            },
        ];
        for op in ops {
            let record = Record::Op(op);
            let json = serde_json::to_string(&record).unwrap();
            let back: Record = serde_json::from_str(&json).unwrap();
            assert_eq!(back, record, "{json}");
        }
    }
}
