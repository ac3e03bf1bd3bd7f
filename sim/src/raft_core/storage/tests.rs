use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use protobuf::Message as _;
use raft::eraftpb::{EntryType, Message};
use raft::{Config, RawNode, StateRole};

use super::*;

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        ..Default::default()
    }
}

fn snapshot(index: u64, term: u64, voters: Vec<u64>, data: &[u8]) -> Snapshot {
    let mut s = Snapshot {
        data: data.to_vec().into(),
        ..Default::default()
    };
    s.mut_metadata().index = index;
    s.mut_metadata().term = term;
    s.mut_metadata().mut_conf_state().voters = voters;
    s
}

fn cs(voters: Vec<u64>) -> ConfState {
    ConfState {
        voters,
        ..Default::default()
    }
}

fn no_ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

/// A disk whose log was compacted at `(point, point)` and then holds `ents` (etcd's storage
/// tests' shape, where the first listed entry is the compaction point).
fn disk_with(point: u64, ents: &[Entry]) -> MemberStorage {
    let s = MemberStorage::new_with_conf_state(vec![1, 2, 3]);
    s.apply_snapshot(snapshot(point, point, vec![1, 2, 3], b""))
        .unwrap();
    s.append(ents);
    s.disk().check_invariants();
    s
}

/// Compaction point 3, entries 4 and 5.
fn disk_3_4_5() -> MemberStorage {
    disk_with(3, &[entry(4, 4), entry(5, 5)])
}

fn log(s: &MemberStorage) -> Vec<(u64, u64)> {
    s.disk()
        .entries()
        .iter()
        .map(|e| (e.index, e.term))
        .collect()
}

#[test]
fn term_of_compaction_point_entries_and_beyond() {
    let s = disk_3_4_5();
    let compacted = Err(raft::Error::Store(StorageError::Compacted));
    let unavailable = Err(raft::Error::Store(StorageError::Unavailable));
    assert_eq!(s.term(2), compacted);
    assert_eq!(s.term(3), Ok(3));
    assert_eq!(s.term(4), Ok(4));
    assert_eq!(s.term(5), Ok(5));
    assert_eq!(s.term(6), unavailable);
    // A fresh disk: term(0) = 0 is what raft matches its first append against.
    let fresh = MemberStorage::new_with_conf_state(vec![1]);
    assert_eq!(fresh.term(0), Ok(0));
    assert_eq!(fresh.term(1), unavailable);
}

#[test]
fn entries_respect_bounds_and_max_size() {
    let s = disk_with(3, &[entry(4, 4), entry(5, 5), entry(6, 6)]);
    let size = |i: u64| u64::from(entry(i, i).compute_size());
    let all = Some(u64::MAX);
    let compacted = Err(raft::Error::Store(StorageError::Compacted));
    assert_eq!(s.entries(2, 6, all, no_ctx()), compacted);
    assert_eq!(s.entries(3, 4, all, no_ctx()), compacted);
    assert_eq!(s.entries(4, 5, all, no_ctx()), Ok(vec![entry(4, 4)]));
    assert_eq!(
        s.entries(4, 6, all, no_ctx()),
        Ok(vec![entry(4, 4), entry(5, 5)])
    );
    let three = vec![entry(4, 4), entry(5, 5), entry(6, 6)];
    assert_eq!(s.entries(4, 7, all, no_ctx()), Ok(three.clone()));
    assert_eq!(s.entries(4, 7, None, no_ctx()), Ok(three.clone()));
    assert_eq!(s.entries(4, 4, all, no_ctx()), Ok(vec![]));
    // Even with max size 0, the first entry comes back.
    assert_eq!(s.entries(4, 7, Some(0), no_ctx()), Ok(vec![entry(4, 4)]));
    let two = Ok(vec![entry(4, 4), entry(5, 5)]);
    assert_eq!(s.entries(4, 7, Some(size(4) + size(5)), no_ctx()), two);
    assert_eq!(
        s.entries(4, 7, Some(size(4) + size(5) + size(6) / 2), no_ctx()),
        two
    );
    assert_eq!(
        s.entries(4, 7, Some(size(4) + size(5) + size(6) - 1), no_ctx()),
        two
    );
    assert_eq!(
        s.entries(4, 7, Some(size(4) + size(5) + size(6)), no_ctx()),
        Ok(three)
    );
}

#[test]
#[should_panic(expected = "beyond last index")]
fn entries_beyond_last_index_panic() {
    let _ = disk_3_4_5().entries(4, 7, None, no_ctx());
}

#[test]
fn first_and_last_index() {
    let s = disk_3_4_5();
    assert_eq!((s.first_index(), s.last_index()), (Ok(4), Ok(5)));
    s.append(&[entry(6, 5)]);
    assert_eq!(s.last_index(), Ok(6));
    s.set_commit(6);
    s.create_snapshot(5, cs(vec![1, 2, 3]), b"at 5".to_vec())
        .unwrap();
    s.compact(5);
    assert_eq!((s.first_index(), s.last_index()), (Ok(5), Ok(6)));
    let fresh = MemberStorage::new();
    assert_eq!((fresh.first_index(), fresh.last_index()), (Ok(1), Ok(0)));
}

#[test]
fn compact_keeps_index_and_after() {
    // (compact to, first index, its term, entries left), as raft-rs's test_storage_compact.
    for (idx, windex, wterm, wlen) in [(2, 3, 3, 3), (3, 3, 3, 3), (4, 4, 4, 2), (5, 5, 5, 1)] {
        let s = disk_with(2, &[entry(3, 3), entry(4, 4), entry(5, 5)]);
        s.set_commit(5);
        s.create_snapshot(5, cs(vec![1, 2, 3]), vec![]).unwrap();
        s.compact(idx);
        assert_eq!(s.first_index(), Ok(windex), "compact({idx})");
        let first = s.entries(windex, windex + 1, Some(1), no_ctx()).unwrap();
        assert_eq!(first[0].term, wterm, "compact({idx})");
        let left = s
            .entries(windex, s.last_index().unwrap() + 1, Some(100), no_ctx())
            .unwrap();
        assert_eq!(left.len(), wlen, "compact({idx})");
        // The term of the entry before the first stays known.
        assert_eq!(s.term(windex - 1), Ok(windex - 1));
        s.disk().check_invariants();
    }
}

#[test]
#[should_panic(expected = "latest snapshot is at 3")]
fn compact_beyond_snapshot_panics() {
    let s = disk_3_4_5();
    s.set_commit(5);
    s.compact(5);
}

#[test]
fn create_snapshot_records_index_term_conf_and_data() {
    let s = disk_with(2, &[entry(3, 3), entry(4, 4), entry(5, 5)]);
    s.set_commit(4);
    s.create_snapshot(4, cs(vec![1, 2, 3]), b"state at 4".to_vec())
        .unwrap();
    let snap = s.snapshot(0, 2).unwrap();
    assert_eq!(snap.get_metadata().index, 4);
    assert_eq!(snap.get_metadata().term, 4);
    assert_eq!(snap.get_metadata().get_conf_state().voters, vec![1, 2, 3]);
    assert_eq!(&snap.data[..], b"state at 4");
    assert_eq!(s.snapshot(4, 2).unwrap(), snap);
    // A follower asking for a newer one: not now (and never a faked index).
    let unavailable = Err(raft::Error::Store(
        StorageError::SnapshotTemporarilyUnavailable,
    ));
    assert_eq!(s.snapshot(5, 2), unavailable);
    // Older or equal: out of date, as etcd's MemoryStorage.CreateSnapshot.
    let out_of_date = Err(raft::Error::Store(StorageError::SnapshotOutOfDate));
    assert_eq!(s.create_snapshot(4, cs(vec![1]), vec![]), out_of_date);
    assert_eq!(s.create_snapshot(3, cs(vec![1]), vec![]), out_of_date);
    let (meta, data) = s.snapshot_data().unwrap();
    assert_eq!((meta.index, data), (4, b"state at 4".to_vec()));
    // Beyond commit: a caller bug.
    let r = catch_unwind(AssertUnwindSafe(|| {
        s.create_snapshot(5, cs(vec![1]), vec![])
    }));
    assert!(r.is_err());
    // No snapshot yet: nothing to serve.
    let fresh = MemberStorage::new_with_conf_state(vec![1, 2, 3]);
    assert_eq!(fresh.snapshot(0, 2), unavailable);
    assert_eq!(fresh.snapshot_data(), None);
}

#[test]
fn append_truncates_conflicting_suffix() {
    // (entries to append, the log after, as (index, term); None = must panic)
    type Case = (Vec<Entry>, Option<Vec<(u64, u64)>>);
    let cases: Vec<Case> = vec![
        (
            vec![entry(3, 3), entry(4, 4), entry(5, 5)],
            Some(vec![(3, 3), (4, 4), (5, 5)]),
        ),
        (
            vec![entry(3, 3), entry(4, 6), entry(5, 6)],
            Some(vec![(3, 3), (4, 6), (5, 6)]),
        ),
        (
            vec![entry(3, 3), entry(4, 4), entry(5, 5), entry(6, 5)],
            Some(vec![(3, 3), (4, 4), (5, 5), (6, 5)]),
        ),
        // Overwriting the compacted prefix is not allowed.
        (vec![entry(2, 3), entry(3, 3), entry(4, 5)], None),
        // Truncate the existing entries and append.
        (vec![entry(4, 5)], Some(vec![(3, 3), (4, 5)])),
        // Direct append.
        (
            vec![entry(6, 6)],
            Some(vec![(3, 3), (4, 4), (5, 5), (6, 6)]),
        ),
        // A gap is not allowed.
        (vec![entry(7, 7)], None),
        // Nor entries that are not contiguous among themselves, nor a falling term.
        (vec![entry(6, 6), entry(8, 6)], None),
        (vec![entry(6, 4)], None),
    ];
    for (i, (ents, want)) in cases.into_iter().enumerate() {
        let s = disk_with(2, &[entry(3, 3), entry(4, 4), entry(5, 5)]);
        let r = catch_unwind(AssertUnwindSafe(|| s.append(&ents)));
        match want {
            Some(want) => {
                assert!(r.is_ok(), "case {i} panicked");
                assert_eq!(log(&s), want, "case {i}");
                s.disk().check_invariants();
            }
            None => assert!(r.is_err(), "case {i} did not panic"),
        }
    }
}

#[test]
#[should_panic(expected = "rewriting committed entry 4")]
fn append_never_rewrites_a_committed_entry() {
    let s = disk_with(2, &[entry(3, 3), entry(4, 4), entry(5, 5)]);
    s.set_commit(4);
    // Re-appending what is already there is fine...
    s.append(&[entry(4, 4), entry(5, 6)]);
    // ...changing a committed entry is a Raft safety violation.
    s.append(&[entry(4, 6)]);
}

#[test]
fn apply_snapshot_replaces_log_and_conf() {
    let s = MemberStorage::new();
    s.apply_snapshot(snapshot(4, 4, vec![1, 2, 3], b"x"))
        .unwrap();
    let disk = s.disk();
    assert_eq!((disk.first_index(), disk.last_index()), (5, 4));
    assert_eq!(disk.hard_state().commit, 4);
    assert_eq!(disk.hard_state().term, 4);
    assert_eq!(disk.conf_state().voters, vec![1, 2, 3]);
    drop(disk);
    assert_eq!(s.term(4), Ok(4));
    assert_eq!(
        s.snapshot(0, 1)
            .unwrap()
            .get_metadata()
            .get_conf_state()
            .voters,
        vec![1, 2, 3]
    );
    // An older one is out of date.
    let out_of_date = Err(raft::Error::Store(StorageError::SnapshotOutOfDate));
    assert_eq!(
        s.apply_snapshot(snapshot(3, 3, vec![1, 2, 3], b"")),
        out_of_date
    );
    // A newer one replaces a log that went past it, too.
    s.append(&[entry(5, 4), entry(6, 5)]);
    s.apply_snapshot(snapshot(5, 5, vec![1, 2], b"y")).unwrap();
    assert_eq!(log(&s), vec![]);
    assert_eq!(s.term(5), Ok(5));
    assert_eq!(s.disk().conf_state().voters, vec![1, 2]);
    s.disk().check_invariants();
}

#[test]
#[should_panic(expected = "term goes down")]
fn hard_state_term_never_goes_down() {
    let s = MemberStorage::new_with_conf_state(vec![1]);
    s.set_hard_state(HardState {
        term: 3,
        vote: 1,
        commit: 0,
        ..Default::default()
    });
    s.set_hard_state(HardState {
        term: 2,
        vote: 1,
        commit: 0,
        ..Default::default()
    });
}

#[test]
fn restart_sees_everything_on_the_disk() {
    let s = disk_with(2, &[entry(3, 3), entry(4, 4), entry(5, 5)]);
    s.set_hard_state(HardState {
        term: 5,
        vote: 2,
        commit: 4,
        ..Default::default()
    });
    s.create_snapshot(4, cs(vec![1, 2, 3]), b"sm".to_vec())
        .unwrap();
    // The world keeps a handle; the crashed member's handle is dropped.
    let kept = s.clone();
    drop(s);
    let state = kept.initial_state().unwrap();
    assert_eq!(
        (
            state.hard_state.term,
            state.hard_state.vote,
            state.hard_state.commit
        ),
        (5, 2, 4)
    );
    assert_eq!(state.conf_state.voters, vec![1, 2, 3]);
    assert_eq!(log(&kept), vec![(3, 3), (4, 4), (5, 5)]);
    assert_eq!(kept.snapshot_data().unwrap().1, b"sm".to_vec());
    // A copy is independent of the original (e.g. a disk that loses unsynced writes).
    let copy = MemberStorage::from_disk(kept.disk().clone());
    kept.append(&[entry(6, 5)]);
    assert_eq!(copy.last_index(), Ok(5));
    assert_eq!(kept.last_index(), Ok(6));
    // A RawNode built on the surviving handle starts from the persisted state.
    let raw = RawNode::new(&config(1, 4), kept.clone(), &discard()).unwrap();
    assert_eq!(raw.raft.term, 5);
    assert_eq!(raw.raft.vote, 2);
    assert_eq!(raw.raft.raft_log.committed, 4);
    assert_eq!(raw.raft.raft_log.last_index(), 6);
}

// ---- End to end: three RawNodes in one thread, messages passed in memory. ----

fn discard() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn config(id: u64, applied: u64) -> Config {
    Config {
        id,
        election_tick: 10,
        heartbeat_tick: 1,
        applied,
        pre_vote: true,
        check_quorum: true,
        batch_append: true,
        max_size_per_msg: 1 << 20,
        max_inflight_msgs: 256,
        ..Default::default()
    }
}

/// Fixed election timeouts (node 1 fires first), instead of raft-rs's `thread_rng`.
fn election_timeout(id: u64) -> usize {
    10 + 4 * (id as usize - 1)
}

/// One member: a RawNode on a disk, and a state machine that is the list of applied values.
struct Node {
    id: u64,
    raw: RawNode<MemberStorage>,
    storage: MemberStorage,
    state: Vec<u64>,
    applied: u64,
}

impl Node {
    /// (Re)starts a member from its disk: state machine from the snapshot, then raft replays
    /// the committed entries after it.
    fn start(id: u64, storage: MemberStorage) -> Node {
        let (state, applied) = match storage.snapshot_data() {
            Some((meta, data)) => (bincode::deserialize(&data).unwrap(), meta.index),
            None => (Vec::new(), 0),
        };
        let raw = RawNode::new(&config(id, applied), storage.clone(), &discard()).unwrap();
        let mut node = Node {
            id,
            raw,
            storage,
            state,
            applied,
        };
        node.pin_timeout();
        node
    }

    fn pin_timeout(&mut self) {
        if self.raw.raft.election_elapsed == 0 {
            self.raw
                .raft
                .set_randomized_election_timeout(election_timeout(self.id));
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        for e in entries {
            assert_eq!(
                e.index,
                self.applied + 1,
                "node {} applies out of order",
                self.id
            );
            self.applied = e.index;
            if e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                self.state
                    .push(u64::from_le_bytes(e.data[..].try_into().unwrap()));
            }
        }
    }

    /// The Ready loop, in the order DESIGN.md section 7 gives.
    fn handle_ready(&mut self, out: &mut Vec<Message>) {
        if !self.raw.has_ready() {
            return;
        }
        let mut rd = self.raw.ready();
        out.extend(rd.take_messages());
        if !rd.snapshot().is_empty() {
            let snap = rd.snapshot().clone();
            self.state = bincode::deserialize(&snap.data).unwrap();
            self.applied = snap.get_metadata().index;
            self.storage.apply_snapshot(snap).unwrap();
        }
        self.apply(rd.take_committed_entries());
        self.storage.append(rd.entries());
        if let Some(hs) = rd.hs() {
            self.storage.set_hard_state(hs.clone());
        }
        out.extend(rd.take_persisted_messages());
        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.storage.set_commit(commit);
        }
        out.extend(light.take_messages());
        self.apply(light.take_committed_entries());
        self.raw.advance_apply();
        self.pin_timeout();
    }

    /// Snapshot the state machine at the applied index, then drop the log before it.
    fn snapshot_and_compact(&mut self) {
        let conf = self.storage.disk().conf_state().clone();
        let data = bincode::serialize(&self.state).unwrap();
        self.storage
            .create_snapshot(self.applied, conf, data)
            .unwrap();
        self.storage.compact(self.applied);
    }
}

struct Net {
    nodes: BTreeMap<u64, Node>,
    isolated: BTreeSet<u64>,
}

impl Net {
    fn new(n: u64) -> Net {
        let voters: Vec<u64> = (1..=n).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                (
                    id,
                    Node::start(id, MemberStorage::new_with_conf_state(voters.clone())),
                )
            })
            .collect();
        Net {
            nodes,
            isolated: BTreeSet::new(),
        }
    }

    /// Runs Ready loops and delivers messages until nothing moves.
    fn settle(&mut self) {
        loop {
            let mut msgs = Vec::new();
            for node in self.nodes.values_mut() {
                node.handle_ready(&mut msgs);
            }
            if msgs.is_empty() {
                return;
            }
            for m in msgs {
                if self.isolated.contains(&m.from) || self.isolated.contains(&m.to) {
                    continue;
                }
                let node = self.nodes.get_mut(&m.to).unwrap();
                node.raw.step(m).unwrap();
                node.pin_timeout();
            }
        }
    }

    fn tick(&mut self) {
        for node in self.nodes.values_mut() {
            node.raw.tick();
            node.pin_timeout();
        }
        self.settle();
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .values()
            .find(|n| n.raw.raft.state == StateRole::Leader)
            .map(|n| n.id)
    }

    fn propose(&mut self, values: std::ops::Range<u64>) {
        let leader = self.leader().unwrap();
        for v in values {
            let node = self.nodes.get_mut(&leader).unwrap();
            node.raw.propose(vec![], v.to_le_bytes().to_vec()).unwrap();
            self.settle();
        }
    }
}

#[test]
fn three_nodes_lagging_follower_catches_up_by_snapshot() {
    let mut net = Net::new(3);
    for _ in 0..30 {
        if net.leader().is_some() {
            break;
        }
        net.tick();
    }
    assert_eq!(net.leader(), Some(1), "the shortest fixed timeout wins");
    net.propose(0..10);
    for node in net.nodes.values() {
        assert_eq!(node.state, (0..10).collect::<Vec<_>>(), "node {}", node.id);
    }

    // Node 3 is cut off while 100 entries commit on 1 and 2.
    net.isolated.insert(3);
    net.propose(10..110);
    net.tick();
    assert_eq!(net.nodes[&1].state.len(), 110);
    assert_eq!(net.nodes[&2].state.len(), 110);
    assert_eq!(net.nodes[&3].state.len(), 10);

    // The leader snapshots and compacts away what node 3 is missing.
    let leader = net.nodes.get_mut(&1).unwrap();
    leader.snapshot_and_compact();
    let snap_index = leader.applied;
    assert_eq!(leader.storage.first_index(), Ok(snap_index));
    let node3_last = net.nodes[&3].storage.last_index().unwrap();
    assert!(
        node3_last + 1 < snap_index,
        "node 3 needs compacted entries"
    );

    // Node 3 crashes and restarts from its disk (the world's handle), then rejoins.
    let disk3 = net.nodes[&3].storage.clone();
    net.nodes.remove(&3);
    net.nodes.insert(3, Node::start(3, disk3));
    assert_eq!(net.nodes[&3].raw.raft.raft_log.last_index(), node3_last);
    net.isolated.clear();
    for _ in 0..5 {
        net.tick();
    }
    let n3 = &net.nodes[&3];
    assert_eq!(
        n3.state, net.nodes[&1].state,
        "node 3 restored from the snapshot"
    );
    assert_eq!(n3.storage.disk().snapshot_metadata().index, snap_index);
    assert_eq!(n3.storage.first_index(), Ok(snap_index + 1));
    assert_eq!(n3.raw.raft.leader_id, 1);

    // Replication goes on from the snapshot.
    net.propose(110..115);
    for node in net.nodes.values() {
        assert_eq!(node.state, (0..115).collect::<Vec<_>>(), "node {}", node.id);
        node.storage.disk().check_invariants();
    }

    // Node 3 restarts again: snapshot from its own disk, then its log.
    let disk3 = net.nodes[&3].storage.clone();
    net.nodes.remove(&3);
    net.nodes.insert(3, Node::start(3, disk3));
    assert_eq!(
        net.nodes[&3].state.len(),
        110,
        "state machine as of the snapshot"
    );
    net.tick();
    assert_eq!(
        net.nodes[&3].state,
        (0..115).collect::<Vec<_>>(),
        "log replayed after it"
    );
}
