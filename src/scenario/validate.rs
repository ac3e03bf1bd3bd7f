//! `Validator`: a parsed scenario file → a [`Scenario`], or an error naming the file, the line
//! and the field and saying what is allowed. The `[[fault]]` tables are checked in `fault`.

use std::time::Duration;

use sim::FaultPlan;
use toml::Spanned;

use super::defaults;
use super::file::{File, KvSection, PatroniSection, PgSection};
use super::hosts::hosts;
use super::locks::Locks;
use super::parse_duration;
use super::schema::{
    Backend, ClusterSpec, DurationRange, Expect, KvSpec, LockSpec, ReadMode, Scenario,
    ScenarioError, WorkloadSpec,
};

/// Validation of one file's text; `file` names it in errors.
pub(super) struct Validator<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    /// The lock kinds `lock.kind` may name: the built-in ones and any the caller registered.
    pub(super) locks: &'a Locks,
}

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// The error [`Validator::err`] returns, for `ok_or_else` and `map_err`.
    fn error(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        match self.err::<()>(span, field, message) {
            Err(e) => e,
            Ok(()) => unreachable!("err always errs"),
        }
    }

    pub(super) fn err<T>(
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

    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let line = e.span().map(|s| self.line_of(s.start)).unwrap_or(0);
        let message = e.message().trim().to_string();
        // serde names the field in its message ("unknown field `ttll`, expected ..."); pull it out.
        // A value of the wrong type: serde does not name the field, but its line does (`sync =
        // "yes"`): the key before `=`.
        let key_of_line = || {
            let start = e.span()?.start.min(self.text.len());
            let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
            let (key, _) = self.text[line_start..].split_once('=')?;
            let key = key.trim();
            let bare = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            bare.then(|| key.to_string())
        };
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| {
                message.starts_with("unknown field") || message.starts_with("missing field")
            })
            .map(String::from)
            .or_else(|| {
                message
                    .starts_with("invalid type")
                    .then(key_of_line)
                    .flatten()
            })
            .unwrap_or_default();
        ScenarioError {
            file: self.file.to_string(),
            line,
            field,
            message,
        }
    }

    pub(super) fn duration(
        &self,
        s: &Spanned<String>,
        field: &str,
    ) -> Result<Duration, ScenarioError> {
        let d =
            parse_duration(s.get_ref()).or_else(|e| self.err(s.span(), field, e.to_string()))?;
        if d.is_zero() {
            return self.err(
                s.span(),
                field,
                format!("{:?} must be longer than 0", s.get_ref()),
            );
        }
        self.within_bound(s, field, d)?;
        Ok(d)
    }

    /// `Err` naming the field, the bound and how to raise it when `d` is longer than a run may
    /// simulate ([`crate::duration::max_sim_time`]).
    fn within_bound(
        &self,
        s: &Spanned<String>,
        field: &str,
        d: Duration,
    ) -> Result<(), ScenarioError> {
        let bound = crate::duration::max_sim_time().or_else(|e| self.err(s.span(), field, e))?;
        if d > bound {
            return self.err(
                s.span(),
                field,
                format!(
                    "{:?} is longer than the {} of simulated time a run may cover; raise the bound with {}={} if that is meant",
                    s.get_ref(),
                    crate::duration::format(bound),
                    crate::duration::MAX_SIM_TIME_VAR,
                    s.get_ref()
                ),
            );
        }
        Ok(())
    }

    /// `at` may be 0 (a fault at the start); other durations may not.
    pub(super) fn time(&self, s: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
        parse_duration(s.get_ref()).or_else(|e| self.err(s.span(), field, e.to_string()))
    }

    pub(super) fn range(
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
        self.within_bound(s, field, range.max)?;
        Ok(range)
    }

    pub(super) fn scenario(&self, raw: File) -> Result<Scenario, ScenarioError> {
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
                "zk" => Backend::Zk,
                "pg" => Backend::Pg,
                other => {
                    return self.err(
                        b.span(),
                        "cluster.backend",
                        format!("unknown backend {other:?}; allowed: etcd, redis, redlock, zk, pg"),
                    )
                }
            },
        };
        let members = match &cluster_raw.members {
            None if backend == Backend::Pg => 1,
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
        // etcd's knobs mean nothing to a ZooKeeper ensemble or a database: say so rather than
        // ignore them.
        if backend == Backend::Pg {
            let etcd_only = [
                (&cluster_raw.election_timeout, "cluster.election_timeout"),
                (&cluster_raw.read_mode, "cluster.read_mode"),
                (&cluster_raw.replication_lag, "cluster.replication_lag"),
            ];
            for (field, name) in etcd_only {
                if let Some(f) = field {
                    return self.err(f.span(), name, format!("{name} is not a PostgreSQL setting; the servers' settings go in [pg] (tcp_keepalives_idle, tcp_keepalives_interval, tcp_keepalives_count, tcp_user_timeout, idle_in_transaction_session_timeout, lock_timeout)"));
                }
            }
        }
        if backend == Backend::Zk {
            let etcd_only = [
                (&cluster_raw.election_timeout, "cluster.election_timeout", "ZooKeeper's elections follow tickTime (2s) × syncLimit (5), not an election timeout"),
                (&cluster_raw.read_mode, "cluster.read_mode", "a ZooKeeper server answers reads from its own tree; for up-to-date reads set sync = true in [kv]"),
            ];
            for (field, name, why) in etcd_only {
                if let Some(f) = field {
                    return self.err(f.span(), name, format!("{name} is etcd's; {why}"));
                }
            }
            if let Some(r) = &cluster_raw.replication_lag {
                return self.err(
                    r.span(),
                    "cluster.replication_lag",
                    "cluster.replication_lag is the AP store's (backend redis or redlock); ZooKeeper replicates through its log",
                );
            }
        }
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
        let kind_text = lock_raw.kind.get_ref();
        let Some(kind) = self.locks.get(kind_text) else {
            return self.err(
                lock_raw.kind.span(),
                "lock.kind",
                format!(
                    "unknown lock kind {kind_text:?}; allowed: {}",
                    self.locks.names().join(", ")
                ),
            );
        };
        // A lock of the user's own runs on whatever backend the file names: it takes the
        // clients its context offers.
        if let Some(builtin) = kind.builtin() {
            if !backend.takes(builtin) {
                return self.err(lock_span, "lock.kind", format!(
                    "lock {:?} does not run on the {backend:?} backend; etcd takes lease-txn, put, etcd-mutex; redis takes redis-setnx; redlock takes redlock; zk takes zk-curator, zk-naive; pg takes pg-row-lock, pg-advisory, pg-optimistic",
                    builtin.name()
                ).to_lowercase());
            }
        }
        if lock_raw.connection_listener && backend != Backend::Zk {
            return self.err(
                lock_span,
                "lock.connection_listener",
                "a connection-state listener is the ZooKeeper locks' (backend = \"zk\")",
            );
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
        let pg = match raw.pg {
            None => sim::pg::PgConfig::default(),
            Some(section) => self.pg(section, backend, members)?,
        };
        let patroni = match raw.patroni {
            None => sim::pg::PatroniConfig::default(),
            Some(section) => self.patroni(section, backend, members)?,
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
                kind: kind.clone(),
                ttl,
                fencing: lock_raw.fencing,
                connection_listener: lock_raw.connection_listener,
            },
            workload: WorkloadSpec {
                clients,
                hold,
                think,
            },
            kv,
            pg,
            patroni,
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

    /// The `[pg]` section: PostgreSQL's settings, 0 meaning what it means in
    /// `postgresql.conf` (the kernel's keepalive timing, no user timeout, no timeout).
    fn pg(
        &self,
        section: Spanned<PgSection>,
        backend: Backend,
        members: usize,
    ) -> Result<sim::pg::PgConfig, ScenarioError> {
        if backend != Backend::Pg {
            return self.err(
                section.span(),
                "pg",
                format!("[pg] sets the PostgreSQL servers (backend = \"pg\"); this scenario's backend is {}", backend.name()),
            );
        }
        let raw = section.into_inner();
        let setting = |s: &Option<Spanned<String>>, field: &str| self.conf_duration(s, field);
        let mut config = sim::pg::PgConfig {
            tcp_keepalives: self.keepalive(
                KeepaliveFields {
                    idle: &raw.tcp_keepalives_idle,
                    interval: &raw.tcp_keepalives_interval,
                    count: &raw.tcp_keepalives_count,
                },
                "pg.tcp_keepalives",
            )?,
            ..sim::pg::PgConfig::default()
        };
        config.tcp_user_timeout = setting(&raw.tcp_user_timeout, "pg.tcp_user_timeout")?;
        config.engine.idle_in_transaction_session_timeout = setting(
            &raw.idle_in_transaction_session_timeout,
            "pg.idle_in_transaction_session_timeout",
        )?
        .unwrap_or_default();
        config.engine.lock_timeout =
            setting(&raw.lock_timeout, "pg.lock_timeout")?.unwrap_or_default();
        if let Some(s) = &raw.synchronous_commit {
            config.synchronous_commit =
                sim::pg::SyncCommit::parse(s.get_ref()).ok_or_else(|| {
                    self.error(
                        s.span(),
                        "pg.synchronous_commit",
                        format!(
                        "{:?} is not a level; allowed: off, local, remote_write, on, remote_apply",
                        s.get_ref()
                    ),
                    )
                })?;
        }
        if let Some(s) = &raw.synchronous_standby_names {
            let names = sim::pg::SyncStandbys::parse(s.get_ref())
                .map_err(|e| self.error(s.span(), "pg.synchronous_standby_names", e))?;
            let servers: Vec<String> = (2..=members as u64).map(sim::pg::server_name).collect();
            if let Some(unknown) = names.names.iter().find(|n| !servers.contains(n)) {
                return self.err(
                    s.span(),
                    "pg.synchronous_standby_names",
                    format!(
                        "{unknown:?} is not a standby of this scenario; its standbys: {}",
                        if servers.is_empty() {
                            "none (members = 1)".to_string()
                        } else {
                            servers.join(", ")
                        }
                    ),
                );
            }
            config.synchronous_standby_names = names;
        }
        config.recovery_min_apply_delay =
            setting(&raw.recovery_min_apply_delay, "pg.recovery_min_apply_delay")?
                .unwrap_or_default();
        config.client_keepalives = self.keepalive(
            KeepaliveFields {
                idle: &raw.client_keepalives_idle,
                interval: &raw.client_keepalives_interval,
                count: &raw.client_keepalives_count,
            },
            "pg.client_keepalives",
        )?;
        if let Some(t) = setting(&raw.client_connect_timeout, "pg.client_connect_timeout")? {
            config.client_connect_timeout = t;
        }
        config.client_tcp_user_timeout =
            setting(&raw.client_tcp_user_timeout, "pg.client_tcp_user_timeout")?;
        Ok(config)
    }

    /// A `postgresql.conf` duration: absent or 0 is `None` (the setting's "off" or "the
    /// system's value").
    fn conf_duration(
        &self,
        s: &Option<Spanned<String>>,
        field: &str,
    ) -> Result<Option<Duration>, ScenarioError> {
        match s {
            None => Ok(None),
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(d) if d.is_zero() => Ok(None),
                Ok(d) => Ok(Some(d)),
                Err(e) => self.err(s.span(), field, e.to_string()),
            },
        }
    }

    /// `PREFIX_idle`, `PREFIX_interval`, `PREFIX_count`: 0 or absent is the kernel's value.
    fn keepalive(
        &self,
        KeepaliveFields {
            idle,
            interval,
            count,
        }: KeepaliveFields,
        prefix: &str,
    ) -> Result<sim::pg::Keepalive, ScenarioError> {
        let kernel = sim::pg::Keepalive::default();
        let time = |s: &Option<Spanned<String>>, field: String, default: Duration| {
            Ok::<_, ScenarioError>(self.conf_duration(s, &field)?.unwrap_or(default))
        };
        let count = match count {
            None => kernel.count,
            Some(n) if *n.get_ref() == 0 => kernel.count,
            Some(n) if (1..=1000).contains(n.get_ref()) => *n.get_ref() as u32,
            Some(n) => {
                return self.err(
                    n.span(),
                    &format!("{prefix}_count"),
                    format!(
                        "{} is out of range; allowed: 0 (the kernel's 9) to 1000",
                        n.get_ref()
                    ),
                )
            }
        };
        Ok(sim::pg::Keepalive {
            idle: time(idle, format!("{prefix}_idle"), kernel.idle)?,
            interval: time(interval, format!("{prefix}_interval"), kernel.interval)?,
            count,
        })
    }

    /// The `[patroni]` section: pg with standbys only; Patroni's rule ttl ≥ loop_wait + 2 ×
    /// retry_timeout.
    fn patroni(
        &self,
        section: Spanned<PatroniSection>,
        backend: Backend,
        members: usize,
    ) -> Result<sim::pg::PatroniConfig, ScenarioError> {
        if backend != Backend::Pg || members < 2 {
            return self.err(
                section.span(),
                "patroni",
                "[patroni] sets the failover manager of PostgreSQL servers with standbys (backend = \"pg\", members = 2 or more)",
            );
        }
        let span = section.span();
        let raw = section.into_inner();
        let mut config = sim::pg::PatroniConfig::default();
        if let Some(t) = &raw.ttl {
            config.ttl = self.duration(t, "patroni.ttl")?;
        }
        if let Some(t) = &raw.loop_wait {
            config.loop_wait = self.duration(t, "patroni.loop_wait")?;
        }
        if let Some(t) = &raw.retry_timeout {
            config.retry_timeout = self.duration(t, "patroni.retry_timeout")?;
        }
        if let Some(n) = &raw.maximum_lag_on_failover {
            if *n.get_ref() < 0 {
                return self.err(
                    n.span(),
                    "patroni.maximum_lag_on_failover",
                    "bytes must not be negative",
                );
            }
            config.maximum_lag_on_failover = *n.get_ref() as u64;
        }
        if config.ttl < config.loop_wait + config.retry_timeout * 2 {
            return self.err(
                span,
                "patroni.ttl",
                format!(
                    "ttl must be at least loop_wait + 2 × retry_timeout ({}), as Patroni requires",
                    crate::duration::format(config.loop_wait + config.retry_timeout * 2)
                ),
            );
        }
        Ok(config)
    }

    /// The `[kv]` section: counts in range, durations positive, etcd or ZooKeeper.
    fn kv(
        &self,
        section: Spanned<KvSection>,
        backend: Backend,
        members: usize,
    ) -> Result<KvSpec, ScenarioError> {
        let span = section.span();
        let raw = section.into_inner();
        if !matches!(backend, Backend::Etcd | Backend::Zk) {
            return self.err(
                span,
                "kv",
                format!("the [kv] workload reads and writes etcd or ZooKeeper; it does not run on the {backend:?} backend (use backend = \"etcd\" or \"zk\")").to_lowercase(),
            );
        }
        let sync = match &raw.sync {
            Some(s) if *s.get_ref() && backend != Backend::Zk => {
                return self.err(
                    s.span(),
                    "kv.sync",
                    "sync is ZooKeeper's call before an up-to-date read (backend = \"zk\"); etcd's reads are linearizable unless cluster.read_mode = \"serializable\"",
                );
            }
            Some(s) => *s.get_ref(),
            None => false,
        };
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
            sync,
        })
    }
}

/// A keepalive's three settings as a file spells them (`…_idle`, `…_interval`, `…_count`).
struct KeepaliveFields<'a> {
    idle: &'a Option<Spanned<String>>,
    interval: &'a Option<Spanned<String>>,
    count: &'a Option<Spanned<i64>>,
}
