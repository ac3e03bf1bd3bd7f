//! `StateMachine`: what a committed Raft entry does to a member's replicated state.
//!
//! The MVCC store and the lessor change together (a revoke deletes keys; a put checks that its
//! lease exists), so they are applied together here, in log order, identically on every member.
//! This is also the unit a Raft snapshot carries.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::etcd::error::Result;
use crate::etcd::lease::Lessor;
use crate::etcd::mvcc::Mvcc;
use crate::etcd::request::*;
use crate::etcd::transport::{ClientResponse, WriteOp};
use crate::world::datagram::{decode, encode};

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StateMachine {
    pub(crate) mvcc: Mvcc,
    pub(crate) lessor: Lessor,
}

impl StateMachine {
    pub(crate) fn new(min_lease_ttl_secs: i64) -> Self {
        Self {
            mvcc: Mvcc::new(),
            lessor: Lessor::new(min_lease_ttl_secs),
        }
    }

    /// Apply one committed write. `now` is the applying member's clock; only the primary's
    /// lessor uses it (a grant on the leader starts the TTL running).
    pub(crate) fn apply(&mut self, op: &WriteOp, now: Duration) -> Result<ClientResponse> {
        let lessor = &self.lessor;
        let lease_exists = |id: LeaseId| lessor.contains(id);
        Ok(match op {
            WriteOp::Put(req) => ClientResponse::Put(self.mvcc.put(req, &lease_exists)?),
            WriteOp::DeleteRange(req) => ClientResponse::DeleteRange(self.mvcc.delete_range(req)?),
            WriteOp::Txn(req) => ClientResponse::Txn(self.mvcc.txn(req, &lease_exists)?),
            WriteOp::Compact(req) => {
                self.mvcc.compact(req.revision)?;
                ClientResponse::Compact(CompactionResponse {
                    header: self.header(),
                })
            }
            WriteOp::LeaseGrant(req) => {
                let (id, ttl) = self.lessor.grant(req.id, req.ttl, now)?;
                ClientResponse::LeaseGrant(LeaseGrantResponse {
                    header: self.header(),
                    id,
                    ttl,
                })
            }
            WriteOp::LeaseRevoke(req) => {
                self.lessor.revoke(req.id)?;
                // All attached keys go in one revision (etcd's lessor.Revoke uses one txn).
                self.mvcc.revoke_lease(req.id);
                ClientResponse::LeaseRevoke(LeaseRevokeResponse {
                    header: self.header(),
                })
            }
        })
    }

    fn header(&self) -> ResponseHeader {
        ResponseHeader {
            revision: self.mvcc.revision(),
            ..Default::default()
        }
    }

    /// Serialized form carried by a Raft snapshot.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// # Panics
    /// On bytes that are not a snapshot this code wrote: a corrupt disk is a harness bug here.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        decode(bytes).expect("raft snapshot data is a serialized StateMachine")
    }

    pub(crate) fn check_invariants(&self) {
        self.mvcc.check_invariants();
        self.lessor.check_invariants();
    }
}
