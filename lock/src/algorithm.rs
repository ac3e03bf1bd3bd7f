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
//! The AP locks need [`LockContext::ap_store`] (an [`ApAccess`]); the etcd ones use `client`.
//! Every lock, built-in or a user's, reaches the harness the same way: a [`LockKind`] whose
//! factory builds it in a client's [`LockContext`], held as a `Box<dyn DynLock>`.

mod etcd_mutex;
mod lease_txn;
mod pg_access;
mod pg_lock;
mod put;
mod redis_setnx;
mod redlock;
mod session;
mod zk_access;
mod zk_lock;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::ap::ApClient;
use sim::{Client, Clock, History, LeaseId};

use crate::error::Result;

pub use etcd_mutex::EtcdMutex;
pub use lease_txn::LeaseTxn;
pub use pg_access::PgAccess;
pub use pg_lock::{row_id, PgLock, PgWay, LOCK_TABLE};
pub use put::PutLock;
pub use redis_setnx::RedisSetnx;
pub use redlock::Redlock;
pub use session::{LossReason, LossSignal, Session, SessionWatch};
pub use zk_access::ZkAccess;
pub use zk_lock::{ZkLock, ZkWait};

/// A fencing token: strictly larger for every later grant of the lock (when the lock is
/// correct). For the etcd locks it is the lock key's create revision; for the Redis locks an
/// `INCR` counter. Tokens are >= 1: the history writes a token-less access as 0
/// ([`FencingToken::NONE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FencingToken(pub i64);

impl FencingToken {
    /// How the history and the resource write "no token": below every real token, and never
    /// judged by the fencing checker (a lock without tokens cannot be fenced).
    pub const NONE: FencingToken = FencingToken(0);
}

/// What `acquire` hands the holder: the key it holds, its fencing token if the lock has one,
/// the lease behind it if any, and how it learns it lost the lock.
///
/// The holder *believes* it holds the lock from the moment `acquire` returns this guard until it
/// calls `release` or [`Guard::is_lost`] turns true (its lock noticed the loss through the
/// [`LossSignal`] given to [`Guard::with_loss`]). The harness records both ends for you.
///
/// ```
/// use lock::{FencingToken, Guard};
/// // A lock with tokens and no way to notice a loss (it believes until release):
/// let guard = Guard::new("locks/job", Some(FencingToken(42)));
/// assert_eq!(guard.token(), Some(FencingToken(42)));
/// assert!(!guard.is_lost());
/// ```
#[derive(Clone, Debug)]
pub struct Guard {
    key: String,
    token: Option<FencingToken>,
    lease: LeaseId,
    loss: Option<SessionWatch>,
}

impl Guard {
    /// A guard for `key` with `token` (`None`: the lock has no fencing token), no lease, and no
    /// way to notice a loss: the holder believes until it releases.
    pub fn new(key: impl Into<String>, token: Option<FencingToken>) -> Self {
        Self {
            key: key.into(),
            token,
            lease: 0,
            loss: None,
        }
    }

    /// The etcd lease (or any id of the grant) behind the hold, as the history records it.
    pub fn with_lease(mut self, lease: LeaseId) -> Self {
        self.lease = lease;
        self
    }

    /// Lets the lock say "I noticed I lost it": when the [`LossSignal`] paired with `watch`
    /// fires, the holder's belief ends there. The guard takes the signal's id as its lease
    /// unless [`Guard::with_lease`] set one.
    pub fn with_loss(mut self, watch: SessionWatch) -> Self {
        if self.lease == 0 {
            self.lease = watch.lease();
        }
        self.loss = Some(watch);
        self
    }

    /// The key the holder holds (for `etcd-mutex`, its own key under the prefix).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The fencing token to send with every access to the protected resource; `None` for a
    /// lock without tokens.
    pub fn token(&self) -> Option<FencingToken> {
        self.token
    }

    /// The lease (or grant id) behind the hold; 0 when the lock has none.
    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// Whether the lock has noticed it lost the hold. A paused process notices nothing until it
    /// runs again.
    pub fn is_lost(&self) -> bool {
        self.loss.as_ref().is_some_and(|w| w.is_lost())
    }

    /// Resolves when the lock notices the loss (clientv3 `Session.Done()`); never, for a guard
    /// without [`Guard::with_loss`].
    pub async fn lost(&self) {
        match &self.loss {
            Some(watch) => watch.lost().await,
            None => std::future::pending().await,
        }
    }

    pub(crate) fn loss_watch(&self) -> Option<SessionWatch> {
        self.loss.clone()
    }
}

/// A distributed lock, as a client process uses it: the trait your own lock implements to run
/// under the harness (see [`crate::Run::with_lock`]).
///
/// Callers MUST NOT call `acquire` again before releasing the guard it returned. The harness
/// records what the holder believes (from `acquire`'s return to `release` or the guard's loss
/// signal); a lock records nothing itself.
// The futures are not `Send`: a simulated host is one thread, and its `Client` is `Rc`-shared.
#[allow(async_fn_in_trait)]
pub trait LockAlgorithm {
    /// What the history calls this lock (`lease-txn`, `my-lock`).
    fn name(&self) -> &str;

    /// Block until this client holds the lock (or an error: session expired, gave up, etcd).
    async fn acquire(&mut self) -> Result<Guard>;

    /// Give the lock up. The belief ends when this is called, whatever it returns.
    async fn release(&mut self, guard: Guard) -> Result<()>;
}

/// The built-in algorithms by name, as scenario files and the CLI spell them. A lock of your
/// own is a [`LockKind`] too, made with [`LockKind::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlgorithmKind {
    /// `lease-txn`: [`LeaseTxn`], the lease + `Txn(create_revision == 0)` lock of the blog posts.
    LeaseTxn,
    /// `put`: [`PutLock`], `Get` then a plain `Put` — unsafe on purpose.
    Put,
    /// `etcd-mutex`: [`EtcdMutex`], etcd's `concurrency.Mutex` step for step.
    EtcdMutex,
    /// `redis-setnx`: `SET key token NX PX ttl` on the Redis-like primary.
    RedisSetnx,
    /// `redlock`: Redlock over N independent Redis-like masters.
    Redlock,
    /// `zk-curator`: Curator's `InterProcessMutex` on ZooKeeper (predecessor watch).
    ZkCurator,
    /// `zk-naive`: the ephemeral-sequential lock whose waiters all watch the parent.
    ZkNaive,
    /// `pg-row-lock`: `SELECT … FOR UPDATE` held by the holder's transaction.
    PgRowLock,
    /// `pg-advisory`: a session-level `pg_advisory_lock`.
    PgAdvisory,
    /// `pg-optimistic`: a compare-and-set on a version column.
    PgOptimistic,
}

impl AlgorithmKind {
    /// Every built-in algorithm, in the order error messages list them.
    pub const ALL: [AlgorithmKind; 10] = [
        AlgorithmKind::LeaseTxn,
        AlgorithmKind::Put,
        AlgorithmKind::EtcdMutex,
        AlgorithmKind::RedisSetnx,
        AlgorithmKind::Redlock,
        AlgorithmKind::ZkCurator,
        AlgorithmKind::ZkNaive,
        AlgorithmKind::PgRowLock,
        AlgorithmKind::PgAdvisory,
        AlgorithmKind::PgOptimistic,
    ];

    /// Whether it runs on the AP store (`redis-setnx`, `redlock`) rather than etcd.
    pub fn is_ap(self) -> bool {
        matches!(self, AlgorithmKind::RedisSetnx | AlgorithmKind::Redlock)
    }

    /// Whether it runs on ZooKeeper (`zk-curator`, `zk-naive`).
    pub fn is_zk(self) -> bool {
        matches!(self, AlgorithmKind::ZkCurator | AlgorithmKind::ZkNaive)
    }

    /// Whether it runs on PostgreSQL (`pg-row-lock`, `pg-advisory`, `pg-optimistic`).
    pub fn is_pg(self) -> bool {
        matches!(
            self,
            AlgorithmKind::PgRowLock | AlgorithmKind::PgAdvisory | AlgorithmKind::PgOptimistic
        )
    }

    /// As scenario files and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            AlgorithmKind::LeaseTxn => "lease-txn",
            AlgorithmKind::Put => "put",
            AlgorithmKind::EtcdMutex => "etcd-mutex",
            AlgorithmKind::RedisSetnx => "redis-setnx",
            AlgorithmKind::Redlock => "redlock",
            AlgorithmKind::ZkCurator => "zk-curator",
            AlgorithmKind::ZkNaive => "zk-naive",
            AlgorithmKind::PgRowLock => "pg-row-lock",
            AlgorithmKind::PgAdvisory => "pg-advisory",
            AlgorithmKind::PgOptimistic => "pg-optimistic",
        }
    }

    /// The lock itself, in `ctx` with the run's options.
    fn build(self, ctx: LockContext) -> Box<dyn DynLock> {
        let options = ctx.options.clone();
        match self {
            AlgorithmKind::LeaseTxn => Box::new(LeaseTxn::new(ctx, options)),
            AlgorithmKind::Put => Box::new(PutLock::new(ctx, options)),
            AlgorithmKind::EtcdMutex => Box::new(EtcdMutex::new(ctx, options)),
            AlgorithmKind::RedisSetnx => Box::new(RedisSetnx::new(ctx, options)),
            AlgorithmKind::Redlock => Box::new(Redlock::new(ctx, options)),
            AlgorithmKind::ZkCurator => Box::new(ZkLock::new(ctx, options, ZkWait::Predecessor)),
            AlgorithmKind::ZkNaive => Box::new(ZkLock::new(ctx, options, ZkWait::Parent)),
            AlgorithmKind::PgRowLock => Box::new(PgLock::new(ctx, options, PgWay::RowLock)),
            AlgorithmKind::PgAdvisory => Box::new(PgLock::new(ctx, options, PgWay::Advisory)),
            AlgorithmKind::PgOptimistic => Box::new(PgLock::new(ctx, options, PgWay::Optimistic)),
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
            .ok_or_else(|| format!("unknown lock algorithm {s:?} (lease-txn, put, etcd-mutex, redis-setnx, redlock, zk-curator, zk-naive, pg-row-lock, pg-advisory, pg-optimistic)"))
    }
}

/// Options shared by the algorithms. Durations are on the client's own clock.
#[derive(Clone, Debug, PartialEq)]
pub struct LockOptions {
    /// The lock key (`lease-txn`, `put`) or prefix (`etcd-mutex` uses `key/` + hex(lease)).
    pub key: String,
    /// Lease TTL in seconds. The cluster raises it to its minimum (2 s with etcd's defaults).
    /// The ZooKeeper locks ask for it as their session timeout (the ensemble clamps it to
    /// `[2, 20] × tickTime`: 4 s at least with the defaults).
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
    /// ZooKeeper locks: the holder listens to its connection (Curator's
    /// `ConnectionStateListener`) and gives the lock up on SUSPENDED (Disconnected) and LOST
    /// (Expired). Off: it believes until it releases, as Curator's lock does by itself.
    pub connection_listener: bool,
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
            connection_listener: false,
        }
    }
}

/// What a lock process has: the etcd client, the AP store's client (on an AP run), its host's
/// clock, its host name, and the run's lock options (key, TTL, retries).
#[derive(Clone)]
pub struct LockContext {
    pub(crate) client: Client,
    pub(crate) clock: Clock,
    pub(crate) history: History,
    pub(crate) process: String,
    pub(crate) options: LockOptions,
    /// The AP store, for `redis-setnx` and `redlock` (`None` on an etcd run).
    pub(crate) ap: Option<ApAccess>,
    /// ZooKeeper, for `zk-curator` and `zk-naive` (`None` without an ensemble).
    pub(crate) zk: Option<ZkAccess>,
    /// PostgreSQL, for the `pg-*` locks (`None` without servers).
    pub(crate) pg: Option<PgAccess>,
}

/// How an AP lock reaches the store: a sentinel-aware client (replicated store) or one aimed at
/// `r1` (independent store), and the node names (Redlock's N masters).
#[derive(Clone)]
pub struct ApAccess {
    /// The store's client, on this host.
    pub client: ApClient,
    /// The store's node names, `r1..rN`.
    pub nodes: Vec<String>,
}

impl LockContext {
    /// A context for `client` on host `process` with `clock`, the default [`LockOptions`] and no
    /// AP store. The harness builds one per client host; build one yourself only to drive a
    /// lock by hand in a world of your own.
    pub fn new(client: Client, clock: Clock, process: &str) -> Self {
        Self {
            history: client.history().clone(),
            client,
            clock,
            process: process.to_string(),
            options: LockOptions::default(),
            ap: None,
            zk: None,
            pg: None,
        }
    }

    /// The same context with PostgreSQL reachable.
    pub fn with_pg(mut self, pg: PgAccess) -> Self {
        self.pg = Some(pg);
        self
    }

    /// PostgreSQL (`None` without servers): the connection, renewed after a loss.
    pub fn pg(&self) -> Option<&PgAccess> {
        self.pg.as_ref()
    }

    /// The same context with ZooKeeper reachable.
    pub fn with_zk(mut self, zk: ZkAccess) -> Self {
        self.zk = Some(zk);
        self
    }

    /// ZooKeeper (`None` without an ensemble): the session handle, renewed after expiry.
    pub fn zk(&self) -> Option<&ZkAccess> {
        self.zk.as_ref()
    }

    /// The same context with the AP store reachable.
    pub fn with_ap(mut self, ap: ApAccess) -> Self {
        self.ap = Some(ap);
        self
    }

    /// The same context with `options`.
    pub fn with_options(mut self, options: LockOptions) -> Self {
        self.options = options;
        self
    }

    /// The etcd client (clientv3-like: `put`, `get`, `txn`, `lease_grant`, `watch`, …). Call
    /// it through [`LockContext::io`].
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// This host's clock: its own rate and offset, stopped while the host is paused.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// This host's name (`c1`, `c2`, …): what the history calls the process.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// The run's lock options: key, TTL, retry backoff, keepalive timing.
    pub fn options(&self) -> &LockOptions {
        &self.options
    }

    /// The AP store (`None` on an etcd run).
    pub fn ap_store(&self) -> Option<&ApAccess> {
        self.ap.as_ref()
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

    /// A loss signal for a hold backed by `lease` (or any id unique to the grant): the lock
    /// keeps the [`LossSignal`] and fires it when it notices it lost the lock; the guard gets
    /// the watch ([`Guard::with_loss`]). See [`LossSignal`].
    pub fn loss_signal(&self, lease: LeaseId) -> (LossSignal, SessionWatch) {
        LossSignal::new(self, lease)
    }
}

/// A lock of any type behind one object-safe face: the harness holds every lock, built-in or
/// yours, as a `Box<dyn DynLock>` (the trait's async methods are not object safe).
pub(crate) trait DynLock {
    fn name(&self) -> &str;
    fn acquire(&mut self) -> LocalFuture<'_, Result<Guard>>;
    fn release(&mut self, guard: Guard) -> LocalFuture<'_, Result<()>>;
}

pub(crate) type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

impl<L: LockAlgorithm> DynLock for L {
    fn name(&self) -> &str {
        LockAlgorithm::name(self)
    }

    fn acquire(&mut self) -> LocalFuture<'_, Result<Guard>> {
        Box::pin(LockAlgorithm::acquire(self))
    }

    fn release(&mut self, guard: Guard) -> LocalFuture<'_, Result<()>> {
        Box::pin(LockAlgorithm::release(self, guard))
    }
}

type Factory = dyn Fn(LockContext) -> Box<dyn DynLock> + Send + Sync;

/// Which lock a run uses, by name: one of the built-in [`AlgorithmKind`]s, or yours, made with
/// [`LockKind::new`] from a function that builds it in each client's [`LockContext`]. Every
/// client host calls that function when it starts (and again after a crash: a restarted process
/// remembers nothing).
///
/// ```
/// use lock::{AlgorithmKind, LockKind};
/// let builtin = LockKind::from(AlgorithmKind::EtcdMutex);
/// assert_eq!(builtin.name(), "etcd-mutex");
/// assert_eq!(builtin.builtin(), Some(AlgorithmKind::EtcdMutex));
/// ```
#[derive(Clone)]
pub struct LockKind {
    name: Arc<str>,
    builtin: Option<AlgorithmKind>,
    factory: Arc<Factory>,
    grpc: bool,
}

impl LockKind {
    /// Your lock, called `name` in scenario files, reports and the history; `factory` builds
    /// it in a client's context.
    pub fn new<L, F>(name: &str, factory: F) -> Self
    where
        L: LockAlgorithm + 'static,
        F: Fn(LockContext) -> L + Send + Sync + 'static,
    {
        Self {
            name: name.into(),
            builtin: None,
            factory: Arc::new(move |ctx| Box::new(factory(ctx)) as Box<dyn DynLock>),
            grpc: false,
        }
    }

    /// The same kind, for a lock that talks to etcd through `etcd_client` (feature `grpc`):
    /// its runs have the members serve etcd's gRPC API, which
    /// `LockContext::etcd_client` (feature `grpc`) connects to.
    pub fn serving_grpc(mut self) -> Self {
        self.grpc = true;
        self
    }

    /// Whether runs of this lock need the members' gRPC API.
    pub fn needs_grpc(&self) -> bool {
        self.grpc
    }

    /// What scenario files, reports and the history call it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The built-in algorithm, or `None` for a lock of your own.
    pub fn builtin(&self) -> Option<AlgorithmKind> {
        self.builtin
    }

    pub(crate) fn build(&self, ctx: LockContext) -> Box<dyn DynLock> {
        (self.factory)(ctx)
    }
}

impl From<AlgorithmKind> for LockKind {
    fn from(kind: AlgorithmKind) -> Self {
        Self {
            name: kind.name().into(),
            builtin: Some(kind),
            factory: Arc::new(move |ctx| kind.build(ctx)),
            grpc: false,
        }
    }
}

/// Two kinds are the same lock when they have the same name (a factory has no identity to
/// compare).
impl PartialEq for LockKind {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.builtin == other.builtin
    }
}

impl Eq for LockKind {}

impl std::fmt::Debug for LockKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl std::fmt::Display for LockKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Written as its name, as scenario files spell it.
impl Serialize for LockKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
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
