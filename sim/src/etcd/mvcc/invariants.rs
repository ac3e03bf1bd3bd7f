//! `Mvcc::check_invariants`: the store's local invariants, checked by the tests and the
//! property tests after every operation.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Mvcc};
use crate::{EventType, KeyValue, LeaseId, NO_LEASE};

impl Mvcc {
    /// Local invariants of the store.
    ///
    /// # Panics
    /// When an invariant written on a field of [`Mvcc`] does not hold: a bug in this module.
    pub fn check_invariants(&self) {
        assert!(self.current >= 1, "revision {} < 1", self.current);
        assert!(
            0 <= self.compacted && self.compacted <= self.current,
            "compact revision {} outside 0..={}",
            self.compacted,
            self.current
        );
        for (rev, change) in &self.log {
            assert!(
                1 <= rev.main && rev.main <= self.current,
                "change at {rev:?} out of range"
            );
            assert!(rev.sub >= 0);
            assert_eq!(
                change.kv.mod_revision, rev.main,
                "mod_revision of change at {rev:?}"
            );
        }
        let mut indexed = 0;
        let mut leases: BTreeMap<LeaseId, BTreeSet<Vec<u8>>> = BTreeMap::new();
        for (key, revs) in &self.index {
            assert!(!revs.is_empty(), "empty index entry for {key:?}");
            assert!(
                revs.windows(2).all(|w| w[0] < w[1]),
                "positions of {key:?} not ascending"
            );
            assert!(
                revs.iter().filter(|r| r.main <= self.compacted).count() <= 1,
                "{key:?} keeps more than one version <= compact revision"
            );
            indexed += revs.len();
            // Walk the key's versions: a deletion ends a generation, the next put starts one.
            let mut prev: Option<&Change> = None;
            for rev in revs {
                let change = self
                    .log
                    .get(rev)
                    .expect("indexed change missing from the log");
                assert_eq!(
                    &change.kv.key, key,
                    "change at {rev:?} indexed under another key"
                );
                match change.kind {
                    EventType::Delete => {
                        assert!(
                            matches!(prev, Some(p) if p.kind == EventType::Put),
                            "deletion of {key:?} at {rev:?} without a version before it"
                        );
                        assert_eq!(
                            change.kv,
                            KeyValue {
                                key: key.clone(),
                                mod_revision: rev.main,
                                ..KeyValue::default()
                            }
                        );
                    }
                    EventType::Put => {
                        let kv = &change.kv;
                        assert!(
                            kv.create_revision <= kv.mod_revision,
                            "{kv:?}: create > mod"
                        );
                        assert!(kv.version >= 1, "{kv:?}: version < 1");
                        match prev {
                            Some(p) if p.kind == EventType::Put => {
                                assert_eq!(kv.create_revision, p.kv.create_revision, "{kv:?}");
                                assert_eq!(kv.version, p.kv.version + 1, "{kv:?}");
                            }
                            // Start of a generation, unless compaction cut off its beginning.
                            Some(_) => {
                                assert_eq!(kv.version, 1, "{kv:?}");
                                assert_eq!(kv.create_revision, kv.mod_revision, "{kv:?}");
                            }
                            None if rev.main > self.compacted => {
                                assert_eq!(kv.version, 1, "{kv:?}");
                                assert_eq!(kv.create_revision, kv.mod_revision, "{kv:?}");
                            }
                            None => {}
                        }
                    }
                }
                prev = Some(change);
            }
            if let Some(last) = prev {
                if last.kind == EventType::Put && last.kv.lease != NO_LEASE {
                    leases.entry(last.kv.lease).or_default().insert(key.clone());
                }
            }
        }
        assert_eq!(indexed, self.log.len(), "log entries not in the index");
        assert_eq!(
            leases, self.leases,
            "lease index disagrees with the current versions"
        );
    }
}
