//! `EtcdMutex`: etcd's `client/v3/concurrency` `Mutex` (v3.4/v3.5), step for step.
//!
//! * `tryAcquire`: `myKey = pfx + "/" + hex(lease)`;
//!   `Txn(If CreateRevision(myKey) == 0,
//!        Then Put(myKey, "", lease), Get(pfx, FirstCreate)
//!        Else Get(myKey), Get(pfx, FirstCreate))`;
//!   `myRev` = the header revision, or the existing key's create revision.
//! * `Lock`: owner when no key is on the prefix or the first-created one is ours. Otherwise
//!   `waitDeletes(pfx, myRev - 1)`: repeatedly take the *last* created key with
//!   create revision <= myRev - 1 and watch it from the response's revision until it is deleted
//!   (only the predecessor, no herd). Then `Get(myKey)`: gone ⇒ `ErrSessionExpired`.
//!   A failed wait deletes myKey (`Unlock`) before returning the error.
//! * `Unlock` = `Delete(myKey)`; the session (its lease) lives on for the next `Lock`.
//! * `TryLock`: as `Lock`, but when not the owner, delete myKey and return `ErrLocked`.
//! * `IsOwner` = `Compare(CreateRevision(myKey) == myRev)`, for writes guarded inside etcd.
//!
//! The session is etcd's `concurrency.Session`: one lease for many locks, kept alive every
//! TTL/3; a session found lost is replaced by a new one at the next acquire. Token = myRev.

use std::time::Duration;

use sim::{
    Compare, RangeRequest, RequestOp, ResponseHeader, SortOrder, SortTarget, TxnRequest,
    TxnResponse, WatchRequest,
};

use super::lease_txn::gave_up;
use super::{
    req, AlgorithmKind, FencingToken, Guard, LockAlgorithm, LockContext, LockOptions, Session,
};
use crate::error::{Error, Result};

/// etcd's `concurrency.Mutex` (v3.4/v3.5) with its session: see the module docs for the steps.
pub struct EtcdMutex {
    ctx: LockContext,
    options: LockOptions,
    session: Option<Session>,
    /// `pfx + "/"`.
    pfx: String,
    my_key: String,
    /// -1 when not queued.
    my_rev: i64,
    /// The header of the answer that made us owner (`Mutex.Header()`).
    hdr: Option<ResponseHeader>,
}

impl EtcdMutex {
    /// A mutex on prefix `options.key` (`NewMutex(session, pfx)`); the session is granted on
    /// the first `lock`.
    pub fn new(ctx: LockContext, options: LockOptions) -> Self {
        let pfx = format!("{}/", options.key);
        Self {
            ctx,
            options,
            session: None,
            pfx,
            my_key: String::new(),
            my_rev: -1,
            hdr: None,
        }
    }

    /// `Mutex.Key()`: our key, `pfx/` + hex(lease); empty before the first `lock`.
    pub fn key(&self) -> &str {
        &self.my_key
    }

    /// `Mutex.Header()`: the header of the answer that made us owner.
    pub fn header(&self) -> Option<ResponseHeader> {
        self.hdr
    }

    /// `Mutex.IsOwner()`: holds while our key still has the create revision we were queued at.
    pub fn is_owner(&self) -> Compare {
        req::create_is(&self.my_key, self.my_rev)
    }

    /// The session, replaced first if it noticed its lease is gone.
    async fn session(&mut self) -> Result<&Session> {
        if self.session.as_ref().is_some_and(|s| s.is_lost()) {
            // Orphan it: the lease is gone already, nothing to revoke.
            self.session = None;
        }
        if self.session.is_none() {
            self.session = Some(Session::grant(&self.ctx, &self.options).await?);
        }
        Ok(self.session.as_ref().expect("just set"))
    }

    fn guard(&self) -> Guard {
        let session = self.session.as_ref().expect("a holder has a session");
        Guard::new(self.my_key.clone(), Some(FencingToken(self.my_rev)))
            .with_lease(session.lease())
            .with_loss(session.watch())
    }

    fn expired(&mut self) -> Error {
        self.session = None;
        Error::SessionExpired
    }

    async fn try_acquire(&mut self) -> Result<TxnResponse> {
        let lease = self.session().await?.lease();
        let ctx = self.ctx.clone();
        self.my_key = format!("{}{:x}", self.pfx, lease);
        let get_owner = RequestOp::Range(first_create(&self.pfx));
        let txn = TxnRequest {
            compare: vec![req::create_is(&self.my_key, 0)],
            success: vec![
                RequestOp::Put(req::put(&self.my_key, "", lease)),
                get_owner.clone(),
            ],
            failure: vec![RequestOp::Range(req::get(&self.my_key)), get_owner],
        };
        let resp = match ctx.io(ctx.client.txn(txn)).await {
            Ok(r) => r,
            Err(sim::Error::LeaseNotFound) => return Err(self.expired()),
            Err(e) => return Err(e.into()),
        };
        self.my_rev = resp.header.revision;
        if !resp.succeeded {
            self.my_rev = req::range_of(resp.responses.first())
                .and_then(|r| r.kvs.first())
                .expect("the compare failed, so myKey exists")
                .create_revision;
        }
        Ok(resp)
    }

    fn is_first(&self, resp: &TxnResponse) -> bool {
        let owner = req::range_of(resp.responses.get(1)).and_then(|r| r.kvs.first());
        owner.is_none_or(|kv| kv.create_revision == self.my_rev)
    }

    /// `Mutex.TryLock`.
    pub async fn try_lock(&mut self) -> Result<Guard> {
        let resp = self.try_acquire().await?;
        if self.is_first(&resp) {
            self.hdr = Some(resp.header);
            return Ok(self.guard());
        }
        let ctx = self.ctx.clone();
        ctx.io(ctx.client.delete(delete(&self.my_key))).await?;
        self.my_key = "\0".into();
        self.my_rev = -1;
        Err(Error::Locked)
    }

    /// `Mutex.Lock`, with the give-up deadline as its context.
    pub async fn lock(&mut self) -> Result<Guard> {
        let start = self.ctx.clock.now();
        let resp = self.try_acquire().await?;
        if self.is_first(&resp) {
            self.hdr = Some(resp.header);
            return Ok(self.guard());
        }
        let ctx = self.ctx.clone();
        let waited = match self.options.give_up {
            Some(give_up) => {
                tokio::select! {
                    r = wait_deletes(&ctx, &self.pfx, self.my_rev - 1, self.options.retry_backoff) => r,
                    _ = ctx.clock.sleep_until(start + give_up) => Err(gave_up(&ctx, start)),
                }
            }
            None => {
                wait_deletes(&ctx, &self.pfx, self.my_rev - 1, self.options.retry_backoff).await
            }
        };
        if let Err(e) = waited {
            let _ = self.unlock().await;
            return Err(e);
        }
        // Make sure the session is not expired and our key still exists.
        let gresp = match ctx.io(ctx.client.get(req::get(&self.my_key))).await {
            Ok(r) => r,
            Err(e) => {
                let _ = self.unlock().await;
                return Err(e.into());
            }
        };
        if gresp.kvs.is_empty() {
            return Err(self.expired());
        }
        self.hdr = Some(gresp.header);
        Ok(self.guard())
    }

    /// `Mutex.Unlock`: delete our key; the session stays.
    pub async fn unlock(&mut self) -> Result<()> {
        let ctx = self.ctx.clone();
        ctx.io(ctx.client.delete(delete(&self.my_key))).await?;
        self.my_key = "\0".into();
        self.my_rev = -1;
        Ok(())
    }
}

impl LockAlgorithm for EtcdMutex {
    fn name(&self) -> &str {
        AlgorithmKind::EtcdMutex.name()
    }

    async fn acquire(&mut self) -> Result<Guard> {
        self.lock().await
    }

    async fn release(&mut self, _guard: Guard) -> Result<()> {
        self.unlock().await
    }
}

fn delete(key: &str) -> sim::DeleteRangeRequest {
    sim::DeleteRangeRequest {
        key: key.into(),
        ..Default::default()
    }
}

fn first_create(pfx: &str) -> RangeRequest {
    RangeRequest {
        key: pfx.into(),
        range_end: sim::prefix_end(pfx.as_bytes()),
        sort_target: SortTarget::Create,
        sort_order: SortOrder::Ascend,
        limit: 1,
        ..Default::default()
    }
}

/// `waitDeletes`: until no key on `pfx` has create revision <= `max_create_rev`, watch the last
/// created of them until it is deleted.
///
/// Reads and watches are retried while the cluster is unreachable, as clientv3 does under a
/// context without deadline (its retry interceptor for reads, its watch stream reconnects);
/// only a definite error such as `Compacted` ends the wait.
async fn wait_deletes(
    ctx: &LockContext,
    pfx: &str,
    max_create_rev: i64,
    backoff: Duration,
) -> Result<ResponseHeader> {
    loop {
        let get = RangeRequest {
            key: pfx.into(),
            range_end: sim::prefix_end(pfx.as_bytes()),
            sort_target: SortTarget::Create,
            sort_order: SortOrder::Descend,
            limit: 1,
            max_create_revision: max_create_rev,
            ..Default::default()
        };
        let resp = match ctx.io(ctx.client.get(get)).await {
            Ok(r) => r,
            Err(e) if transient(&e) => {
                ctx.sleep(backoff).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = resp.kvs.first() else {
            return Ok(resp.header);
        };
        wait_delete(ctx, &last.key, resp.header.revision, backoff).await?;
    }
}

/// `waitDelete`: watch `key` from `rev` until a delete event.
async fn wait_delete(ctx: &LockContext, key: &[u8], rev: i64, backoff: Duration) -> Result<()> {
    let mut watcher = ctx.client.watch(WatchRequest {
        key: key.to_vec(),
        start_revision: rev,
        ..Default::default()
    });
    loop {
        match ctx.io(watcher.next()).await {
            Ok(events) if req::has_delete(&events) => return Ok(()),
            Ok(_) => {}
            Err(e) if transient(&e) => ctx.sleep(backoff).await,
            Err(e) => return Err(e.into()),
        }
    }
}

fn transient(e: &sim::Error) -> bool {
    matches!(
        e,
        sim::Error::Timeout
            | sim::Error::Indeterminate
            | sim::Error::NoLeader
            | sim::Error::Unavailable
            | sim::Error::NotLeader { .. }
            | sim::Error::LeaderChanged
    )
}
