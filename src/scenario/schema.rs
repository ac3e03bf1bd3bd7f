//! The validated scenario: what a run needs, every field present (defaults applied), every
//! duration a [`Duration`]. Why separate from the file's shape (`file`): the runner and the
//! explorer build and read these without knowing how a file spells them.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use sim::FaultPlan;

/// A scenario that failed to load: where, which field, what is wrong and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    /// Dotted path of the field (`lock.ttl`, `fault[2].target`), empty when unknown.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.field.is_empty()) {
            (0, _) => write!(f, "{}: {}", self.file, self.message),
            (line, true) => write!(f, "{}:{line}: {}", self.file, self.message),
            (line, false) => write!(
                f,
                "{}:{line}: field `{}`: {}",
                self.file, self.field, self.message
            ),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A duration or a range of durations (`"5s"`, `"1ms..20ms"`), sampled per seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationRange {
    pub min: Duration,
    pub max: Duration,
}

impl DurationRange {
    pub fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    /// A value in `[min, max]`, whole milliseconds.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        if self.min >= self.max {
            return self.min;
        }
        let ms = rng.gen_range(self.min.as_millis() as u64..=self.max.as_millis() as u64);
        Duration::from_millis(ms)
    }
}

/// `"5s"` or `"1ms..20ms"`, one unit each ([`crate::duration::format`]): what a scenario file
/// says, so every output parses back as the same range.
impl fmt::Display for DurationRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::duration::format;
        if self.min == self.max {
            f.write_str(&format(self.min))
        } else {
            write!(f, "{}..{}", format(self.min), format(self.max))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Etcd,
    Redis,
    Redlock,
    /// A ZooKeeper ensemble (servers `z1..zN`).
    Zk,
    /// PostgreSQL servers (`p1` the primary).
    Pg,
}

impl Backend {
    /// As scenario files spell it: `etcd`, `redis`, `redlock`, `zk`, `pg`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Etcd => "etcd",
            Backend::Redis => "redis",
            Backend::Redlock => "redlock",
            Backend::Zk => "zk",
            Backend::Pg => "pg",
        }
    }

    /// Whether the built-in lock `kind` runs on this backend: the etcd locks on etcd, the AP
    /// locks on redis and redlock, the ZooKeeper locks on zk, the database locks on pg.
    pub fn takes(self, kind: lock::AlgorithmKind) -> bool {
        match self {
            Backend::Etcd => !kind.is_ap() && !kind.is_zk() && !kind.is_pg(),
            Backend::Redis | Backend::Redlock => kind.is_ap(),
            Backend::Zk => kind.is_zk(),
            Backend::Pg => kind.is_pg(),
        }
    }
}

/// What a run must show for the scenario to pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expect {
    /// Must hold / must stay intact.
    Holds,
    /// Must be violated / corrupted.
    Violated,
    #[default]
    Any,
}

/// How reads are served (`cluster.read_mode`). Serializable is a request option, so it reaches
/// only the `[kv]` readers; lease-based is a member setting, so it reaches every client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// ReadIndex confirmed by a quorum round (`ReadOnlyOption::Safe`): etcd's default.
    #[default]
    Linearizable,
    /// The readers ask for serializable reads (clientv3 `WithSerializable()`): the member they
    /// talk to answers from its own store, however far behind it is. Lock clients keep
    /// linearizable reads, as etcd's concurrency package does.
    Serializable,
    /// The members serve linearizable reads on the leader's lease
    /// (`ReadOnlyOption::LeaseBased`): every client's reads, the lock clients' too.
    LeaseBased,
}

impl ReadMode {
    /// As `cluster.read_mode` spells it.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Linearizable => "linearizable",
            ReadMode::Serializable => "serializable",
            ReadMode::LeaseBased => "lease-based",
        }
    }

    /// The members' setting: only `lease-based` changes how they serve reads.
    pub fn member_read_mode(self) -> sim::ReadMode {
        match self {
            ReadMode::LeaseBased => sim::ReadMode::LeaseBased,
            ReadMode::Linearizable | ReadMode::Serializable => sim::ReadMode::Safe,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    pub backend: Backend,
    pub members: usize,
    pub election_timeout: Duration,
    pub read_mode: ReadMode,
    pub replication_lag: DurationRange,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LockSpec {
    /// Parsed once, when the file is read: `lease-txn`, `put`, `etcd-mutex`, `redis-setnx`,
    /// `redlock`, or a lock of your own registered in [`super::Locks`] (or set with
    /// [`Scenario::with_lock`]).
    pub kind: lock::LockKind,
    pub ttl: Duration,
    pub fencing: bool,
    /// ZooKeeper locks: give the lock up on SUSPENDED/LOST (`lock.connection_listener`).
    pub connection_listener: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSpec {
    pub clients: usize,
    pub hold: DurationRange,
    pub think: DurationRange,
}

/// The `[kv]` register workload: writers and member-bound readers beside the lock clients
/// (see `lock::KvWorkload`).
#[derive(Clone, Debug, PartialEq)]
pub struct KvSpec {
    /// Hosts `writer1..writerN`.
    pub writers: usize,
    /// Hosts `reader1..readerN`; reader k is bound to member `n((k−1) mod members + 1)` (on
    /// ZooKeeper, server `z((k−1) mod servers + 1)`).
    pub readers: usize,
    pub interval: DurationRange,
    pub request_timeout: Duration,
    /// ZooKeeper: readers call `sync` before every read.
    pub sync: bool,
}

impl KvSpec {
    /// Host names, writers first.
    pub fn hosts(&self) -> Vec<String> {
        let writers = (0..self.writers).map(lock::writer_name);
        writers
            .chain((0..self.readers).map(lock::reader_name))
            .collect()
    }
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub duration: Duration,
    pub cluster: ClusterSpec,
    /// Simulated time per simulator step: the network's resolution (a message takes at least
    /// one tick) and the price of a simulated second (every host is polled once per tick).
    pub tick: Duration,
    pub latency: DurationRange,
    pub loss: f64,
    pub lock: LockSpec,
    pub workload: WorkloadSpec,
    /// The `[kv]` section, when the scenario has one.
    pub kv: Option<KvSpec>,
    /// The `[pg]` section: the PostgreSQL servers' settings (defaults unless backend pg says
    /// otherwise).
    pub pg: sim::pg::PgConfig,
    /// The `[patroni]` section: the failover manager's settings (pg with standbys).
    pub patroni: sim::pg::PatroniConfig,
    pub faults: FaultPlan,
    pub expect_mutual_exclusion: Expect,
    pub expect_resource: Expect,
    /// The run's KV history, checked for linearizability (etcd backend). Default: it must be
    /// linearizable, so a simulator bug is caught; stories about stale reads say `violated`.
    pub expect_kv: Expect,
}
