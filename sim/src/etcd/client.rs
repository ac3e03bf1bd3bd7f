//! `Client`: the etcd clientv3-like API that lock algorithms and `locksim ctl` use.
//!
//! It runs inside a turmoil host, talks to members over UDP ([`crate::etcd::transport`]), finds the
//! leader from the hint on every reply, and records every call in the [`History`].
//!
//! Retries follow one rule: retry only what cannot be applied twice. A read, a keepalive or a
//! request answered with a definite error (`not leader`, `no leader`) is retried, on another
//! member if need be, until the deadline. A mutation whose answer did not come is *not* resent:
//! it is reported as [`Error::Indeterminate`] and recorded so, because it may have been applied.

use std::rc::Rc;
use std::time::Duration;

use crate::etcd::cluster::member_name;
use crate::etcd::error::{Error, Result};
use crate::etcd::request::*;
use crate::etcd::transport::{
    ClientMessage, ClientRequest, ClientResponse, Reply, WatchRequest, WatchResponse, CLIENT_PORT,
};
use crate::world::clock::Clock;
use crate::world::history::{sim_now, History, OpHandle, Outcome};
use crate::world::link_faults::LinkFaults;
use crate::world::rpc::{call_with_retries, Answer, EndpointRing, RetryPolicy, RpcSocket, Step};

/// How a client behaves. Defaults follow etcd's clientv3 where it has one.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Member host names, e.g. `["n1", "n2", "n3"]`. Member `nK` has Raft id K.
    pub endpoints: Vec<String>,
    /// Whole-request deadline (a clientv3 context timeout).
    pub request_timeout: Duration,
    /// How long one attempt of a retryable request waits before trying another member.
    pub attempt_timeout: Duration,
    /// How long a write waits for its answer from one member before the client gives that
    /// member up: the write is reported indeterminate (it may have been applied; it is never
    /// resent) and the next request goes to the next member. `None`: the whole request deadline,
    /// as clientv3 over a connection that stays up. `locksim ctl` sets one attempt timeout, so
    /// a session against a cut-off leader moves on after about a second, as a client whose
    /// keepalive declared the connection dead would.
    pub write_attempt_timeout: Option<Duration>,
    /// Pause before retrying after `no leader`, so an election can finish.
    pub retry_backoff: Duration,
    /// How long a member holds a watch poll open when it has no events (must match the members').
    pub watch_poll: Duration,
    /// Local UDP port.
    pub port: u16,
    /// The client host's clock: deadlines and backoffs run on it, and a paused host sends and
    /// learns nothing. Take it from the cluster (`Cluster::client_config`) so faults reach it.
    pub clock: Clock,
    /// Loss and duplication of this client's datagrams (shared with the cluster).
    pub links: LinkFaults,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["n1".into(), "n2".into(), "n3".into()],
            request_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_millis(1000),
            write_attempt_timeout: None,
            retry_backoff: Duration::from_millis(100),
            watch_poll: Duration::from_millis(1000),
            port: 3000,
            clock: Clock::new(),
            links: LinkFaults::new(0),
        }
    }
}

impl Answer for Reply {
    fn request_id(&self) -> Option<RequestId> {
        Some(self.id)
    }
}

struct Inner {
    config: ClientConfig,
    rpc: RpcSocket<Reply>,
    /// The member to try first: the last leader a reply named, else the next that answers.
    members: EndpointRing,
    history: History,
}

/// A connection to the simulated cluster. Clones share one socket and one request-id space, so a
/// lock can run its keepalive loop and its acquire path on the same client concurrently.
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

impl Client {
    /// Bind the client's socket and start the reply dispatcher. `name` is the host name the
    /// history shows (`c1`); `id` must be unique in the run and non-zero (0 is reserved for
    /// requests members make themselves, e.g. lease expiry).
    ///
    /// Must be called inside a turmoil host.
    pub async fn connect(
        name: &str,
        id: u32,
        config: ClientConfig,
        history: History,
    ) -> Result<Client> {
        assert!(id != 0, "client id 0 is reserved for members");
        let rpc = RpcSocket::bind(name, id, config.port, &config.clock, &config.links)
            .await
            .map_err(Error::InvalidArgument)?;
        Ok(Client {
            inner: Rc::new(Inner {
                members: EndpointRing::new(config.endpoints.clone()),
                config,
                rpc,
                history,
            }),
        })
    }

    /// The client's id, as given to [`connect`](Client::connect): the `client` of every
    /// [`RequestId`] it sends.
    pub fn id(&self) -> u32 {
        self.inner.rpc.id()
    }

    /// The member host names this client was given, in its order.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.config.endpoints
    }

    /// The history every call of this client is recorded in.
    pub fn history(&self) -> &History {
        &self.inner.history
    }

    /// `Put` (etcdctl `put`). A write: if no answer comes it is [`Error::Indeterminate`], never
    /// resent.
    pub async fn put(&self, req: PutRequest) -> Result<PutResponse> {
        match self.call(ClientRequest::Put(req)).await? {
            ClientResponse::Put(r) => Ok(r),
            other => unexpected("put", other),
        }
    }

    /// `Range` (etcdctl `get`): linearizable unless `req.serializable`. A read: retried across
    /// members until the deadline.
    pub async fn get(&self, req: RangeRequest) -> Result<RangeResponse> {
        match self.call(ClientRequest::Range(req)).await? {
            ClientResponse::Range(r) => Ok(r),
            other => unexpected("range", other),
        }
    }

    /// `DeleteRange` (etcdctl `del`). A write: never resent.
    pub async fn delete(&self, req: DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        match self.call(ClientRequest::DeleteRange(req)).await? {
            ClientResponse::DeleteRange(r) => Ok(r),
            other => unexpected("delete", other),
        }
    }

    /// `Txn`: compares and one branch, atomically. A write: never resent.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        match self.call(ClientRequest::Txn(req)).await? {
            ClientResponse::Txn(r) => Ok(r),
            other => unexpected("txn", other),
        }
    }

    /// `Compact` the store's history up to `revision` (etcdctl `compact`). A write: never resent.
    pub async fn compact(&self, revision: Revision) -> Result<CompactionResponse> {
        match self
            .call(ClientRequest::Compact(CompactionRequest { revision }))
            .await?
        {
            ClientResponse::Compact(r) => Ok(r),
            other => unexpected("compact", other),
        }
    }

    /// Grant a lease of `ttl` seconds with a server-chosen id.
    pub async fn lease_grant(&self, ttl: i64) -> Result<LeaseGrantResponse> {
        self.lease_grant_with_id(ttl, NO_LEASE).await
    }

    /// Grant a lease of `ttl` seconds with the id `id` ([`NO_LEASE`]: the server chooses);
    /// [`Error::LeaseExists`] if it is taken.
    pub async fn lease_grant_with_id(&self, ttl: i64, id: LeaseId) -> Result<LeaseGrantResponse> {
        match self
            .call(ClientRequest::LeaseGrant(LeaseGrantRequest { ttl, id }))
            .await?
        {
            ClientResponse::LeaseGrant(r) => Ok(r),
            other => unexpected("lease_grant", other),
        }
    }

    /// Revoke a lease (etcdctl `lease revoke`): its keys are deleted in one revision. A write:
    /// never resent.
    pub async fn lease_revoke(&self, id: LeaseId) -> Result<LeaseRevokeResponse> {
        match self
            .call(ClientRequest::LeaseRevoke(LeaseRevokeRequest { id }))
            .await?
        {
            ClientResponse::LeaseRevoke(r) => Ok(r),
            other => unexpected("lease_revoke", other),
        }
    }

    /// One keepalive (etcdctl `lease keep-alive --once`). A lock's session loops over it.
    pub async fn lease_keep_alive(&self, id: LeaseId) -> Result<LeaseKeepAliveResponse> {
        match self
            .call(ClientRequest::LeaseKeepAlive(LeaseKeepAliveRequest { id }))
            .await?
        {
            ClientResponse::LeaseKeepAlive(r) => Ok(r),
            other => unexpected("lease_keep_alive", other),
        }
    }

    /// A lease's remaining and granted TTL, with its keys if `keys` (etcdctl `lease timetolive`).
    /// Asked of the leader; a missing lease answers `ttl: -1`, not an error.
    pub async fn lease_time_to_live(
        &self,
        id: LeaseId,
        keys: bool,
    ) -> Result<LeaseTimeToLiveResponse> {
        match self
            .call(ClientRequest::LeaseTimeToLive(LeaseTimeToLiveRequest {
                id,
                keys,
            }))
            .await?
        {
            ClientResponse::LeaseTimeToLive(r) => Ok(r),
            other => unexpected("lease_time_to_live", other),
        }
    }

    /// Every lease id (etcdctl `lease list`), as the member that answers knows them.
    pub async fn lease_leases(&self) -> Result<LeaseLeasesResponse> {
        match self.call(ClientRequest::LeaseLeases).await? {
            ClientResponse::LeaseLeases(r) => Ok(r),
            other => unexpected("lease_leases", other),
        }
    }

    /// Status of one member (etcdctl `endpoint status`): asked of that member only, never
    /// rerouted, so a crashed member shows as an error.
    pub async fn status(&self, endpoint: &str) -> Result<StatusResponse> {
        let request = ClientRequest::Status;
        let handle = self.invoke(&request).await;
        let result = self
            .attempt(endpoint, &request, self.inner.config.attempt_timeout)
            .await
            .map(|reply| reply.result)
            .unwrap_or(Err(Error::Timeout));
        self.record(handle, &result);
        match result? {
            ClientResponse::Status(r) => Ok(r),
            other => unexpected("status", other),
        }
    }

    /// Watch a key or range from a start revision. Events come in revision order, each
    /// revision's events together, without gaps or duplicates across member failures.
    pub fn watch(&self, req: WatchRequest) -> Watcher {
        Watcher {
            client: self.clone(),
            next_revision: req.start_revision,
            request: req,
        }
    }

    /// Send any request, with the retry rule described on the module, and record it.
    pub async fn call(&self, request: ClientRequest) -> Result<ClientResponse> {
        let handle = self.invoke(&request).await;
        let result = self.execute(&request).await;
        self.record(handle, &result);
        result
    }

    /// Record the invocation once the host runs: a paused process sends nothing.
    async fn invoke(&self, request: &ClientRequest) -> OpHandle {
        self.inner.rpc.clock().running().await;
        let name = self.inner.rpc.name();
        self.inner.history.invoke(name, request.clone(), sim_now())
    }

    fn record(&self, handle: OpHandle, result: &Result<ClientResponse>) {
        let outcome = Outcome::of(result);
        self.inner.history.complete(handle, outcome, sim_now());
    }

    async fn execute(&self, request: &ClientRequest) -> Result<ClientResponse> {
        let config = &self.inner.config;
        let policy = RetryPolicy {
            request_timeout: config.request_timeout,
            attempt_timeout: config.attempt_timeout,
            write_attempt_timeout: config.write_attempt_timeout,
            retry_backoff: config.retry_backoff,
        };
        let write = request.is_mutation();
        let step = async |remaining: Duration| {
            let attempt_timeout = match request {
                // A poll is held open by the member for `watch_poll` when it has no events.
                ClientRequest::Watch(_) => config.watch_poll + config.attempt_timeout,
                _ => policy.attempt(write, remaining),
            };
            let endpoint = self
                .inner
                .members
                .current()
                .expect("a client has endpoints");
            let endpoint = endpoint.to_string();
            let Some(reply) = self.attempt(&endpoint, request, attempt_timeout).await else {
                // No answer: the member may be down or cut off. Try another next time.
                self.inner.members.rotate();
                return Step::NoAnswer;
            };
            match reply.result {
                // Definite: not applied. The hint was already taken in `attempt`.
                Err(Error::NotLeader { .. }) if reply.leader != 0 => Step::Retry { backoff: false },
                Err(Error::NotLeader { .. } | Error::NoLeader | Error::Unavailable) => {
                    self.inner.members.rotate();
                    Step::Retry { backoff: true }
                }
                result => Step::Done(result),
            }
        };
        call_with_retries(
            self.inner.rpc.clock(),
            policy,
            write,
            Error::Timeout,
            Error::Indeterminate,
            step,
        )
        .await
    }

    /// One send and wait (on the client's own clock). `None` when no reply came in time.
    async fn attempt(
        &self,
        endpoint: &str,
        request: &ClientRequest,
        timeout: Duration,
    ) -> Option<Reply> {
        let message = |id| ClientMessage {
            id,
            request: request.clone(),
        };
        let reply = self
            .inner
            .rpc
            .attempt(endpoint, CLIENT_PORT, message, timeout)
            .await;
        if let Some(reply) = &reply {
            if reply.leader != 0 {
                self.inner.members.prefer(&member_name(reply.leader));
            }
        }
        reply
    }
}

fn unexpected<T>(what: &str, got: ClientResponse) -> Result<T> {
    panic!("member answered a {what} request with {got:?}: protocol bug")
}

/// A watch: polls members for the next unseen revision.
pub struct Watcher {
    client: Client,
    request: WatchRequest,
    /// The first revision not yet delivered (0 until the first answer fixes it).
    next_revision: Revision,
}

impl Watcher {
    /// The next batch of events (never empty). Waits as long as it takes; returns
    /// `Err(Compacted)` when the next revision was compacted away, as etcd cancels such a watch.
    pub async fn next(&mut self) -> Result<WatchResponse> {
        loop {
            let response = self.poll().await?;
            if !response.events.is_empty() {
                return Ok(response);
            }
        }
    }

    /// One poll: the events the serving member has from `next_revision` (possibly none).
    pub async fn poll(&mut self) -> Result<WatchResponse> {
        let mut request = self.request.clone();
        request.start_revision = self.next_revision;
        match self.client.call(ClientRequest::Watch(request)).await? {
            ClientResponse::Watch(response) => {
                if response.progress_revision >= self.next_revision {
                    self.next_revision = response.progress_revision + 1;
                }
                Ok(response)
            }
            other => unexpected("watch", other),
        }
    }

    /// The revision the next event will have at least.
    pub fn next_revision(&self) -> Revision {
        self.next_revision
    }
}
