//! The workload: N client hosts, each looping acquire → critical section → release → think.
//!
//! Critical section: read the resource's counter with the fencing token, think for the hold
//! time, write counter + 1 with the token. The client does *not* look at `Guard::is_lost` before
//! writing — most applications do not, and even one that does can be paused right after looking
//! (Kleppmann 2016). Hold and think times are drawn per client from a seeded RNG.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{Client, ClientConfig, History};

use crate::algorithm::{ApAccess, FencingToken, LockContext, LockKind, LockOptions, SessionWatch};
use crate::event::LockEvent;
use crate::resource::ResourceClient;

/// What the clients do. Durations are on each client's own clock.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// Number of lock clients, hosts `c1..cN`.
    pub clients: usize,
    /// Time spent in the critical section between the read and the write.
    pub hold_min: Duration,
    /// Upper bound of the hold time; each critical section draws it uniformly from
    /// `hold_min..=hold_max` (exactly `hold_min` if `hold_max <= hold_min`).
    pub hold_max: Duration,
    /// Time between a release and the next acquire.
    pub think_min: Duration,
    /// Upper bound of the think time, drawn like the hold time. A client also waits up to
    /// `think_max` before its first acquire, so the clients do not start in step.
    pub think_max: Duration,
    /// Lock key, TTL, retries.
    pub lock: LockOptions,
    /// How long a resource access waits for its answer.
    pub resource_timeout: Duration,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self {
            clients: 3,
            hold_min: Duration::from_millis(50),
            hold_max: Duration::from_millis(300),
            think_min: Duration::from_millis(10),
            think_max: Duration::from_millis(200),
            lock: LockOptions::default(),
            resource_timeout: Duration::from_millis(500),
        }
    }
}

/// Host name of client `index` (0-based): `c1`, `c2`, …
pub fn client_name(index: usize) -> String {
    format!("c{}", index + 1)
}

#[derive(Clone, Debug)]
struct Holding {
    token: i64,
    since: Duration,
    /// How the lock tells a loss (`None`: it cannot; it believes until it releases).
    loss: Option<SessionWatch>,
}

/// Who believes they hold the lock right now (updated by the clients as they go).
#[derive(Clone, Default)]
pub struct Holders {
    map: Rc<RefCell<BTreeMap<String, Holding>>>,
}

impl Holders {
    /// Every client that believes it holds the lock, with its token, earliest acquirer first.
    /// A client whose session has noticed the loss does not believe any more.
    pub fn all(&self) -> Vec<(String, i64)> {
        let map = self.map.borrow();
        let mut v: Vec<_> = map
            .iter()
            .filter(|(_, h)| !h.loss.as_ref().is_some_and(|w| w.is_lost()))
            .map(|(c, h)| (h.since, c.clone(), h.token))
            .collect();
        v.sort();
        v.into_iter().map(|(_, c, t)| (c, t)).collect()
    }

    /// The client believing it holds the lock (the earliest acquirer if several do).
    pub fn current(&self) -> Option<String> {
        self.all().into_iter().next().map(|(c, _)| c)
    }

    pub(crate) fn set(&self, client: &str, token: i64, loss: Option<SessionWatch>) {
        self.map.borrow_mut().insert(
            client.to_string(),
            Holding {
                token,
                since: sim::sim_now(),
                loss,
            },
        );
    }

    pub(crate) fn clear(&self, client: &str) {
        self.map.borrow_mut().remove(client);
    }
}

/// Everything one client host needs; cloned into its (restartable) host closure.
#[derive(Clone)]
pub(crate) struct ClientSpec {
    pub index: usize,
    pub kind: LockKind,
    pub config: WorkloadConfig,
    pub seed: u64,
    pub client_config: ClientConfig,
    pub history: History,
    pub holders: Holders,
    /// Lives outside the host: how many times it has started.
    pub incarnation: Rc<Cell<u32>>,
    /// The AP store's client configuration and node names (AP locks only).
    pub ap: Option<(sim::ap::ApClientConfig, Vec<String>)>,
    /// The ZooKeeper client configuration (runs with an ensemble).
    pub zk: Option<sim::zk::ZkClientConfig>,
    /// The PostgreSQL connection settings (runs with servers).
    pub pg: Option<sim::pg::PgClientConfig>,
}

/// One client host's software.
pub(crate) async fn run_client(spec: ClientSpec) -> turmoil::Result {
    let name = client_name(spec.index);
    let incarnation = spec.incarnation.get();
    spec.incarnation.set(incarnation + 1);
    // A restarted process believes nothing.
    spec.holders.clear(&name);
    let clock = spec.client_config.clock.clone();
    let links = spec.client_config.links.clone();
    let id = (spec.index as u32 + 1) + 64 * incarnation;
    let client =
        Client::connect(&name, id, spec.client_config.clone(), spec.history.clone()).await?;
    let mut ctx =
        LockContext::new(client, clock.clone(), &name).with_options(spec.config.lock.clone());
    if let Some((config, nodes)) = &spec.ap {
        let ap = sim::ap::ApClient::connect(&name, id, config.clone(), spec.history.clone())
            .await
            .map_err(|e| e.to_string())?;
        ctx = ctx.with_ap(ApAccess {
            client: ap,
            nodes: nodes.clone(),
        });
    }
    if let Some(config) = &spec.zk {
        ctx = ctx.with_zk(crate::algorithm::ZkAccess::new(
            &name,
            id,
            config.clone(),
            spec.history.clone(),
        ));
    }
    if let Some(config) = &spec.pg {
        ctx = ctx.with_pg(crate::algorithm::PgAccess::new(
            &name,
            id,
            config.clone(),
            spec.history.clone(),
        ));
    }
    let mut resource = ResourceClient::connect(
        &name,
        incarnation,
        clock.clone(),
        links,
        spec.config.resource_timeout,
    )
    .await?;
    let mut lock = spec.kind.build(ctx.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(
        spec.seed ^ ((spec.index as u64 + 1) << 40) ^ ((incarnation as u64) << 56) ^ 0x10c4,
    );
    let algorithm = lock.name().to_string();
    let draw = |rng: &mut ChaCha8Rng, min: Duration, max: Duration| {
        if max <= min {
            min
        } else {
            Duration::from_micros(rng.gen_range(min.as_micros() as u64..=max.as_micros() as u64))
        }
    };
    // Clients start at slightly different moments, as real ones do.
    clock
        .sleep(draw(&mut rng, Duration::ZERO, spec.config.think_max))
        .await;
    loop {
        LockEvent::AcquireInvoked {
            algorithm: algorithm.clone(),
        }
        .record(&ctx.history, &name);
        match lock.acquire().await {
            Err(e) => {
                LockEvent::AcquireFailed {
                    algorithm: algorithm.clone(),
                    error: e.to_string(),
                }
                .record(&ctx.history, &name);
                ctx.sleep(spec.config.lock.retry_backoff).await;
            }
            Ok(guard) => {
                let token = guard.token().unwrap_or(FencingToken::NONE).0;
                LockEvent::Acquired {
                    algorithm: algorithm.clone(),
                    key: guard.key().to_string(),
                    lease: guard.lease(),
                    token,
                }
                .record(&ctx.history, &name);
                spec.holders.set(&name, token, guard.loss_watch());
                // The critical section.
                if let Ok(value) = resource.read(token).await {
                    ctx.sleep(draw(&mut rng, spec.config.hold_min, spec.config.hold_max))
                        .await;
                    let _ = resource.write(value + 1, token).await;
                }
                LockEvent::ReleaseInvoked { token }.record(&ctx.history, &name);
                spec.holders.clear(&name);
                let ok = lock.release(guard).await.is_ok();
                LockEvent::Released { token, ok }.record(&ctx.history, &name);
            }
        }
        ctx.sleep(draw(&mut rng, spec.config.think_min, spec.config.think_max))
            .await;
    }
}
