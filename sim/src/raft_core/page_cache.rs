//! `PageCache`: a member's written-but-not-fsynced Raft writes.
//!
//! A process crash does not lose them (the kernel still holds them and writes them back); a
//! power loss does. Keeping them apart from the [`MemberStorage`] makes the Raft order explicit:
//! entries and HardState are *written* here, *fsynced* to the disk after `fsync_latency`, and
//! only then are the messages that promise durability (votes, append acks) sent. A crash with
//! `lose_unsynced` between write and fsync shows what that order protects — and, with the
//! deliberately unsafe `send_before_fsync`, what breaks without it.

use std::cell::RefCell;
use std::rc::Rc;

use raft::eraftpb::{Entry, HardState};

use crate::raft_core::storage::MemberStorage;

enum DiskWrite {
    Entries(Vec<Entry>),
    HardState(HardState),
}

/// Kept by the cluster beside the member's disk, outside the host, so a process crash keeps
/// it. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct PageCache {
    writes: Rc<RefCell<Vec<DiskWrite>>>,
}

impl PageCache {
    pub(crate) fn write_entries(&self, entries: &[Entry]) {
        if !entries.is_empty() {
            self.writes
                .borrow_mut()
                .push(DiskWrite::Entries(entries.to_vec()));
        }
    }

    pub(crate) fn write_hard_state(&self, hs: HardState) {
        self.writes.borrow_mut().push(DiskWrite::HardState(hs));
    }

    /// Make every write durable, in the order it was made.
    pub(crate) fn fsync(&self, storage: &MemberStorage) {
        for write in self.writes.borrow_mut().drain(..) {
            match write {
                DiskWrite::Entries(entries) => storage.append(&entries),
                DiskWrite::HardState(hs) => storage.set_hard_state(hs),
            }
        }
    }

    /// Power loss: whatever was not fsynced is gone.
    pub(crate) fn discard(&self) -> usize {
        let lost = self.writes.borrow().len();
        self.writes.borrow_mut().clear();
        lost
    }
}
