//! How a `Mvcc` travels in a Raft snapshot: the revision counters and the change log only.
//!
//! Why not derive: the indexes (`index`, `leases`) are functions of the log; rebuilding them on
//! load means a snapshot cannot carry an index that disagrees with its log, and keeps snapshots
//! small. The log is a list, not a map, so formats with string-only map keys (JSON) work too.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Change, Mvcc, Rev};
use crate::Revision;

/// What a snapshot holds: counters and the change log.
#[derive(Serialize)]
struct SnapshotRef<'a> {
    revision: Revision,
    compact_revision: Revision,
    changes: Vec<(Rev, &'a Change)>,
}

#[derive(Deserialize)]
struct Snapshot {
    revision: Revision,
    compact_revision: Revision,
    changes: Vec<(Rev, Change)>,
}

impl Serialize for Mvcc {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        SnapshotRef {
            revision: self.current,
            compact_revision: self.compacted,
            changes: self
                .log
                .iter()
                .map(|(rev, change)| (*rev, change))
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Mvcc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let snap = Snapshot::deserialize(d)?;
        let mut store = Mvcc {
            log: BTreeMap::new(),
            index: BTreeMap::new(),
            leases: BTreeMap::new(),
            current: snap.revision,
            compacted: snap.compact_revision,
        };
        for (rev, change) in snap.changes {
            store
                .index
                .entry(change.kv.key.clone())
                .or_default()
                .push(rev);
            store.log.insert(rev, change);
        }
        for revs in store.index.values_mut() {
            revs.sort();
        }
        let keys: Vec<Vec<u8>> = store.index.keys().cloned().collect();
        for key in keys {
            store.attach(&key, store.current);
        }
        Ok(store)
    }
}
