//! Asynchronous primary → replica replication: the replication history (Redis's replid and
//! offset, PSYNC2's secondary id), the backlog, and the primary's view of each replica.
//!
//! Sync code, no I/O: the node host ([`super::node`]) moves the datagrams.
//!
//! How it follows Redis, and where it simplifies:
//! * Every effect the primary executes is appended at the next **offset** (Redis counts bytes;
//!   here one effect = one offset unit, which keeps the same order and comparisons).
//! * A replica asks with `PSYNC replid offset` ([`super::message::ApMessage::Sync`], also its
//!   periodic `REPLCONF ACK`). The primary continues the stream from there when the history
//!   matches ([`ReplState::can_continue`]) and the backlog still holds it, or sends a **full
//!   resync** (its whole dataset) — which throws away anything the replica had that the primary
//!   never had. That is how an old primary loses its unreplicated writes when it comes back.
//! * On promotion a replica takes a new replid and remembers the old one up to its offset
//!   (PSYNC2), so the other replicas continue without a full resync — unless they are *ahead*
//!   of it, like the old primary.
//! * The stream to each replica is sent with that replica's own delay, drawn from
//!   [`ReplicationConfig::lag`] when its link is set up: the time Redis spends between
//!   executing a write and that replica applying it (output buffer, event loop, a congested
//!   or distant link beyond the simulated latency). Replicas thus differ, as they do in a real
//!   deployment, which is what lets `WAIT 1` be answered by one replica while another is
//!   behind. Over UDP a lost datagram is recovered by go-back-N: the primary resends from the
//!   replica's acknowledged offset when acks stall.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::dataset::Effect;

/// Identifies one replication history (Redis's 40-hex `replid`; a number here).
pub type ReplId = u64;

/// One effect at its place in the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplEntry {
    pub offset: u64,
    pub effect: Effect,
}

/// Timing of replication.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationConfig {
    /// A write is streamed to a replica this long after the primary executed it; drawn per
    /// replica link from `lag.0..=lag.1` by the primary's seeded RNG when the link is set up
    /// (so writes keep their order).
    pub lag: (Duration, Duration),
    /// A replica acknowledges what it applied on every batch and at least this often; the ack
    /// doubles as its `PSYNC` retry over the lossy network.
    pub ack_period: Duration,
    /// The primary resends from the acknowledged offset when no ack progress came for this
    /// long while entries are outstanding.
    pub resend_after: Duration,
    /// Effects kept for partial resync (Redis `repl-backlog-size`, counted in effects).
    pub backlog: usize,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        Self {
            lag: (Duration::from_millis(5), Duration::from_millis(50)),
            ack_period: Duration::from_millis(100),
            resend_after: Duration::from_millis(200),
            backlog: 100_000,
        }
    }
}

/// A node's place in the replication history, and the tail of that history it can serve.
///
/// Invariant: `backlog` holds consecutive offsets ending at `offset` (or is empty), each entry
/// with the local time it was executed (primary) or applied (replica). Checked: [`ReplState::check_invariants`].
#[derive(Clone, Debug)]
pub struct ReplState {
    pub replid: ReplId,
    /// PSYNC2: the history this one continues, and the offset up to which they agree.
    pub replid2: Option<(ReplId, u64)>,
    pub offset: u64,
    backlog: VecDeque<(ReplEntry, Duration)>,
    limit: usize,
}

impl ReplState {
    pub fn new(replid: ReplId, offset: u64, limit: usize) -> Self {
        Self {
            replid,
            replid2: None,
            offset,
            backlog: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Append the next effect (primary: executed; replica: applied) at local time `at`.
    pub fn append(&mut self, effect: Effect, at: Duration) -> u64 {
        self.offset += 1;
        self.backlog.push_back((
            ReplEntry {
                offset: self.offset,
                effect,
            },
            at,
        ));
        while self.backlog.len() > self.limit {
            self.backlog.pop_front();
        }
        self.offset
    }

    /// Whether a replica at (`replid`, `offset`) can continue from this history without a full
    /// resync: it is on this history (or the one this one continues, no further than where
    /// they agree), not ahead of it, and the backlog still has what comes after `offset`.
    pub fn can_continue(&self, replid: ReplId, offset: u64) -> bool {
        let same_history = replid == self.replid
            || self
                .replid2
                .is_some_and(|(id2, upto)| id2 == replid && offset <= upto);
        let first_kept = self
            .backlog
            .front()
            .map(|(e, _)| e.offset)
            .unwrap_or(self.offset + 1);
        same_history && offset <= self.offset && offset + 1 >= first_kept
    }

    /// Entries after `offset` executed at least `lag` before `now`, at most `max`.
    pub fn ready_after(
        &self,
        offset: u64,
        now: Duration,
        lag: Duration,
        max: usize,
    ) -> Vec<ReplEntry> {
        self.backlog
            .iter()
            .skip_while(|(e, _)| e.offset <= offset)
            .take_while(|(_, at)| *at + lag <= now)
            .take(max)
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// `REPLICAOF NO ONE`: a new history that continues this one up to the current offset.
    pub fn promote(&mut self, new_replid: ReplId) {
        self.replid2 = Some((self.replid, self.offset));
        self.replid = new_replid;
    }

    /// Full resync, or `+CONTINUE` onto a new replid: adopt the primary's history at `offset`.
    /// On a full resync (`keep_backlog = false`) the backlog no longer describes the data.
    pub fn adopt(&mut self, replid: ReplId, offset: u64, keep_backlog: bool) {
        if !keep_backlog {
            self.backlog.clear();
        }
        self.replid = replid;
        self.replid2 = None;
        self.offset = offset;
    }

    pub fn check_invariants(&self) {
        for (i, (e, _)) in self.backlog.iter().enumerate() {
            assert_eq!(
                e.offset + (self.backlog.len() - 1 - i) as u64,
                self.offset,
                "backlog offsets are consecutive and end at the offset"
            );
        }
    }
}

/// The primary's view of one replica (Redis's `client` of type replica).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaLink {
    /// Highest offset the replica acknowledged on this primary's history.
    pub acked: u64,
    /// Highest offset sent to it.
    pub sent: u64,
    /// Local time the ack last advanced (or the link was set up).
    pub progress_at: Duration,
    /// Local time of its last ack of any kind.
    pub heard_at: Duration,
    /// This replica's replication delay (see [`ReplicationConfig::lag`]).
    pub lag: Duration,
}

/// What the primary answers to a replica's `PSYNC`/ack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncDecision {
    /// Already streaming to it on this history: the ack was recorded.
    Acked,
    /// `+CONTINUE replid`: partial resync from the replica's offset.
    Continue,
    /// `+FULLRESYNC`: send the dataset.
    FullResync,
}

/// All replicas of a primary, by host.
#[derive(Clone, Debug, Default)]
pub struct Replicas {
    pub links: BTreeMap<String, ReplicaLink>,
}

impl Replicas {
    /// Handle `PSYNC`/`REPLCONF ACK` (`replid`, `offset`) from `host` at local time `now`.
    /// A link set up now gets the delay `lag`.
    pub fn on_sync(
        &mut self,
        state: &ReplState,
        host: &str,
        replid: ReplId,
        offset: u64,
        now: Duration,
        lag: Duration,
    ) -> SyncDecision {
        if replid == state.replid && offset <= state.offset {
            let link = self
                .links
                .entry(host.to_string())
                .or_insert_with(|| ReplicaLink {
                    acked: offset,
                    sent: offset,
                    progress_at: now,
                    heard_at: now,
                    lag,
                });
            if offset > link.acked {
                link.acked = offset;
                link.progress_at = now;
            }
            link.sent = link.sent.max(offset);
            link.heard_at = now;
            return SyncDecision::Acked;
        }
        let decision = if state.can_continue(replid, offset) {
            SyncDecision::Continue
        } else {
            SyncDecision::FullResync
        };
        let at = match decision {
            SyncDecision::Continue => offset,
            _ => state.offset,
        };
        // After a full resync the replica is at our offset once it applied the dataset; it
        // counts as acknowledged only when its ack on our replid says so.
        self.links.insert(
            host.to_string(),
            ReplicaLink {
                acked: if decision == SyncDecision::Continue {
                    offset
                } else {
                    0
                },
                sent: at,
                progress_at: now,
                heard_at: now,
                lag: self.links.get(host).map(|l| l.lag).unwrap_or(lag),
            },
        );
        decision
    }

    /// Go-back-N: links whose acks stalled with entries outstanding resend from the ack.
    pub fn rewind_stalled(&mut self, now: Duration, resend_after: Duration) {
        for link in self.links.values_mut() {
            if link.sent > link.acked && now.saturating_sub(link.progress_at) >= resend_after {
                link.sent = link.acked;
                link.progress_at = now;
            }
        }
    }

    /// How many replicas acknowledged `offset` (what `WAIT` counts).
    pub fn acked_at_least(&self, offset: u64) -> u32 {
        self.links.values().filter(|l| l.acked >= offset).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn del(k: u8) -> Effect {
        Effect::Del { key: vec![k] }
    }

    #[test]
    fn promoted_replica_continues_the_behind_and_fully_resyncs_the_ahead() {
        let ms = Duration::from_millis;
        // The old primary wrote 5 effects; the replica that is promoted had applied 3.
        let mut old = ReplState::new(1, 0, 100);
        for k in 0..5 {
            old.append(del(k), ms(0));
        }
        let mut promoted = ReplState::new(1, 0, 100);
        for k in 0..3 {
            promoted.append(del(k), ms(0));
        }
        promoted.promote(2);
        promoted.append(del(9), ms(0));
        promoted.check_invariants();
        let mut replicas = Replicas::default();
        // A replica at offset 2 of the old history continues.
        assert_eq!(
            replicas.on_sync(&promoted, "r3", 1, 2, ms(0), ms(0)),
            SyncDecision::Continue
        );
        assert_eq!(
            promoted
                .ready_after(2, ms(0), ms(0), 10)
                .iter()
                .map(|e| e.offset)
                .collect::<Vec<_>>(),
            vec![3, 4]
        );
        // The old primary, ahead at 5 on the old history, must resync fully (losing 4 and 5).
        assert_eq!(
            replicas.on_sync(&promoted, "r1", 1, 5, ms(0), ms(0)),
            SyncDecision::FullResync
        );
        // Acks on the new history are recorded and counted for WAIT.
        assert_eq!(
            replicas.on_sync(&promoted, "r3", 2, 4, ms(1), ms(0)),
            SyncDecision::Acked
        );
        assert_eq!(replicas.acked_at_least(4), 1);
    }

    #[test]
    fn lagged_entries_wait_and_stalled_links_rewind() {
        let ms = Duration::from_millis;
        let mut s = ReplState::new(7, 0, 100);
        s.append(del(1), ms(0));
        s.append(del(2), ms(20));
        assert_eq!(s.ready_after(0, ms(20), ms(10), 10).len(), 1);
        assert_eq!(s.ready_after(0, ms(30), ms(10), 10).len(), 2);
        let mut replicas = Replicas::default();
        replicas.on_sync(&s, "r2", 7, 0, ms(0), ms(10));
        replicas.links.get_mut("r2").unwrap().sent = 2;
        replicas.rewind_stalled(ms(100), ms(200));
        assert_eq!(replicas.links["r2"].sent, 2);
        replicas.rewind_stalled(ms(200), ms(200));
        assert_eq!(replicas.links["r2"].sent, 0);
    }

    #[test]
    fn a_trimmed_backlog_forces_a_full_resync() {
        let mut s = ReplState::new(1, 0, 2);
        for k in 0..5 {
            s.append(del(k), Duration::ZERO);
        }
        s.check_invariants();
        assert!(!s.can_continue(1, 1));
        assert!(s.can_continue(1, 3));
        assert!(!s.can_continue(1, 6));
    }
}
