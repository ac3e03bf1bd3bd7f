//! A member's client side: requests answered at once (serializable reads, lease queries,
//! status), writes queued and proposed per inbound batch, linearizable reads waiting on one
//! ReadIndex per batch, watches, and every reply with its response header.

use std::time::Duration;

use raft::eraftpb::{Entry, Message, MessageType};

use super::{Member, CLUSTER_ID};
use crate::etcd::error::Error;
use crate::etcd::request::*;
use crate::etcd::transport::{
    ClientMessage, ClientRequest, ClientResponse, Proposal, Reply, ReplyTo, WriteOp,
};
use crate::world::datagram::encode;

pub(super) struct Waiter {
    pub(super) to: ReplyTo,
    pub(super) deadline: Duration,
}

pub(super) struct PendingRead {
    pub(super) to: ReplyTo,
    pub(super) id: RequestId,
    pub(super) request: RangeRequest,
    /// The ReadIndex request this read waits on; `None` until the batch it arrived in is
    /// flushed.
    pub(super) batch: Option<u64>,
    /// Set once Raft confirmed the read index.
    pub(super) index: Option<u64>,
    pub(super) deadline: Duration,
}

/// A client write waiting for the end of the inbound batch it arrived in.
pub(super) struct QueuedProposal {
    pub(super) from: ReplyTo,
    pub(super) id: RequestId,
    pub(super) data: Vec<u8>,
    pub(super) deadline: Duration,
}

impl Member {
    pub(super) fn handle_client(&mut self, from: ReplyTo, msg: ClientMessage) {
        let ClientMessage { id, request } = msg;
        let now = self.ctx.disk.clock.now();
        let deadline = now + self.ctx.config.request_timeout;
        match request {
            ClientRequest::Range(req) if req.serializable => {
                let result = self.sm.mvcc.range(&req).map(ClientResponse::Range);
                self.reply(from, id, result);
            }
            ClientRequest::Range(req) => {
                if self.leader() == raft::INVALID_ID {
                    return self.reply(from, id, Err(Error::NoLeader));
                }
                self.reads.push(PendingRead {
                    to: from,
                    id,
                    request: req,
                    batch: None,
                    index: None,
                    deadline,
                });
            }
            ClientRequest::Put(req) => self.propose(from, id, WriteOp::Put(req), deadline),
            ClientRequest::DeleteRange(req) => {
                self.propose(from, id, WriteOp::DeleteRange(req), deadline)
            }
            ClientRequest::Txn(req) => self.propose(from, id, WriteOp::Txn(req), deadline),
            ClientRequest::Compact(req) => self.propose(from, id, WriteOp::Compact(req), deadline),
            ClientRequest::LeaseGrant(mut req) => {
                if req.id == NO_LEASE {
                    req.id = self.lease_ids.next();
                }
                self.propose(from, id, WriteOp::LeaseGrant(req), deadline)
            }
            ClientRequest::LeaseRevoke(req) => {
                self.propose(from, id, WriteOp::LeaseRevoke(req), deadline)
            }
            ClientRequest::LeaseKeepAlive(req) => {
                // Only the leader's lessor knows expiries (etcd forwards keepalives to it).
                let result = if !self.is_leader() {
                    Err(self.not_leader())
                } else {
                    self.sm.lessor.renew(req.id, now).map(|ttl| {
                        ClientResponse::LeaseKeepAlive(LeaseKeepAliveResponse {
                            header: ResponseHeader::default(),
                            id: req.id,
                            ttl,
                        })
                    })
                };
                self.reply(from, id, result);
            }
            ClientRequest::LeaseTimeToLive(req) => {
                let result = if !self.is_leader() {
                    Err(self.not_leader())
                } else {
                    // etcd answers a missing lease with TTL -1, not an error.
                    let (ttl, granted_ttl) =
                        self.sm.lessor.time_to_live(req.id, now).unwrap_or((-1, 0));
                    let keys = if req.keys && ttl >= 0 {
                        self.sm.mvcc.keys_with_lease(req.id)
                    } else {
                        Vec::new()
                    };
                    Ok(ClientResponse::LeaseTimeToLive(LeaseTimeToLiveResponse {
                        header: ResponseHeader::default(),
                        id: req.id,
                        ttl,
                        granted_ttl,
                        keys,
                    }))
                };
                self.reply(from, id, result);
            }
            ClientRequest::LeaseLeases => {
                let leases = self.sm.lessor.leases();
                let response = ClientResponse::LeaseLeases(LeaseLeasesResponse {
                    header: ResponseHeader::default(),
                    leases,
                });
                self.reply(from, id, Ok(response));
            }
            ClientRequest::Watch(req) => {
                let deadline = now + self.ctx.config.watch_poll;
                self.watches
                    .register(from, id, req, &self.sm.mvcc, deadline);
                self.answer_watches(now);
            }
            ClientRequest::Status => {
                let response = ClientResponse::Status(self.status_response());
                self.reply(from, id, Ok(response));
            }
        }
    }

    pub(super) fn propose(
        &mut self,
        from: ReplyTo,
        id: RequestId,
        op: WriteOp,
        deadline: Duration,
    ) {
        let proposal = Proposal {
            id,
            origin: self.ctx.id,
            op,
        };
        if self.leader() == raft::INVALID_ID {
            return self.reply(from, id, Err(Error::NoLeader));
        }
        self.queued.push(QueuedProposal {
            from,
            id,
            data: encode(&proposal),
            deadline,
        });
    }

    /// End of an inbound batch: propose the queued writes, one entry each, in one `MsgPropose`
    /// (a follower forwards it to the leader inside Raft, as etcd does), and ask for one read
    /// index for every linearizable read that arrived — etcd's read loop likewise serves all
    /// reads pending at once with a single ReadIndex.
    pub(super) fn flush_batch(&mut self) {
        if !self.queued.is_empty() {
            let mut queued = std::mem::take(&mut self.queued);
            let mut msg = Message::default();
            msg.set_msg_type(MessageType::MsgPropose);
            msg.from = self.ctx.id;
            let entries: Vec<Entry> = queued
                .iter_mut()
                .map(|q| Entry {
                    data: std::mem::take(&mut q.data).into(),
                    ..Default::default()
                })
                .collect();
            msg.set_entries(entries.into());
            let accepted = self.core.raw.step(msg).is_ok();
            for q in queued {
                if accepted {
                    self.waiters.insert(
                        q.id,
                        Waiter {
                            to: q.from,
                            deadline: q.deadline,
                        },
                    );
                } else {
                    self.reply(q.from, q.id, Err(Error::NoLeader));
                }
            }
        }
        if self.reads.iter().any(|r| r.batch.is_none()) {
            self.read_batches += 1;
            let batch = self.read_batches;
            for read in self.reads.iter_mut().filter(|r| r.batch.is_none()) {
                read.batch = Some(batch);
            }
            // Unique across members and restarts: the leader keys pending reads by context.
            let context = (self.ctx.id, self.ctx.disk.incarnation.get(), batch);
            self.core.raw.read_index(encode(&context));
        }
    }

    pub(super) fn serve_reads(&mut self) {
        let applied = self.applied;
        let mut ready = Vec::new();
        self.reads.retain(|read| match read.index {
            Some(index) if index <= applied => {
                ready.push((read.to.clone(), read.id, read.request.clone()));
                false
            }
            _ => true,
        });
        for (to, id, request) in ready {
            let result = self.sm.mvcc.range(&request).map(ClientResponse::Range);
            self.reply(to, id, result);
        }
    }

    pub(super) fn answer_watches(&mut self, now: Duration) {
        if self.watches.len() == 0 {
            return;
        }
        for answer in self.watches.answer_ready(&self.sm.mvcc, now) {
            let result = answer.result.map(ClientResponse::Watch);
            self.reply(answer.to, answer.id, result);
        }
    }

    pub(super) fn fill_header(&self, header: &mut ResponseHeader) {
        header.cluster_id = CLUSTER_ID;
        header.member_id = self.ctx.id;
        header.raft_term = self.core.raw.raft.term;
        if header.revision == 0 {
            header.revision = self.sm.mvcc.revision();
        }
    }

    pub(super) fn reply(
        &self,
        to: ReplyTo,
        id: RequestId,
        mut result: Result<ClientResponse, Error>,
    ) {
        if let Ok(response) = &mut result {
            self.fill_header(response.header_mut());
        }
        self.send_reply(to, id, result);
    }

    pub(super) fn send_reply(
        &self,
        to: ReplyTo,
        id: RequestId,
        result: Result<ClientResponse, Error>,
    ) {
        let reply = Reply {
            id,
            leader: self.leader(),
            result,
        };
        let to = match to {
            ReplyTo::Datagram(to) => to,
            ReplyTo::Local(front) => {
                let _ = front.send(reply);
                return;
            }
        };
        let bytes = encode(&reply);
        let copies = self.ctx.disk.links.copies_to(&self.name, || {
            turmoil::reverse_lookup(to.ip()).unwrap_or_default()
        });
        for _ in 0..copies {
            let _ = self.client_socket.try_send_to(&bytes, to);
        }
    }

    pub(super) fn status_response(&self) -> StatusResponse {
        let last_index = self.core.raw.raft.raft_log.last_index();
        StatusResponse {
            header: ResponseHeader::default(),
            version: "3.4.23".to_string(),
            db_size: self.sm.to_bytes().len() as i64,
            leader: self.leader(),
            raft_index: last_index,
            raft_term: self.core.raw.raft.term,
            raft_applied_index: self.applied,
        }
    }
}
