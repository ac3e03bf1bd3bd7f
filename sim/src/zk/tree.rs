//! `DataTree`: ZooKeeper's znode tree as its servers replicate it — paths, data, the full `Stat`,
//! the four create modes, conditional writes by version, `multi`, ephemeral cleanup when a
//! session closes, and the watch events each change fires.
//!
//! Facts followed (ZooKeeper 3.8, checked against the real server; see issue 19's notes):
//! * a sequential name ends with the parent's count of *child creations* so far, `%010d`
//!   (deleting a child does not lower or skip it), while the parent's `cversion` counts
//!   creations and deletions alike, and `pzxid` moves with both;
//! * an ephemeral node cannot have children; a node with children cannot be deleted;
//! * version `-1` matches any version; `/zookeeper` (with `config` and `quota`) exists from the
//!   start, and the root's `cversion` starts at -1, as on a fresh real server; the root cannot
//!   be deleted (BadArguments).
//!
//! The tree is deterministic: children are kept sorted and every walk is in path order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A transaction id: epoch (high 32 bits) and counter within it (low 32 bits).
pub type Zxid = i64;

/// A session id; 0 is "no session" (a persistent node's `ephemeral_owner`).
pub type SessionId = i64;

/// A znode's data: ZooKeeper's `byte[]`, which may be null — zkCli's `create PATH` without
/// data stores null and `get` prints `null`, while the root's data is empty and prints nothing.
pub type Data = Option<Vec<u8>>;

/// ZooKeeper's `Stat` of a znode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    /// The zxid of the create.
    pub czxid: Zxid,
    /// The zxid of the last setData (the create's at first).
    pub mzxid: Zxid,
    /// The zxid of the last child creation or deletion (the create's at first).
    pub pzxid: Zxid,
    /// Milliseconds since the epoch of the create, as the leader stamped it.
    pub ctime: i64,
    /// Milliseconds of the last setData.
    pub mtime: i64,
    /// setData count (`dataVersion`).
    pub version: i32,
    /// Child creations plus deletions.
    pub cversion: i32,
    /// ACL changes (always 0: ACLs are not simulated).
    pub aversion: i32,
    /// The owning session of an ephemeral node; 0 otherwise.
    pub ephemeral_owner: SessionId,
    /// Length of the data in bytes.
    pub data_length: i32,
    /// Number of children now.
    pub num_children: i32,
}

/// How a node is created (`CreateMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateMode {
    /// Lives until deleted.
    Persistent,
    /// Deleted when its session closes or expires.
    Ephemeral,
    /// Persistent, its name suffixed with the parent's creation counter.
    PersistentSequential,
    /// Ephemeral and sequential: the lock recipes' mode.
    EphemeralSequential,
}

impl CreateMode {
    fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Whether the server appends a sequence number to the name.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential | CreateMode::EphemeralSequential
        )
    }
}

/// ZooKeeper's errors for tree operations (`KeeperException.Code`), with its codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ZkError {
    /// `NONODE` (-101): the node (or, for a create, its parent) does not exist.
    #[error("NoNode")]
    NoNode,
    /// `NODEEXISTS` (-110).
    #[error("NodeExists")]
    NodeExists,
    /// `NOTEMPTY` (-111): a delete of a node with children.
    #[error("NotEmpty")]
    NotEmpty,
    /// `BADVERSION` (-103): the expected version is not the node's.
    #[error("BadVersion")]
    BadVersion,
    /// `NOCHILDRENFOREPHEMERALS` (-108).
    #[error("NoChildrenForEphemerals")]
    NoChildrenForEphemerals,
    /// `BADARGUMENTS` (-8): a malformed path (the client library refuses these first).
    #[error("BadArguments: {0}")]
    BadArguments(String),
    /// `CONNECTIONLOSS` (-4): the connection broke before the answer came; a write may or may
    /// not have happened.
    #[error("ConnectionLoss")]
    ConnectionLoss,
    /// `SESSIONEXPIRED` (-112): the session is gone (expired or closed); its handle is dead.
    #[error("Session expired")]
    SessionExpired,
    /// `REQUESTTIMEOUT` (-122): no answer within the client's `zookeeper.request.timeout`; the
    /// client then drops its connection and reconnects. A write may or may not have happened.
    #[error("RequestTimeout")]
    RequestTimeout,
}

impl ZkError {
    /// ZooKeeper's numeric code.
    pub fn code(&self) -> i32 {
        match self {
            ZkError::NoNode => -101,
            ZkError::NodeExists => -110,
            ZkError::NotEmpty => -111,
            ZkError::BadVersion => -103,
            ZkError::NoChildrenForEphemerals => -108,
            ZkError::BadArguments(_) => -8,
            ZkError::ConnectionLoss => -4,
            ZkError::SessionExpired => -112,
            ZkError::RequestTimeout => -122,
        }
    }

    /// ZooKeeper's name of the code (`KeeperException.Code`), as `locksim ctl` prints it.
    pub fn name(&self) -> &'static str {
        match self {
            ZkError::NoNode => "NoNode",
            ZkError::NodeExists => "NodeExists",
            ZkError::NotEmpty => "NotEmpty",
            ZkError::BadVersion => "BadVersion",
            ZkError::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ZkError::BadArguments(_) => "BadArguments",
            ZkError::ConnectionLoss => "ConnectionLoss",
            ZkError::SessionExpired => "SessionExpired",
            ZkError::RequestTimeout => "RequestTimeout",
        }
    }

    /// True when the request certainly did not take effect (`ConnectionLoss` and
    /// `RequestTimeout` may have).
    pub fn is_definite(&self) -> bool {
        !matches!(self, ZkError::ConnectionLoss | ZkError::RequestTimeout)
    }
}

/// What a change does to watches (`Watcher.Event.EventType`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchEvent {
    /// A node was created: its data watches (from `exists`) fire.
    NodeCreated(String),
    /// A node was deleted: its data and child watches fire.
    NodeDeleted(String),
    /// A node's data was set: its data watches fire.
    NodeDataChanged(String),
    /// A child was created or deleted: the parent's child watches fire.
    NodeChildrenChanged(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Node {
    data: Data,
    stat: Stat,
    children: BTreeSet<String>,
    /// Child creations so far: the next sequential suffix.
    creations: i32,
}

/// One operation of a `multi`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiOp {
    /// `create(path, data, mode)`.
    Create {
        /// The path (a prefix for a sequential node).
        path: String,
        /// The data.
        data: Data,
        /// The mode.
        mode: CreateMode,
    },
    /// `delete(path, version)`.
    Delete {
        /// The node.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// `setData(path, data, version)`.
    SetData {
        /// The node.
        path: String,
        /// The new data.
        data: Data,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// `check(path, version)`: fails the multi unless the node has that version.
    Check {
        /// The node.
        path: String,
        /// Expected version, -1 for any (then only existence is checked).
        version: i32,
    },
}

/// The result of one `multi` operation, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiResult {
    /// The created node's actual path.
    Create(String),
    /// Deleted.
    Delete,
    /// The node's stat after the set.
    SetData(Stat),
    /// The check held.
    Check,
}

/// The replicated znode tree (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataTree {
    nodes: BTreeMap<String, Node>,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

fn data_length(data: &Data) -> i32 {
    data.as_ref().map_or(0, |d| d.len() as i32)
}

/// Check a path as ZooKeeper's `PathUtils.validatePath` does (the parts that matter here).
pub fn validate_path(path: &str) -> Result<(), ZkError> {
    let bad = |why: &str| Err(ZkError::BadArguments(format!("Path {why}: {path}")));
    if !path.starts_with('/') {
        return bad("must start with / character");
    }
    if path.len() > 1 && path.ends_with('/') {
        return bad("must not end with / character");
    }
    if path.contains("//") {
        return bad("contains empty node name");
    }
    if path.split('/').any(|part| part == "." || part == "..") {
        return bad("contains relative path");
    }
    if path.contains('\0') {
        return bad("contains null character");
    }
    Ok(())
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

fn check_version(expected: i32, actual: i32) -> Result<(), ZkError> {
    if expected != -1 && expected != actual {
        return Err(ZkError::BadVersion);
    }
    Ok(())
}

impl DataTree {
    /// The tree of a new ensemble: `/`, `/zookeeper`, `/zookeeper/config`, `/zookeeper/quota`.
    pub fn new() -> Self {
        let mut tree = DataTree {
            nodes: BTreeMap::new(),
        };
        // The real server's root starts at cversion -1 (its `/zookeeper` child not counted).
        // Their data is empty, not null (`new byte[0]`): zkCli's `get /` prints an empty line.
        let empty = || Node {
            data: Some(Vec::new()),
            ..Node::default()
        };
        let mut root = empty();
        root.stat.cversion = -1;
        tree.nodes.insert("/".into(), root);
        for path in ["/zookeeper", "/zookeeper/config", "/zookeeper/quota"] {
            tree.nodes.insert(path.into(), empty());
            let parent = tree.nodes.get_mut(parent_of(path)).expect("parent first");
            parent.children.insert(name_of(path).into());
            parent.stat.num_children += 1;
        }
        tree
    }

    /// `create`: the actual path (with the sequential suffix), and the events it fires.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &mut self,
        path: &str,
        data: Data,
        mode: CreateMode,
        session: SessionId,
        zxid: Zxid,
        time: i64,
    ) -> Result<(String, Vec<WatchEvent>), ZkError> {
        validate_path(path)?;
        if path == "/" {
            return Err(ZkError::NodeExists);
        }
        let parent_path = parent_of(path).to_string();
        let parent = self.nodes.get(&parent_path).ok_or(ZkError::NoNode)?;
        if parent.stat.ephemeral_owner != 0 {
            return Err(ZkError::NoChildrenForEphemerals);
        }
        let actual = if mode.is_sequential() {
            format!("{path}{:010}", parent.creations)
        } else {
            path.to_string()
        };
        if self.nodes.contains_key(&actual) {
            return Err(ZkError::NodeExists);
        }
        let owner = if mode.is_ephemeral() { session } else { 0 };
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            data_length: data_length(&data),
            ephemeral_owner: owner,
            ..Stat::default()
        };
        let parent = self.nodes.get_mut(&parent_path).expect("looked up");
        parent.children.insert(name_of(&actual).to_string());
        parent.creations += 1;
        parent.stat.cversion += 1;
        parent.stat.pzxid = zxid;
        parent.stat.num_children += 1;
        self.nodes.insert(
            actual.clone(),
            Node {
                data,
                stat,
                ..Node::default()
            },
        );
        let events = vec![
            WatchEvent::NodeCreated(actual.clone()),
            WatchEvent::NodeChildrenChanged(parent_path),
        ];
        Ok((actual, events))
    }

    /// `delete(path, version)`, and the events it fires.
    pub fn delete(
        &mut self,
        path: &str,
        version: i32,
        zxid: Zxid,
    ) -> Result<Vec<WatchEvent>, ZkError> {
        validate_path(path)?;
        let node = self.nodes.get(path).ok_or(ZkError::NoNode)?;
        if path == "/" {
            return Err(ZkError::BadArguments("cannot delete the root".into()));
        }
        check_version(version, node.stat.version)?;
        if !node.children.is_empty() {
            return Err(ZkError::NotEmpty);
        }
        self.nodes.remove(path);
        let parent_path = parent_of(path).to_string();
        let parent = self
            .nodes
            .get_mut(&parent_path)
            .expect("a node's parent exists");
        parent.children.remove(name_of(path));
        parent.stat.cversion += 1;
        parent.stat.pzxid = zxid;
        parent.stat.num_children -= 1;
        Ok(vec![
            WatchEvent::NodeDeleted(path.to_string()),
            WatchEvent::NodeChildrenChanged(parent_path),
        ])
    }

    /// `setData(path, data, version)`: the new stat, and the event it fires.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Data,
        version: i32,
        zxid: Zxid,
        time: i64,
    ) -> Result<(Stat, Vec<WatchEvent>), ZkError> {
        validate_path(path)?;
        let node = self.nodes.get_mut(path).ok_or(ZkError::NoNode)?;
        check_version(version, node.stat.version)?;
        node.stat.version += 1;
        node.stat.mzxid = zxid;
        node.stat.mtime = time;
        node.stat.data_length = data_length(&data);
        node.data = data;
        Ok((
            node.stat,
            vec![WatchEvent::NodeDataChanged(path.to_string())],
        ))
    }

    /// `getData`: the data and stat.
    pub fn get_data(&self, path: &str) -> Result<(Data, Stat), ZkError> {
        validate_path(path)?;
        let node = self.nodes.get(path).ok_or(ZkError::NoNode)?;
        Ok((node.data.clone(), node.stat))
    }

    /// `exists`: the stat, or `None`.
    pub fn exists(&self, path: &str) -> Result<Option<Stat>, ZkError> {
        validate_path(path)?;
        Ok(self.nodes.get(path).map(|n| n.stat))
    }

    /// `getChildren`: child names, sorted, and the parent's stat.
    pub fn get_children(&self, path: &str) -> Result<(Vec<String>, Stat), ZkError> {
        validate_path(path)?;
        let node = self.nodes.get(path).ok_or(ZkError::NoNode)?;
        Ok((node.children.iter().cloned().collect(), node.stat))
    }

    /// `multi`: every operation or none. On failure, the index of the first failing
    /// operation and its error; the tree is unchanged.
    pub fn multi(
        &mut self,
        ops: &[MultiOp],
        session: SessionId,
        zxid: Zxid,
        time: i64,
    ) -> Result<(Vec<MultiResult>, Vec<WatchEvent>), (usize, ZkError)> {
        let mut scratch = self.clone();
        let mut results = Vec::with_capacity(ops.len());
        let mut events = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let step = match op {
                MultiOp::Create { path, data, mode } => scratch
                    .create(path, data.clone(), *mode, session, zxid, time)
                    .map(|(actual, e)| (MultiResult::Create(actual), e)),
                MultiOp::Delete { path, version } => scratch
                    .delete(path, *version, zxid)
                    .map(|e| (MultiResult::Delete, e)),
                MultiOp::SetData {
                    path,
                    data,
                    version,
                } => scratch
                    .set_data(path, data.clone(), *version, zxid, time)
                    .map(|(stat, e)| (MultiResult::SetData(stat), e)),
                MultiOp::Check { path, version } => scratch
                    .nodes
                    .get(path)
                    .ok_or(ZkError::NoNode)
                    .and_then(|n| check_version(*version, n.stat.version))
                    .map(|()| (MultiResult::Check, Vec::new())),
            };
            let (result, fired) = step.map_err(|e| (i, e))?;
            results.push(result);
            events.extend(fired);
        }
        *self = scratch;
        Ok((results, events))
    }

    /// Close `session`: delete its ephemeral nodes (in path order), with their events.
    pub fn close_session(&mut self, session: SessionId, zxid: Zxid) -> Vec<WatchEvent> {
        let owned: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| session != 0 && n.stat.ephemeral_owner == session)
            .map(|(p, _)| p.clone())
            .collect();
        let mut events = Vec::new();
        for path in owned {
            // An ephemeral has no children, so its delete cannot fail.
            events.extend(
                self.delete(&path, -1, zxid)
                    .expect("an ephemeral is a leaf"),
            );
        }
        events
    }

    /// Every ephemeral node's owner, for session bookkeeping after a restart.
    pub fn ephemeral_owners(&self) -> BTreeSet<SessionId> {
        self.nodes
            .values()
            .map(|n| n.stat.ephemeral_owner)
            .filter(|&o| o != 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> DataTree {
        DataTree::new()
    }

    #[test]
    fn a_new_tree_has_the_zookeeper_node() {
        let mut t = tree();
        assert_eq!(t.get_children("/").unwrap().0, vec!["zookeeper"]);
        assert_eq!(
            t.get_children("/zookeeper").unwrap().0,
            vec!["config", "quota"]
        );
        // As `stat /` on a fresh 3.8.0 server prints.
        let root = t.exists("/").unwrap().unwrap();
        assert_eq!((root.cversion, root.pzxid, root.num_children), (-1, 0, 1));
        assert!(matches!(
            t.delete("/", -1, 2),
            Err(ZkError::BadArguments(_))
        ));
    }

    /// The real 3.8.0 server: create, create, create, delete, delete, then the next sequential
    /// suffix is 3 (creations), while the parent's cversion is 5, then 6 (creations and
    /// deletions).
    #[test]
    fn sequential_suffixes_count_creations_and_cversion_counts_deletions_too() {
        let mut t = tree();
        t.create("/p", None, CreateMode::Persistent, 1, 2, 0)
            .unwrap();
        t.create("/p/eph", None, CreateMode::Ephemeral, 1, 3, 0)
            .unwrap();
        let (a, _) = t
            .create("/p/s-", None, CreateMode::PersistentSequential, 1, 4, 0)
            .unwrap();
        let (b, _) = t
            .create("/p/s-", None, CreateMode::PersistentSequential, 1, 5, 0)
            .unwrap();
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("/p/s-0000000001", "/p/s-0000000002")
        );
        t.delete(&a, -1, 6).unwrap();
        t.delete(&b, -1, 7).unwrap();
        assert_eq!(t.exists("/p").unwrap().unwrap().cversion, 5);
        let (c, _) = t
            .create("/p/s-", None, CreateMode::PersistentSequential, 1, 8, 0)
            .unwrap();
        assert_eq!(c, "/p/s-0000000003");
        let stat = t.exists("/p").unwrap().unwrap();
        assert_eq!((stat.cversion, stat.pzxid, stat.num_children), (6, 8, 2));
    }

    #[test]
    fn errors_are_zookeepers() {
        let mut t = tree();
        assert_eq!(
            t.create("/a/b", None, CreateMode::Persistent, 1, 2, 0),
            Err(ZkError::NoNode)
        );
        t.create("/a", Some(b"x".to_vec()), CreateMode::Persistent, 1, 2, 0)
            .unwrap();
        assert_eq!(
            t.create("/a", None, CreateMode::Persistent, 1, 3, 0),
            Err(ZkError::NodeExists)
        );
        t.create("/a/e", None, CreateMode::Ephemeral, 7, 3, 0)
            .unwrap();
        assert_eq!(
            t.create("/a/e/c", None, CreateMode::Persistent, 7, 4, 0),
            Err(ZkError::NoChildrenForEphemerals)
        );
        assert_eq!(t.delete("/a", -1, 4), Err(ZkError::NotEmpty));
        assert_eq!(t.set_data("/a", None, 5, 4, 0), Err(ZkError::BadVersion));
        assert!(matches!(
            t.create("a", None, CreateMode::Persistent, 1, 4, 0),
            Err(ZkError::BadArguments(_))
        ));
        assert_eq!(ZkError::NoNode.code(), -101);
    }

    #[test]
    fn set_data_bumps_version_and_mzxid_only() {
        let mut t = tree();
        t.create("/a", Some(b"1".to_vec()), CreateMode::Persistent, 1, 2, 10)
            .unwrap();
        let (stat, events) = t.set_data("/a", Some(b"22".to_vec()), 0, 3, 20).unwrap();
        assert_eq!(
            (
                stat.version,
                stat.czxid,
                stat.mzxid,
                stat.mtime,
                stat.data_length
            ),
            (1, 2, 3, 20, 2)
        );
        assert_eq!(events, vec![WatchEvent::NodeDataChanged("/a".into())]);
        assert_eq!(t.get_data("/a").unwrap().0, Some(b"22".to_vec()));
    }

    #[test]
    fn closing_a_session_deletes_its_ephemerals_and_fires_their_events() {
        let mut t = tree();
        t.create("/l", None, CreateMode::Persistent, 1, 2, 0)
            .unwrap();
        t.create("/l/x-", None, CreateMode::EphemeralSequential, 5, 3, 0)
            .unwrap();
        t.create("/l/y-", None, CreateMode::EphemeralSequential, 6, 4, 0)
            .unwrap();
        let events = t.close_session(5, 5);
        assert_eq!(
            events,
            vec![
                WatchEvent::NodeDeleted("/l/x-0000000000".into()),
                WatchEvent::NodeChildrenChanged("/l".into()),
            ]
        );
        assert_eq!(t.get_children("/l").unwrap().0, vec!["y-0000000001"]);
        assert_eq!(t.ephemeral_owners(), BTreeSet::from([6]));
    }

    #[test]
    fn a_failed_multi_changes_nothing() {
        let mut t = tree();
        t.create("/a", None, CreateMode::Persistent, 1, 2, 0)
            .unwrap();
        let before = t.clone();
        let ops = [
            MultiOp::Create {
                path: "/a/b".into(),
                data: None,
                mode: CreateMode::Persistent,
            },
            MultiOp::Check {
                path: "/a".into(),
                version: 3,
            },
        ];
        assert_eq!(t.multi(&ops, 1, 3, 0), Err((1, ZkError::BadVersion)));
        assert_eq!(t, before);
        let ok = [
            MultiOp::Check {
                path: "/a".into(),
                version: 0,
            },
            MultiOp::SetData {
                path: "/a".into(),
                data: Some(b"v".to_vec()),
                version: 0,
            },
            MultiOp::Delete {
                path: "/a".into(),
                version: 1,
            },
        ];
        let (results, events) = t.multi(&ok, 1, 3, 0).unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(events.len(), 3);
        assert_eq!(t.exists("/a").unwrap(), None);
    }
}
