//! The gRPC front's two halves on a member's host.
//!
//! tonic wants `Send` handlers; the member's world (its clock, the history, the in-process port)
//! is single-threaded `Rc` state, as everything in a turmoil host is. So a handler holds only a
//! [`Front`] (a channel) and sends the work, as a closure, to the one task that owns the
//! [`Local`] half; that task runs each piece of work as a local task and hands back its `Send`
//! result. Everything runs on the host's one thread either way; the split is only where the
//! types say `Send`.
//!
//! [`Local`] calls the member in-process — etcd's gRPC server calls its `EtcdServer` the same
//! way — with etcd's server-side request timeout on the member's own clock, and records the
//! client-facing operations in the history under the peer's host name. Those records are the
//! server's view: invoked when the request reached the member, completed when the member
//! answered. Each interval lies inside the client's own, so a history the checker accepts is
//! one the client's view would also allow; a call cut off by a crash stays open (indeterminate).

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use super::status::{status, stopped};
use crate::etcd::client::{Client, ClientConfig};
use crate::etcd::error::{Error, Result};
use crate::etcd::member::LocalPort;
use crate::etcd::request::*;
use crate::etcd::transport::{ClientMessage, ClientRequest, ClientResponse};
use crate::world::clock::Clock;
use crate::world::history::{sim_now, History, Outcome};
use crate::world::link_faults::LinkFaults;

/// What a member hands its gRPC front when it starts.
pub(crate) struct FrontContext {
    pub(crate) port: LocalPort,
    pub(crate) member: MemberId,
    /// Every member's host name, in id order (for MemberList and leader forwarding).
    pub(crate) members: Vec<String>,
    pub(crate) clock: Clock,
    pub(crate) history: History,
    pub(crate) links: LinkFaults,
    /// etcd's server-side wait for an answer (`ReqTimeout`): then "request timed out".
    pub(crate) request_timeout: Duration,
    /// This member incarnation's number: request ids stay unique across restarts.
    pub(crate) incarnation: u64,
}

/// The fronts' client ids in request ids (one per member): far above any harness client's, so a
/// member never mistakes a front's write for another client's when it applies it.
const FRONT_CLIENT_BASE: u32 = u32::MAX - 0xffff;
/// The forwarding clients' ids, one per member, below the fronts'.
const FORWARD_CLIENT_BASE: u32 = FRONT_CLIENT_BASE - 0x1_0000;
/// The forwarding client's UDP port on the member host.
const FORWARD_PORT: u16 = 2390;

/// The member-side half of the gRPC front (single-threaded; see the module docs).
pub(crate) struct Local {
    ctx: FrontContext,
    name: String,
    next_seq: Cell<u64>,
    /// Lease keepalives and time-to-live are the leader's (its lessor alone knows expiries):
    /// a follower forwards them over the peer network, as etcd does.
    forward: Client,
}

impl Local {
    pub(crate) async fn start(ctx: FrontContext) -> Result<Local> {
        let name = crate::etcd::cluster::member_name(ctx.member);
        let config = ClientConfig {
            endpoints: ctx.members.clone(),
            request_timeout: ctx.request_timeout,
            port: FORWARD_PORT,
            clock: ctx.clock.clone(),
            links: ctx.links.clone(),
            ..ClientConfig::default()
        };
        let id = FORWARD_CLIENT_BASE + ctx.member as u32;
        // Its own history: forwarding is the server's business, the client's call is recorded
        // once, by the front.
        let forward = Client::connect(&name, id, config, History::new()).await?;
        Ok(Local {
            name,
            next_seq: Cell::new(0),
            forward,
            ctx,
        })
    }

    /// Every member's host name, in id order.
    pub(crate) fn members(&self) -> &[String] {
        &self.ctx.members
    }

    /// Sleep on the member's own clock (not while it is paused).
    pub(crate) async fn sleep(&self, duration: Duration) {
        self.ctx.clock.sleep(duration).await;
    }

    /// One request to this member, in-process, not recorded. A paused member does nothing
    /// until it resumes; no answer within the request timeout is etcd's "request timed out".
    pub(crate) async fn ask(&self, request: ClientRequest) -> Result<ClientResponse> {
        let clock = &self.ctx.clock;
        clock.running().await;
        let seq = self.next_seq.get() + 1;
        self.next_seq.set(seq);
        let id = RequestId {
            client: FRONT_CLIENT_BASE + self.ctx.member as u32,
            seq: (self.ctx.incarnation << 40) | seq,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        if !self.ctx.port.send(ClientMessage { id, request }, tx) {
            return Err(Error::Unavailable);
        }
        let result = tokio::select! {
            biased;
            reply = rx.recv() => reply.map_or(Err(Error::Timeout), |reply| reply.result),
            _ = clock.sleep(self.ctx.request_timeout) => Err(Error::Timeout),
        };
        clock.running().await;
        result
    }

    /// [`ask`](Local::ask), with a keepalive or time-to-live a follower cannot answer
    /// forwarded to the leader.
    async fn ask_routed(&self, request: ClientRequest) -> Result<ClientResponse> {
        let leader_only = matches!(
            request,
            ClientRequest::LeaseKeepAlive(_) | ClientRequest::LeaseTimeToLive(_)
        );
        match self.ask(request.clone()).await {
            Err(Error::NotLeader { .. } | Error::NoLeader) if leader_only => {
                self.forward.call(request).await
            }
            result => result,
        }
    }

    /// A client's request, served and recorded in the history as an operation of `process`
    /// (the peer's host), answered by this member.
    pub(crate) async fn call(
        &self,
        process: &str,
        request: ClientRequest,
    ) -> Result<ClientResponse> {
        self.ctx.clock.running().await;
        let history = &self.ctx.history;
        let handle = history.invoke(process, request.clone(), sim_now());
        let result = self.ask_routed(request).await;
        let node = Some(self.name.clone());
        history.complete_from(handle, node, Outcome::of(&result), sim_now());
        result
    }

    /// The header this member would put on an answer now.
    pub(crate) async fn header(&self) -> Result<ResponseHeader> {
        Ok(*self.ask(ClientRequest::Status).await?.header())
    }
}

/// Unwrap a member's answer of the expected kind; anything else is a protocol bug here.
macro_rules! expect_response {
    ($result:expr, $variant:ident) => {
        match $result {
            Ok($crate::etcd::transport::ClientResponse::$variant(r)) => Ok(r),
            Ok(other) => panic!(
                "member answered a {} request with {other:?}: protocol bug",
                stringify!($variant)
            ),
            Err(e) => Err(e),
        }
    };
}
pub(crate) use expect_response;

/// Resolves when the caller of a gRPC method has gone (its connection closed or the call was
/// cancelled): etcd's request context being cancelled.
pub(crate) struct CallerGone(oneshot::Receiver<()>);

impl CallerGone {
    pub(crate) async fn wait(&mut self) {
        let _ = (&mut self.0).await;
    }
}

type Job = Box<dyn FnOnce(Rc<Local>) + Send>;

/// The `Send` half: what tonic's handlers hold.
#[derive(Clone)]
pub(crate) struct Front {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Front {
    /// The front and the task that must run on the member's host to serve it.
    pub(crate) fn new(local: Rc<Local>) -> (Front, impl Future<Output = ()>) {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let worker = async move {
            while let Some(job) = rx.recv().await {
                job(local.clone());
            }
        };
        (Front { jobs }, worker)
    }

    /// Run `work` on the member's host and wait for its answer. `work` also learns when the
    /// caller has gone, for the calls that clean up after themselves (Lock, Campaign).
    pub(crate) async fn run<R, F, Fut>(&self, work: F) -> std::result::Result<R, Status>
    where
        R: Send + 'static,
        F: FnOnce(Rc<Local>, CallerGone) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<R, Status>> + 'static,
    {
        let (answer_tx, answer_rx) = oneshot::channel();
        // Dropped with this future: the work sees its caller gone.
        let (_alive, gone) = oneshot::channel::<()>();
        self.spawn(move |local| async move {
            let _ = answer_tx.send(work(local, CallerGone(gone)).await);
        })?;
        answer_rx.await.map_err(|_| stopped())?
    }

    /// Start `work` on the member's host without waiting (streams feed their own channel).
    pub(crate) fn spawn<F, Fut>(&self, work: F) -> std::result::Result<(), Status>
    where
        F: FnOnce(Rc<Local>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let job: Job = Box::new(move |local| {
            tokio::task::spawn_local(work(local));
        });
        self.jobs.send(job).map_err(|_| stopped())
    }
}

/// A member error as etcd's status.
pub(crate) fn to_status(error: Error) -> Status {
    status(&error)
}
