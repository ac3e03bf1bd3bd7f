//! `LeaseTxn`: the lock of the blog posts. Grant a lease, keep it alive, then
//! `Txn(If create_revision(key) == 0, Then Put(key, lease), Else Get(key))`; when the key is
//! taken, watch it until it is deleted and try again. Release = revoke the lease.
//!
//! Why `Else Get(key)`: a txn whose answer never came (`Indeterminate`) may have put the key with
//! our lease; the retry would then see the key taken and wait for itself forever. Reading the key
//! in the same txn lets the retry recognise its own lease.

use std::time::Duration;

use sim::{TxnRequest, WatchRequest};

use super::{
    req, AlgorithmKind, FencingToken, Guard, LockAlgorithm, LockContext, LockOptions, Session,
    SessionWatch,
};
use crate::error::{Error, Result};

/// The lease + `Txn(create_revision == 0)` lock; see the module docs.
pub struct LeaseTxn {
    ctx: LockContext,
    options: LockOptions,
    /// The session of the current hold (one lease per acquisition).
    session: Option<Session>,
}

impl LeaseTxn {
    /// A lock on `options.key`; each acquisition grants its own lease.
    pub fn new(ctx: LockContext, options: LockOptions) -> Self {
        Self {
            ctx,
            options,
            session: None,
        }
    }
}

impl LockAlgorithm for LeaseTxn {
    fn name(&self) -> &str {
        AlgorithmKind::LeaseTxn.name()
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let ctx = self.ctx.clone();
        let key = self.options.key.clone();
        let start = ctx.clock.now();
        let deadline = self.options.give_up.map(|g| start + g);
        let session = Session::grant(&ctx, &self.options).await?;
        let lease = session.lease();
        loop {
            if let Some(deadline) = deadline {
                if ctx.clock.now() >= deadline {
                    let _ = session.close().await;
                    return Err(gave_up(&ctx, start));
                }
            }
            if session.is_lost() {
                return Err(Error::SessionExpired);
            }
            let txn = TxnRequest {
                compare: vec![req::create_is(&key, 0)],
                success: vec![sim::RequestOp::Put(req::put(&key, &ctx.process, lease))],
                failure: vec![sim::RequestOp::Range(req::get(&key))],
            };
            match ctx.io(ctx.client.txn(txn)).await {
                Ok(r) if r.succeeded => {
                    let guard = Guard::new(key, Some(FencingToken(r.header.revision)))
                        .with_lease(lease)
                        .with_loss(session.watch());
                    self.session = Some(session);
                    return Ok(guard);
                }
                Ok(r) => {
                    let holder = req::range_of(r.responses.first()).and_then(|g| g.kvs.first());
                    if let Some(kv) = holder {
                        if kv.lease == lease {
                            // Our own put from an earlier attempt whose answer was lost.
                            let guard = Guard::new(key, Some(FencingToken(kv.create_revision)))
                                .with_lease(lease)
                                .with_loss(session.watch());
                            self.session = Some(session);
                            return Ok(guard);
                        }
                    }
                    wait_delete(
                        &ctx,
                        &key,
                        r.header.revision + 1,
                        &session.watch(),
                        deadline,
                        self.options.retry_backoff,
                    )
                    .await;
                }
                Err(sim::Error::LeaseNotFound) => return Err(Error::SessionExpired),
                Err(_) => ctx.sleep(self.options.retry_backoff).await,
            }
        }
    }

    async fn release(&mut self, _guard: Guard) -> Result<()> {
        match self.session.take() {
            Some(session) => session.close().await,
            None => Ok(()),
        }
    }
}

pub(crate) fn gave_up(ctx: &LockContext, start: Duration) -> Error {
    Error::GaveUp {
        waited_ms: ctx.clock.now().saturating_sub(start).as_millis() as u64,
    }
}

/// Wait until `key` is deleted at or after revision `from`, or the session is lost, or
/// `deadline` (local time) passes. A watch error ends the wait after `backoff`, so the caller
/// simply tries again.
pub(crate) async fn wait_delete(
    ctx: &LockContext,
    key: &str,
    from: sim::Revision,
    session: &SessionWatch,
    deadline: Option<Duration>,
    backoff: Duration,
) {
    let mut watcher = ctx.client.watch(WatchRequest {
        key: key.into(),
        start_revision: from,
        ..Default::default()
    });
    let far = Duration::from_secs(u32::MAX as u64);
    loop {
        tokio::select! {
            r = ctx.io(watcher.next()) => match r {
                Ok(events) if req::has_delete(&events) => return,
                Ok(_) => {}
                Err(_) => {
                    ctx.sleep(backoff).await;
                    return;
                }
            },
            _ = session.lost() => return,
            _ = ctx.clock.sleep_until(deadline.unwrap_or(far)) => return,
        }
    }
}
