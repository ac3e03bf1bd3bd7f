//! `PutLock`: a deliberately unsafe lock, as tutorials write it. Grant a lease; `Get(key)`; if
//! someone else holds it, watch until it is deleted and look again; else plain `Put(key, lease)`
//! — no compare. Between the `Get` and the `Put` another client can do the same: every waiter
//! woken by one delete event puts the key and believes it holds the lock. The harness must catch
//! it within seconds of simulated time, without any fault.
//!
//! Token: the put's revision (its `mod_revision`). Not the create revision: a put over an
//! existing key keeps the key's create revision, so two holders would share one token.

use super::lease_txn::{gave_up, wait_delete};
use super::{
    req, AlgorithmKind, FencingToken, Guard, LockAlgorithm, LockContext, LockOptions, Session,
};
use crate::error::{Error, Result};

/// `Get` then a plain `Put`: unsafe on purpose; see the module docs.
pub struct PutLock {
    ctx: LockContext,
    options: LockOptions,
    session: Option<Session>,
}

impl PutLock {
    /// A lock on `options.key`; each acquisition grants its own lease.
    pub fn new(ctx: LockContext, options: LockOptions) -> Self {
        Self {
            ctx,
            options,
            session: None,
        }
    }
}

impl LockAlgorithm for PutLock {
    fn name(&self) -> &str {
        AlgorithmKind::Put.name()
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
            let current = match ctx.io(ctx.client.get(req::get(&key))).await {
                Ok(r) => r,
                Err(_) => {
                    ctx.sleep(self.options.retry_backoff).await;
                    continue;
                }
            };
            if let Some(kv) = current.kvs.first() {
                if kv.lease != lease {
                    wait_delete(
                        &ctx,
                        &key,
                        current.header.revision + 1,
                        &session.watch(),
                        deadline,
                        self.options.retry_backoff,
                    )
                    .await;
                    continue;
                }
            }
            match ctx
                .io(ctx.client.put(req::put(&key, &ctx.process, lease)))
                .await
            {
                Ok(r) => {
                    let guard = Guard::new(key, Some(FencingToken(r.header.revision)))
                        .with_lease(lease)
                        .with_loss(session.watch());
                    self.session = Some(session);
                    return Ok(guard);
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
