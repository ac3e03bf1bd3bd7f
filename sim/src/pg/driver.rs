//! `PgDriver`: a synchronous handle on simulated PostgreSQL servers, for `locksim ctl --backend
//! pg` and tests — psql sessions, each its own connection, in a host named `ctl`.
//!
//! A statement goes to its session's `PgClient` and the world is stepped until its answer
//! comes, or for [`STATEMENT_WAIT`] if it waits for a lock (as a psql user sees a statement
//! hang): its answer, and those of other sessions it woke, arrive with a later line. Simulated
//! time stands still between lines, so a script replays byte for byte under one seed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::client::{PgClient, PgClientConfig};
use super::cluster::{PgCluster, PgConfig};
use super::error::PgError;
use super::statement::{Answer, Statement};
use crate::etcd::driver::CTL_HOST;
use crate::world::sim::{SimError, World, WorldConfig};

/// How long a line waits for its statement's answer before the next line runs.
pub const STATEMENT_WAIT: Duration = Duration::from_millis(200);

/// An answer that arrived: the session's name and what its statement came to.
pub type Arrived = (String, Result<Answer, PgError>);

type Inbox = Rc<RefCell<Vec<Arrived>>>;

/// See the module docs.
pub struct PgDriver<'a> {
    world: World<'a>,
    cluster: PgCluster,
    /// Each session's statement queue, by name.
    sessions: BTreeMap<String, mpsc::UnboundedSender<Statement>>,
    /// Sessions to open: the ctl host's task starts each.
    opens: mpsc::UnboundedSender<(String, mpsc::UnboundedReceiver<Statement>)>,
    arrived: Inbox,
    /// Sessions whose statement has not been answered yet.
    waiting: Rc<RefCell<BTreeMap<String, u32>>>,
}

impl<'a> PgDriver<'a> {
    /// A world with `servers` servers under `seed` (`p1` the primary) and the `ctl` host.
    pub fn new(servers: usize, seed: u64, config: PgConfig) -> Result<Self, SimError> {
        let mut world = World::new(WorldConfig {
            seed,
            tick: Duration::from_millis(1),
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(5),
        });
        let cluster = PgCluster::add_to(&mut world, servers, config);
        let base =
            PgClientConfig::new(cluster.server_names(), world.clock(CTL_HOST), world.links());
        let (opens, mut rx) =
            mpsc::unbounded_channel::<(String, mpsc::UnboundedReceiver<Statement>)>();
        let arrived: Inbox = Rc::default();
        let waiting: Rc<RefCell<BTreeMap<String, u32>>> = Rc::default();
        let history = world.history().clone();
        let (inbox, pending) = (arrived.clone(), waiting.clone());
        world.add_client(CTL_HOST, async move {
            let mut id = 0u32;
            while let Some((name, statements)) = rx.recv().await {
                id += 1;
                let session = Session {
                    name,
                    id,
                    config: base.clone(),
                    history: history.clone(),
                    arrived: inbox.clone(),
                    waiting: pending.clone(),
                };
                tokio::task::spawn_local(session.run(statements));
            }
            Ok(())
        });
        Ok(PgDriver {
            world,
            cluster,
            sessions: BTreeMap::new(),
            opens,
            arrived,
            waiting,
        })
    }

    /// The world, to apply faults or let time pass between statements.
    pub fn world(&mut self) -> &mut World<'a> {
        &mut self.world
    }

    /// The servers.
    pub fn cluster(&self) -> &PgCluster {
        &self.cluster
    }

    /// Run `statement` in session `session` (connected on first use): step until it is
    /// answered or [`STATEMENT_WAIT`] passed. Every answer that arrived meanwhile, in order.
    pub fn execute(
        &mut self,
        session: &str,
        statement: Statement,
    ) -> Result<Vec<Arrived>, SimError> {
        if !self.sessions.contains_key(session) {
            let (tx, rx) = mpsc::unbounded_channel();
            self.sessions.insert(session.to_string(), tx);
            self.opens
                .send((session.to_string(), rx))
                .expect("the ctl host lives as long as the driver");
        }
        *self
            .waiting
            .borrow_mut()
            .entry(session.to_string())
            .or_default() += 1;
        self.sessions[session]
            .send(statement)
            .expect("a session lives as long as the driver");
        let until = self.world.elapsed() + STATEMENT_WAIT;
        while self.world.elapsed() < until
            && self.waiting.borrow().get(session).is_some_and(|&n| n > 0)
        {
            self.world.step()?;
        }
        Ok(self.take_arrived())
    }

    /// Let simulated time pass; the answers that arrived meanwhile.
    pub fn sleep(&mut self, duration: Duration) -> Result<Vec<Arrived>, SimError> {
        self.world.run_for(duration)?;
        Ok(self.take_arrived())
    }

    /// Answers that arrived since the last call (after a fault, say).
    pub fn take_arrived(&mut self) -> Vec<Arrived> {
        std::mem::take(&mut self.arrived.borrow_mut())
    }

    /// Sessions whose last statement has not been answered, by name.
    pub fn waiting(&self) -> Vec<String> {
        self.waiting
            .borrow()
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// One psql session on the ctl host.
struct Session {
    name: String,
    id: u32,
    config: PgClientConfig,
    history: crate::world::history::History,
    arrived: Inbox,
    waiting: Rc<RefCell<BTreeMap<String, u32>>>,
}

impl Session {
    async fn run(self, mut statements: mpsc::UnboundedReceiver<Statement>) {
        let client =
            PgClient::connect(CTL_HOST, self.id, self.config.clone(), self.history.clone()).await;
        while let Some(statement) = statements.recv().await {
            let result = match &client {
                Ok(c) => c.query(statement).await,
                Err(e) => Err(e.clone()),
            };
            self.arrived.borrow_mut().push((self.name.clone(), result));
            if let Some(n) = self.waiting.borrow_mut().get_mut(&self.name) {
                *n = n.saturating_sub(1);
            }
        }
    }
}
