//! `PgCluster`: PostgreSQL servers `p1..pN` added to a [`World`], each with its durable WAL kept
//! outside its host (a crash is a process restart that replays it), and `PgConfig`, their
//! settings with PostgreSQL's defaults.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::engine::EngineConfig;
use super::patroni::{AgentContext, PatroniConfig};
use super::server::{self, Control, DiskState, PgDisk, ServerContext};
use crate::etcd::client::ClientConfig;
use crate::etcd::cluster::Cluster;
use crate::world::sim::World;
use crate::world::stream::{Keepalive, StreamConfig};

/// The servers' settings (`postgresql.conf`). Defaults are PostgreSQL 15's on Linux.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConfig {
    /// The tables every server has, each `(id bigint primary key, value text, version
    /// bigint)` (default: `locks`).
    pub tables: Vec<String>,
    /// Lock and deadlock settings.
    pub engine: EngineConfig,
    /// `tcp_keepalives_idle`, `_interval`, `_count` (0 in `postgresql.conf`: the kernel's
    /// 7200 s, 75 s, 9).
    pub tcp_keepalives: Keepalive,
    /// `tcp_user_timeout` (0: the kernel's rule, 15 retransmissions).
    pub tcp_user_timeout: Option<Duration>,
    /// `synchronous_commit` (default `on`).
    pub synchronous_commit: SyncCommit,
    /// `synchronous_standby_names` (default empty: every level acts as `local`).
    pub synchronous_standby_names: SyncStandbys,
    /// `recovery_min_apply_delay` on the standbys (default 0): WAL is received and flushed at
    /// once, applied this much later.
    pub recovery_min_apply_delay: Duration,
    /// `wal_sender_timeout` (default 60 s): a standby not heard from that long is dropped.
    pub wal_sender_timeout: Duration,
    /// The clients' libpq `keepalives_idle/interval/count` (default: the kernel's timing, 2 h
    /// 11 min to notice a dead server while waiting for an answer).
    pub client_keepalives: Keepalive,
    /// The clients' libpq `connect_timeout` per host (default 127 s: the kernel's SYN retries).
    pub client_connect_timeout: Duration,
    /// The clients' libpq `tcp_user_timeout` (default: the kernel's 15 retransmissions, about
    /// 15 min, before a request to a dead server fails).
    pub client_tcp_user_timeout: Option<Duration>,
}

/// `synchronous_commit`: what a commit waits for before it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncCommit {
    /// Not even the local flush: a crash may lose the last commits (up to 3 ×
    /// `wal_writer_delay`, 200 ms).
    Off,
    /// The local flush.
    Local,
    /// The synchronous standbys wrote it (not flushed).
    RemoteWrite,
    /// The synchronous standbys flushed it (the default).
    On,
    /// The synchronous standbys applied it: visible to reads there.
    RemoteApply,
}

impl SyncCommit {
    /// As `postgresql.conf` spells it.
    pub fn name(self) -> &'static str {
        match self {
            SyncCommit::Off => "off",
            SyncCommit::Local => "local",
            SyncCommit::RemoteWrite => "remote_write",
            SyncCommit::On => "on",
            SyncCommit::RemoteApply => "remote_apply",
        }
    }

    /// The level a `postgresql.conf` value names.
    pub fn parse(text: &str) -> Option<SyncCommit> {
        [
            SyncCommit::Off,
            SyncCommit::Local,
            SyncCommit::RemoteWrite,
            SyncCommit::On,
            SyncCommit::RemoteApply,
        ]
        .into_iter()
        .find(|l| l.name() == text)
    }
}

/// `synchronous_standby_names`: `FIRST n (a, b)` — the first `n` connected standbys of the list
/// by priority — or `ANY n (a, b)` — any `n` of them — must confirm a commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStandbys {
    /// `ANY` (quorum) rather than `FIRST` (priority).
    pub any: bool,
    /// How many must confirm.
    pub num: usize,
    /// The standbys' names (their hosts), by priority.
    pub names: Vec<String>,
}

impl SyncStandbys {
    /// Parses `FIRST 1 (p2, p3)`, `ANY 2 (p2, p3, p4)` or a bare list `p2, p3` (= `FIRST 1`).
    pub fn parse(text: &str) -> Result<SyncStandbys, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(SyncStandbys::default());
        }
        let bad =
            || format!("{text:?} is not FIRST n (name, …), ANY n (name, …) or a list of names");
        let (any, num, list) = match text.split_once('(') {
            Some((head, rest)) => {
                let list = rest.strip_suffix(')').ok_or_else(bad)?;
                let mut words = head.split_whitespace();
                let any = match words.next().map(str::to_ascii_uppercase).as_deref() {
                    Some("ANY") => true,
                    Some("FIRST") => false,
                    _ => return Err(bad()),
                };
                let num: usize = words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                (any, num, list)
            }
            None => (false, 1, text),
        };
        let names: Vec<String> = list
            .split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() || num == 0 || num > names.len() {
            return Err(bad());
        }
        Ok(SyncStandbys { any, num, names })
    }

    /// As `postgresql.conf` spells it (empty for none).
    pub fn to_conf(&self) -> String {
        if self.names.is_empty() {
            return String::new();
        }
        let method = if self.any { "ANY" } else { "FIRST" };
        format!("{method} {} ({})", self.num, self.names.join(", "))
    }
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            tables: vec!["locks".to_string()],
            engine: EngineConfig::default(),
            tcp_keepalives: Keepalive::default(),
            tcp_user_timeout: None,
            synchronous_commit: SyncCommit::On,
            synchronous_standby_names: SyncStandbys::default(),
            recovery_min_apply_delay: Duration::ZERO,
            wal_sender_timeout: Duration::from_secs(60),
            client_keepalives: Keepalive::default(),
            client_connect_timeout: Duration::from_secs(127),
            client_tcp_user_timeout: None,
        }
    }
}

impl PgConfig {
    /// How the server's kernel gives a client connection up.
    pub(crate) fn stream(&self) -> StreamConfig {
        StreamConfig {
            keepalive: Some(self.tcp_keepalives),
            user_timeout: self.tcp_user_timeout,
            ..StreamConfig::default()
        }
    }
}

/// PostgreSQL servers on a world.
pub struct PgCluster {
    names: Vec<String>,
    config: PgConfig,
    disks: Vec<PgDisk>,
    controls: Vec<Rc<RefCell<Vec<Control>>>>,
}

impl PgCluster {
    /// Register `servers` servers `p1..pN` on `world` (in name order). `p1` is the primary, the
    /// others its standbys; roles change only when asked ([`PgCluster::promote`],
    /// [`PgCluster::follow`]).
    pub fn add_to(world: &mut World, servers: usize, config: PgConfig) -> PgCluster {
        Self::add(world, servers, config, None)
    }

    /// As [`PgCluster::add_to`], with a Patroni-like manager beside each server keeping the
    /// leader key in `cluster`'s etcd (which must have members).
    pub fn add_with_patroni(
        cluster: &mut Cluster,
        servers: usize,
        config: PgConfig,
        patroni: PatroniConfig,
    ) -> PgCluster {
        let dcs: Vec<ClientConfig> = (1..=servers as u64)
            .map(|i| cluster.client_config(&server_name(i)))
            .collect();
        Self::add(cluster, servers, config, Some((patroni, dcs)))
    }

    fn add(
        world: &mut World,
        servers: usize,
        config: PgConfig,
        patroni: Option<(PatroniConfig, Vec<ClientConfig>)>,
    ) -> PgCluster {
        assert!(
            (1..=7).contains(&servers),
            "servers must be 1..=7 (validated by callers)"
        );
        let names: Vec<String> = (1..=servers as u64).map(server_name).collect();
        let mut disks = Vec::new();
        let mut controls = Vec::new();
        for name in &names {
            let disk = PgDisk::new(RefCell::new(DiskState {
                timeline: 1,
                history: vec![(1, super::engine::INITIAL_LSN)],
                standby_of: (name != &names[0]).then(|| names[0].clone()),
                ..DiskState::default()
            }));
            disks.push(disk.clone());
            let control: Rc<RefCell<Vec<Control>>> = Rc::default();
            controls.push(control.clone());
            let clock = world.clock(name);
            clock.set_monotonic();
            let index = disks.len() - 1;
            let agent = patroni.as_ref().map(|(p, dcs)| AgentContext {
                name: name.clone(),
                id: 0x5000 + 0x400 * index as u32,
                config: p.clone(),
                dcs: dcs[index].clone(),
                disk: disk.clone(),
                control: control.clone(),
                history: world.history().clone(),
                incarnation: Rc::new(Cell::new(0)),
                seed: world.world_config().seed,
            });
            let ctx = ServerContext {
                name: name.clone(),
                config: config.clone(),
                clock,
                links: world.links(),
                disk,
                control,
                history: world.history().clone(),
                pids: Rc::new(Cell::new(1000)),
                patroni: agent,
            };
            world.add_host(name, move || server::run(ctx.clone()));
        }
        PgCluster {
            names,
            config,
            disks,
            controls,
        }
    }

    /// Server host names, `p1`..`pN`.
    pub fn server_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The servers' settings.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The WAL position each server has on disk, in name order.
    pub fn flushed_lsns(&self) -> Vec<u64> {
        self.disks.iter().map(|d| d.borrow().lsn()).collect()
    }

    /// The servers that are primaries now (by their disks: not standbys), in name order.
    pub fn primaries(&self) -> Vec<String> {
        self.names
            .iter()
            .zip(&self.disks)
            .filter(|(_, d)| d.borrow().standby_of.is_none())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Each server's timeline, in name order.
    pub fn timelines(&self) -> Vec<u32> {
        self.disks.iter().map(|d| d.borrow().timeline).collect()
    }

    /// Ask `server` to promote itself (`pg_ctl promote`), at its next tick.
    pub fn promote(&self, server: &str) {
        self.control(server, Control::Promote);
    }

    /// Ask `server` to stream from `upstream` (a primary restarts as its standby).
    pub fn follow(&self, server: &str, upstream: &str) {
        self.control(server, Control::Follow(upstream.to_string()));
    }

    fn control(&self, server: &str, request: Control) {
        if let Some(i) = self.names.iter().position(|n| n == server) {
            self.controls[i].borrow_mut().push(request);
        }
    }
}

/// `primary`: a running server that is not a standby (the first, if a split brain made two).
impl crate::world::fault::RoleResolver for PgCluster {
    fn primary(&self, world: &World) -> Option<String> {
        self.primaries().into_iter().find(|p| !world.is_crashed(p))
    }
}

/// Host name of server `id`.
pub fn server_name(id: u64) -> String {
    format!("p{id}")
}
