//! Scenario files: a cluster, a lock, a workload, a fault plan and the expected verdict, in
//! TOML. This module reads and validates them; the runner executes them.
//!
//! Why so strict: a scenario that silently ignored a misspelt field would test something other
//! than what its author meant and still "pass". Every unknown field, wrong type, bad duration,
//! unknown host or impossible value is an error naming the file, the line and the field, and
//! saying what is allowed — like raft-rs's `Config::validate`, but for people.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;
use sim::{Fault, FaultPlan, ScheduledFault, Target};
use toml::Spanned;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Etcd,
    Redis,
    Redlock,
}

impl Backend {
    /// As scenario files spell it: `etcd`, `redis`, `redlock`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Etcd => "etcd",
            Backend::Redis => "redis",
            Backend::Redlock => "redlock",
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

pub const LOCK_KINDS: &[&str] = &["lease-txn", "put", "etcd-mutex", "redis-setnx", "redlock"];

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
    pub kind: String,
    pub ttl: Duration,
    pub fencing: bool,
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
    /// Hosts `reader1..readerN`; reader k is bound to member `n((k−1) mod members + 1)`.
    pub readers: usize,
    pub interval: DurationRange,
    pub request_timeout: Duration,
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
    pub faults: FaultPlan,
    pub expect_mutual_exclusion: Expect,
    pub expect_resource: Expect,
    /// The run's KV history, checked for linearizability (etcd backend). Default: it must be
    /// linearizable, so a simulator bug is caught; stories about stale reads say `violated`.
    pub expect_kv: Expect,
}

// ---------------------------------------------------------------------------------------------
// The file as written. Spanned fields are the ones validation may need to point at.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    duration: Spanned<String>,
    #[serde(default)]
    cluster: Option<Spanned<ClusterSection>>,
    #[serde(default)]
    network: Option<Spanned<NetworkSection>>,
    lock: Spanned<LockSection>,
    #[serde(default)]
    workload: Option<Spanned<WorkloadSection>>,
    #[serde(default)]
    kv: Option<Spanned<KvSection>>,
    #[serde(default)]
    fault: Vec<Spanned<FaultSection>>,
    #[serde(default)]
    expect: Option<ExpectSection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    backend: Option<Spanned<String>>,
    members: Option<Spanned<i64>>,
    election_timeout: Option<Spanned<String>>,
    read_mode: Option<Spanned<String>>,
    replication_lag: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    tick: Option<Spanned<String>>,
    latency: Option<Spanned<String>>,
    loss: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockSection {
    kind: Spanned<String>,
    ttl: Option<Spanned<String>>,
    #[serde(default)]
    fencing: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WorkloadSection {
    clients: Option<Spanned<i64>>,
    hold: Option<Spanned<String>>,
    think: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct KvSection {
    writers: Option<Spanned<i64>>,
    readers: Option<Spanned<i64>>,
    interval: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSection {
    at: Spanned<String>,
    kind: Spanned<String>,
    target: Option<Spanned<String>>,
    #[serde(rename = "for")]
    duration: Option<Spanned<String>>,
    groups: Option<Spanned<Vec<Vec<String>>>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    rate: Option<Spanned<f64>>,
    offset: Option<Spanned<String>>,
    latency: Option<Spanned<String>>,
    lose_unsynced: Option<Spanned<bool>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpectSection {
    mutual_exclusion: Option<Spanned<String>>,
    resource: Option<Spanned<String>>,
    kv: Option<Spanned<String>>,
}

/// Defaults for every optional field (documented in the README's scenario reference).
pub mod defaults {
    use std::time::Duration;
    pub const MEMBERS: usize = 3;
    pub const ELECTION_TIMEOUT: Duration = Duration::from_secs(1);
    pub const REPLICATION_LAG: (Duration, Duration) =
        (Duration::from_millis(1), Duration::from_millis(50));
    pub const LATENCY: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(10));
    /// TigerBeetle's simulator ticks in 10 ms too; see the README on what a tick changes.
    pub const TICK: Duration = Duration::from_millis(10);
    pub const TTL: Duration = Duration::from_secs(5);
    pub const CLIENTS: usize = 3;
    pub const HOLD: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));
    pub const THINK: (Duration, Duration) = (Duration::from_millis(0), Duration::from_millis(500));
    /// `[kv] readers` has no constant: one per member, so every member has a reader bound to it.
    pub const KV_WRITERS: usize = 1;
    pub const KV_INTERVAL: (Duration, Duration) =
        (Duration::from_millis(20), Duration::from_millis(100));
    /// etcdctl's `--command-timeout`.
    pub const KV_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        field: String::new(),
        message: format!("cannot read it: {e}"),
    })?;
    parse(&file, &text)
}

/// Parses and validates scenario text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let v = Validator { file, text };
    let raw: File = toml::from_str(text).map_err(|e| v.toml_error(&e))?;
    v.scenario(raw)
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> Result<T, ScenarioError> {
        Err(ScenarioError {
            file: self.file.to_string(),
            line: self.line_of(span.start),
            field: field.to_string(),
            message: message.into(),
        })
    }

    fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let line = e.span().map(|s| self.line_of(s.start)).unwrap_or(0);
        let message = e.message().trim().to_string();
        // serde names the field in its message ("unknown field `ttll`, expected ..."); pull it out.
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| {
                message.starts_with("unknown field") || message.starts_with("missing field")
            })
            .unwrap_or("")
            .to_string();
        ScenarioError {
            file: self.file.to_string(),
            line,
            field,
            message,
        }
    }

    fn duration(&self, s: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
        let d =
            parse_duration(s.get_ref()).or_else(|e| self.err(s.span(), field, e.to_string()))?;
        if d.is_zero() {
            return self.err(
                s.span(),
                field,
                format!("{:?} must be longer than 0", s.get_ref()),
            );
        }
        Ok(d)
    }

    /// `at` may be 0 (a fault at the start); other durations may not.
    fn time(&self, s: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
        parse_duration(s.get_ref()).or_else(|e| self.err(s.span(), field, e.to_string()))
    }

    fn range(
        &self,
        s: &Spanned<String>,
        field: &str,
        allow_zero: bool,
    ) -> Result<DurationRange, ScenarioError> {
        let text = s.get_ref();
        let range = match text.split_once("..") {
            Some((a, b)) => {
                let min = parse_duration(a.trim())
                    .or_else(|e| self.err(s.span(), field, e.to_string()))?;
                let max = parse_duration(b.trim())
                    .or_else(|e| self.err(s.span(), field, e.to_string()))?;
                if min > max {
                    return self.err(
                        s.span(),
                        field,
                        format!("{text:?}: the lower bound is above the upper bound"),
                    );
                }
                DurationRange { min, max }
            }
            None => DurationRange::fixed(
                parse_duration(text).or_else(|e| self.err(s.span(), field, e.to_string()))?,
            ),
        };
        if !allow_zero && range.max.is_zero() {
            return self.err(s.span(), field, format!("{text:?} must be longer than 0"));
        }
        Ok(range)
    }

    fn scenario(&self, raw: File) -> Result<Scenario, ScenarioError> {
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            return self.err(raw.name.span(), "name", "must not be empty");
        }
        let duration = self.duration(&raw.duration, "duration")?;

        let cluster_raw = raw.cluster.map(|c| c.into_inner()).unwrap_or_default();
        let backend = match &cluster_raw.backend {
            None => Backend::Etcd,
            Some(b) => match b.get_ref().as_str() {
                "etcd" => Backend::Etcd,
                "redis" => Backend::Redis,
                "redlock" => Backend::Redlock,
                other => {
                    return self.err(
                        b.span(),
                        "cluster.backend",
                        format!("unknown backend {other:?}; allowed: etcd, redis, redlock"),
                    )
                }
            },
        };
        let members = match &cluster_raw.members {
            None => defaults::MEMBERS,
            Some(m) if (1..=7).contains(m.get_ref()) => *m.get_ref() as usize,
            Some(m) => {
                return self.err(
                    m.span(),
                    "cluster.members",
                    format!(
                        "{} is out of range; allowed: 1 to 7 (etcd runs 3 or 5)",
                        m.get_ref()
                    ),
                )
            }
        };
        let election_timeout = match &cluster_raw.election_timeout {
            None => defaults::ELECTION_TIMEOUT,
            Some(e) => {
                let d = self.duration(e, "cluster.election_timeout")?;
                if d < Duration::from_millis(20) {
                    return self.err(e.span(), "cluster.election_timeout", "must be at least 20ms (heartbeat = election_timeout / 10 must be at least 2 ticks of 1ms)");
                }
                d
            }
        };
        let read_mode = match &cluster_raw.read_mode {
            None => ReadMode::Linearizable,
            Some(r) => match r.get_ref().as_str() {
                "linearizable" => ReadMode::Linearizable,
                "lease-based" => ReadMode::LeaseBased,
                "serializable" => ReadMode::Serializable,
                other => return self.err(r.span(), "cluster.read_mode", format!("unknown read mode {other:?}; allowed: linearizable, serializable, lease-based")),
            },
        };
        let replication_lag = match &cluster_raw.replication_lag {
            None => DurationRange {
                min: defaults::REPLICATION_LAG.0,
                max: defaults::REPLICATION_LAG.1,
            },
            Some(r) => self.range(r, "cluster.replication_lag", true)?,
        };

        let network = raw.network.map(|n| n.into_inner()).unwrap_or_default();
        let tick = match &network.tick {
            None => defaults::TICK,
            Some(t) => {
                let d = self.duration(t, "network.tick")?;
                if d > Duration::from_millis(100) {
                    return self.err(
                        t.span(),
                        "network.tick",
                        format!(
                            "{} is too coarse; allowed: 1ms to 100ms (default 10ms)",
                            t.get_ref()
                        ),
                    );
                }
                d
            }
        };
        // Raft's heartbeat is a timer on the member's own clock, but its messages move only on
        // tick boundaries: below two ticks per heartbeat, followers would time out spuriously.
        if election_timeout / 10 < tick * 2 {
            let (span, field) = match (&cluster_raw.election_timeout, &network.tick) {
                (Some(e), _) => (e.span(), "cluster.election_timeout"),
                (None, Some(t)) => (t.span(), "network.tick"),
                (None, None) => unreachable!("the defaults are consistent"),
            };
            return self.err(
                span,
                field,
                format!(
                    "the heartbeat (election_timeout / 10 = {:?}) must be at least 2 ticks of network.tick ({:?}); raise cluster.election_timeout or lower network.tick",
                    election_timeout / 10,
                    tick
                ),
            );
        }
        let latency = match &network.latency {
            None => DurationRange {
                min: defaults::LATENCY.0,
                max: defaults::LATENCY.1,
            },
            Some(l) => self.range(l, "network.latency", false)?,
        };
        let loss = match &network.loss {
            None => 0.0,
            Some(l) if (0.0..1.0).contains(l.get_ref()) => *l.get_ref(),
            Some(l) => {
                return self.err(
                    l.span(),
                    "network.loss",
                    format!(
                        "{} is not a probability below 1; use 0.0 (none) up to e.g. 0.2",
                        l.get_ref()
                    ),
                )
            }
        };

        let lock_span = raw.lock.span();
        let lock_raw = raw.lock.into_inner();
        let kind = lock_raw.kind.get_ref().clone();
        if !LOCK_KINDS.contains(&kind.as_str()) {
            return self.err(
                lock_raw.kind.span(),
                "lock.kind",
                format!(
                    "unknown lock kind {kind:?}; allowed: {}",
                    LOCK_KINDS.join(", ")
                ),
            );
        }
        let etcd_lock = matches!(kind.as_str(), "lease-txn" | "put" | "etcd-mutex");
        if etcd_lock != (backend == Backend::Etcd) {
            return self.err(lock_span, "lock.kind", format!(
                "lock {kind:?} does not run on the {backend:?} backend; etcd takes lease-txn, put, etcd-mutex; redis takes redis-setnx; redlock takes redlock"
            ).to_lowercase());
        }
        let ttl = match &lock_raw.ttl {
            None => defaults::TTL,
            Some(t) => self.duration(t, "lock.ttl")?,
        };
        if backend == Backend::Etcd {
            let min = sim::min_lease_ttl(10, election_timeout / 10);
            if ttl < Duration::from_secs(min as u64) || ttl.subsec_nanos() != 0 {
                let at = lock_raw.ttl.as_ref().map(|t| t.span()).unwrap_or(lock_span);
                return self.err(at, "lock.ttl", format!(
                    "{} is not a whole number of seconds of at least the minimum lease TTL {min}s (ceil(1.5 × election_timeout)); etcd leases have whole-second TTLs and etcd would silently raise a smaller one",
                    humantime::format_duration(ttl)
                ));
            }
        }

        let workload_raw = raw.workload.map(|w| w.into_inner()).unwrap_or_default();
        let clients = match &workload_raw.clients {
            None => defaults::CLIENTS,
            Some(c) if (1..=64).contains(c.get_ref()) => *c.get_ref() as usize,
            Some(c) => {
                return self.err(
                    c.span(),
                    "workload.clients",
                    format!("{} is out of range; allowed: 1 to 64", c.get_ref()),
                )
            }
        };
        let hold = match &workload_raw.hold {
            None => DurationRange {
                min: defaults::HOLD.0,
                max: defaults::HOLD.1,
            },
            Some(h) => self.range(h, "workload.hold", true)?,
        };
        let think = match &workload_raw.think {
            None => DurationRange {
                min: defaults::THINK.0,
                max: defaults::THINK.1,
            },
            Some(t) => self.range(t, "workload.think", true)?,
        };

        let kv = match raw.kv {
            None => None,
            Some(section) => Some(self.kv(section, backend, members)?),
        };
        // Serializable reads are a request option, and only the `[kv]` readers ask for them: a
        // scenario saying `serializable` with no reader would test linearizable reads unawares.
        if let Some(r) = &cluster_raw.read_mode {
            if read_mode == ReadMode::Serializable && kv.as_ref().map_or(0, |k| k.readers) == 0 {
                return self.err(
                    r.span(),
                    "cluster.read_mode",
                    "\"serializable\" applies to the [kv] readers' reads (lock clients read linearizably, as etcd's concurrency package does), and this scenario has none; add a [kv] section with readers = 1 or more",
                );
            }
        }

        let mut hosts = hosts(backend, members, clients);
        hosts.extend(kv.iter().flat_map(KvSpec::hosts));
        let mut faults = Vec::new();
        for (i, f) in raw.fault.iter().enumerate() {
            faults.push(self.fault(i, f, duration, backend, &hosts)?);
        }
        let faults = FaultPlan { faults };
        faults.validate(&hosts, members).or_else(|e| {
            let f = &raw.fault[e.index];
            // Point at `for` when the problem is the duration, else at the fault.
            match &f.get_ref().duration {
                Some(d) if e.message.contains("`for`") => {
                    self.err(d.span(), &format!("fault[{}].for", e.index), e.message)
                }
                _ => self.err(f.span(), &format!("fault[{}]", e.index), e.message),
            }
        })?;

        let expect = raw.expect.unwrap_or_default();
        let expect_value = |e: &Option<Spanned<String>>,
                            field: &str,
                            good: &str,
                            bad: &str|
         -> Result<Expect, ScenarioError> {
            match e {
                None => Ok(Expect::Any),
                Some(s) if s.get_ref() == good => Ok(Expect::Holds),
                Some(s) if s.get_ref() == bad => Ok(Expect::Violated),
                Some(s) if s.get_ref() == "any" => Ok(Expect::Any),
                Some(s) => self.err(
                    s.span(),
                    field,
                    format!(
                        "{:?} is not an expectation; allowed: {good}, {bad}, any",
                        s.get_ref()
                    ),
                ),
            }
        };
        Ok(Scenario {
            name,
            description: raw.description.trim().to_string(),
            duration,
            cluster: ClusterSpec {
                backend,
                members,
                election_timeout,
                read_mode,
                replication_lag,
            },
            tick,
            latency,
            loss,
            lock: LockSpec {
                kind,
                ttl,
                fencing: lock_raw.fencing,
            },
            workload: WorkloadSpec {
                clients,
                hold,
                think,
            },
            kv,
            faults,
            expect_mutual_exclusion: expect_value(
                &expect.mutual_exclusion,
                "expect.mutual_exclusion",
                "holds",
                "violated",
            )?,
            expect_resource: expect_value(
                &expect.resource,
                "expect.resource",
                "intact",
                "corrupted",
            )?,
            expect_kv: match (&expect.kv, backend) {
                (None, Backend::Etcd) => Expect::Holds,
                (None, _) => Expect::Any,
                (Some(_), _) => expect_value(&expect.kv, "expect.kv", "linearizable", "violated")?,
            },
        })
    }

    /// The `[kv]` section: counts in range, durations positive, etcd only.
    fn kv(
        &self,
        section: Spanned<KvSection>,
        backend: Backend,
        members: usize,
    ) -> Result<KvSpec, ScenarioError> {
        let span = section.span();
        let raw = section.into_inner();
        if backend != Backend::Etcd {
            return self.err(
                span,
                "kv",
                format!("the [kv] workload reads and writes etcd; it does not run on the {backend:?} backend (use backend = \"etcd\")").to_lowercase(),
            );
        }
        let count = |v: &Option<Spanned<i64>>, field: &str, default: usize| match v {
            None => Ok(default),
            Some(n) if (0..=16).contains(n.get_ref()) => Ok(*n.get_ref() as usize),
            Some(n) => self.err(
                n.span(),
                field,
                format!("{} is out of range; allowed: 0 to 16", n.get_ref()),
            ),
        };
        let writers = count(&raw.writers, "kv.writers", defaults::KV_WRITERS)?;
        let readers = count(&raw.readers, "kv.readers", members)?;
        if writers + readers == 0 {
            return self.err(
                span,
                "kv",
                "the [kv] workload has no clients; set writers and/or readers to 1 or more, or remove the section",
            );
        }
        let interval = match &raw.interval {
            None => DurationRange {
                min: defaults::KV_INTERVAL.0,
                max: defaults::KV_INTERVAL.1,
            },
            Some(i) => self.range(i, "kv.interval", false)?,
        };
        let request_timeout = match &raw.request_timeout {
            None => defaults::KV_REQUEST_TIMEOUT,
            Some(t) => self.duration(t, "kv.request_timeout")?,
        };
        Ok(KvSpec {
            writers,
            readers,
            interval,
            request_timeout,
        })
    }

    fn fault(
        &self,
        i: usize,
        f: &Spanned<FaultSection>,
        duration: Duration,
        backend: Backend,
        hosts: &[String],
    ) -> Result<ScheduledFault, ScenarioError> {
        let field = |name: &str| format!("fault[{i}].{name}");
        let raw = f.get_ref();
        let kind = raw.kind.get_ref().as_str();
        let at = self.time(&raw.at, &field("at"))?;
        if at >= duration {
            return self.err(
                raw.at.span(),
                &field("at"),
                format!(
                    "{} is not before the end of the run ({})",
                    raw.at.get_ref(),
                    humantime::format_duration(duration)
                ),
            );
        }
        let for_ = raw
            .duration
            .as_ref()
            .map(|d| self.duration(d, &field("for")))
            .transpose()?;

        // Which optional fields each kind takes; anything else set is an error, not ignored.
        let takes: &[&str] = match kind {
            "partition" => &["groups", "target"],
            "partition-oneway" => &["from", "to"],
            "heal" => &[],
            "isolate" | "restart" | "pause" | "resume" => &["target"],
            "crash" => &["target", "lose_unsynced"],
            "skew" => &["target", "rate", "offset"],
            "loss" | "duplicate" => &["rate", "from", "to"],
            "latency" => &["latency", "from", "to"],
            other => return self.err(raw.kind.span(), &field("kind"), format!(
                "unknown fault kind {other:?}; allowed: partition, partition-oneway, heal, isolate, crash, restart, pause, resume, skew, loss, duplicate, latency"
            )),
        };
        let set: [(&str, Option<std::ops::Range<usize>>); 9] = [
            ("target", raw.target.as_ref().map(|x| x.span())),
            ("groups", raw.groups.as_ref().map(|x| x.span())),
            ("from", raw.from.as_ref().map(|x| x.span())),
            ("to", raw.to.as_ref().map(|x| x.span())),
            ("rate", raw.rate.as_ref().map(|x| x.span())),
            ("offset", raw.offset.as_ref().map(|x| x.span())),
            ("latency", raw.latency.as_ref().map(|x| x.span())),
            (
                "lose_unsynced",
                raw.lose_unsynced.as_ref().map(|x| x.span()),
            ),
            ("for", raw.duration.as_ref().map(|x| x.span())),
        ];
        for (name, span) in set {
            if let Some(span) = span {
                if name != "for" && !takes.contains(&name) {
                    let allowed = if takes.is_empty() {
                        "no other fields".to_string()
                    } else {
                        takes.join(", ")
                    };
                    return self.err(span, &field(name), format!("`{name}` does not apply to a {kind} fault; it takes at, kind, for and {allowed}"));
                }
            }
        }
        let target = |name: &str, s: &Option<Spanned<String>>| -> Result<Target, ScenarioError> {
            match s {
                None => self.err(
                    raw.kind.span(),
                    &field(name),
                    format!(
                        "a {kind} fault needs `{name}`: a host ({}) or a role ({})",
                        hosts.join(", "),
                        role_names(backend)
                    ),
                ),
                Some(s) => self.target(s, &field(name), backend, hosts),
            }
        };
        let link = || -> Result<Option<(Target, Target)>, ScenarioError> {
            match (&raw.from, &raw.to) {
                (None, None) => Ok(None),
                (Some(a), Some(b)) => Ok(Some((
                    self.target(a, &field("from"), backend, hosts)?,
                    self.target(b, &field("to"), backend, hosts)?,
                ))),
                _ => self.err(
                    f.span(),
                    &field("from"),
                    "give both `from` and `to` (one link), or neither (every link)",
                ),
            }
        };
        let rate = |probability: bool| -> Result<f64, ScenarioError> {
            let Some(r) = &raw.rate else {
                return self.err(
                    raw.kind.span(),
                    &field("rate"),
                    format!("a {kind} fault needs `rate`"),
                );
            };
            let ok = if probability {
                (0.0..=1.0).contains(r.get_ref())
            } else {
                r.get_ref().is_finite() && *r.get_ref() > 0.0
            };
            if !ok {
                let allowed = if probability {
                    "a probability from 0.0 to 1.0"
                } else {
                    "a clock speed above 0 (1.0 = real time, 2.0 = twice as fast)"
                };
                return self.err(
                    r.span(),
                    &field("rate"),
                    format!("{} is not {allowed}", r.get_ref()),
                );
            }
            Ok(*r.get_ref())
        };
        let fault = match kind {
            "partition" => match (&raw.groups, &raw.target) {
                (Some(groups), None) => {
                    if groups.get_ref().len() < 2 {
                        return self.err(groups.span(), &field("groups"), "needs at least two groups, e.g. [[\"n1\"], [\"n2\", \"n3\"]]");
                    }
                    let mut parsed = Vec::new();
                    for g in groups.get_ref() {
                        let mut group = Vec::new();
                        for h in g {
                            group.push(self.target(&Spanned::new(groups.span(), h.clone()), &field("groups"), backend, hosts)?);
                        }
                        parsed.push(group);
                    }
                    Fault::Partition { groups: parsed }
                }
                (None, Some(t)) => Fault::Isolate { target: self.target(t, &field("target"), backend, hosts)? },
                _ => return self.err(f.span(), &field("groups"), "a partition takes either `groups` or a single `target` (cut from everyone else), not both"),
            },
            "partition-oneway" => Fault::PartitionOneway { from: target("from", &raw.from)?, to: target("to", &raw.to)? },
            "heal" => Fault::Heal,
            "isolate" => Fault::Isolate { target: target("target", &raw.target)? },
            "crash" => Fault::Crash { target: target("target", &raw.target)?, lose_unsynced: raw.lose_unsynced.as_ref().map(|b| *b.get_ref()).unwrap_or(false) },
            "restart" => Fault::Restart { target: target("target", &raw.target)? },
            "pause" => Fault::Pause { target: target("target", &raw.target)? },
            "resume" => Fault::Resume { target: target("target", &raw.target)? },
            "skew" => {
                if raw.rate.is_none() && raw.offset.is_none() {
                    return self.err(raw.kind.span(), &field("rate"), "a skew fault needs `rate` (clock speed) and/or `offset` (a jump forward, e.g. \"3s\")");
                }
                Fault::Skew {
                    target: target("target", &raw.target)?,
                    rate: raw.rate.as_ref().map(|_| rate(false)).transpose()?,
                    offset: raw.offset.as_ref().map(|o| self.duration(o, &field("offset"))).transpose()?,
                }
            }
            "loss" => Fault::Loss { rate: rate(true)?, link: link()? },
            "duplicate" => Fault::Duplicate { rate: rate(true)?, link: link()? },
            _ => {
                let Some(l) = &raw.latency else {
                    return self.err(raw.kind.span(), &field("latency"), "a latency fault needs `latency`, e.g. \"50ms..200ms\"");
                };
                let range = self.range(l, &field("latency"), false)?;
                Fault::Latency { min: range.min, max: range.max, link: link()? }
            }
        };
        Ok(ScheduledFault {
            at,
            fault,
            duration: for_,
        })
    }

    fn target(
        &self,
        s: &Spanned<String>,
        field: &str,
        backend: Backend,
        hosts: &[String],
    ) -> Result<Target, ScenarioError> {
        let t = Target::parse(s.get_ref());
        if let Target::Host(h) = &t {
            if !hosts.contains(h) {
                return self.err(
                    s.span(),
                    field,
                    format!(
                        "no host {h:?} in this scenario; hosts are {}, or use a role: {}",
                        hosts.join(", "),
                        role_names(backend)
                    ),
                );
            }
        }
        role_allowed(backend, &t).or_else(|e| self.err(s.span(), field, e.to_string()))?;
        Ok(t)
    }
}

/// The roles a fault may aim at on `backend`, each of which names a host of that world at
/// some moment: etcd's `leader`, `follower`, `minority`, `majority` name etcd members; `primary`
/// the redis backend's primary in the Sentinels' view; `holder` a client, on every backend.
/// Redlock has neither: its masters are independent, every one a primary.
///
/// Why an error rather than a fault that never fires: a role that names nobody makes its fault
/// wait for the first moment it does (`FaultInjector::apply_due`), so `crash leader` on a
/// Redis world would wait forever and the scenario would silently test nothing.
pub fn roles(backend: Backend) -> Vec<Target> {
    match backend {
        Backend::Etcd => vec![
            Target::Leader,
            Target::Follower,
            Target::Minority,
            Target::Majority,
            Target::Holder,
        ],
        Backend::Redis => vec![Target::Primary, Target::Holder],
        Backend::Redlock => vec![Target::Holder],
    }
}

/// [`roles`] as a list for messages: `leader, follower, minority, majority, holder`.
pub fn role_names(backend: Backend) -> String {
    roles(backend)
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Err` (a message saying which roles the backend has) when `target` is a role that names
/// nobody on `backend`. Host names are checked against the host list elsewhere.
pub fn role_allowed(backend: Backend, target: &Target) -> Result<(), String> {
    if matches!(target, Target::Host(_)) || roles(backend).contains(target) {
        return Ok(());
    }
    let why = match (backend, target) {
        (Backend::Etcd, Target::Primary) => {
            "`primary` is the AP store's (backend redis); on etcd aim at the Raft `leader`"
        }
        (Backend::Redlock, Target::Primary) => {
            "Redlock's masters are independent, each its own primary; name one (r1, r2, …)"
        }
        _ => "it names etcd members, and this world has none",
    };
    Err(format!(
        "role `{target}` means nothing on the {} backend: {why}; roles here: {}",
        backend.name(),
        role_names(backend)
    ))
}

/// Checks a fault plan as a scenario file's would be checked: hosts, roles, inverses
/// ([`FaultPlan::validate`]). What the explorer's generated plans go through, so that every
/// plan it prints is one `locksim run` accepts.
pub fn check_plan(
    backend: Backend,
    members: usize,
    clients: usize,
    plan: &FaultPlan,
) -> Result<(), sim::FaultError> {
    for (index, f) in plan.faults.iter().enumerate() {
        for t in f.fault.targets() {
            role_allowed(backend, t).map_err(|message| sim::FaultError {
                index,
                kind: f.fault.name(),
                at: f.at,
                message,
            })?;
        }
    }
    plan.validate(&hosts(backend, members, clients), members)
}

/// Sentinels of the `redis` backend, `s1..s3`.
pub const SENTINELS: usize = 3;

/// The store's hosts, as the world registers them: etcd members `n1..nM`; AP nodes `r1..rM`
/// (`sim::ap::ApStore`), plus the sentinels `s1..s3` for `redis`.
pub fn store_hosts(backend: Backend, members: usize) -> Vec<String> {
    let store = match backend {
        Backend::Etcd => "n",
        Backend::Redis | Backend::Redlock => "r",
    };
    let mut hosts: Vec<String> = (1..=members).map(|i| format!("{store}{i}")).collect();
    if backend == Backend::Redis {
        hosts.extend((1..=SENTINELS).map(|i| format!("s{i}")));
    }
    hosts
}

/// The hosts a scenario has: the store's ([`store_hosts`]), clients `c1..cN`, and `resource`.
pub fn hosts(backend: Backend, members: usize, clients: usize) -> Vec<String> {
    let mut hosts = store_hosts(backend, members);
    hosts.extend((1..=clients).map(|i| format!("c{i}")));
    hosts.push("resource".to_string());
    hosts
}

/// The scenario file's duration syntax: [`crate::duration::parse`], re-exported at its old path.
pub use crate::duration::parse as parse_duration;

/// The scenarios shipped in `scenarios/`, compiled in so `locksim run NAME` works anywhere.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "put-lock-race",
        include_str!("../scenarios/put-lock-race.toml"),
    ),
    (
        "lease-txn-partition-safe",
        include_str!("../scenarios/lease-txn-partition-safe.toml"),
    ),
    (
        "etcd-mutex-leader-crash-safe",
        include_str!("../scenarios/etcd-mutex-leader-crash-safe.toml"),
    ),
    (
        "pause-no-fencing",
        include_str!("../scenarios/pause-no-fencing.toml"),
    ),
    (
        "pause-with-fencing",
        include_str!("../scenarios/pause-with-fencing.toml"),
    ),
    (
        "lease-promotion-failover",
        include_str!("../scenarios/lease-promotion-failover.toml"),
    ),
    ("ap-failover", include_str!("../scenarios/ap-failover.toml")),
    (
        "ap-failover-etcd",
        include_str!("../scenarios/ap-failover-etcd.toml"),
    ),
    (
        "redlock-clock-jump",
        include_str!("../scenarios/redlock-clock-jump.toml"),
    ),
    (
        "serializable-stale-read",
        include_str!("../scenarios/serializable-stale-read.toml"),
    ),
    (
        "lease-based-read-pause",
        include_str!("../scenarios/lease-based-read-pause.toml"),
    ),
];

/// A scenario by path, or by the name of a bundled one (`put-lock-race`).
pub fn resolve(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name_or_path);
    if path.exists() {
        return load(path);
    }
    match BUNDLED.iter().find(|(name, _)| *name == name_or_path) {
        Some((name, text)) => parse(&format!("scenarios/{name}.toml"), text),
        None => Err(ScenarioError {
            file: name_or_path.to_string(),
            line: 0,
            field: String::new(),
            message: format!(
                "no such file, and no bundled scenario of that name; bundled: {}",
                BUNDLED
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `DurationRange` a scenario can hold prints as text the scenario parser reads back
    /// as the same range (the explorer writes scenario files with this `Display`).
    #[test]
    fn duration_range_display_round_trips() {
        let ms = [0, 1, 500, 999, 1000, 1500, 60_000, 90_500, 3_600_000];
        for &min in &ms {
            for &max in ms.iter().filter(|&&max| max >= min) {
                let range = DurationRange {
                    min: Duration::from_millis(min),
                    max: Duration::from_millis(max),
                };
                let text = format!(
                    "name = \"r\"\nduration = \"20s\"\n[lock]\nkind = \"put\"\nttl = \"5s\"\n\
                     [workload]\nthink = \"{range}\"\n"
                );
                let parsed = parse("r.toml", &text).unwrap_or_else(|e| panic!("{range}: {e}"));
                assert_eq!(parsed.workload.think, range, "{range}");
            }
        }
        let range = DurationRange {
            min: Duration::from_millis(1500),
            max: Duration::from_secs(2),
        };
        assert_eq!(range.to_string(), "1500ms..2s");
    }
}
