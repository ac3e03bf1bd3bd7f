//! `PgCluster`: PostgreSQL servers `p1..pN` added to a [`World`], each with its durable WAL kept
//! outside its host (a crash is a process restart that replays it), and `PgConfig`, their
//! settings with PostgreSQL's defaults.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::engine::EngineConfig;
use super::server::{self, ServerContext, WalDisk};
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
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            tables: vec!["locks".to_string()],
            engine: EngineConfig::default(),
            tcp_keepalives: Keepalive::default(),
            tcp_user_timeout: None,
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
    wals: Vec<WalDisk>,
}

impl PgCluster {
    /// Register `servers` servers `p1..pN` on `world` (in name order). `p1` is the primary.
    pub fn add_to(world: &mut World, servers: usize, config: PgConfig) -> PgCluster {
        assert!(
            (1..=7).contains(&servers),
            "servers must be 1..=7 (validated by callers)"
        );
        let names: Vec<String> = (1..=servers as u64).map(server_name).collect();
        let mut wals = Vec::new();
        for name in &names {
            let wal = WalDisk::default();
            wals.push(wal.clone());
            let clock = world.clock(name);
            clock.set_monotonic();
            let ctx = ServerContext {
                name: name.clone(),
                config: config.clone(),
                clock,
                links: world.links(),
                wal,
                history: world.history().clone(),
                pids: Rc::new(Cell::new(1000)),
            };
            world.add_host(name, move || server::run(ctx.clone()));
        }
        PgCluster {
            names,
            config,
            wals,
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
        self.wals
            .iter()
            .map(|w| w.borrow().last().map(|r| r.lsn).unwrap_or_default())
            .collect()
    }
}

/// Host name of server `id`.
pub fn server_name(id: u64) -> String {
    format!("p{id}")
}
