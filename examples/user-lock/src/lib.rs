//! Two locks of our own on etcd, written against locksim's public API only, the way an
//! application would write them with clientv3:
//!
//! * [`LeaseLock`]: grant a lease, keep it alive, `Txn(If create_revision(key) == 0, Then
//!   Put(key, me, lease), Else Get(key))`, wait for the key's deletion when it is taken;
//!   token = the key's create revision; release = revoke the lease. It tells its holder the
//!   moment it can no longer be sure of the lease: when the last keepalive it *sent* (not the
//!   last answer it got) is a TTL old, or etcd says the lease is gone.
//! * [`CarelessLock`]: the same acquire, but released as many tutorials do it — a plain
//!   `Delete(key)`, then revoke. Nothing checks that the key is still ours: a holder whose lease
//!   expired (cut off, slow, paused) and that comes back to release deletes the *next* holder's
//!   key, and a third client acquires while the second still holds.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use lock::{FencingToken, Guard, LockAlgorithm, LockContext, LossSignal, Result};
use sim::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EventType, LeaseId, PutRequest,
    RangeRequest, RequestOp, ResponseOp, TxnRequest, WatchRequest,
};
use tokio::task::JoinHandle;

/// Lease + Txn + keepalive, released by revoking the lease. Correct: no two holders at once
/// while processes run and clocks keep time; a paused holder still needs fencing.
pub struct LeaseLock {
    ctx: LockContext,
    /// The keepalive of the current hold; aborted on release.
    keepalive: Option<JoinHandle<()>>,
}

impl LeaseLock {
    pub fn new(ctx: LockContext) -> Self {
        Self {
            ctx,
            keepalive: None,
        }
    }

    fn key(&self) -> String {
        self.ctx.options().key.clone()
    }

    fn stop_keepalive(&mut self) {
        if let Some(task) = self.keepalive.take() {
            task.abort();
        }
    }
}

impl LockAlgorithm for LeaseLock {
    fn name(&self) -> &str {
        "lease-lock"
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let ctx = self.ctx.clone();
        let key = self.key();
        let sent = ctx.clock().now();
        let grant = ctx
            .io(ctx.client().lease_grant(ctx.options().ttl_secs))
            .await?;
        let ttl = Duration::from_secs(grant.ttl.max(1) as u64);
        let (signal, watch) = ctx.loss_signal(grant.id);
        let deadline = Rc::new(Cell::new(sent + ttl));
        self.keepalive = Some(tokio::task::spawn_local(keep_alive(
            ctx.clone(),
            grant.id,
            ttl,
            deadline,
            signal.clone(),
        )));
        loop {
            if signal.is_fired() {
                self.stop_keepalive();
                return Err(lock::Error::SessionExpired);
            }
            let txn = TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal,
                    target: CompareTarget::Create(0),
                    key: key.clone().into_bytes(),
                    range_end: Vec::new(),
                }],
                success: vec![RequestOp::Put(PutRequest {
                    key: key.clone().into_bytes(),
                    value: ctx.process().as_bytes().to_vec(),
                    lease: grant.id,
                    ..Default::default()
                })],
                failure: vec![RequestOp::Range(RangeRequest {
                    key: key.clone().into_bytes(),
                    ..Default::default()
                })],
            };
            let answer = ctx.io(ctx.client().txn(txn)).await;
            // A lease that may have expired while the txn was under way holds nothing, even
            // if the put went through: never hand out a guard that is lost already.
            if signal.is_fired() {
                self.stop_keepalive();
                return Err(lock::Error::SessionExpired);
            }
            match answer {
                Ok(r) if r.succeeded => {
                    let token = FencingToken(r.header.revision);
                    return Ok(Guard::new(key, Some(token)).with_loss(watch));
                }
                Ok(r) => {
                    let holder = match r.responses.first() {
                        Some(ResponseOp::Range(range)) => range.kvs.first().cloned(),
                        _ => None,
                    };
                    match holder {
                        // Our own put, from an attempt whose answer was lost.
                        Some(kv) if kv.lease == grant.id => {
                            let token = FencingToken(kv.create_revision);
                            return Ok(Guard::new(key, Some(token)).with_loss(watch));
                        }
                        _ => wait_for_delete(&ctx, &key, r.header.revision + 1, &signal).await,
                    }
                }
                Err(sim::Error::LeaseNotFound) => {
                    self.stop_keepalive();
                    return Err(lock::Error::SessionExpired);
                }
                Err(_) => ctx.sleep(ctx.options().retry_backoff).await,
            }
        }
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        self.stop_keepalive();
        let ctx = self.ctx.clone();
        ctx.io(ctx.client().lease_revoke(guard.lease())).await?;
        Ok(())
    }
}

/// Keep `lease` alive every TTL/3; fire `signal` when etcd says it is gone, or when the last
/// keepalive that was answered was *sent* a TTL ago (the leader may have expired it since).
async fn keep_alive(
    ctx: LockContext,
    lease: LeaseId,
    ttl: Duration,
    deadline: Rc<Cell<Duration>>,
    signal: LossSignal,
) {
    loop {
        let renew = async {
            ctx.sleep(ttl / 3).await;
            let sent = ctx.clock().now();
            (sent, ctx.io(ctx.client().lease_keep_alive(lease)).await)
        };
        tokio::select! {
            _ = ctx.clock().sleep_until(deadline.get()) => {
                signal.fire("deadline");
                return;
            }
            (sent, answer) = renew => match answer {
                Ok(r) if r.ttl > 0 => deadline.set(sent + Duration::from_secs(r.ttl as u64)),
                Ok(_) | Err(sim::Error::LeaseNotFound) => {
                    signal.fire("lease not found");
                    return;
                }
                Err(_) => {} // no answer: try again; the deadline decides
            },
        }
    }
}

/// Watch `key` from `from` until a delete event, an error, or the session's loss.
async fn wait_for_delete(ctx: &LockContext, key: &str, from: i64, signal: &LossSignal) {
    let mut watcher = ctx.client().watch(WatchRequest {
        key: key.as_bytes().to_vec(),
        start_revision: from,
        ..Default::default()
    });
    let lost = signal.watch();
    loop {
        tokio::select! {
            events = ctx.io(watcher.next()) => match events {
                Ok(w) if w.events.iter().any(|e| e.kind == EventType::Delete) => return,
                Ok(_) => {}
                Err(_) => {
                    ctx.sleep(ctx.options().retry_backoff).await;
                    return;
                }
            },
            _ = lost.lost() => return,
        }
    }
}

/// [`LeaseLock`]'s acquire, released by `Delete(key)` then revoke: subtly broken.
pub struct CarelessLock(LeaseLock);

impl CarelessLock {
    pub fn new(ctx: LockContext) -> Self {
        Self(LeaseLock::new(ctx))
    }
}

impl LockAlgorithm for CarelessLock {
    fn name(&self) -> &str {
        "careless-lock"
    }

    async fn acquire(&mut self) -> Result<Guard> {
        self.0.acquire().await
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        self.0.stop_keepalive();
        let ctx = self.0.ctx.clone();
        // The bug: whose key is it now?
        let delete = DeleteRangeRequest {
            key: guard.key().as_bytes().to_vec(),
            ..Default::default()
        };
        ctx.io(ctx.client().delete(delete)).await?;
        ctx.io(ctx.client().lease_revoke(guard.lease())).await?;
        Ok(())
    }
}

/// The lock kinds of this crate, beside locksim's own: what our `locksim` binary and tests load
/// scenario files with.
pub fn locks() -> locksim::scenario::Locks {
    locksim::scenario::Locks::builtin()
        .with("lease-lock", LeaseLock::new)
        .with("careless-lock", CarelessLock::new)
}
