//! `trait LockAlgorithm` and what every algorithm shares: the guard with its fencing token, the
//! options, and the context a lock runs in (a `sim::Client` on a host with its own `Clock`).
//!
//! Algorithms, one file each:
//! * `lease_txn`: the common blog lock, `Txn(If create_revision(key) == 0, Then Put(key, lease))`.
//! * `put`: a deliberately unsafe lock: check with a `Get`, then a plain `Put` (no compare).
//! * `etcd_mutex`: etcd's `concurrency.Mutex`, step for step.
//! * `session`: a lease with its keepalive loop, and what the holder believes about it.
//! * `redis_setnx`: `SET key token NX PX ttl` on the AP store's primary (found through the
//!   sentinels), release by compare-and-delete; unsafe on failover, on purpose.
//! * `redlock`: Redlock over N independent AP nodes: a majority of `SET NX PX` within validity.
//!
//! The AP locks need [`LockContext::ap`] (an [`ApAccess`]); the etcd ones use `client`.

mod etcd_mutex;
mod lease_txn;
mod put;
mod redis_setnx;
mod redlock;
mod session;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::ap::ApClient;
use sim::{Client, Clock, History, LeaseId};

use crate::error::Result;

pub use etcd_mutex::EtcdMutex;
pub use lease_txn::LeaseTxn;
pub use put::PutLock;
pub use redis_setnx::RedisSetnx;
pub use redlock::Redlock;
pub use session::{LossReason, Session, SessionWatch};

/// A fencing token: strictly larger for every later grant of the lock (when the lock is
/// correct). For the etcd locks it is the lock key's create revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FencingToken(pub i64);

/// What `acquire` hands the holder.
///
/// The holder *believes* it holds the lock from the moment `acquire` returns this guard until it
/// calls `release` or [`Guard::is_lost`] turns true (its session noticed the lease is gone).
#[derive(Clone, Debug)]
pub struct Guard {
    pub key: String,
    pub token: FencingToken,
    pub lease: LeaseId,
    session: SessionWatch,
}

impl Guard {
    pub(crate) fn new(
        key: String,
        token: FencingToken,
        lease: LeaseId,
        session: SessionWatch,
    ) -> Self {
        Self {
            key,
            token,
            lease,
            session,
        }
    }

    /// Whether the session behind this guard has noticed its lease is gone. A paused process
    /// notices nothing until it runs again.
    pub fn is_lost(&self) -> bool {
        self.session.is_lost()
    }

    /// Resolves when the session notices its lease is gone (clientv3 `Session.Done()`).
    pub async fn lost(&self) {
        self.session.lost().await
    }

    pub fn session_watch(&self) -> SessionWatch {
        self.session.clone()
    }
}

/// A distributed lock, as a client process uses it.
///
/// Callers MUST NOT call `acquire` again before releasing the guard it returned.
// The futures are not `Send`: a simulated host is one thread, and its `Client` is `Rc`-shared.
#[allow(async_fn_in_trait)]
pub trait LockAlgorithm {
    fn kind(&self) -> AlgorithmKind;

    /// Block until this client holds the lock (or an error: session expired, gave up, etcd).
    async fn acquire(&mut self) -> Result<Guard>;

    /// Give the lock up. The belief ends when this is called, whatever it returns.
    async fn release(&mut self, guard: Guard) -> Result<()>;
}

/// The algorithms by name, as scenario files and the CLI spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlgorithmKind {
    LeaseTxn,
    Put,
    EtcdMutex,
    RedisSetnx,
    Redlock,
}

impl AlgorithmKind {
    pub const ALL: [AlgorithmKind; 5] = [
        AlgorithmKind::LeaseTxn,
        AlgorithmKind::Put,
        AlgorithmKind::EtcdMutex,
        AlgorithmKind::RedisSetnx,
        AlgorithmKind::Redlock,
    ];

    /// Whether it runs on the AP store (`redis-setnx`, `redlock`) rather than etcd.
    pub fn is_ap(self) -> bool {
        matches!(self, AlgorithmKind::RedisSetnx | AlgorithmKind::Redlock)
    }

    pub fn name(self) -> &'static str {
        match self {
            AlgorithmKind::LeaseTxn => "lease-txn",
            AlgorithmKind::Put => "put",
            AlgorithmKind::EtcdMutex => "etcd-mutex",
            AlgorithmKind::RedisSetnx => "redis-setnx",
            AlgorithmKind::Redlock => "redlock",
        }
    }
}

impl std::fmt::Display for AlgorithmKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AlgorithmKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        AlgorithmKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown lock algorithm {s:?} (lease-txn, put, etcd-mutex, redis-setnx, redlock)"))
    }
}

/// Options shared by the algorithms. Durations are on the client's own clock.
#[derive(Clone, Debug, PartialEq)]
pub struct LockOptions {
    /// The lock key (`lease-txn`, `put`) or prefix (`etcd-mutex` uses `key/` + hex(lease)).
    pub key: String,
    /// Lease TTL in seconds. The cluster raises it to its minimum (2 s with etcd's defaults).
    pub ttl_secs: i64,
    /// Pause after a failed request before trying again.
    pub retry_backoff: Duration,
    /// Give up acquiring after this long (`None`: wait forever, like `Lock(context.Background())`).
    pub give_up: Option<Duration>,
    /// Keepalive period; `None` = TTL / 3 (clientv3).
    pub keepalive_interval: Option<Duration>,
    /// Resend a keepalive that got no answer after this long (clientv3: 500 ms).
    pub keepalive_retry: Duration,
    /// How often the session compares its local deadline (last keepalive answer + TTL) with its
    /// clock (clientv3's `deadlineLoop`: 500 ms).
    pub deadline_check: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            key: "lock".into(),
            ttl_secs: 3,
            retry_backoff: Duration::from_millis(100),
            give_up: None,
            keepalive_interval: None,
            keepalive_retry: Duration::from_millis(500),
            deadline_check: Duration::from_millis(500),
        }
    }
}

/// Where a lock runs: its client, its host's clock, the history, its host name.
#[derive(Clone)]
pub struct LockContext {
    pub client: Client,
    pub clock: Clock,
    pub history: History,
    pub process: String,
    /// The AP store, for `redis-setnx` and `redlock` (`None` on an etcd run).
    pub ap: Option<ApAccess>,
}

/// How an AP lock reaches the store: a sentinel-aware client (replicated store) or one aimed at
/// `r1` (independent store), and the node names (Redlock's N masters).
#[derive(Clone)]
pub struct ApAccess {
    pub client: ApClient,
    pub nodes: Vec<String>,
}

impl LockContext {
    pub fn new(client: Client, clock: Clock, process: &str) -> Self {
        Self {
            history: client.history().clone(),
            client,
            clock,
            process: process.to_string(),
            ap: None,
        }
    }

    /// The same context with the AP store reachable.
    pub fn with_ap(mut self, ap: ApAccess) -> Self {
        self.ap = Some(ap);
        self
    }

    /// The AP store; an AP lock on an etcd run is a harness bug.
    pub(crate) fn ap(&self) -> &ApAccess {
        self.ap
            .as_ref()
            .expect("an AP lock needs LockContext::with_ap (a run with an AP store)")
    }

    /// Run one client call as a process would: not while paused, and not acting on its answer
    /// while paused. Why here and not only inside `sim::Client`: an answer that arrives while the
    /// host is paused completes the call's future, and the caller must not see it before the
    /// process runs again.
    pub async fn io<T>(&self, call: impl Future<Output = T>) -> T {
        self.clock.running().await;
        let out = call.await;
        self.clock.running().await;
        out
    }

    /// Sleep on the host's clock (never while paused).
    pub async fn sleep(&self, d: Duration) {
        self.clock.sleep(d).await
    }
}

/// One of the algorithms, chosen at run time (the trait's async methods are not object safe).
pub enum AnyLock {
    LeaseTxn(LeaseTxn),
    Put(PutLock),
    EtcdMutex(EtcdMutex),
    RedisSetnx(RedisSetnx),
    Redlock(Redlock),
}

impl AnyLock {
    pub fn new(kind: AlgorithmKind, ctx: LockContext, options: LockOptions) -> Self {
        match kind {
            AlgorithmKind::LeaseTxn => AnyLock::LeaseTxn(LeaseTxn::new(ctx, options)),
            AlgorithmKind::Put => AnyLock::Put(PutLock::new(ctx, options)),
            AlgorithmKind::EtcdMutex => AnyLock::EtcdMutex(EtcdMutex::new(ctx, options)),
            AlgorithmKind::RedisSetnx => AnyLock::RedisSetnx(RedisSetnx::new(ctx, options)),
            AlgorithmKind::Redlock => AnyLock::Redlock(Redlock::new(ctx, options)),
        }
    }
}

impl LockAlgorithm for AnyLock {
    fn kind(&self) -> AlgorithmKind {
        match self {
            AnyLock::LeaseTxn(l) => l.kind(),
            AnyLock::Put(l) => l.kind(),
            AnyLock::EtcdMutex(l) => l.kind(),
            AnyLock::RedisSetnx(l) => l.kind(),
            AnyLock::Redlock(l) => l.kind(),
        }
    }

    async fn acquire(&mut self) -> Result<Guard> {
        match self {
            AnyLock::LeaseTxn(l) => l.acquire().await,
            AnyLock::Put(l) => l.acquire().await,
            AnyLock::EtcdMutex(l) => l.acquire().await,
            AnyLock::RedisSetnx(l) => l.acquire().await,
            AnyLock::Redlock(l) => l.acquire().await,
        }
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        match self {
            AnyLock::LeaseTxn(l) => l.release(guard).await,
            AnyLock::Put(l) => l.release(guard).await,
            AnyLock::EtcdMutex(l) => l.release(guard).await,
            AnyLock::RedisSetnx(l) => l.release(guard).await,
            AnyLock::Redlock(l) => l.release(guard).await,
        }
    }
}

/// Shared helpers for building requests.
pub(crate) mod req {
    use sim::*;

    pub fn get(key: &str) -> RangeRequest {
        RangeRequest {
            key: key.into(),
            ..Default::default()
        }
    }

    pub fn create_is(key: &str, rev: Revision) -> Compare {
        Compare {
            result: CompareResult::Equal,
            target: CompareTarget::Create(rev),
            key: key.into(),
            range_end: Vec::new(),
        }
    }

    pub fn put(key: &str, value: &str, lease: LeaseId) -> PutRequest {
        PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            ..Default::default()
        }
    }

    pub fn range_of(op: Option<&ResponseOp>) -> Option<&RangeResponse> {
        match op {
            Some(ResponseOp::Range(r)) => Some(r),
            _ => None,
        }
    }

    pub fn has_delete(response: &WatchResponse) -> bool {
        response.events.iter().any(|e| e.kind == EventType::Delete)
    }
}
