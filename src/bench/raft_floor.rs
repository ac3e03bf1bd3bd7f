//! The floor on the cost of a committed entry: three raft-rs `RawNode`s on `MemStorage` in one
//! thread, messages handed over in memory — no simulator, no network, no KV, no client. What
//! the simulated cluster spends beyond this is what the simulator and etcd's layers cost.
//!
//! The nodes use the members' Raft configuration (pre-vote, check-quorum, no `batch_append`,
//! see `sim/src/member.rs`), so the comparison isolates everything around Raft.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use raft::eraftpb::{Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

/// How proposals are offered to the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// One proposal at a time: propose, run Raft until the leader applied it, then the next.
    Serial,
    /// Up to `n` proposals in flight, as a loaded etcd leader sees them.
    Pipelined(usize),
}

/// What one floor run measured.
#[derive(Clone, Copy, Debug)]
pub struct FloorResult {
    pub proposals: u64,
    pub wall: Duration,
    /// Entries each node applied after the leader's first one (checked, not timed: the
    /// followers are pumped until they caught up).
    pub applied: [u64; 3],
}

impl FloorResult {
    pub fn per_sec(&self) -> f64 {
        self.proposals as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

struct Node {
    raw: RawNode<MemStorage>,
    applied: u64,
}

/// Commits `proposals` entries of `size` bytes through three in-memory RawNodes and times it
/// (the election before the first proposal is not timed).
pub fn run(proposals: u64, size: usize, pace: Pace) -> FloorResult {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let voters = vec![1, 2, 3];
    let mut nodes: Vec<Node> = voters
        .iter()
        .map(|&id| {
            let config = Config {
                id,
                election_tick: 10,
                heartbeat_tick: 1,
                max_size_per_msg: 1 << 20,
                max_inflight_msgs: 256,
                pre_vote: true,
                check_quorum: true,
                batch_append: false,
                ..Default::default()
            };
            let storage = MemStorage::new_with_conf_state((voters.clone(), vec![]));
            Node {
                raw: RawNode::new(&config, storage, &logger).expect("valid config"),
                applied: 0,
            }
        })
        .collect();
    let mut wire: VecDeque<Message> = VecDeque::new();

    nodes[0].raw.campaign().expect("node 1 campaigns");
    while nodes[0].raw.raft.state != StateRole::Leader || nodes[0].applied == 0 {
        pump(&mut nodes, &mut wire);
    }
    // The leader's empty entry of its term is applied: count from here.
    let base = nodes[0].applied;
    let payload = vec![0x5a; size];
    let window = match pace {
        Pace::Serial => 1,
        Pace::Pipelined(n) => n.max(1) as u64,
    };
    let started = Instant::now();
    let mut proposed = 0u64;
    loop {
        let committed = nodes[0].applied - base;
        if committed >= proposals {
            break;
        }
        while proposed < proposals && proposed - committed < window {
            nodes[0]
                .raw
                .propose(vec![], payload.clone())
                .expect("the leader accepts proposals");
            proposed += 1;
        }
        pump(&mut nodes, &mut wire);
    }
    let wall = started.elapsed();
    // Followers learn the last commit index from the next heartbeat.
    for _ in 0..3 {
        nodes[0].raw.tick();
        pump(&mut nodes, &mut wire);
    }
    FloorResult {
        proposals,
        wall,
        applied: [0, 1, 2].map(|i| nodes[i].applied - base),
    }
}

/// One round: every node handles its Ready (persist, send, apply, advance), then every message
/// in flight is delivered.
fn pump(nodes: &mut [Node], wire: &mut VecDeque<Message>) {
    for node in nodes.iter_mut() {
        handle_ready(node, wire);
    }
    while let Some(msg) = wire.pop_front() {
        let to = msg.to as usize - 1;
        let _ = nodes[to].raw.step(msg);
    }
}

fn handle_ready(node: &mut Node, wire: &mut VecDeque<Message>) {
    if !node.raw.has_ready() {
        return;
    }
    let mut rd = node.raw.ready();
    wire.extend(rd.take_messages());
    apply(node, rd.take_committed_entries());
    let store = node.raw.store().clone();
    if !rd.entries().is_empty() {
        store.wl().append(rd.entries()).expect("append in order");
    }
    if let Some(hs) = rd.hs() {
        store.wl().set_hardstate(hs.clone());
    }
    wire.extend(rd.take_persisted_messages());
    let mut light = node.raw.advance(rd);
    if let Some(commit) = light.commit_index() {
        store.wl().mut_hard_state().commit = commit;
    }
    wire.extend(light.take_messages());
    apply(node, light.take_committed_entries());
    node.raw.advance_apply();
}

fn apply(node: &mut Node, entries: Vec<Entry>) {
    for e in entries {
        debug_assert_eq!(e.get_entry_type(), EntryType::EntryNormal);
        node.applied = e.index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_exactly_the_proposals_asked_for() {
        for pace in [Pace::Serial, Pace::Pipelined(64)] {
            let r = run(500, 100, pace);
            assert_eq!(r.applied, [500; 3], "{pace:?}");
        }
    }
}
