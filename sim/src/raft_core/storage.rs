//! `MemberStorage`: a member's durable disk (Raft log, `HardState`, `ConfState`, latest
//! snapshot), implementing [`raft::Storage`].
//!
//! Why not raft-rs's `MemStorage`: its `snapshot()` is metadata only (no state machine data), so a
//! follower whose log was compacted away behind could never catch up, and it fakes the snapshot
//! index up to whatever raft requests. Here a snapshot holds the caller's serialized state machine
//! at a real applied index, and is what a restart or a lagging follower restores from.
//!
//! Crash model: the [`Disk`] lives in an `Rc<RefCell<…>>` owned by the world, outside the turmoil
//! host closure, so a crash drops the `RawNode` and everything volatile while the disk survives;
//! a restart builds a new `RawNode` on a clone of the same [`MemberStorage`] handle. (Rejected
//! alternative: `Arc<RwLock<…>>` as `MemStorage`: the simulation is single-threaded, and a lock
//! would only hide a re-entrant borrow that `RefCell` turns into a loud panic.) Every write is
//! durable the moment the method returns, i.e. as if fsynced.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

/// The durable state of one member: plain data, no handles.
///
/// The log is the entries after a *compaction point* `(compacted_index, compacted_term)`, the last
/// entry dropped (by [`MemberStorage::compact`] or [`MemberStorage::apply_snapshot`]); its term
/// is kept because raft asks for `term(first_index - 1)` to match the entry before an append.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    hard_state: HardState,
    conf_state: ConfState,
    /// Invariant: `compacted_index <= snapshot.metadata.index`. Why: an entry may be dropped only
    /// when a snapshot covers it; else a lagging follower could be caught up by neither the log
    /// nor the snapshot. Checked: `Disk::check_invariants`, and `compact` panics before breaking it.
    compacted_index: u64,
    compacted_term: u64,
    /// Invariant: contiguous, `entries[i].index == compacted_index + 1 + i`, terms non-decreasing
    /// and `>= compacted_term`. Checked: `Disk::check_invariants`; `append` checks its part.
    entries: Vec<Entry>,
    /// The latest snapshot: metadata plus the caller's serialized state machine at its index.
    /// Index 0 means "none yet".
    ///
    /// Invariant: `snapshot.metadata.index <= last_index()` and `<= hard_state.commit`. Why: a
    /// snapshot is of applied, hence committed, state. Checked: `Disk::check_invariants`.
    snapshot: Snapshot,
}

impl Disk {
    /// The persisted Raft `HardState`: term, vote and commit index, as last written.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// The persisted membership (voters and learners).
    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// The entries still in the log, from [`first_index`](Disk::first_index) on.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The metadata of the latest snapshot (index 0 when there is none).
    pub fn snapshot_metadata(&self) -> &SnapshotMetadata {
        self.snapshot.get_metadata()
    }

    /// The first index still in the log (`compacted_index + 1`; 1 on a fresh disk).
    pub fn first_index(&self) -> u64 {
        self.compacted_index + 1
    }

    /// The last index in the log, or the compaction point when the log is empty.
    pub fn last_index(&self) -> u64 {
        self.compacted_index + self.entries.len() as u64
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.compacted_index {
            return Ok(self.compacted_term);
        }
        if idx < self.compacted_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last_index() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.first_index()) as usize].term)
    }

    /// Asserts every invariant on the fields: O(log length), for tests and checkers.
    ///
    /// # Panics
    ///
    /// On a broken invariant: a bug in this module or in the member's Ready loop.
    pub fn check_invariants(&self) {
        self.check_bounds();
        let mut prev_term = self.compacted_term;
        for (i, e) in self.entries.iter().enumerate() {
            assert_eq!(
                e.index,
                self.first_index() + i as u64,
                "log is not contiguous"
            );
            assert!(e.term >= prev_term, "term goes down at index {}", e.index);
            prev_term = e.term;
        }
    }

    /// The O(1) part of [`check_invariants`](Disk::check_invariants), run after every write.
    fn check_bounds(&self) {
        if let (Some(first), Some(last)) = (self.entries.first(), self.entries.last()) {
            assert_eq!(
                first.index,
                self.first_index(),
                "first entry is not after compaction point"
            );
            assert_eq!(last.index, self.last_index(), "log has a hole");
            assert!(
                first.term >= self.compacted_term,
                "first entry's term below compaction point's"
            );
        }
        let snap = self.snapshot.get_metadata().index;
        assert!(
            self.compacted_index <= snap,
            "compacted to {} but the latest snapshot is at {snap}",
            self.compacted_index
        );
        assert!(
            snap <= self.last_index(),
            "snapshot {snap} beyond last index {}",
            self.last_index()
        );
        assert!(
            snap <= self.hard_state.commit,
            "snapshot {snap} beyond commit {}",
            self.hard_state.commit
        );
    }
}

/// A cheap, clonable handle on one member's [`Disk`]. Every clone sees the same disk.
///
/// Writer methods are called only by the member's Ready loop. DO NOT hold the guard returned by
/// [`disk`](MemberStorage::disk) across a call into the `RawNode`: raft reads the storage, and a
/// write while the guard lives panics (`RefCell`).
#[derive(Clone, Debug, Default)]
pub struct MemberStorage {
    disk: Rc<RefCell<Disk>>,
}

impl MemberStorage {
    /// An empty, uninitialized disk (no voters): a member that will learn the configuration from
    /// a leader's snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The disk of a fresh member of a cluster of `voters`, as raft-rs's
    /// `MemStorage::new_with_conf_state`. Every member of the cluster MUST start with the same
    /// voters: raft only guarantees that logs converge, so identical start states are how a
    /// bootstrapped cluster agrees on its membership without a snapshot.
    pub fn new_with_conf_state(voters: Vec<u64>) -> Self {
        let storage = Self::new();
        storage.disk.borrow_mut().conf_state.voters = voters;
        storage
    }

    /// A handle on a copy of `disk`, e.g. a disk that lost its unsynced writes.
    pub fn from_disk(disk: Disk) -> Self {
        disk.check_invariants();
        MemberStorage {
            disk: Rc::new(RefCell::new(disk)),
        }
    }

    /// Read access to the disk, for restarts, status and checkers.
    pub fn disk(&self) -> Ref<'_, Disk> {
        self.disk.borrow()
    }

    fn disk_mut(&self) -> RefMut<'_, Disk> {
        self.disk.borrow_mut()
    }

    /// Persists entries from a `Ready`, replacing any suffix they conflict with (a follower's
    /// uncommitted tail overwritten by a new leader).
    ///
    /// # Panics
    ///
    /// If `ents` start inside the compacted prefix, leave a gap after the last entry, are not
    /// contiguous, or would rewrite a committed entry with a different term: each is a raft or
    /// Ready-loop bug, and the last one a broken Raft safety property.
    pub fn append(&self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        let mut disk = self.disk_mut();
        assert!(
            first.index >= disk.first_index(),
            "overwriting compacted log: compacted to {}, append at {}",
            disk.compacted_index,
            first.index
        );
        assert!(
            first.index <= disk.last_index() + 1,
            "gap in log: last index {}, append at {}",
            disk.last_index(),
            first.index
        );
        for (i, e) in ents.iter().enumerate() {
            assert_eq!(
                e.index,
                first.index + i as u64,
                "appended entries are not contiguous"
            );
            if e.index <= disk.hard_state.commit.min(disk.last_index()) {
                let old = disk.term(e.index).expect("checked in range");
                assert_eq!(
                    old, e.term,
                    "rewriting committed entry {} (term {old})",
                    e.index
                );
            }
        }
        let prev_term = disk.term(first.index - 1).expect("checked in range");
        assert!(
            first.term >= prev_term,
            "term goes down at index {}",
            first.index
        );
        let keep = (first.index - disk.first_index()) as usize;
        disk.entries.truncate(keep);
        disk.entries.extend_from_slice(ents);
        disk.check_bounds();
    }

    /// Persists the `HardState` from a `Ready`.
    ///
    /// # Panics
    ///
    /// If the term or the commit index would go down: raft never does that, so the caller
    /// persisted an old `HardState`.
    pub fn set_hard_state(&self, hs: HardState) {
        let mut disk = self.disk_mut();
        assert!(
            hs.term >= disk.hard_state.term,
            "term goes down: {hs:?} after {:?}",
            disk.hard_state
        );
        assert!(
            hs.commit >= disk.hard_state.commit,
            "commit goes down: {hs:?} after {:?}",
            disk.hard_state
        );
        disk.hard_state = hs;
        disk.check_bounds();
    }

    /// Persists the commit index from a `LightReady`.
    ///
    /// # Panics
    ///
    /// If it goes down (see [`set_hard_state`](MemberStorage::set_hard_state)).
    pub fn set_commit(&self, commit: u64) {
        let mut disk = self.disk_mut();
        assert!(
            commit >= disk.hard_state.commit,
            "commit goes down: {commit} after {}",
            disk.hard_state.commit
        );
        disk.hard_state.commit = commit;
    }

    /// Persists a new configuration (after `apply_conf_change`).
    pub fn set_conf_state(&self, cs: ConfState) {
        self.disk_mut().conf_state = cs;
    }

    /// Installs a snapshot received from the leader (the one in a `Ready`): it replaces the whole
    /// log, the configuration and the latest snapshot, and commits its index. The caller restores
    /// its state machine from `snapshot.data` too.
    ///
    /// Why the whole log: raft hands out a snapshot only when the local log does not contain the
    /// snapshot's last entry, so no local entry can be kept.
    ///
    /// `Err(SnapshotOutOfDate)` if the disk already holds everything up to its index.
    pub fn apply_snapshot(&self, mut snapshot: Snapshot) -> raft::Result<()> {
        let mut disk = self.disk_mut();
        let meta = snapshot.mut_metadata();
        if meta.index < disk.first_index() {
            return Err(raft::Error::Store(StorageError::SnapshotOutOfDate));
        }
        disk.compacted_index = meta.index;
        disk.compacted_term = meta.term;
        disk.entries.clear();
        disk.hard_state.term = disk.hard_state.term.max(meta.term);
        disk.hard_state.commit = disk.hard_state.commit.max(meta.index);
        disk.conf_state = meta.take_conf_state();
        // Keep a copy of the configuration in the stored snapshot: it is what we serve onwards.
        snapshot
            .mut_metadata()
            .set_conf_state(disk.conf_state.clone());
        disk.snapshot = snapshot;
        disk.check_bounds();
        Ok(())
    }

    /// Records a snapshot of the state machine at `index`, which the caller has applied; `data`
    /// is the caller's serialized state at exactly that index, `conf_state` the configuration
    /// there. The log is not compacted: call [`compact`](MemberStorage::compact) after, leaving a
    /// tail for slow followers (etcd keeps 5000 entries, `SnapshotCatchUpEntries`).
    ///
    /// `Err(SnapshotOutOfDate)` if the latest snapshot is already at `index` or later (as etcd's
    /// `MemoryStorage.CreateSnapshot`).
    ///
    /// # Panics
    ///
    /// If `index` is beyond the commit index or the last log index: a snapshot of unapplied
    /// state is a caller bug.
    pub fn create_snapshot(
        &self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
    ) -> raft::Result<()> {
        let mut disk = self.disk_mut();
        if index <= disk.snapshot.get_metadata().index {
            return Err(raft::Error::Store(StorageError::SnapshotOutOfDate));
        }
        assert!(
            index <= disk.hard_state.commit,
            "snapshot at {index} beyond commit {}",
            disk.hard_state.commit
        );
        let term = disk.term(index).unwrap_or_else(|e| {
            panic!(
                "snapshot at {index}: {e} (log is [{}, {}])",
                disk.first_index(),
                disk.last_index()
            )
        });
        let mut snapshot = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(conf_state);
        disk.snapshot = snapshot;
        disk.check_bounds();
        Ok(())
    }

    /// Drops the log entries before `index`, which becomes the first index (raft-rs's `compact`
    /// semantics). A no-op when `index <= first_index`.
    ///
    /// # Panics
    ///
    /// If `index > snapshot index + 1`: those entries are covered by no snapshot, so a follower
    /// behind them could never catch up. Take a snapshot first.
    pub fn compact(&self, index: u64) {
        let mut disk = self.disk_mut();
        if index <= disk.first_index() {
            return;
        }
        let snap = disk.snapshot.get_metadata().index;
        assert!(
            index <= snap + 1,
            "compact to {index} but the latest snapshot is at {snap}"
        );
        let new_compacted = index - 1;
        disk.compacted_term = disk.term(new_compacted).expect("within the log");
        let drop = (index - disk.first_index()) as usize;
        disk.entries.drain(..drop);
        disk.compacted_index = new_compacted;
        disk.check_bounds();
    }

    /// The latest snapshot's metadata and state machine data, to restore from on restart; `None`
    /// before the first snapshot (restart from an empty state machine and replay the log).
    pub fn snapshot_data(&self) -> Option<(SnapshotMetadata, Vec<u8>)> {
        let disk = self.disk();
        let meta = disk.snapshot.get_metadata();
        (meta.index > 0).then(|| (meta.clone(), disk.snapshot.data.to_vec()))
    }
}

impl Storage for MemberStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let disk = self.disk();
        Ok(RaftState::new(
            disk.hard_state.clone(),
            disk.conf_state.clone(),
        ))
    }

    /// Entries `[low, high)`, at least one if any, at most `max_size` bytes beyond the first.
    ///
    /// # Panics
    ///
    /// If `high > last_index + 1` (the trait's contract).
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let disk = self.disk();
        if low < disk.first_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        assert!(
            high <= disk.last_index() + 1,
            "entries [{low}, {high}) beyond last index {}",
            disk.last_index()
        );
        if low >= high {
            return Ok(Vec::new());
        }
        let offset = disk.first_index();
        let mut ents = disk.entries[(low - offset) as usize..(high - offset) as usize].to_vec();
        raft::util::limit_size(&mut ents, max_size.into());
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.disk().term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.disk().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.disk().last_index())
    }

    /// The latest snapshot, with its state machine data.
    ///
    /// `SnapshotTemporarilyUnavailable` when there is none yet, or when a follower asked for a
    /// newer one (`request_index` above ours): raft retries later, and the member should create
    /// a fresh snapshot meanwhile. Unlike `MemStorage`, the index is never faked upward: the data
    /// would not match it.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let disk = self.disk();
        let index = disk.snapshot.get_metadata().index;
        if index == 0 || index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(disk.snapshot.clone())
    }
}

#[cfg(test)]
mod tests;
