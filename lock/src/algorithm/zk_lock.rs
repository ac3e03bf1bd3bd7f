//! The ZooKeeper locks of the seed article: an EPHEMERAL_SEQUENTIAL node under the lock's path,
//! the lowest sequence number holds, the session timeout frees a dead holder's node.
//!
//! * `zk-curator` — Curator's `InterProcessMutex` (`LockInternals` with the
//!   `StandardLockInternalsDriver`), step for step: a protected-mode create
//!   (`_c_<uuid>-lock-`, and after a `ConnectionLoss` first look for a child of our uuid before
//!   creating again), children sorted by the sequence after `lock-`, our index; index 0 holds,
//!   else `getData(predecessor, watch)` and wait (`NoNode`: it is gone, look again at once).
//!   Our node not among the children: start over. Release: delete our node (retried).
//! * `zk-naive` — the recipe without the predecessor watch: every waiter watches the parent
//!   (`getChildren(watch)`), so every release wakes every waiter — the herd.
//!
//! Neither lock looks at the connection by itself (Curator's does not: CURATOR-206). With
//! [`LockOptions::connection_listener`] the holder listens as Curator's docs tell it to: it
//! gives the lock up on SUSPENDED (Disconnected) and LOST (Expired).
//! Fencing token: the lock node's `czxid`, which grows with every later create.

use std::cell::Cell;

use sim::zk::{CreateMode, ZkClient, ZkError};
use tokio::task::JoinHandle;

use super::lease_txn::gave_up;
use super::zk_access::ZkAccess;
use super::{FencingToken, Guard, LockAlgorithm, LockContext, LockOptions};
use crate::error::{Error, Result};
use crate::event::LockEvent;

/// How a waiter waits for its turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZkWait {
    /// Watch the node just before ours (Curator).
    Predecessor,
    /// Watch the parent's children (the naive recipe: the herd).
    Parent,
}

/// See the module docs.
pub struct ZkLock {
    ctx: LockContext,
    options: LockOptions,
    zk: ZkAccess,
    wait: ZkWait,
    /// Numbers this process's acquisitions: the protected-mode uuid's tail.
    attempts: Cell<u64>,
    listener: Option<JoinHandle<()>>,
}

/// How one attempt at the lock ended short of holding it.
enum Attempt {
    /// Our node or our session is gone: start over (with a new session if need be).
    StartOver,
    /// Out of time (`give_up`).
    GaveUp,
}

impl ZkLock {
    /// The lock in `ctx` (which must have ZooKeeper: a run on the `zk` backend).
    pub fn new(ctx: LockContext, options: LockOptions, wait: ZkWait) -> Self {
        let zk = ctx
            .zk
            .clone()
            .expect("a ZooKeeper lock needs a run with a ZooKeeper ensemble");
        ZkLock {
            ctx,
            options,
            zk,
            wait,
            attempts: Cell::new(0),
            listener: None,
        }
    }

    fn base(&self) -> String {
        let key = self.options.key.trim_end_matches('/');
        if key.starts_with('/') {
            key.to_string()
        } else {
            format!("/{key}")
        }
    }

    /// Curator's uuid for this acquisition: unique per process, incarnation and attempt.
    fn uuid(&self) -> String {
        let n = self.attempts.get() + 1;
        self.attempts.set(n);
        format!("{}-{:08x}", self.ctx.process, n)
    }

    /// Our node: a protected-mode create, retried after a lost connection.
    async fn create_ours(
        &self,
        client: &ZkClient,
        base: &str,
    ) -> std::result::Result<(String, i64), ZkError> {
        let backoff = self.options.retry_backoff;
        // `creatingParentContainersIfNeeded`: the lock's path and its parents exist first.
        let mut path = String::new();
        for part in base.split('/').filter(|p| !p.is_empty()) {
            path = format!("{path}/{part}");
            ZkAccess::retrying(client, backoff, || {
                self.ctx
                    .io(client.create(&path, b"", CreateMode::Persistent))
            })
            .await
            .or_else(|e| match e {
                ZkError::NodeExists => Ok(String::new()),
                e => Err(e),
            })?;
        }
        let (mode, prefix) = match self.wait {
            ZkWait::Predecessor => (
                CreateMode::EphemeralSequential,
                format!("{base}/_c_{}-lock-", self.uuid()),
            ),
            ZkWait::Parent => (CreateMode::EphemeralSequential, format!("{base}/lock-")),
        };
        let data = self.ctx.process.as_bytes();
        loop {
            match self
                .ctx
                .io(client.create_with_stat(&prefix, data, mode))
                .await
            {
                Ok((path, stat)) => return Ok((path, stat.czxid)),
                Err(ZkError::ConnectionLoss) => {}
                Err(e) => return Err(e),
            }
            self.ctx.sleep(backoff).await;
            ZkAccess::until_connected(client).await;
            if self.wait == ZkWait::Parent {
                // The naive recipe has no protection: a create that happened is orphaned
                // until the session ends.
                continue;
            }
            // Protected mode: did the lost create happen? Look for our uuid's node.
            let name = prefix.rsplit('/').next().unwrap_or_default().to_string();
            let (children, _) =
                ZkAccess::retrying(client, backoff, || self.ctx.io(client.get_children(base)))
                    .await?;
            if let Some(found) = children.iter().find(|c| c.starts_with(&name)) {
                let path = format!("{base}/{found}");
                if let Some(stat) =
                    ZkAccess::retrying(client, backoff, || self.ctx.io(client.exists(&path)))
                        .await?
                {
                    return Ok((path, stat.czxid));
                }
            }
        }
    }

    /// Wait until our node is the lowest. `Ok` holds.
    async fn wait_turn(
        &self,
        client: &ZkClient,
        base: &str,
        ours: &str,
    ) -> std::result::Result<(), Attempt> {
        let backoff = self.options.retry_backoff;
        let deadline = self.options.give_up.map(|d| self.ctx.clock.now() + d);
        let our_name = ours.rsplit('/').next().unwrap_or_default().to_string();
        loop {
            if deadline.is_some_and(|d| self.ctx.clock.now() >= d) {
                return Err(Attempt::GaveUp);
            }
            let watch_parent = self.wait == ZkWait::Parent;
            let listed = if watch_parent {
                self.ctx
                    .io(client.get_children_w(base))
                    .await
                    .map(|(c, _, w)| (c, Some(w)))
            } else {
                self.ctx
                    .io(client.get_children(base))
                    .await
                    .map(|(c, _)| (c, None))
            };
            let (mut children, parent_watch) = match listed {
                Ok(listed) => listed,
                Err(ZkError::ConnectionLoss) => {
                    self.ctx.sleep(backoff).await;
                    ZkAccess::until_connected(client).await;
                    continue;
                }
                Err(_) => return Err(Attempt::StartOver),
            };
            // Sorted by the sequence number after the last "lock-" (`LockInternals`).
            children.sort_by_key(|c| sequence(c).to_string());
            let Some(index) = children.iter().position(|c| *c == our_name) else {
                // "Sequential path not found": our node is gone (the session expired).
                return Err(Attempt::StartOver);
            };
            if index == 0 {
                return Ok(());
            }
            let mut watch = match parent_watch {
                Some(w) => w,
                None => {
                    let previous = format!("{base}/{}", children[index - 1]);
                    match self.ctx.io(client.get_data_w(&previous)).await {
                        Ok((_, _, w)) => w,
                        // Gone already: look again at once.
                        Err(ZkError::NoNode) => continue,
                        Err(ZkError::ConnectionLoss) => {
                            self.ctx.sleep(backoff).await;
                            ZkAccess::until_connected(client).await;
                            continue;
                        }
                        Err(_) => return Err(Attempt::StartOver),
                    }
                }
            };
            let event = match deadline {
                Some(d) => {
                    let left = d.saturating_sub(self.ctx.clock.now());
                    tokio::select! {
                        biased;
                        e = watch.next() => e,
                        _ = self.ctx.clock.sleep(left) => return Err(Attempt::GaveUp),
                    }
                }
                None => watch.next().await,
            };
            self.ctx.clock.running().await;
            if let Some(event) = event {
                LockEvent::WatchWoke {
                    event: format!("{:?} {:?} {}", event.state, event.kind, event.path),
                }
                .record(&self.ctx.history, &self.ctx.process);
            }
        }
    }

    /// Delete our node, retrying a lost connection a few times (Curator's guaranteed delete
    /// goes on in the background; the session's end removes it in any case).
    async fn delete_ours(&self, client: &ZkClient, ours: &str) -> std::result::Result<(), ZkError> {
        for _ in 0..5 {
            match self.ctx.io(client.delete(ours, -1)).await {
                Ok(()) | Err(ZkError::NoNode) => return Ok(()),
                Err(ZkError::ConnectionLoss) => {
                    self.ctx.sleep(self.options.retry_backoff).await;
                    ZkAccess::until_connected(client).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ZkError::ConnectionLoss)
    }
}

/// The sequence number of a lock node's name: the text after its last `lock-`.
fn sequence(name: &str) -> &str {
    name.rfind("lock-")
        .map_or(name, |i| &name[i + "lock-".len()..])
}

impl LockAlgorithm for ZkLock {
    fn name(&self) -> &str {
        match self.wait {
            ZkWait::Predecessor => "zk-curator",
            ZkWait::Parent => "zk-naive",
        }
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let base = self.base();
        let started = self.ctx.clock.now();
        loop {
            let client = self.zk.client().await;
            let (ours, czxid) = match self.create_ours(&client, &base).await {
                Ok(created) => created,
                Err(ZkError::SessionExpired) => continue,
                Err(e) => return Err(Error::Zk(e)),
            };
            match self.wait_turn(&client, &base, &ours).await {
                Ok(()) => {
                    let session = client.session_id();
                    let guard = Guard::new(ours, Some(FencingToken(czxid))).with_lease(session);
                    if !self.options.connection_listener {
                        return Ok(guard);
                    }
                    let (signal, watch) = self.ctx.loss_signal(session);
                    self.listener = Some(ZkAccess::listen(&client, signal));
                    return Ok(guard.with_loss(watch));
                }
                Err(attempt) => {
                    // As LockInternals: on the way out, our node goes.
                    let _ = self.delete_ours(&client, &ours).await;
                    if let Attempt::GaveUp = attempt {
                        return Err(gave_up(&self.ctx, started));
                    }
                }
            }
        }
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        let client = self.zk.client().await;
        self.delete_ours(&client, guard.key())
            .await
            .map_err(Error::Zk)
    }
}
