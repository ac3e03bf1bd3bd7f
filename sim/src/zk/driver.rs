//! `ZkDriver`: a synchronous handle on a simulated ZooKeeper ensemble, for `locksim ctl
//! --backend zk` and tests — zkCli's session in a host named `ctl`.
//!
//! A request goes to the `ZkClient` on the `ctl` host and the world is stepped until its answer
//! comes; simulated time stands still between requests, so a script replays byte for byte under
//! one seed. Watch notifications and the session's state changes (zkCli's default watcher)
//! are collected as they arrive and handed out with the next answer.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::etcd::driver::CTL_HOST;
use crate::world::sim::{SimError, World, WorldConfig};
use crate::zk::client::{ConnState, Watch, ZkClient, ZkClientConfig};
use crate::zk::ensemble::{ZkConfig, ZkEnsemble};
use crate::zk::tree::ZkError;
use crate::zk::wire::{Answer, EventType, KeeperState, WatchedEvent, ZkRequest};

/// What the `ctl` session is asked to do.
enum Job {
    Call(ZkRequest),
    /// `close`: end the session.
    Close,
    /// `connect [SERVER]`: a new session (first to `SERVER`, else in order).
    Connect(Option<String>),
}

/// What a job came to.
type JobResult = Result<Answer, ZkError>;

type Events = Rc<RefCell<Vec<WatchedEvent>>>;

/// See the module docs.
pub struct ZkDriver<'a> {
    world: World<'a>,
    ensemble: ZkEnsemble,
    jobs: mpsc::UnboundedSender<Job>,
    slot: Rc<RefCell<Option<JobResult>>>,
    events: Events,
}

impl<'a> ZkDriver<'a> {
    /// Build a world with `servers` servers under `seed`, let them elect a leader, and open
    /// the `ctl` session (zkCli's default session timeout, 30 s).
    pub fn new(servers: usize, seed: u64, config: ZkConfig) -> Result<Self, SimError> {
        let mut world = World::new(WorldConfig {
            seed,
            tick: Duration::from_millis(10),
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(10),
        });
        let ensemble = ZkEnsemble::add_to(&mut world, servers, config);
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let slot: Rc<RefCell<Option<JobResult>>> = Rc::default();
        let events: Events = Rc::default();
        let base = ZkClientConfig {
            servers: ensemble.server_names(),
            clock: world.clock(CTL_HOST),
            links: world.links(),
            ..ZkClientConfig::default()
        };
        let history = world.history().clone();
        let (out, seen) = (slot.clone(), events.clone());
        world.add_client(CTL_HOST, async move {
            let mut sessions = 0u32;
            let mut client = Some(open(&base, None, &mut sessions, history.clone(), &seen).await?);
            while let Some(job) = rx.recv().await {
                let result = match job {
                    Job::Call(request) => match &client {
                        Some(c) => call(c, request, &seen).await,
                        None => Err(ZkError::SessionExpired),
                    },
                    Job::Close => match client.take() {
                        Some(c) => c.close().await.map(|()| Answer::Done),
                        None => Ok(Answer::Done),
                    },
                    Job::Connect(server) => {
                        if let Some(c) = client.take() {
                            let _ = c.close().await;
                        }
                        match open(&base, server, &mut sessions, history.clone(), &seen).await {
                            Ok(c) => {
                                client = Some(c);
                                Ok(Answer::Done)
                            }
                            Err(e) => Err(e),
                        }
                    }
                };
                *out.borrow_mut() = Some(result);
            }
            Ok(())
        });
        let mut driver = ZkDriver {
            world,
            ensemble,
            jobs,
            slot,
            events,
        };
        // The session opens once a leader serves; give the first election its time.
        let until = driver.world.elapsed() + Duration::from_secs(120);
        while driver.ensemble.leader(&driver.world).is_none() && driver.world.elapsed() < until {
            driver.world.step()?;
        }
        Ok(driver)
    }

    /// The world, to apply faults or let time pass between requests.
    pub fn world(&mut self) -> &mut World<'a> {
        &mut self.world
    }

    /// The ensemble (leader, status, roles).
    pub fn ensemble(&self) -> &ZkEnsemble {
        &self.ensemble
    }

    /// The running leader with the highest term: (server id, term).
    pub fn leader(&self) -> Option<(u64, u64)> {
        self.ensemble.leader(&self.world)
    }

    /// Send one request and step until its answer comes.
    pub fn call(&mut self, request: ZkRequest) -> Result<JobResult, SimError> {
        self.run(Job::Call(request))
    }

    /// `close`: end the session (its ephemerals go).
    pub fn close(&mut self) -> Result<JobResult, SimError> {
        self.run(Job::Close)
    }

    /// `connect [SERVER]`: close the session if one is open, open a new one.
    pub fn connect(&mut self, server: Option<String>) -> Result<JobResult, SimError> {
        self.run(Job::Connect(server))
    }

    /// Watch notifications and session state changes that arrived since the last call.
    pub fn take_events(&mut self) -> Vec<WatchedEvent> {
        std::mem::take(&mut self.events.borrow_mut())
    }

    /// Let simulated time pass with no requests.
    pub fn sleep(&mut self, duration: Duration) -> Result<(), SimError> {
        self.world.run_for(duration)
    }

    fn run(&mut self, job: Job) -> Result<JobResult, SimError> {
        if self.world.is_crashed(CTL_HOST) {
            return Ok(Err(ZkError::ConnectionLoss));
        }
        if self.world.is_paused(CTL_HOST) {
            return Ok(Err(ZkError::BadArguments(
                "the ctl host is paused: `resume ctl` first".into(),
            )));
        }
        self.jobs
            .send(job)
            .expect("the ctl host lives as long as the driver");
        // Every request ends: answered, or failed by the connection's read timeout.
        let limit = self.world.elapsed() + Duration::from_secs(600);
        loop {
            if let Some(result) = self.slot.borrow_mut().take() {
                return Ok(result);
            }
            if self.world.elapsed() > limit {
                return Err(SimError {
                    elapsed: self.world.elapsed(),
                    message: "the ctl session got no answer within 600 s of simulated time".into(),
                });
            }
            self.world.step()?;
        }
    }
}

/// Open session number `sessions + 1` (its own client id and port) and report its state
/// changes as zkCli's default watcher prints them.
async fn open(
    base: &ZkClientConfig,
    first: Option<String>,
    sessions: &mut u32,
    history: crate::world::history::History,
    events: &Events,
) -> Result<ZkClient, ZkError> {
    *sessions += 1;
    let mut config = base.clone();
    config.port = base.port + *sessions as u16;
    if let Some(first) = first {
        config.servers.retain(|s| *s != first);
        config.servers.insert(0, first);
    }
    let client = ZkClient::connect(CTL_HOST, *sessions, config, history).await?;
    events
        .borrow_mut()
        .push(state_event(KeeperState::SyncConnected));
    let mut states = client.state_changes();
    let events = events.clone();
    tokio::task::spawn_local(async move {
        while states.changed().await.is_ok() {
            let state = match *states.borrow_and_update() {
                ConnState::Connected => KeeperState::SyncConnected,
                ConnState::Disconnected => KeeperState::Disconnected,
                ConnState::Expired => KeeperState::Expired,
                ConnState::Closed => KeeperState::Closed,
                ConnState::Connecting => continue,
            };
            events.borrow_mut().push(state_event(state));
        }
    });
    Ok(client)
}

fn state_event(state: KeeperState) -> WatchedEvent {
    WatchedEvent {
        kind: EventType::None,
        state,
        path: String::new(),
    }
}

/// One request; a watch it leaves reports its node event (not the state changes, which the
/// session's own listener reports once) into `events`.
async fn call(client: &ZkClient, request: ZkRequest, events: &Events) -> JobResult {
    let watch: Option<(Answer, Watch)> = match &request {
        ZkRequest::GetData { path, watch: true } => {
            let (data, stat, w) = client.get_data_w(path).await?;
            Some((Answer::Data { data, stat }, w))
        }
        ZkRequest::Exists { path, watch: true } => {
            let (stat, w) = client.exists_w(path).await?;
            Some((Answer::Exists(stat), w))
        }
        ZkRequest::GetChildren { path, watch: true } => {
            let (children, stat, w) = client.get_children_w(path).await?;
            Some((Answer::Children { children, stat }, w))
        }
        _ => None,
    };
    let Some((answer, mut w)) = watch else {
        return client.call(request).await;
    };
    let events = events.clone();
    tokio::task::spawn_local(async move {
        while let Some(event) = w.next().await {
            if event.kind != EventType::None {
                events.borrow_mut().push(event);
                return;
            }
            if matches!(event.state, KeeperState::Expired | KeeperState::Closed) {
                return;
            }
        }
    });
    Ok(answer)
}
