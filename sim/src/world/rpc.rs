//! The one request/response layer every store's client uses: a socket with a reply dispatcher,
//! request ids, one attempt (send, wait for the answer with a deadline on the *host's own
//! clock*), the retry loop with its rule, and the ring of endpoints a client fails over on.
//!
//! Why the host's clock: a real client's timeouts are its own timers. A paused client learns
//! nothing until it runs again (the answer waits in its socket buffer), and a client whose clock
//! runs fast gives up early. Every store's client gets that from here, the same way.
//!
//! The retry rule is every store's: retry only what cannot be applied twice. A step that got no
//! answer is retried for a read; for a write it ends the call as *indeterminate* (it may have
//! been applied). A definite refusal (not the leader, a read-only replica) is retried, after a
//! backoff when the store needs time (an election, a failover).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use turmoil::net::UdpSocket;

use super::clock::Clock;
use super::datagram::{decode, encode, MAX_DATAGRAM};
use super::link_faults::LinkFaults;

/// Identifies one client request across retries (and, for etcd, across the Raft log).
///
/// Invariant: unique per (client, seq); a retry that could duplicate a write gets a new seq only
/// when the first attempt is known not to have been proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// The client's id, unique in the run; 0 for requests a member makes itself (a lease
    /// revoke on expiry).
    pub client: u32,
    /// Sequence number within the client, from 1: every attempt a client sends takes the next
    /// one (a member numbers its own requests likewise).
    pub seq: u64,
}

/// An answer datagram: says which request it answers (`None`: not an answer; dropped).
pub trait Answer: DeserializeOwned + 'static {
    fn request_id(&self) -> Option<RequestId>;
}

type Waiters<A> = Rc<RefCell<BTreeMap<RequestId, oneshot::Sender<A>>>>;

struct Shared<A> {
    name: String,
    id: u32,
    socket: Rc<UdpSocket>,
    waiters: Waiters<A>,
    next_seq: Cell<u64>,
    clock: Clock,
    links: LinkFaults,
    dispatcher: JoinHandle<()>,
}

impl<A> Drop for Shared<A> {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

/// A client host's socket for one store: clones share the socket, the request-id space and
/// the dispatcher, so concurrent calls (a lock's keepalive loop and its acquire) interleave.
pub struct RpcSocket<A> {
    shared: Rc<Shared<A>>,
}

impl<A> Clone for RpcSocket<A> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<A: Answer> RpcSocket<A> {
    /// Binds `port` on the current host and starts the dispatcher. `name` is the host's name
    /// (link faults are looked up by it); `id` tags every request id. The error says why the
    /// socket could not be bound, for the store's client to wrap in its own error type.
    ///
    /// Must be called inside a turmoil host.
    pub async fn bind(
        name: &str,
        id: u32,
        port: u16,
        clock: &Clock,
        links: &LinkFaults,
    ) -> Result<Self, String> {
        let socket = UdpSocket::bind(("0.0.0.0", port))
            .await
            .map_err(|e| format!("cannot bind client socket: {e}"))?;
        let socket = Rc::new(socket);
        let waiters: Waiters<A> = Rc::default();
        let dispatcher = tokio::task::spawn_local(dispatch(socket.clone(), waiters.clone()));
        Ok(RpcSocket {
            shared: Rc::new(Shared {
                name: name.to_string(),
                id,
                socket,
                waiters,
                next_seq: Cell::new(1),
                clock: clock.clone(),
                links: links.clone(),
                dispatcher,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn id(&self) -> u32 {
        self.shared.id
    }

    /// The client host's clock: every deadline and backoff runs on it.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// One send and wait: `message` built with a fresh request id goes to `host:port` (as many
    /// copies as the link's loss and duplication decide; a send error counts as a loss), and the
    /// answer is awaited up to `timeout` of the host's own time. `None`: no answer in time. A
    /// paused host returns only once it runs again.
    pub async fn attempt<M: Serialize>(
        &self,
        host: &str,
        port: u16,
        message: impl FnOnce(RequestId) -> M,
        timeout: Duration,
    ) -> Option<A> {
        let shared = &self.shared;
        let seq = shared.next_seq.get();
        shared.next_seq.set(seq + 1);
        let id = RequestId {
            client: shared.id,
            seq,
        };
        let (tx, rx) = oneshot::channel();
        shared.waiters.borrow_mut().insert(id, tx);
        let bytes = encode(&message(id));
        for _ in 0..shared.links.copies(&shared.name, host) {
            let _ = shared.socket.send_to(&bytes, (host, port)).await;
        }
        // Biased: an answer already here wins over a deadline that ran out in the same poll,
        // and no random branch order (which would draw from the seeded RNG) is involved.
        let answer = tokio::select! {
            biased;
            answer = rx => answer.ok(),
            _ = shared.clock.sleep(timeout) => None,
        };
        shared.waiters.borrow_mut().remove(&id);
        shared.clock.running().await;
        answer
    }
}

/// Receives answers and hands each to the request waiting for it; late ones (for attempts
/// that timed out) and undecodable datagrams are dropped.
async fn dispatch<A: Answer>(socket: Rc<UdpSocket>, waiters: Waiters<A>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, _from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(answer) = decode::<A>(&buf[..n]) else {
            continue;
        };
        let Some(id) = answer.request_id() else {
            continue;
        };
        if let Some(tx) = waiters.borrow_mut().remove(&id) {
            let _ = tx.send(answer);
        }
    }
}

/// What one step of a call came to.
pub enum Step<T> {
    /// The call is over: an answer, or an error the store's client decided on.
    Done(T),
    /// No answer came in time: retried for a read, indeterminate for a write.
    NoAnswer,
    /// A definite refusal or a redirect: try again, after the retry backoff if `backoff`.
    Retry { backoff: bool },
}

/// Deadlines of a call, on the client host's clock.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The whole call's deadline (a clientv3 context timeout, redis-py's socket timeout).
    pub request_timeout: Duration,
    /// How long one attempt of a read waits before it is retried.
    pub attempt_timeout: Duration,
    /// How long a write waits on one server before the client gives that server up (the write
    /// is then indeterminate); `None`: the whole deadline.
    pub write_attempt_timeout: Option<Duration>,
    /// Pause before a `Retry { backoff: true }`.
    pub retry_backoff: Duration,
}

impl RetryPolicy {
    /// The usual attempt timeout with `remaining` left before the deadline: a read's attempt,
    /// or a write's (never resent, so by default it waits out the deadline). A store's client
    /// picks another for requests of its own kind (a watch poll, `WAIT`).
    pub fn attempt(&self, write: bool, remaining: Duration) -> Duration {
        let attempt = if write {
            self.write_attempt_timeout.unwrap_or(remaining)
        } else {
            self.attempt_timeout
        };
        attempt.min(remaining)
    }
}

/// Runs `step` until it is done, with the retry rule described on the module. `step` gets the
/// time left before the deadline and picks its own attempt timeout from it. `timeout` is the
/// error when the deadline passes; `indeterminate` the one for a write with no answer.
pub async fn call_with_retries<T, E>(
    clock: &Clock,
    policy: RetryPolicy,
    write: bool,
    timeout: E,
    indeterminate: E,
    mut step: impl AsyncFnMut(Duration) -> Step<Result<T, E>>,
) -> Result<T, E> {
    let deadline = clock.now() + policy.request_timeout;
    loop {
        let now = clock.now();
        if now >= deadline {
            return Err(timeout);
        }
        match step(deadline - now).await {
            Step::Done(result) => return result,
            Step::NoAnswer if write => return Err(indeterminate),
            Step::NoAnswer | Step::Retry { backoff: false } => {}
            Step::Retry { backoff: true } => clock.sleep(policy.retry_backoff).await,
        }
    }
}

/// The servers a client knows and the one it tries first: it moves on to the next when one
/// does not answer, and jumps to the one a hint names (etcd's leader in a reply header).
#[derive(Debug, Default)]
pub struct EndpointRing {
    endpoints: Vec<String>,
    preferred: Cell<usize>,
}

impl EndpointRing {
    pub fn new(endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            preferred: Cell::new(0),
        }
    }

    /// The server to try now. `None` when the ring is empty.
    pub fn current(&self) -> Option<&str> {
        let n = self.endpoints.len();
        (n > 0).then(|| self.endpoints[self.preferred.get() % n].as_str())
    }

    /// Try the next server from now on.
    pub fn rotate(&self) {
        let n = self.endpoints.len().max(1);
        self.preferred.set((self.preferred.get() + 1) % n);
    }

    /// Try `name` from now on, if it is one of the ring's.
    pub fn prefer(&self, name: &str) {
        if let Some(i) = self.endpoints.iter().position(|e| e == name) {
            self.preferred.set(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_rotates_and_follows_hints() {
        let ring = EndpointRing::new(vec!["n1".into(), "n2".into(), "n3".into()]);
        assert_eq!(ring.current(), Some("n1"));
        ring.rotate();
        assert_eq!(ring.current(), Some("n2"));
        ring.prefer("n1");
        assert_eq!(ring.current(), Some("n1"));
        ring.prefer("n9");
        assert_eq!(ring.current(), Some("n1"));
        ring.rotate();
        ring.rotate();
        ring.rotate();
        assert_eq!(ring.current(), Some("n1"));
        assert_eq!(EndpointRing::default().current(), None);
    }
}
