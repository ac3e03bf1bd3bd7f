//! A failover manager per PostgreSQL node in the style of Patroni, keeping its state in the
//! simulated etcd through the etcd client (the DCS), on the same host as its server.
//!
//! What follows Patroni (docs `dynamic_configuration.rst`, `replication_modes.rst`; `ha.py`) and
//! why:
//! * Every `loop_wait` (10 s) the node writes its member key (its WAL position, under a lease of
//!   `ttl`) and reads the leader key `/service/<scope>/leader`.
//! * The leader refreshes its lease (`ttl`, 30 s) and writes its position to
//!   `/service/<scope>/optime/leader`. If it cannot reach the DCS within `retry_timeout` (10 s)
//!   it demotes itself (no watchdog: until then it keeps taking writes).
//! * With no leader key, a node races for it only if it is the healthiest it can see (no live
//!   member further ahead) and, as a standby, within `maximum_lag_on_failover` (1 MiB) of the
//!   last leader position — and only once a leader has existed: the first leader is the
//!   bootstrapping primary `p1` (Patroni's `initialize` key); the winner (a create-if-absent transaction with its lease) promotes
//!   its server on a new timeline; the others follow it.
//! * A primary that finds another node holding the key demotes and follows it (its commits
//!   past the new timeline's start are rewound away).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::server::{Control, PgDisk};
use crate::etcd::client::{Client, ClientConfig};
use crate::etcd::request::{
    Compare, CompareResult, CompareTarget, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use crate::world::history::History;
use crate::LeaseId;

/// Patroni's settings (its defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatroniConfig {
    /// The cluster's name: keys live under `/service/<scope>/`.
    pub scope: String,
    /// The leader key's lease (default 30 s).
    pub ttl: Duration,
    /// The HA loop's period (default 10 s).
    pub loop_wait: Duration,
    /// How long a DCS operation is retried before the node gives up (default 10 s).
    pub retry_timeout: Duration,
    /// How far behind the last leader position a standby may be and still be promoted
    /// (default 1 MiB).
    pub maximum_lag_on_failover: u64,
}

impl Default for PatroniConfig {
    fn default() -> Self {
        PatroniConfig {
            scope: "locksim".into(),
            ttl: Duration::from_secs(30),
            loop_wait: Duration::from_secs(10),
            retry_timeout: Duration::from_secs(10),
            maximum_lag_on_failover: 1 << 20,
        }
    }
}

/// Everything one node's agent needs.
#[derive(Clone)]
pub(crate) struct AgentContext {
    pub(crate) name: String,
    /// The etcd client id (unique in the run; the incarnation is added).
    pub(crate) id: u32,
    pub(crate) config: PatroniConfig,
    pub(crate) dcs: ClientConfig,
    pub(crate) disk: PgDisk,
    pub(crate) control: Rc<RefCell<Vec<Control>>>,
    pub(crate) history: History,
    pub(crate) incarnation: Rc<std::cell::Cell<u32>>,
    /// The run's seed: where in its loop each node starts.
    pub(crate) seed: u64,
}

/// One node's HA loop; runs until its host crashes.
pub(crate) async fn run(ctx: AgentContext) {
    let incarnation = ctx.incarnation.get();
    ctx.incarnation.set(incarnation + 1);
    let mut dcs = ctx.dcs.clone();
    dcs.request_timeout = ctx.config.retry_timeout;
    let clock = dcs.clock.clone();
    let id = ctx.id + 64 * incarnation;
    let Ok(client) = Client::connect(&ctx.name, id, dcs, ctx.history.clone()).await else {
        return;
    };
    // Nodes are not started in step: each begins its loop at its own point of `loop_wait`.
    let loop_ms = ctx.config.loop_wait.as_millis().max(1) as u64;
    let mix = splitmix(ctx.seed ^ (u64::from(ctx.id) << 20) ^ u64::from(incarnation));
    clock.sleep(Duration::from_millis(mix % loop_ms)).await;
    let mut agent = Agent {
        ctx,
        client,
        leader_lease: None,
        member_lease: None,
    };
    loop {
        let started = clock.now();
        agent.cycle().await;
        let wait = agent.ctx.config.loop_wait;
        clock.sleep_until(started + wait).await;
    }
}

/// SplitMix64: one well-mixed draw from a seed.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Agent {
    ctx: AgentContext,
    client: Client,
    leader_lease: Option<LeaseId>,
    member_lease: Option<LeaseId>,
}

impl Agent {
    fn key(&self, rest: &str) -> Vec<u8> {
        format!("/service/{}/{rest}", self.ctx.config.scope).into_bytes()
    }

    fn ttl_secs(&self) -> i64 {
        self.ctx.config.ttl.as_secs().max(1) as i64
    }

    /// One run of the HA loop.
    async fn cycle(&mut self) {
        let (lsn, standby_of) = {
            let disk = self.ctx.disk.borrow();
            (disk.lsn(), disk.standby_of.clone())
        };
        let primary = standby_of.is_none();
        // Loading the cluster comes first: a leader that cannot reach the DCS must demote
        // within one retry_timeout, before its lease (ttl ≥ loop_wait + 2 × retry_timeout)
        // runs out and a standby is promoted.
        let leader = match self.get_value("leader").await {
            Ok(v) => v,
            Err(()) => {
                // The DCS is out of reach for retry_timeout: a leader demotes itself.
                if primary {
                    self.control(Control::Demote);
                    self.leader_lease = None;
                }
                return;
            }
        };
        self.touch_member(lsn).await;
        let me = self.ctx.name.clone();
        match leader {
            Some(holder) if holder == me => {
                if !self.refresh_leader().await {
                    if primary {
                        self.control(Control::Demote);
                    }
                    self.leader_lease = None;
                    return;
                }
                if !primary {
                    self.control(Control::Promote);
                }
                self.put_value("optime/leader", &lsn.to_string()).await;
            }
            Some(holder) => {
                self.leader_lease = None;
                if standby_of.as_deref() != Some(holder.as_str()) {
                    self.control(Control::Follow(holder));
                }
            }
            None => {
                if self.is_healthiest(lsn, primary).await && self.acquire_leader().await {
                    if !primary {
                        self.control(Control::Promote);
                    }
                    self.put_value("optime/leader", &lsn.to_string()).await;
                }
            }
        }
    }

    fn control(&self, request: Control) {
        self.ctx.control.borrow_mut().push(request);
    }

    /// The member key with this node's position, under its own lease (a failure is left for
    /// the next loop).
    async fn touch_member(&mut self, lsn: u64) {
        let lease = match self.member_lease {
            Some(l) => match self.client.lease_keep_alive(l).await {
                Ok(r) if r.ttl > 0 => l,
                Ok(_) => {
                    self.member_lease = None;
                    return;
                }
                Err(_) => return,
            },
            None => match self.client.lease_grant(self.ttl_secs()).await {
                Ok(r) => r.id,
                Err(_) => return,
            },
        };
        self.member_lease = Some(lease);
        let key = self.key(&format!("members/{}", self.ctx.name));
        let _ = self
            .client
            .put(PutRequest {
                key,
                value: lsn.to_string().into_bytes(),
                lease,
                ..PutRequest::default()
            })
            .await;
    }

    /// `Err` when the DCS did not answer.
    async fn get_value(&self, rest: &str) -> Result<Option<String>, ()> {
        let r = self
            .client
            .get(RangeRequest {
                key: self.key(rest),
                ..RangeRequest::default()
            })
            .await
            .map_err(|_| ())?;
        Ok(r.kvs
            .first()
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    async fn put_value(&self, rest: &str, value: &str) {
        let _ = self
            .client
            .put(PutRequest {
                key: self.key(rest),
                value: value.as_bytes().to_vec(),
                ..PutRequest::default()
            })
            .await;
    }

    /// The leader refreshes its lease; false when it could not (gone, or no answer).
    async fn refresh_leader(&mut self) -> bool {
        match self.leader_lease {
            Some(lease) => self
                .client
                .lease_keep_alive(lease)
                .await
                .is_ok_and(|r| r.ttl > 0),
            // Restarted while holding the key: its lease is unknown here; let it expire.
            None => false,
        }
    }

    /// No live member is further ahead, and a standby is within `maximum_lag_on_failover` of
    /// the last leader position.
    async fn is_healthiest(&self, lsn: u64, primary: bool) -> bool {
        let prefix = self.key("members/");
        let mut end = prefix.clone();
        *end.last_mut().expect("not empty") += 1;
        let Ok(members) = self
            .client
            .get(RangeRequest {
                key: prefix,
                range_end: end,
                ..RangeRequest::default()
            })
            .await
        else {
            return false;
        };
        let ahead = members.kvs.iter().any(|kv| {
            String::from_utf8_lossy(&kv.value)
                .parse::<u64>()
                .is_ok_and(|theirs| theirs > lsn)
        });
        if ahead {
            return false;
        }
        if primary {
            return true;
        }
        match self.get_value("optime/leader").await {
            Ok(Some(v)) => v.parse::<u64>().map_or(true, |last| {
                last.saturating_sub(lsn) <= self.ctx.config.maximum_lag_on_failover
            }),
            // No leader ever: the cluster is still being bootstrapped by its first primary
            // (Patroni's `initialize` key); a replica never races for it.
            Ok(None) => false,
            Err(()) => false,
        }
    }

    /// Create the leader key with a new lease if nobody has it.
    async fn acquire_leader(&mut self) -> bool {
        let Ok(grant) = self.client.lease_grant(self.ttl_secs()).await else {
            return false;
        };
        let key = self.key("leader");
        let txn = TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal,
                target: CompareTarget::Create(0),
                key: key.clone(),
                range_end: Vec::new(),
            }],
            success: vec![RequestOp::Put(PutRequest {
                key,
                value: self.ctx.name.clone().into_bytes(),
                lease: grant.id,
                ..PutRequest::default()
            })],
            failure: Vec::new(),
        };
        match self.client.txn(txn).await {
            Ok(r) if r.succeeded => {
                self.leader_lease = Some(grant.id);
                true
            }
            _ => {
                let _ = self.client.lease_revoke(grant.id).await;
                false
            }
        }
    }
}
