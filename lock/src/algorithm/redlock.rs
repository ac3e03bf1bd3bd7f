//! `Redlock`: the Redis distributed lock over N independent masters (redis.io "Distributed
//! Locks with Redis"), step for step.
//!
//! * acquire: note the start time on the client's clock; `SET key token NX PX ttl` on each of
//!   the N nodes in turn, each with a short timeout (`PER_NODE_TIMEOUT`) so a dead node does not
//!   hold the client up; elapsed = now − start; drift = ttl · 0.01 + 2 ms. Success when a
//!   majority (N/2 + 1) said OK *and* validity = ttl − elapsed − drift is positive. Otherwise
//!   unlock every node (compare-and-delete) and retry after the backoff.
//! * token: Redlock has none; for the resource we `INCR key:fence` on the nodes that granted
//!   and take the largest (two majorities share a node, but a node that restarts empty loses
//!   its counter, so this is no real fencing token either).
//! * belief: from `acquire` returning until `release` or until the client's clock passes
//!   start + validity (no renewal).
//! * release: compare-and-delete on every node.
//!
//! What it assumes and the simulator breaks (Kleppmann, "How to do distributed locking"): each
//! node's clock runs at the right rate. A node whose clock jumps forward expires the key early;
//! if that node was part of the holder's majority, another client can gather a majority while
//! the holder still believes.

use std::time::Duration;

use sim::ap::{ApClient, ApEndpoint};

use super::lease_txn::gave_up;
use super::redis_setnx::{fence_key, ttl_of, unique, Held};
use super::session::expiring;
use super::{AlgorithmKind, FencingToken, Guard, LockAlgorithm, LockContext, LockOptions};
use crate::error::Result;

/// How long one node's answer is waited for (the spec: "small compared to the TTL").
pub const PER_NODE_TIMEOUT: Duration = Duration::from_millis(50);

pub struct Redlock {
    ctx: LockContext,
    options: LockOptions,
    nodes: Vec<ApClient>,
    held: Option<Held>,
    seq: u64,
}

impl Redlock {
    pub fn new(ctx: LockContext, options: LockOptions) -> Self {
        let ap = ctx.ap();
        let nodes = ap
            .nodes
            .iter()
            .map(|n| ap.client.with_endpoint(ApEndpoint::Node(n.clone())))
            .collect();
        Self {
            ctx,
            options,
            nodes,
            held: None,
            seq: 0,
        }
    }

    /// The spec's clock drift allowance: ttl · 0.01 + 2 ms.
    pub fn drift(ttl: Duration) -> Duration {
        ttl / 100 + Duration::from_millis(2)
    }

    async fn unlock_all(&self, key: &str, value: &[u8]) {
        for node in &self.nodes {
            let _ = tokio::time::timeout(
                PER_NODE_TIMEOUT,
                self.ctx.io(node.compare_and_delete(key.as_bytes(), value)),
            )
            .await;
        }
    }
}

impl LockAlgorithm for Redlock {
    fn name(&self) -> &str {
        AlgorithmKind::Redlock.name()
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let ctx = self.ctx.clone();
        let key = self.options.key.clone();
        let ttl = ttl_of(&self.options);
        let quorum = self.nodes.len() / 2 + 1;
        let begun = ctx.clock.now();
        let deadline = self.options.give_up.map(|g| begun + g);
        loop {
            if let Some(deadline) = deadline {
                if ctx.clock.now() >= deadline {
                    return Err(gave_up(&ctx, begun));
                }
            }
            self.seq += 1;
            let (value, id) = unique(&ctx, self.seq);
            let start = ctx.clock.now();
            let mut granted = Vec::new();
            for (i, node) in self.nodes.iter().enumerate() {
                let set = ctx.io(node.set_nx_px(key.as_bytes(), &value, ttl));
                if let Ok(Ok(true)) = tokio::time::timeout(PER_NODE_TIMEOUT, set).await {
                    granted.push(i);
                }
            }
            let elapsed = ctx.clock.now().saturating_sub(start);
            let used = elapsed + Self::drift(ttl);
            if granted.len() >= quorum && ttl > used {
                let validity = ttl - used;
                let mut token = 0;
                let fence = fence_key(&key);
                for &i in &granted {
                    let incr = ctx.io(self.nodes[i].incr(&fence));
                    if let Ok(Ok(n)) = tokio::time::timeout(PER_NODE_TIMEOUT, incr).await {
                        token = token.max(n);
                    }
                }
                let (watch, expiry) = expiring(&ctx, id, start + validity);
                self.held = Some(Held { value, expiry });
                return Ok(Guard::new(key, Some(FencingToken(token))).with_loss(watch));
            }
            self.unlock_all(&key, &value).await;
            ctx.sleep(self.options.retry_backoff).await;
        }
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        if let Some(held) = self.held.take() {
            held.expiry.abort();
            self.unlock_all(guard.key(), &held.value).await;
        }
        Ok(())
    }
}
