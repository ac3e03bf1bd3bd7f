//! `Sentinel`: one Redis Sentinel as a turmoil host. Together the sentinels monitor the
//! primary, agree that it is down, elect a failover leader for an epoch, promote the best
//! replica, reconfigure the other nodes, and tell clients who the primary is.
//!
//! Followed from Redis (`sentinel.c`), with the simplifications named:
//! * **SDOWN**: no valid probe reply from the primary for `down_after` (probes every
//!   `ping_period`; Redis pings every second and reads `INFO` every 10 s — here one probe does
//!   both, and more often, because `down_after` is 1 s rather than Redis's 30 s default).
//! * **ODOWN**: this sentinel plus the others that answered `is-master-down-by-addr` with
//!   "down" recently reach `quorum`.
//! * **Leader election**: Redis's Raft-like vote per epoch, kept as is: the candidate bumps
//!   `current_epoch`, votes for itself and asks the others; each votes for the first candidate
//!   it hears in an epoch it has not voted in, and then holds off its own failover for
//!   `2 × failover_timeout` plus a random desync. A candidate wins with a majority of all
//!   sentinels and at least `quorum` votes, within `min(failover_timeout, 10 s)`.
//!   Simplification: the random desync (Redis's `SENTINEL_MAX_DESYNC`) is also drawn before a
//!   sentinel's *first* attempt, because simulated sentinels detect the same outage at the same
//!   tick and would otherwise split the vote every time.
//! * **Replica selection**: among replicas that answered a probe within `down_after` and were
//!   not disconnected from the primary for more than `10 × down_after` (Redis's
//!   `master_link_down_time` rule), the highest replication offset, then the lowest name
//!   (Redis's `replica-priority` is equal for all, and its run id tiebreak is a name here).
//! * **Reconfiguration**: the leader sends `REPLICAOF NO ONE`, waits for the replica to report
//!   itself primary, then switches its configuration (epoch = the failover epoch) and
//!   publishes it in hello messages; every sentinel sends `REPLICAOF new-primary` to any node
//!   that reports a different role — including an old primary when it comes back.
//!   Simplification: nodes remember the highest epoch they obeyed and ignore older orders; Redis
//!   nodes have no epoch and Sentinel instead waits a few publish periods before converting an
//!   instance, so that stale sentinels learn the new configuration first.
//!
//! What survives a sentinel crash: its configuration (`sentinel.conf`: primary, config epoch,
//! current epoch, last vote), kept outside the host as Sentinel flushes it to disk.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use turmoil::net::UdpSocket;

use super::message::{ApMessage, NodeInfo, NodeRole, NODE_PORT, SENTINEL_PORT};
use crate::world::clock::Clock;
use crate::world::datagram::encode;
use crate::world::history::{sim_now, History};
use crate::world::host_loop::{datagram_inbox, serve, Host, Timer};
use crate::world::link_faults::LinkFaults;

/// Timing and quorum of the sentinels.
#[derive(Clone, Debug, PartialEq)]
pub struct SentinelConfig {
    /// How long the primary must be unreachable before a sentinel thinks it down (SDOWN);
    /// Redis's `down-after-milliseconds`.
    pub down_after: Duration,
    /// Sentinels that must agree it is down (ODOWN) and the minimum votes of a leader.
    pub quorum: usize,
    /// How often a sentinel probes every node and asks the others.
    pub ping_period: Duration,
    /// How often a sentinel publishes its configuration to the others.
    pub hello_period: Duration,
    /// Redis's `failover-timeout`: bounds an election and a promotion, and a failed attempt is
    /// retried after twice this.
    pub failover_timeout: Duration,
    /// Random extra delay before a sentinel starts a failover (Redis `SENTINEL_MAX_DESYNC`).
    pub desync: Duration,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        Self {
            down_after: Duration::from_secs(1),
            quorum: 2,
            ping_period: Duration::from_millis(100),
            hello_period: Duration::from_millis(200),
            failover_timeout: Duration::from_secs(3),
            desync: Duration::from_millis(1000),
        }
    }
}

/// A sentinel's durable configuration (`sentinel.conf`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SentinelConf {
    /// The primary as this sentinel knows it.
    pub primary: String,
    /// The epoch of the failover that made `primary` the primary (0: initial).
    pub config_epoch: u64,
    /// The highest epoch this sentinel has seen or started (Redis's `current-epoch`); a failover
    /// attempt bumps it.
    pub current_epoch: u64,
    /// Whom this sentinel voted for, in which epoch.
    pub leader: Option<String>,
    /// The epoch of that vote; a sentinel votes at most once per epoch.
    pub leader_epoch: u64,
}

pub type SentinelDisk = Rc<RefCell<SentinelConf>>;

#[derive(Clone)]
pub(crate) struct SentinelContext {
    pub(crate) name: String,
    pub(crate) index: u64,
    pub(crate) seed: u64,
    pub(crate) config: SentinelConfig,
    pub(crate) nodes: Vec<String>,
    pub(crate) sentinels: Vec<String>,
    pub(crate) disk: SentinelDisk,
    pub(crate) incarnation: Rc<Cell<u64>>,
    pub(crate) history: History,
    pub(crate) clock: Clock,
    pub(crate) links: LinkFaults,
}

/// What another sentinel last answered to `is-master-down-by-addr`.
struct Opinion {
    down: bool,
    leader: Option<String>,
    leader_epoch: u64,
    at: Duration,
}

enum Failover {
    None,
    /// Asking for votes in `epoch`.
    Election {
        epoch: u64,
        started: Duration,
    },
    /// Elected; `REPLICAOF NO ONE` sent to `chosen`.
    Promotion {
        epoch: u64,
        chosen: String,
        started: Duration,
    },
}

struct Sentinel {
    ctx: SentinelContext,
    socket: Rc<UdpSocket>,
    rng: ChaCha8Rng,
    /// Local time of each node's last probe reply, and what it said.
    last_ok: BTreeMap<String, (Duration, NodeInfo)>,
    /// Local time monitoring of the current primary began (start, or a switch): the primary
    /// counts as heard from then, so a switch does not find the new primary down at once.
    monitor_since: Duration,
    opinions: BTreeMap<String, Opinion>,
    sdown: bool,
    odown: bool,
    failover: Failover,
    /// No failover attempt before this local time.
    hold_until: Duration,
    next_probe_id: u64,
    next_hello: Duration,
}

/// The host body of a sentinel. Runs until the host is crashed.
pub(crate) async fn run(ctx: SentinelContext) -> turmoil::Result {
    let socket = Rc::new(UdpSocket::bind(("0.0.0.0", SENTINEL_PORT)).await?);
    let mut sentinel = Sentinel::start(ctx, socket.clone());
    let clock = sentinel.ctx.clock.clone();
    let period = sentinel.ctx.config.ping_period;
    let first = clock.now();
    let inbound = datagram_inbox(socket);
    serve(&mut sentinel, clock, &[Timer { first, period }], inbound).await;
    Ok(())
}

impl Host for Sentinel {
    type Inbound = (SocketAddr, ApMessage);

    fn on_timer(&mut self, _timer: usize) {
        self.tick();
    }
    fn on_inbound(&mut self, (from, msg): (SocketAddr, ApMessage)) {
        self.handle(from, msg);
    }
}

impl Sentinel {
    fn start(ctx: SentinelContext, socket: Rc<UdpSocket>) -> Sentinel {
        let incarnation = ctx.incarnation.get();
        ctx.incarnation.set(incarnation + 1);
        let rng = ChaCha8Rng::seed_from_u64(
            ctx.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(0x0073_656e_7469 ^ (ctx.index << 40))
                .wrapping_add(incarnation),
        );
        let now = ctx.clock.now();
        Sentinel {
            socket,
            rng,
            last_ok: BTreeMap::new(),
            monitor_since: now,
            opinions: BTreeMap::new(),
            sdown: false,
            odown: false,
            failover: Failover::None,
            hold_until: now,
            next_probe_id: 1,
            next_hello: now,
            ctx,
        }
    }

    fn now(&self) -> Duration {
        self.ctx.clock.now()
    }

    fn conf(&self) -> SentinelConf {
        self.ctx.disk.borrow().clone()
    }

    fn event(&self, event: serde_json::Value) {
        self.ctx.history.app(&self.ctx.name, event, sim_now());
    }

    fn send(&self, host: &str, port: u16, msg: &ApMessage) {
        let bytes = encode(msg);
        for _ in 0..self.ctx.links.copies(&self.ctx.name, host) {
            let _ = self.socket.try_send_to(&bytes, (host, port));
        }
    }

    fn send_to_addr(&self, to: SocketAddr, msg: &ApMessage) {
        let host = turmoil::reverse_lookup(to.ip()).unwrap_or_default();
        let bytes = encode(msg);
        for _ in 0..self.ctx.links.copies(&self.ctx.name, &host) {
            let _ = self.socket.try_send_to(&bytes, to);
        }
    }

    fn others(&self) -> Vec<String> {
        self.ctx
            .sentinels
            .iter()
            .filter(|s| **s != self.ctx.name)
            .cloned()
            .collect()
    }

    fn random_desync(&mut self) -> Duration {
        let max = self.ctx.config.desync.as_millis() as u64;
        Duration::from_millis(if max == 0 {
            0
        } else {
            self.rng.gen_range(0..max)
        })
    }

    fn handle(&mut self, from: SocketAddr, msg: ApMessage) {
        let sender = turmoil::reverse_lookup(from.ip()).unwrap_or_default();
        match msg {
            ApMessage::Info { info, .. } => {
                let now = self.now();
                self.last_ok.insert(sender, (now, info));
                self.check_promotion();
            }
            ApMessage::IsPrimaryDown {
                id,
                primary,
                epoch,
                vote_for,
            } => {
                let conf = self.conf();
                let down = primary == conf.primary && self.sdown;
                let (leader, leader_epoch) = match vote_for {
                    Some(candidate) => self.vote(&candidate, epoch),
                    None => (conf.leader.clone(), conf.leader_epoch),
                };
                let reply = ApMessage::IsPrimaryDownReply {
                    id,
                    down,
                    leader,
                    leader_epoch,
                };
                self.send_to_addr(from, &reply);
            }
            ApMessage::IsPrimaryDownReply {
                down,
                leader,
                leader_epoch,
                ..
            } => {
                let at = self.now();
                self.opinions.insert(
                    sender,
                    Opinion {
                        down,
                        leader,
                        leader_epoch,
                        at,
                    },
                );
            }
            ApMessage::Hello {
                primary,
                config_epoch,
                current_epoch,
                ..
            } => {
                let mut switched = None;
                {
                    let mut conf = self.ctx.disk.borrow_mut();
                    conf.current_epoch = conf.current_epoch.max(current_epoch);
                    if config_epoch > conf.config_epoch {
                        switched = Some((conf.primary.clone(), primary.clone()));
                        conf.primary = primary;
                        conf.config_epoch = config_epoch;
                    }
                }
                if let Some((old, new)) = switched {
                    self.reset_monitoring();
                    self.event(serde_json::json!({
                        "ap": "switch_primary", "from": old, "to": new,
                        "epoch": config_epoch, "via": "hello",
                    }));
                }
            }
            ApMessage::GetPrimary { id } => {
                let conf = self.conf();
                let reply = ApMessage::PrimaryIs {
                    id,
                    primary: Some(conf.primary),
                    config_epoch: conf.config_epoch,
                };
                self.send_to_addr(from, &reply);
            }
            _ => {}
        }
    }

    /// `sentinelVoteLeader`: vote for `candidate` in `epoch` unless this sentinel already voted
    /// in it. Returns the vote it holds.
    fn vote(&mut self, candidate: &str, epoch: u64) -> (Option<String>, u64) {
        let mut voted_other = false;
        let (leader, leader_epoch) = {
            let mut conf = self.ctx.disk.borrow_mut();
            if epoch > conf.current_epoch {
                conf.current_epoch = epoch;
            }
            if conf.leader_epoch < epoch && conf.current_epoch <= epoch {
                conf.leader = Some(candidate.to_string());
                conf.leader_epoch = conf.current_epoch;
                voted_other = candidate != self.ctx.name;
            }
            (conf.leader.clone(), conf.leader_epoch)
        };
        if voted_other {
            let hold = self.ctx.config.failover_timeout * 2 + self.random_desync();
            self.hold_until = self.hold_until.max(self.now() + hold);
        }
        (leader, leader_epoch)
    }

    /// After the primary changed: forget opinions and failure state about the old one.
    fn reset_monitoring(&mut self) {
        self.sdown = false;
        self.odown = false;
        self.opinions.clear();
        self.failover = Failover::None;
        self.monitor_since = self.now();
    }

    fn tick(&mut self) {
        let now = self.now();
        let conf = self.conf();
        // Probe every node.
        for node in self.ctx.nodes.clone() {
            let id = self.next_probe_id;
            self.next_probe_id += 1;
            self.send(&node, NODE_PORT, &ApMessage::Probe { id });
        }
        if now >= self.next_hello {
            self.next_hello = now + self.ctx.config.hello_period;
            let hello = ApMessage::Hello {
                sentinel: self.ctx.name.clone(),
                primary: conf.primary.clone(),
                config_epoch: conf.config_epoch,
                current_epoch: conf.current_epoch,
            };
            for other in self.others() {
                self.send(&other, SENTINEL_PORT, &hello);
            }
        }
        self.check_down(now, &conf);
        self.run_failover(now);
        self.reconfigure(now);
    }

    fn check_down(&mut self, now: Duration, conf: &SentinelConf) {
        let config = &self.ctx.config;
        let last = self
            .last_ok
            .get(&conf.primary)
            .map(|(t, _)| *t)
            .unwrap_or_default()
            .max(self.monitor_since);
        let sdown = now.saturating_sub(last) > config.down_after;
        if sdown != self.sdown {
            self.sdown = sdown;
            self.event(serde_json::json!({
                "ap": if sdown { "sdown" } else { "sdown_cleared" },
                "primary": conf.primary,
            }));
        }
        if !sdown {
            self.odown = false;
            return;
        }
        // Ask the others for their opinion (and, as a candidate, for their vote).
        let (epoch, vote_for) = match &self.failover {
            Failover::Election { epoch, .. } => (*epoch, Some(self.ctx.name.clone())),
            _ => (conf.current_epoch, None),
        };
        for other in self.others() {
            let id = self.next_probe_id;
            self.next_probe_id += 1;
            let ask = ApMessage::IsPrimaryDown {
                id,
                primary: conf.primary.clone(),
                epoch,
                vote_for: vote_for.clone(),
            };
            self.send(&other, SENTINEL_PORT, &ask);
        }
        let fresh = config.ping_period * 5;
        let agree = 1 + self
            .opinions
            .values()
            .filter(|o| o.down && now.saturating_sub(o.at) <= fresh)
            .count();
        let odown = agree >= config.quorum;
        if odown && !self.odown {
            self.event(serde_json::json!({"ap": "odown", "primary": conf.primary, "agree": agree}));
            if matches!(self.failover, Failover::None) {
                // Desync the first attempt too (see the module docs).
                let desync = self.random_desync();
                self.hold_until = self.hold_until.max(now + desync);
            }
        }
        self.odown = odown;
    }

    fn run_failover(&mut self, now: Duration) {
        let config = self.ctx.config.clone();
        match &self.failover {
            Failover::None => {
                if !self.odown || now < self.hold_until {
                    return;
                }
                let epoch = {
                    let mut conf = self.ctx.disk.borrow_mut();
                    conf.current_epoch += 1;
                    conf.leader = Some(self.ctx.name.clone());
                    conf.leader_epoch = conf.current_epoch;
                    conf.current_epoch
                };
                self.event(serde_json::json!({"ap": "failover_start", "epoch": epoch}));
                self.failover = Failover::Election {
                    epoch,
                    started: now,
                };
                self.hold_until = now + config.failover_timeout * 2;
            }
            Failover::Election { epoch, started } => {
                let (epoch, started) = (*epoch, *started);
                let votes = 1 + self
                    .opinions
                    .values()
                    .filter(|o| {
                        o.leader.as_deref() == Some(self.ctx.name.as_str())
                            && o.leader_epoch == epoch
                    })
                    .count();
                let majority = self.ctx.sentinels.len() / 2 + 1;
                if votes >= majority.max(config.quorum) {
                    self.event(
                        serde_json::json!({"ap": "elected", "epoch": epoch, "votes": votes}),
                    );
                    self.select_replica(now, epoch);
                } else if now.saturating_sub(started)
                    > config.failover_timeout.min(Duration::from_secs(10))
                {
                    self.abort(epoch, "election timed out");
                }
            }
            Failover::Promotion {
                epoch,
                chosen,
                started,
            } => {
                let (epoch, chosen, started) = (*epoch, chosen.clone(), *started);
                if now.saturating_sub(started) > config.failover_timeout {
                    self.abort(epoch, "promotion timed out");
                } else {
                    self.send(&chosen, NODE_PORT, &ApMessage::Promote { epoch });
                }
            }
        }
    }

    fn abort(&mut self, epoch: u64, reason: &str) {
        self.event(serde_json::json!({"ap": "failover_abort", "epoch": epoch, "reason": reason}));
        self.failover = Failover::None;
        let desync = self.random_desync();
        self.hold_until = self.hold_until.max(self.now() + desync);
    }

    fn select_replica(&mut self, now: Duration, epoch: u64) {
        let conf = self.conf();
        let config = &self.ctx.config;
        let best = self
            .last_ok
            .iter()
            .filter(|(host, (at, info))| {
                **host != conf.primary
                    && now.saturating_sub(*at) <= config.down_after
                    && matches!(&info.role, NodeRole::Replica { .. })
                    && info.link_down_ms <= (config.down_after * 10).as_millis() as u64
            })
            // Highest offset, then the lowest name.
            .max_by(|a, b| a.1 .1.offset.cmp(&b.1 .1.offset).then(b.0.cmp(a.0)))
            .map(|(host, (_, info))| (host.clone(), info.offset));
        let Some((chosen, offset)) = best else {
            self.abort(epoch, "no good replica");
            return;
        };
        self.event(serde_json::json!({
            "ap": "selected", "epoch": epoch, "replica": chosen, "offset": offset,
        }));
        self.send(&chosen, NODE_PORT, &ApMessage::Promote { epoch });
        self.failover = Failover::Promotion {
            epoch,
            chosen,
            started: now,
        };
    }

    /// The failover leader: the chosen replica now reports itself primary in our epoch.
    fn check_promotion(&mut self) {
        let Failover::Promotion { epoch, chosen, .. } = &self.failover else {
            return;
        };
        let (epoch, chosen) = (*epoch, chosen.clone());
        let promoted = self
            .last_ok
            .get(&chosen)
            .is_some_and(|(_, info)| info.role == NodeRole::Primary && info.config_epoch >= epoch);
        if !promoted {
            return;
        }
        let old = {
            let mut conf = self.ctx.disk.borrow_mut();
            let old = std::mem::replace(&mut conf.primary, chosen.clone());
            conf.config_epoch = epoch;
            old
        };
        self.reset_monitoring();
        self.event(serde_json::json!({
            "ap": "switch_primary", "from": old, "to": chosen, "epoch": epoch, "via": "failover",
        }));
        self.next_hello = self.now();
    }

    /// Point every node that reports a role other than our configuration's at the primary.
    fn reconfigure(&mut self, now: Duration) {
        if !matches!(self.failover, Failover::None) {
            return;
        }
        let conf = self.conf();
        let fresh = self.ctx.config.ping_period * 3;
        for (host, (at, info)) in &self.last_ok {
            if *host == conf.primary || now.saturating_sub(*at) > fresh {
                continue;
            }
            let wrong = match &info.role {
                NodeRole::Primary => true,
                NodeRole::Replica { primary } => *primary != conf.primary,
            };
            if wrong && info.config_epoch <= conf.config_epoch {
                let order = ApMessage::Follow {
                    primary: conf.primary.clone(),
                    epoch: conf.config_epoch,
                };
                self.send(host, NODE_PORT, &order);
            }
        }
    }
}
