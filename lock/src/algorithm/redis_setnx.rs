//! `RedisSetnx`: the single-instance Redis lock, as the Redis docs and countless blogs write it.
//!
//! * acquire: `SET key token NX PX ttl` on the primary (the `ApClient` asks the sentinels who
//!   that is, and asks again when it stops answering); on success `INCR key:fence` for the
//!   fencing token. On `nil` (someone holds it) or an error: back off and try again.
//! * release: compare-and-delete (`if GET key == token then DEL key`, the documented Lua script).
//! * belief: the holder cannot renew (no keepalive, no `PEXPIRE` loop here), so it believes it
//!   holds the lock from the moment `acquire` returns until it calls `release` or its *own*
//!   clock passes (time it sent the `SET`) + ttl. It then records `BelievedLost` (`deadline`).
//!
//! Honest about what it is: the primary acknowledges the `SET` before any replica has it. If
//! the primary crashes then, a replica without the key is promoted and a second client's
//! `SET NX` succeeds: two holders. The fence counter lives on the same primary and can go back
//! with it, so the token does not save the resource either.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::lease_txn::gave_up;
use super::session::expiring;
use super::{AlgorithmKind, FencingToken, Guard, LockAlgorithm, LockContext, LockOptions};
use crate::error::Result;

pub struct RedisSetnx {
    ctx: LockContext,
    options: LockOptions,
    held: Option<Held>,
    seq: u64,
}

/// What release needs: the value to compare, the task ending the belief at the deadline.
pub(super) struct Held {
    pub value: Vec<u8>,
    pub expiry: JoinHandle<()>,
}

impl RedisSetnx {
    pub fn new(ctx: LockContext, options: LockOptions) -> Self {
        Self {
            ctx,
            options,
            held: None,
            seq: 0,
        }
    }
}

/// A value (and a belief id for the history) unique to this acquisition: the process, the
/// simulated time and a per-lock counter.
pub(super) fn unique(ctx: &LockContext, seq: u64) -> (Vec<u8>, i64) {
    let now = sim::sim_now().as_millis() as u64;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ctx.process.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let id = (((h & 0x7fff) << 47) | ((now & 0xff_ffff_ffff) << 7) | (seq & 0x7f)) as i64;
    (format!("{}:{now}:{seq}", ctx.process).into_bytes(), id)
}

pub(super) fn ttl_of(options: &LockOptions) -> Duration {
    Duration::from_secs(options.ttl_secs.max(1) as u64)
}

pub(super) fn fence_key(key: &str) -> Vec<u8> {
    format!("{key}:fence").into_bytes()
}

impl LockAlgorithm for RedisSetnx {
    fn name(&self) -> &str {
        AlgorithmKind::RedisSetnx.name()
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let ctx = self.ctx.clone();
        let ap = ctx.ap().client.clone();
        let key = self.options.key.clone();
        let ttl = ttl_of(&self.options);
        let start = ctx.clock.now();
        let deadline = self.options.give_up.map(|g| start + g);
        loop {
            if let Some(deadline) = deadline {
                if ctx.clock.now() >= deadline {
                    return Err(gave_up(&ctx, start));
                }
            }
            self.seq += 1;
            let (value, id) = unique(&ctx, self.seq);
            let sent = ctx.clock.now();
            if let Ok(true) = ctx.io(ap.set_nx_px(key.as_bytes(), &value, ttl)).await {
                match ctx.io(ap.incr(&fence_key(&key))).await {
                    Ok(token) => {
                        let (watch, expiry) = expiring(&ctx, id, sent + ttl);
                        self.held = Some(Held { value, expiry });
                        return Ok(Guard::new(key, Some(FencingToken(token))).with_loss(watch));
                    }
                    Err(_) => {
                        // No token: give the key back and start over.
                        let _ = ctx.io(ap.compare_and_delete(key.as_bytes(), &value)).await;
                    }
                }
            }
            ctx.sleep(self.options.retry_backoff).await;
        }
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        if let Some(held) = self.held.take() {
            held.expiry.abort();
            let ap = self.ctx.ap().client.clone();
            let _ = self
                .ctx
                .io(ap.compare_and_delete(guard.key().as_bytes(), &held.value))
                .await;
        }
        Ok(())
    }
}
