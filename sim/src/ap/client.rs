//! `ApClient`: the Redis client that AP locks use. It finds the primary through the sentinels
//! (or talks to one fixed node, for Redlock's independent stores), sends typed commands over
//! UDP with deadlines, and records every command in the [`History`].
//!
//! Retries follow the etcd client's rule: retry only what cannot be applied twice. A read, a
//! write refused with `READONLY` (it reached a replica: not applied) and a sentinel query are
//! retried — after rediscovering the primary — until the deadline. A write whose answer did not
//! come is *not* resent: it is [`ApError::Indeterminate`], because it may have been applied.
//! `WAIT` is not retried either: on another primary it would count a different history.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::command::{ApError, ApResult, Command, Reply};
use super::message::{ApMessage, NodeRole, NODE_PORT, SENTINEL_PORT};
use crate::world::clock::Clock;
use crate::world::history::{sim_now, History, Outcome};
use crate::world::link_faults::LinkFaults;
use crate::world::rpc::{
    call_with_retries, Answer, EndpointRing, RequestId, RetryPolicy, RpcSocket, Step,
};

/// Where a client sends its commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApEndpoint {
    /// Ask these sentinels who the primary is (Redis `SENTINEL get-master-addr-by-name`), and
    /// ask again whenever the primary stops answering or turns out to be a replica.
    Sentinels(Vec<String>),
    /// Always this node, whatever its role (a standalone Redis; one of Redlock's N stores; or
    /// a test reading a replica directly).
    Node(String),
}

/// How an AP client behaves: where it sends commands, and its deadlines (on the client host's
/// own clock).
#[derive(Clone, Debug)]
pub struct ApClientConfig {
    /// Where commands go: the primary the sentinels name, or one fixed node.
    pub endpoint: ApEndpoint,
    /// Whole-command deadline; a write waits this long for its answer.
    pub request_timeout: Duration,
    /// How long one read attempt or one sentinel query waits before trying again.
    pub attempt_timeout: Duration,
    /// Pause before retrying after a refusal (`READONLY`) or when no sentinel knew a primary.
    pub retry_backoff: Duration,
    /// Local UDP port.
    pub port: u16,
    /// The client host's clock: take it from the cluster so pause and skew reach the client.
    pub clock: Clock,
    /// Loss and duplication of this client's datagrams (take it from the world, so link faults
    /// reach the client).
    pub links: LinkFaults,
}

impl Default for ApClientConfig {
    fn default() -> Self {
        Self {
            endpoint: ApEndpoint::Node("r1".into()),
            request_timeout: Duration::from_secs(1),
            attempt_timeout: Duration::from_millis(250),
            retry_backoff: Duration::from_millis(100),
            port: 6380,
            clock: Clock::new(),
            links: LinkFaults::new(0),
        }
    }
}

impl Answer for ApMessage {
    fn request_id(&self) -> Option<RequestId> {
        match self {
            ApMessage::Reply { id, .. } | ApMessage::PrimaryIs { id, .. } => Some(*id),
            _ => None,
        }
    }
}

struct Inner {
    config: ApClientConfig,
    rpc: RpcSocket<ApMessage>,
    /// The primary as last discovered (sentinel mode).
    primary: RefCell<Option<String>>,
    /// The sentinels, the one to ask first in front.
    sentinels: EndpointRing,
    /// The node that answered the last command.
    last_node: RefCell<Option<String>>,
    history: History,
}

impl Inner {
    fn new(config: ApClientConfig, rpc: RpcSocket<ApMessage>, history: History) -> Inner {
        let sentinels = match &config.endpoint {
            ApEndpoint::Sentinels(s) => s.clone(),
            ApEndpoint::Node(_) => Vec::new(),
        };
        Inner {
            config,
            rpc,
            primary: RefCell::new(None),
            sentinels: EndpointRing::new(sentinels),
            last_node: RefCell::new(None),
            history,
        }
    }
}

/// A connection to the AP store. Clones share one socket and one request-id space.
#[derive(Clone)]
pub struct ApClient {
    inner: Rc<Inner>,
}

impl ApClient {
    /// Bind the client's socket and start the reply dispatcher. `name` is the host name the
    /// history shows.
    ///
    /// Must be called inside a turmoil host.
    pub async fn connect(
        name: &str,
        id: u32,
        config: ApClientConfig,
        history: History,
    ) -> ApResult<ApClient> {
        let rpc = RpcSocket::bind(name, id, config.port, &config.clock, &config.links)
            .await
            .map_err(ApError::InvalidArgument)?;
        Ok(ApClient {
            inner: Rc::new(Inner::new(config, rpc, history)),
        })
    }

    /// The same client (socket, history name, request ids) aimed at another endpoint: e.g.
    /// Redlock's client talking to each of its N independent nodes in turn.
    pub fn with_endpoint(&self, endpoint: ApEndpoint) -> ApClient {
        let inner = &self.inner;
        let config = ApClientConfig {
            endpoint,
            ..inner.config.clone()
        };
        ApClient {
            inner: Rc::new(Inner::new(config, inner.rpc.clone(), inner.history.clone())),
        }
    }

    /// Where this client sends its commands.
    pub fn endpoint(&self) -> &ApEndpoint {
        &self.inner.config.endpoint
    }

    /// The client's host name, as the history shows it.
    pub fn name(&self) -> &str {
        self.inner.rpc.name()
    }

    /// The history every command of this client is recorded in.
    pub fn history(&self) -> &History {
        &self.inner.history
    }

    /// The client host's clock: every deadline and backoff of this client runs on it.
    pub fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    /// The node that answered the last command, if any.
    pub fn last_node(&self) -> Option<String> {
        self.inner.last_node.borrow().clone()
    }

    /// `GET key`.
    pub async fn get(&self, key: &[u8]) -> ApResult<Option<Vec<u8>>> {
        match self.call(Command::Get { key: key.to_vec() }).await? {
            Reply::Bulk(v) => Ok(Some(v)),
            Reply::Nil => Ok(None),
            other => unexpected("GET", other),
        }
    }

    /// `SET key value [NX] [PX ttl]`. Returns whether the key was set (`false`: `NX` found it).
    pub async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        nx: bool,
        ttl: Option<Duration>,
    ) -> ApResult<bool> {
        let command = Command::Set {
            key: key.to_vec(),
            value: value.to_vec(),
            nx,
            px: ttl.map(|t| t.as_millis() as u64),
        };
        match self.call(command).await? {
            Reply::Ok => Ok(true),
            Reply::Nil => Ok(false),
            other => unexpected("SET", other),
        }
    }

    /// `SET key value NX PX ttl`: the lock acquire. `true` when this client set it.
    pub async fn set_nx_px(&self, key: &[u8], value: &[u8], ttl: Duration) -> ApResult<bool> {
        self.set(key, value, true, Some(ttl)).await
    }

    /// `DEL key`. Returns whether a key was deleted.
    pub async fn del(&self, key: &[u8]) -> ApResult<bool> {
        self.integer(Command::Del { key: key.to_vec() })
            .await
            .map(|n| n > 0)
    }

    /// The release script: delete `key` only if its value is `value`. Returns whether it did.
    pub async fn compare_and_delete(&self, key: &[u8], value: &[u8]) -> ApResult<bool> {
        let command = Command::CompareAndDelete {
            key: key.to_vec(),
            value: value.to_vec(),
        };
        self.integer(command).await.map(|n| n > 0)
    }

    /// The extend script: `PEXPIRE key ttl` only if its value is `value`.
    pub async fn compare_and_pexpire(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> ApResult<bool> {
        let command = Command::CompareAndPexpire {
            key: key.to_vec(),
            value: value.to_vec(),
            ms: ttl.as_millis() as u64,
        };
        self.integer(command).await.map(|n| n > 0)
    }

    /// `PEXPIRE key ttl`. Returns whether the key existed.
    pub async fn pexpire(&self, key: &[u8], ttl: Duration) -> ApResult<bool> {
        let command = Command::Pexpire {
            key: key.to_vec(),
            ms: ttl.as_millis() as u64,
        };
        self.integer(command).await.map(|n| n > 0)
    }

    /// `INCR key`: the new value (a fencing counter).
    pub async fn incr(&self, key: &[u8]) -> ApResult<i64> {
        self.integer(Command::Incr { key: key.to_vec() }).await
    }

    /// `WAIT replicas timeout`: how many replicas acknowledged everything the primary had
    /// executed when `WAIT` arrived. `timeout = 0` waits without limit (until the client's
    /// deadline). A count ≥ `replicas` does not survive every failover: Redis promises
    /// nothing there, and neither does this store.
    pub async fn wait(&self, replicas: u32, timeout: Duration) -> ApResult<u32> {
        let command = Command::Wait {
            replicas,
            timeout_ms: timeout.as_millis() as u64,
        };
        self.integer(command).await.map(|n| n as u32)
    }

    async fn integer(&self, command: Command) -> ApResult<i64> {
        let name = command.name();
        match self.call(command).await? {
            Reply::Integer(n) => Ok(n),
            other => unexpected(name, other),
        }
    }

    /// Send any command, with the retry rule described on the module, and record it.
    pub async fn call(&self, command: Command) -> ApResult<Reply> {
        let inner = &self.inner;
        inner.config.clock.running().await;
        let handle = inner
            .history
            .invoke(self.name(), command.clone(), sim_now());
        let result = self.execute(&command).await;
        let node = inner.last_node.borrow().clone();
        inner
            .history
            .complete_from(handle, node, Outcome::of(&result), sim_now());
        result
    }

    /// Who the primary is, according to the first sentinel that answers (sentinel mode), or
    /// the fixed node. Cached until a command fails over.
    pub async fn primary(&self) -> ApResult<String> {
        let deadline = self.inner.config.clock.now() + self.inner.config.request_timeout;
        self.discover(deadline).await
    }

    async fn execute(&self, command: &Command) -> ApResult<Reply> {
        let config = &self.inner.config;
        let clock = &config.clock;
        let sentinel_mode = matches!(config.endpoint, ApEndpoint::Sentinels(_));
        let policy = RetryPolicy {
            request_timeout: config.request_timeout,
            attempt_timeout: config.attempt_timeout,
            write_attempt_timeout: None,
            retry_backoff: config.retry_backoff,
        };
        let step = async |remaining: Duration| {
            let deadline = clock.now() + remaining;
            let node = match self.discover(deadline).await {
                Ok(node) => node,
                Err(e) => return Step::Done(Err(e)),
            };
            let remaining = deadline.saturating_sub(clock.now());
            let timeout = match command {
                // `WAIT` blocks on the node for its own timeout (0: without limit).
                Command::Wait { timeout_ms, .. } if *timeout_ms == 0 => remaining,
                Command::Wait { timeout_ms, .. } => {
                    (Duration::from_millis(*timeout_ms) + config.attempt_timeout).min(remaining)
                }
                _ => policy.attempt(command.is_write(), remaining),
            };
            *self.inner.last_node.borrow_mut() = Some(node.clone());
            let msg = |id| ApMessage::Command {
                id,
                command: command.clone(),
            };
            let Some(answer) = self.inner.rpc.attempt(&node, NODE_PORT, msg, timeout).await else {
                // No answer: the node may be down or cut off. Rediscover next time. `WAIT` is
                // not resent: on another primary it would count a different history.
                self.forget_primary();
                if matches!(command, Command::Wait { .. }) {
                    return Step::Done(Err(ApError::Timeout));
                }
                return Step::NoAnswer;
            };
            let ApMessage::Reply { role, result, .. } = answer else {
                return Step::Retry { backoff: false };
            };
            if sentinel_mode && role != NodeRole::Primary {
                // A replica answered (a demoted primary, or a stale sentinel view): whatever
                // it said, this is not the primary. A write it refused was not applied.
                self.forget_primary();
                return Step::Retry { backoff: true };
            }
            Step::Done(result)
        };
        call_with_retries(
            clock,
            policy,
            command.is_write(),
            ApError::Timeout,
            ApError::Indeterminate,
            step,
        )
        .await
    }

    fn forget_primary(&self) {
        *self.inner.primary.borrow_mut() = None;
    }

    async fn discover(&self, deadline: Duration) -> ApResult<String> {
        let config = &self.inner.config;
        if let ApEndpoint::Node(node) = &config.endpoint {
            return Ok(node.clone());
        }
        if let Some(primary) = self.inner.primary.borrow().clone() {
            return Ok(primary);
        }
        let clock = &config.clock;
        let sentinels = &self.inner.sentinels;
        loop {
            let now = clock.now();
            let Some(sentinel) = sentinels.current().map(str::to_string) else {
                return Err(ApError::NoPrimary);
            };
            if now >= deadline {
                return Err(ApError::NoPrimary);
            }
            let timeout = config.attempt_timeout.min(deadline - now);
            let ask = |id| ApMessage::GetPrimary { id };
            let answer = self
                .inner
                .rpc
                .attempt(&sentinel, SENTINEL_PORT, ask, timeout)
                .await;
            match answer {
                Some(ApMessage::PrimaryIs {
                    primary: Some(primary),
                    config_epoch,
                    ..
                }) => {
                    self.inner.history.app(
                        self.name(),
                        serde_json::json!({
                            "ap": "discovered", "primary": primary,
                            "sentinel": sentinel, "epoch": config_epoch,
                        }),
                        sim_now(),
                    );
                    *self.inner.primary.borrow_mut() = Some(primary.clone());
                    return Ok(primary);
                }
                Some(_) => {
                    sentinels.rotate();
                    clock.sleep(config.retry_backoff).await;
                }
                None => sentinels.rotate(),
            }
        }
    }
}

fn unexpected<T>(what: &str, got: Reply) -> ApResult<T> {
    panic!("node answered {what} with {got:?}: protocol bug")
}
