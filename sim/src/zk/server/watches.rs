//! `WatchTable`: one server's watches, per session connected to it (ZooKeeper's
//! `WatchManager`): one-shot data watches (left by `getData` and `exists`) and child watches
//! (left by `getChildren`), and which of them a change fires.

use std::collections::{BTreeMap, BTreeSet};

use crate::zk::tree::{DataTree, SessionId, WatchEvent, Zxid};
use crate::zk::wire::EventType;

#[derive(Default)]
pub(crate) struct WatchTable {
    data: BTreeMap<String, BTreeSet<SessionId>>,
    child: BTreeMap<String, BTreeSet<SessionId>>,
}

/// Which table a watch is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchKind {
    Data,
    Child,
}

impl WatchTable {
    pub(crate) fn add(&mut self, kind: WatchKind, path: &str, session: SessionId) {
        let table = match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Child => &mut self.child,
        };
        table.entry(path.to_string()).or_default().insert(session);
    }

    /// The notifications `event` fires, each watch once (then gone), in session order.
    pub(crate) fn fire(&mut self, event: &WatchEvent) -> Vec<(SessionId, EventType, String)> {
        let (kind, path, tables): (EventType, &String, &[WatchKind]) = match event {
            WatchEvent::NodeCreated(p) => (EventType::NodeCreated, p, &[WatchKind::Data]),
            WatchEvent::NodeDataChanged(p) => (EventType::NodeDataChanged, p, &[WatchKind::Data]),
            WatchEvent::NodeDeleted(p) => (
                EventType::NodeDeleted,
                p,
                &[WatchKind::Data, WatchKind::Child],
            ),
            WatchEvent::NodeChildrenChanged(p) => {
                (EventType::NodeChildrenChanged, p, &[WatchKind::Child])
            }
        };
        let mut sessions = BTreeSet::new();
        for table in tables {
            let table = match table {
                WatchKind::Data => &mut self.data,
                WatchKind::Child => &mut self.child,
            };
            if let Some(watchers) = table.remove(path) {
                sessions.extend(watchers);
            }
        }
        sessions
            .into_iter()
            .map(|s| (s, kind, path.clone()))
            .collect()
    }

    /// The session's connection left this server: its watches go with it.
    pub(crate) fn remove_session(&mut self, session: SessionId) {
        for table in [&mut self.data, &mut self.child] {
            table.retain(|_, watchers| {
                watchers.remove(&session);
                !watchers.is_empty()
            });
        }
    }

    /// A reconnected client's watches (`SetWatches`), as ZooKeeper's `DataTree.setWatches`
    /// treats them: what changed after `relative_zxid` fires at once, the rest is registered.
    pub(crate) fn set_watches(
        &mut self,
        tree: &DataTree,
        session: SessionId,
        relative_zxid: Zxid,
        data: &[String],
        exist: &[String],
        child: &[String],
    ) -> Vec<(EventType, String)> {
        let mut fired = Vec::new();
        for path in data {
            match tree.exists(path).ok().flatten() {
                None => fired.push((EventType::NodeDeleted, path.clone())),
                Some(stat) if stat.mzxid > relative_zxid => {
                    fired.push((EventType::NodeDataChanged, path.clone()))
                }
                Some(_) => self.add(WatchKind::Data, path, session),
            }
        }
        for path in exist {
            match tree.exists(path).ok().flatten() {
                Some(_) => fired.push((EventType::NodeCreated, path.clone())),
                None => self.add(WatchKind::Data, path, session),
            }
        }
        for path in child {
            match tree.exists(path).ok().flatten() {
                None => fired.push((EventType::NodeDeleted, path.clone())),
                Some(stat) if stat.pzxid > relative_zxid => {
                    fired.push((EventType::NodeChildrenChanged, path.clone()))
                }
                Some(_) => self.add(WatchKind::Child, path, session),
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_fires_once_and_a_delete_fires_both_kinds() {
        let mut w = WatchTable::default();
        w.add(WatchKind::Data, "/a", 1);
        w.add(WatchKind::Child, "/a", 2);
        w.add(WatchKind::Child, "/", 1);
        let fired = w.fire(&WatchEvent::NodeDeleted("/a".into()));
        assert_eq!(
            fired,
            vec![
                (1, EventType::NodeDeleted, "/a".into()),
                (2, EventType::NodeDeleted, "/a".into())
            ]
        );
        assert!(w.fire(&WatchEvent::NodeDeleted("/a".into())).is_empty());
        w.remove_session(1);
        assert!(w
            .fire(&WatchEvent::NodeChildrenChanged("/".into()))
            .is_empty());
    }
}
