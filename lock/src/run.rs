//! `Run`: configure a lock run (cluster, algorithm, workload, fencing, seed, duration, faults);
//! `RunHandle`: step it, apply faults, ask who holds the lock; `Report`: what the checkers found.
//!
//! A run has two phases (TigerBeetle's VOPR): a safety phase of `duration` with the fault plan's
//! faults, then everything is healed (links repaired, hosts restarted and resumed) and the run
//! goes on for `heal_period`, in which the liveness checker expects an acquisition.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::ap::{ApConfig, ApStore, Topology};
use sim::pg::{PatroniConfig, PgClientConfig, PgCluster, PgConfig, TargetSession};
use sim::zk::{ZkClientConfig, ZkConfig, ZkEnsemble};
use sim::{
    member_name, Cluster, ClusterConfig, FaultInjector, FaultPlan, FaultSpan, History,
    RoleResolver, SimError, World,
};

use crate::algorithm::{LockAlgorithm, LockContext, LockKind};
use crate::checker::{self, Liveness, LivenessVerdict, Timeline, Violation, ViolationKind};
use crate::event::LockEvent;
use crate::kv_workload::{self, KvClientSpec, KvRole, KvWorkload};
use crate::resource::{Fencing, Resource, RESOURCE_HOST};
use crate::workload::{self, client_name, ClientSpec, Holders, WorkloadConfig};

/// A lock run's configuration (builder). Options are bare nouns; `start` or `run` it.
#[derive(Clone, Debug)]
pub struct Run {
    cluster: ClusterConfig,
    lock: LockKind,
    workload: WorkloadConfig,
    fencing: Fencing,
    duration: Duration,
    heal_period: Duration,
    liveness_bound: Duration,
    /// Faults from a scenario, the explorer or a test (`sim::FaultPlan`).
    fault_plan: FaultPlan,
    /// The AP store (for `redis-setnx`, `redlock`); `None` for the etcd locks.
    ap: Option<ApConfig>,
    /// Register writers and readers beside the lock clients (etcd only); `None`: none.
    kv: Option<KvWorkload>,
    /// A ZooKeeper ensemble (for `zk-curator`, `zk-naive`): its size and configuration.
    zk: Option<(usize, ZkConfig)>,
    /// PostgreSQL servers (for the `pg-*` locks): how many (`p1` the primary) and their
    /// settings.
    pg: Option<(usize, PgConfig)>,
    /// The failover manager beside each server when there are standbys.
    patroni: PatroniConfig,
}

impl Run {
    /// A run of `lock`: a built-in [`crate::AlgorithmKind`] or a [`LockKind`] of your own.
    pub fn new(lock: impl Into<LockKind>) -> Self {
        Self {
            cluster: ClusterConfig::default(),
            lock: lock.into(),
            workload: WorkloadConfig::default(),
            fencing: Fencing::Off,
            duration: Duration::from_secs(20),
            heal_period: Duration::from_secs(10),
            liveness_bound: Duration::from_secs(10),
            fault_plan: FaultPlan::default(),
            ap: None,
            kv: None,
            zk: None,
            pg: None,
            patroni: PatroniConfig::default(),
        }
    }

    /// A run of your own lock, called `name` in the report and the history: each client host
    /// builds one with `factory` in its [`LockContext`] (again after a crash). Every other
    /// knob is the same as for the built-in locks.
    pub fn with_lock<L, F>(name: &str, factory: F) -> Self
    where
        L: LockAlgorithm + 'static,
        F: Fn(LockContext) -> L + Send + Sync + 'static,
    {
        Self::new(LockKind::new(name, factory))
    }

    /// The lock this run uses.
    pub fn lock(&self) -> &LockKind {
        &self.lock
    }

    /// Add KV register clients (`writer1..`, `reader1..`) beside the lock clients. Their
    /// operations land in the same history, so a KV linearizability check of the run judges
    /// their reads. Needs etcd members.
    pub fn kv(mut self, kv: KvWorkload) -> Self {
        self.kv = Some(kv);
        self
    }

    /// Put the AP store on the run (set `members(0)` for a world without etcd). The AP locks
    /// need it; the etcd locks ignore it.
    pub fn ap(mut self, config: ApConfig) -> Self {
        self.ap = Some(config);
        self
    }

    /// Put a ZooKeeper ensemble of `servers` servers (`z1..zN`) on the run (set `members(0)`
    /// for a world without etcd). The ZooKeeper locks need it; they ask for `ttl_secs` as
    /// their session timeout.
    pub fn zk(mut self, servers: usize, config: ZkConfig) -> Self {
        self.zk = Some((servers, config));
        self
    }

    /// Put `servers` PostgreSQL servers (`p1..pN`, `p1` the primary) on the run. One server
    /// needs no etcd (`members(0)`); with standbys a Patroni-like manager beside each server
    /// keeps the leader key in the run's etcd, which then needs members (3). The `pg-*` locks
    /// need them; they connect to every server with `target_session_attrs=read-write`.
    pub fn pg(mut self, servers: usize, config: PgConfig) -> Self {
        self.pg = Some((servers, config));
        self
    }

    /// The failover manager's settings (Patroni's defaults otherwise).
    pub fn patroni(mut self, config: PatroniConfig) -> Self {
        self.patroni = config;
        self
    }

    /// Seeds the cluster (turmoil, elections) and the workload's clients.
    pub fn seed(mut self, seed: u64) -> Self {
        self.cluster.seed = seed;
        self
    }

    /// Number of etcd members (`n1..nN`, default 3); 0 for a world with only the AP store (see
    /// [`Run::ap`]).
    pub fn members(mut self, members: usize) -> Self {
        self.cluster.members = members;
        self
    }

    /// The whole cluster configuration (its seed is kept unless set here).
    pub fn cluster(mut self, cluster: ClusterConfig) -> Self {
        self.cluster = cluster;
        self
    }

    /// What the lock clients do: how many, hold and think times, lock options, resource
    /// timeout.
    pub fn workload(mut self, workload: WorkloadConfig) -> Self {
        self.workload = workload;
        self
    }

    /// `true`: the resource rejects accesses with a token below the highest accepted.
    pub fn fencing(mut self, on: bool) -> Self {
        self.fencing = Fencing::from_flag(on);
        self
    }

    /// The resource's fencing mode, including [`Fencing::Writes`] (Kleppmann's write-only
    /// rule), which [`Run::fencing`] cannot express. Default: [`Fencing::Off`].
    pub fn fencing_mode(mut self, fencing: Fencing) -> Self {
        self.fencing = fencing;
        self
    }

    /// Length of the safety phase (faults apply in it).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Length of the healed phase after it.
    pub fn heal_period(mut self, heal_period: Duration) -> Self {
        self.heal_period = heal_period;
        self
    }

    /// How soon after every fault is healed a client must acquire for liveness to be `ok`, in
    /// simulated time (default 10 s). Keep it within `heal_period`: a run whose healed tail is
    /// shorter and in which nobody acquires is `not_checked`, not `stalled`.
    pub fn liveness_bound(mut self, bound: Duration) -> Self {
        self.liveness_bound = bound;
        self
    }

    /// Faults to inject, aimed at hosts or roles (`holder` is the client believing it holds
    /// the lock). Validate the plan against [`Run::hosts`] first.
    pub fn fault_plan(mut self, plan: FaultPlan) -> Self {
        self.fault_plan = plan;
        self
    }

    /// The seed this run uses (set by [`Run::seed`] or the cluster configuration).
    pub fn seed_value(&self) -> u64 {
        self.cluster.seed
    }

    /// Every host of the run, in registration order: members, the AP store's nodes, the
    /// resource, the lock clients, the KV writers and readers.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = (1..=self.cluster.members as u64).map(member_name).collect();
        if let Some(ap) = &self.ap {
            let (nodes, sentinels) = match ap.topology {
                Topology::Replicated {
                    replicas,
                    sentinels,
                } => (replicas + 1, sentinels),
                Topology::Independent { nodes } => (nodes, 0),
            };
            hosts.extend((1..=nodes).map(sim::ap::node_name));
            hosts.extend((1..=sentinels).map(sim::ap::sentinel_name));
        }
        if let Some((servers, _)) = &self.zk {
            hosts.extend((1..=*servers as u64).map(sim::zk::server_name));
        }
        if let Some((servers, _)) = &self.pg {
            hosts.extend((1..=*servers as u64).map(sim::pg::server_name));
        }
        hosts.push(RESOURCE_HOST.to_string());
        hosts.extend((0..self.workload.clients).map(client_name));
        if let Some(kv) = &self.kv {
            hosts.extend(kv.hosts());
        }
        hosts
    }

    /// Build the world: cluster, resource host, client hosts. Nothing has run yet.
    pub fn start(self) -> RunHandle {
        let mut config = self.cluster.clone();
        // A lock that speaks etcd's gRPC API needs the members to serve it.
        config.member.grpc |= self.lock.needs_grpc();
        let mut cluster = Cluster::new(config);
        let store = self
            .ap
            .clone()
            .map(|config| ApStore::add_to(&mut cluster, config));
        let zk = self
            .zk
            .clone()
            .map(|(servers, config)| ZkEnsemble::add_to(&mut cluster, servers, config));
        let pg = self.pg.clone().map(|(servers, config)| {
            if servers > 1 {
                assert!(
                    self.cluster.members > 0,
                    "standbys need etcd members for their failover manager (harness bug: validate before running)"
                );
                PgCluster::add_with_patroni(&mut cluster, servers, config, self.patroni.clone())
            } else {
                PgCluster::add_to(&mut cluster, servers, config)
            }
        });
        let history = cluster.history().clone();
        let resource = Resource::new(self.fencing);
        let holders = Holders::default();
        {
            let resource = resource.clone();
            let clock = cluster.clock(RESOURCE_HOST);
            let links = cluster.client_config(RESOURCE_HOST).links;
            let history = history.clone();
            cluster.add_host(RESOURCE_HOST, move || {
                resource
                    .clone()
                    .serve(clock.clone(), history.clone(), links.clone())
            });
        }
        for index in 0..self.workload.clients {
            let name = client_name(index);
            let spec = ClientSpec {
                index,
                kind: self.lock.clone(),
                config: self.workload.clone(),
                seed: self.cluster.seed,
                client_config: cluster.client_config(&name),
                history: history.clone(),
                holders: holders.clone(),
                incarnation: Rc::new(Cell::new(0)),
                ap: store
                    .as_ref()
                    .map(|s| (s.client_config(&mut cluster, &name), s.nodes().to_vec())),
                zk: zk.as_ref().map(|zk| ZkClientConfig {
                    servers: zk.server_names(),
                    session_timeout: Duration::from_secs(self.workload.lock.ttl_secs.max(0) as u64),
                    clock: cluster.clock(&name),
                    links: cluster.links(),
                    ..ZkClientConfig::default()
                }),
                pg: pg.as_ref().map(|pg| {
                    let mut config = PgClientConfig::new(
                        pg.server_names(),
                        cluster.clock(&name),
                        cluster.links(),
                    );
                    config.target_session_attrs = TargetSession::ReadWrite;
                    config.keepalives = Some(pg.config().client_keepalives);
                    config.connect_timeout = pg.config().client_connect_timeout;
                    config.tcp_user_timeout = pg.config().client_tcp_user_timeout;
                    config
                }),
            };
            cluster.add_host(&name, move || workload::run_client(spec.clone()));
        }
        if let Some(kv) = &self.kv {
            assert!(
                self.cluster.members > 0 || zk.is_some(),
                "the KV workload needs etcd members or a ZooKeeper ensemble (harness bug: validate before running)"
            );
            let clients = (0..kv.writers)
                .map(|i| (KvRole::Writer, i))
                .chain((0..kv.readers).map(|i| (KvRole::Reader, i)));
            for (role, index) in clients {
                let name = match role {
                    KvRole::Writer => kv_workload::writer_name(index),
                    KvRole::Reader => kv_workload::reader_name(index),
                };
                let mut client_config = cluster.client_config(&name);
                if role == KvRole::Reader && zk.is_none() {
                    client_config.endpoints = vec![kv_workload::reader_endpoint(
                        index,
                        &client_config.endpoints,
                    )];
                }
                // On an ensemble the workload speaks ZooKeeper, a reader to one server.
                let zk = zk.as_ref().map(|zk| {
                    let servers = zk.server_names();
                    ZkClientConfig {
                        servers: match role {
                            KvRole::Writer => servers,
                            KvRole::Reader => vec![kv_workload::reader_endpoint(index, &servers)],
                        },
                        clock: cluster.clock(&name),
                        links: cluster.links(),
                        ..ZkClientConfig::default()
                    }
                });
                let spec = KvClientSpec {
                    role,
                    index,
                    config: kv.clone(),
                    seed: self.cluster.seed,
                    client_config,
                    zk,
                    history: history.clone(),
                    incarnation: Rc::new(Cell::new(0)),
                    written: Rc::new(Cell::new(0)),
                };
                cluster.add_host(&name, move || kv_workload::run_kv_client(spec.clone()));
            }
        }
        let injector = FaultInjector::new(&self.fault_plan, self.cluster.seed);
        RunHandle {
            cluster,
            history,
            resource,
            holders,
            injector,
            store,
            zk,
            pg,
            run: self,
        }
    }

    /// Start, run the safety phase, heal everything, run the healed phase, check.
    pub fn run(self) -> Result<Report, SimError> {
        Ok(self.run_to_end()?.finish())
    }

    /// As `run`, but hand back the world before checking (to look at its history).
    pub fn run_to_end(self) -> Result<RunHandle, SimError> {
        let duration = self.duration;
        let heal_period = self.heal_period;
        let mut handle = self.start();
        handle.run_for(duration)?;
        handle.heal_all();
        handle.run_for(heal_period)?;
        Ok(handle)
    }
}

/// A running lock world.
pub struct RunHandle {
    cluster: Cluster<'static>,
    history: History,
    resource: Resource,
    holders: Holders,
    injector: FaultInjector,
    /// The AP store, when the run has one.
    store: Option<ApStore>,
    /// The ZooKeeper ensemble, when the run has one.
    zk: Option<ZkEnsemble>,
    /// The PostgreSQL servers, when the run has them.
    pg: Option<PgCluster>,
    run: Run,
}

/// `holder` for the fault plan: the client believing it holds the lock, resolved before each
/// step from the holders' beliefs (the store's own roles come from the store).
struct HolderRole(Option<String>);

impl RoleResolver for HolderRole {
    fn holder(&self, _world: &World) -> Option<String> {
        self.0.clone()
    }
}

impl RunHandle {
    /// The simulated cluster, to look at it or apply faults by hand between steps.
    pub fn cluster(&mut self) -> &mut Cluster<'static> {
        &mut self.cluster
    }

    /// The run's history so far: every etcd operation, cluster event and [`LockEvent`].
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The protected resource: its counter and write counts so far.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Who believes they hold the lock. The clone shares the live state, so it stays current
    /// as the run steps.
    pub fn holders(&self) -> Holders {
        self.holders.clone()
    }

    /// The AP store, when the run has one.
    pub fn store(&self) -> Option<&ApStore> {
        self.store.as_ref()
    }

    /// The client host currently believing it holds the lock (not crashed; earliest acquirer if
    /// several believe). The fault layer's `holder` target.
    pub fn current_holder(&self) -> Option<String> {
        self.holders
            .all()
            .into_iter()
            .map(|(c, _)| c)
            .find(|c| !self.cluster.is_crashed(c))
    }

    /// Apply the faults that are due, then advance one tick.
    pub fn step(&mut self) -> Result<(), SimError> {
        let holder = HolderRole(self.current_holder());
        let etcd = self.cluster.roles();
        let zk = self.zk.as_ref().map(ZkEnsemble::roles);
        let roles: [&dyn RoleResolver; 5] = [&etcd, &holder, &self.store, &zk, &self.pg];
        if let Err(e) = self.injector.apply_due(&mut self.cluster, &roles) {
            return Err(SimError {
                elapsed: self.cluster.elapsed(),
                message: format!("fault plan: {e}"),
            });
        }
        self.cluster.step().map(|_| ())
    }

    /// Step (applying the faults that come due) for `duration` of simulated time from now.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        let until = self.cluster.elapsed() + duration;
        while self.cluster.elapsed() < until {
            self.step()?;
        }
        Ok(())
    }

    /// Step until `done` holds or `limit` passed; returns whether it held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimError> {
        let until = self.cluster.elapsed() + limit;
        while self.cluster.elapsed() < until {
            if done(self) {
                return Ok(true);
            }
            self.step()?;
        }
        Ok(done(self))
    }

    /// End every fault: drop pending ones, repair links, restart crashed and resume paused hosts.
    pub fn heal_all(&mut self) {
        self.injector = FaultInjector::new(&FaultPlan::default(), self.run.cluster.seed);
        self.cluster.set_link_rule(None, sim::LinkRule::default());
        self.cluster.set_latency(None, None);
        if self.cluster.is_partitioned() {
            self.cluster.heal();
        }
        for host in self.cluster.hosts().to_vec() {
            if self.cluster.is_crashed(&host) {
                self.cluster.restart(&host);
            }
            if self.cluster.is_paused(&host) {
                self.cluster.resume(&host);
            }
            if self.cluster.clock(&host).rate() != 1.0 {
                self.cluster.skew(&host, Some(1.0), None);
            }
        }
    }

    /// Close the history and run every checker.
    pub fn finish(self) -> Report {
        self.history.close();
        let end_ms = self.cluster.elapsed().as_millis() as u64;
        let timeline = Timeline::from_records(&self.history.records())
            .with_end(end_ms)
            .with_default_latency(self.run.cluster.world().default_latency_ms())
            .with_final_value(self.resource.value());
        let bound_ms = self.run.liveness_bound.as_millis() as u64;
        let mut violations = Vec::new();
        for checker in checker::safety() {
            violations.extend(checker.check(&timeline));
        }
        let live = Liveness { bound_ms };
        let liveness = live.verdict(&timeline);
        violations.extend(live.violation(&liveness));
        let acquisitions = timeline
            .lock_events
            .iter()
            .filter(|(_, _, e)| matches!(e, LockEvent::Acquired { .. }))
            .count() as u64;
        Report {
            seed: self.run.cluster.seed,
            algorithm: self.run.lock.name().to_string(),
            fencing: self.resource.fencing(),
            violations,
            liveness,
            faults: timeline.faults().into_spans(),
            acquisitions,
            accepted_writes: self.resource.accepted_writes(),
            rejected_writes: self.resource.rejected_writes(),
            final_counter: self.resource.value(),
            elapsed_ms: end_ms,
            digest: self.history.digest(),
        }
    }
}

/// What a run found. Same seed and configuration ⇒ equal reports (digest included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The seed of the run: with the same configuration, it reproduces this report.
    pub seed: u64,
    /// The lock's name (`lease-txn`, or yours).
    pub algorithm: String,
    /// The resource's fencing mode.
    pub fencing: Fencing,
    /// Everything the checkers found: the safety violations (mutual exclusion, fencing, lost
    /// update, in that order), then a liveness violation if the verdict is `stalled`.
    pub violations: Vec<Violation>,
    /// Whether a client acquired within the bound once every fault was healed.
    pub liveness: LivenessVerdict,
    /// Every fault of the run as an interval (`sim::ActiveFaults`).
    pub faults: Vec<FaultSpan>,
    /// Times a client's `acquire` returned a guard.
    pub acquisitions: u64,
    /// Writes the protected resource accepted (with fencing on, those whose token was not
    /// below the highest seen).
    pub accepted_writes: u64,
    /// Writes the resource refused for a stale token; always 0 with fencing off.
    pub rejected_writes: u64,
    /// The resource's counter at the end; equals `accepted_writes` when no update was lost.
    pub final_counter: u64,
    /// Simulated ms from the start to `finish` (for [`Run::run`], the safety phase plus the
    /// healed phase).
    pub elapsed_ms: u64,
    /// SHA-256 of the history (JSON lines).
    pub digest: String,
}

impl Report {
    /// Number of violations of `kind`.
    pub fn count(&self, kind: ViolationKind) -> usize {
        self.violations.iter().filter(|v| v.kind == kind).count()
    }

    /// Whether any violation of `kind` was found.
    pub fn has(&self, kind: ViolationKind) -> bool {
        self.count(kind) > 0
    }

    /// Violations that fail the run by default (all but liveness).
    pub fn safety_violations(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.kind.is_safety())
    }

    /// Violations the resource's user sees: fencing and lost updates.
    pub fn resource_violations(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.kind.is_resource())
    }

    /// No safety violation: the run passes by default (a liveness violation alone does not
    /// fail it).
    pub fn is_safe(&self) -> bool {
        self.safety_violations().next().is_none()
    }

    /// One line: seed, algorithm, counts.
    pub fn summary(&self) -> String {
        format!(
            "seed {} {} fencing {:?}: {} acquisitions, {} writes accepted, {} rejected, counter {}; violations: mutual_exclusion {}, fencing {}, lost_update {}, liveness {}",
            self.seed,
            self.algorithm,
            self.fencing,
            self.acquisitions,
            self.accepted_writes,
            self.rejected_writes,
            self.final_counter,
            self.count(ViolationKind::MutualExclusion),
            self.count(ViolationKind::Fencing),
            self.count(ViolationKind::LostUpdate),
            self.count(ViolationKind::Liveness),
        )
    }
}
