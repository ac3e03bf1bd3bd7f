//! The Ready loop after every wake: send, install a snapshot, apply committed entries, persist
//! (write, fsync, only then send what depends on it), then serve what applying made ready —
//! reads, watches, snapshots, the role change, the published status.

use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, EntryType, Message, Snapshot};

use super::{Member, Role};
use crate::etcd::cluster::member_name;
use crate::etcd::state_machine::StateMachine;
use crate::etcd::transport::{Proposal, WriteOp, PEER_PORT};
use crate::world::datagram::decode;
use crate::world::history::{sim_now, ClusterEvent};

impl Member {
    /// The Ready loop, in raft-rs's documented order.
    pub(super) async fn on_ready(&mut self) {
        if !self.raw.has_ready() {
            return;
        }
        let mut ready = self.raw.ready();

        // 1. A leader may send appends before persisting (Raft thesis §10.2.1).
        self.send(ready.take_messages());

        // 2. A snapshot from the leader replaces the state machine.
        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot().clone();
            self.install_snapshot(snapshot);
        }

        // 3. Apply what is committed.
        let committed = ready.take_committed_entries();
        self.apply(committed);

        // 4. Persist new entries and the HardState: write, then fsync...
        self.ctx.page_cache.write_entries(ready.entries());
        if let Some(hs) = ready.hs() {
            self.ctx.page_cache.write_hard_state(hs.clone());
        }
        if self.ctx.config.send_before_fsync {
            // The bug this option exists to show: promises sent before they are durable.
            self.send(ready.take_persisted_messages());
        }
        let fsync = self.ctx.config.fsync_latency;
        if fsync > Duration::ZERO && (!ready.entries().is_empty() || ready.hs().is_some()) {
            // Nothing else runs meanwhile: the loop waits here as a real fsync blocks.
            self.ctx.clock.sleep(fsync).await;
        }
        self.ctx.page_cache.fsync(&self.ctx.storage);
        if let Some(ss) = ready.ss() {
            self.on_role_change(ss.raft_state.into());
        }
        for rs in ready.take_read_states() {
            if let Some((member, incarnation, batch)) = decode::<(u64, u64, u64)>(&rs.request_ctx) {
                if member != self.ctx.id || incarnation != self.ctx.incarnation.get() {
                    continue;
                }
                for read in self.reads.iter_mut().filter(|r| r.batch == Some(batch)) {
                    read.index = Some(rs.index);
                }
            }
        }

        // 5. ...and only then send what depends on them (votes, append acks).
        self.send(ready.take_persisted_messages());

        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.ctx.storage.set_commit(commit);
        }
        self.send(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed);
        self.raw.advance_apply();

        self.reseed_election_timeout();
        let now = self.ctx.clock.now();
        self.serve_reads();
        self.answer_watches(now);
        self.maybe_snapshot();
        if cfg!(debug_assertions) {
            self.sm.check_invariants();
        }
        self.publish_status(true);
    }

    pub(super) fn send(&self, messages: Vec<Message>) {
        for msg in messages {
            let to = member_name(msg.to);
            let bytes = msg
                .write_to_bytes()
                .expect("raft message serialization cannot fail");
            // UDP: a send to a crashed or cut-off peer is simply lost, as on a real network;
            // loss and duplication faults decide how many copies leave.
            for _ in 0..self.ctx.links.copies(&self.name, &to) {
                let _ = self
                    .peer_socket
                    .try_send_to(&bytes, (to.as_str(), PEER_PORT));
            }
        }
    }

    pub(super) fn install_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.get_metadata().index;
        self.sm = StateMachine::from_bytes(&snapshot.data);
        if self.is_leader() {
            let now = self.ctx.clock.now();
            self.sm
                .lessor
                .promote(now, self.ctx.config.election_timeout());
        } else {
            self.sm.lessor.demote();
        }
        self.ctx
            .storage
            .apply_snapshot(snapshot)
            .expect("a snapshot from the leader is newer than ours (raft-rs checks)");
        self.applied = index;
        self.ctx.history.event(
            ClusterEvent::SnapshotInstalled {
                member: self.ctx.id,
                index,
            },
            sim_now(),
        );
    }

    pub(super) fn apply(&mut self, entries: Vec<Entry>) {
        // The lessor runs on this member's clock; the history on simulated time.
        let now = self.ctx.clock.now();
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

    pub(super) fn maybe_snapshot(&mut self) {
        let snap_index = self.ctx.storage.disk().snapshot_metadata().index;
        if self.applied < snap_index + self.ctx.config.snapshot_count {
            return;
        }
        let conf_state = ConfState {
            voters: self.ctx.peers.clone(),
            ..Default::default()
        };
        let data = self.sm.to_bytes();
        self.ctx
            .storage
            .create_snapshot(self.applied, conf_state, data)
            .expect("the applied index is committed and newer than the last snapshot");
        let keep_from = self
            .applied
            .saturating_sub(self.ctx.config.snapshot_catchup_entries)
            .max(1);
        self.ctx.storage.compact(keep_from);
        self.ctx.history.event(
            ClusterEvent::Snapshot {
                member: self.ctx.id,
                index: self.applied,
            },
            sim_now(),
        );
    }

    pub(super) fn on_role_change(&mut self, role: Role) {
        let was = self.role;
        self.role = role;
        let now = self.ctx.clock.now();
        let at = sim_now();
        let term = self.raw.raft.term;
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
}
