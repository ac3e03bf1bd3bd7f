//! What the shared Ready loop ([`crate::raft_core::on_ready`]) does on an etcd member: install a
//! snapshot into the state machine and the lessor, apply committed entries (answering this
//! member's waiters), remember ReadIndex answers, promote or demote the lessor on a role change,
//! and after each Ready serve reads and watches, snapshot, publish the status.

use raft::eraftpb::{Entry, EntryType, Snapshot};
use raft::{ReadState, StateRole};

use super::{Member, Role};
use crate::etcd::state_machine::StateMachine;
use crate::etcd::transport::{Proposal, WriteOp};
use crate::raft_core::{RaftCore, Replica};
use crate::world::datagram::decode;
use crate::world::history::{sim_now, ClusterEvent};

impl Replica for Member {
    fn core(&mut self) -> &mut RaftCore {
        &mut self.core
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) {
        self.sm = StateMachine::from_bytes(&snapshot.data);
        if self.is_leader() {
            let now = self.ctx.disk.clock.now();
            self.sm
                .lessor
                .promote(now, self.ctx.config.election_timeout());
        } else {
            self.sm.lessor.demote();
        }
        self.applied = snapshot.get_metadata().index;
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        // The lessor runs on this member's clock; the history on simulated time.
        let now = self.ctx.disk.clock.now();
        let at = sim_now();
        for entry in entries {
            self.applied = entry.index;
            if entry.get_entry_type() != EntryType::EntryNormal || entry.data.is_empty() {
                // The new leader's empty entry, or a conf change (membership is static here).
                continue;
            }
            let Some(proposal) = decode::<Proposal>(&entry.data) else {
                panic!("entry {} is not a proposal this code wrote", entry.index);
            };
            let mut result = self.sm.apply(&proposal.op, now);
            if let WriteOp::LeaseRevoke(req) = &proposal.op {
                self.revoking.remove(&req.id);
                if proposal.id.client == 0 && result.is_ok() && proposal.origin == self.ctx.id {
                    self.ctx.history.event(
                        ClusterEvent::LeaseExpired {
                            member: self.ctx.id,
                            lease: req.id,
                        },
                        at,
                    );
                }
            }
            if proposal.origin != self.ctx.id {
                continue;
            }
            if let Some(waiter) = self.waiters.remove(&proposal.id) {
                if let Ok(response) = &mut result {
                    self.fill_header(response.header_mut());
                }
                self.send_reply(waiter.to, proposal.id, result);
            }
        }
    }

    fn on_role_change(&mut self, role: StateRole) {
        let role: Role = role.into();
        let was = self.role;
        self.role = role;
        let now = self.ctx.disk.clock.now();
        let at = sim_now();
        let term = self.core.term();
        if role == Role::Leader && was != Role::Leader {
            // etcd's Promote: every lease gets a full TTL plus an election timeout from now.
            self.sm
                .lessor
                .promote(now, self.ctx.config.election_timeout());
            self.ctx.history.event(
                ClusterEvent::BecameLeader {
                    member: self.ctx.id,
                    term,
                },
                at,
            );
        } else if was == Role::Leader && role != Role::Leader {
            self.sm.lessor.demote();
            self.revoking.clear();
            self.ctx.history.event(
                ClusterEvent::SteppedDown {
                    member: self.ctx.id,
                    term,
                },
                at,
            );
        }
    }

    fn on_read_states(&mut self, states: Vec<ReadState>) {
        for rs in states {
            if let Some((member, incarnation, batch)) = decode::<(u64, u64, u64)>(&rs.request_ctx) {
                if member != self.ctx.id || incarnation != self.ctx.disk.incarnation.get() {
                    continue;
                }
                for read in self.reads.iter_mut().filter(|r| r.batch == Some(batch)) {
                    read.index = Some(rs.index);
                }
            }
        }
    }

    fn after_ready(&mut self) {
        let now = self.ctx.disk.clock.now();
        self.serve_reads();
        self.answer_watches(now);
        let (applied, config) = (self.applied, &self.ctx.config);
        let sm = &self.sm;
        self.core.maybe_snapshot(
            applied,
            &self.ctx.peers,
            config.snapshot_count,
            config.snapshot_catchup_entries,
            || sm.to_bytes(),
        );
        if cfg!(debug_assertions) {
            self.sm.check_invariants();
        }
        self.publish_status(true);
    }
}
