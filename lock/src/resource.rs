//! `Resource`: the service the critical section protects — a counter on its own turmoil host
//! (`resource`), so faults can partition, pause or crash it like anything else.
//!
//! Requests travel as UDP datagrams with ids (like `sim`'s client transport, for the same
//! reason: turmoil's TCP never retransmits). The critical section reads the counter, thinks, and
//! writes read + 1 with its fencing token. Every access is recorded in the run's `History`.
//!
//! Fencing modes:
//! * `Off`: every access is accepted.
//! * `Writes`: Kleppmann's rule — a write whose token is below the highest accepted is rejected.
//!   Reads are not fenced, so a read-modify-write can still lose an update: B reads, a stale A
//!   writes (its token is still above every *write* seen), B writes.
//! * `Accesses` (what `fencing = true` means): reads carry the token too and raise the highest
//!   seen, so once a newer holder has read, every older holder's access is rejected.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::{Clock, History, LinkFaults};
use turmoil::net::UdpSocket;

use crate::error::{Error, Result};
use crate::event::LockEvent;

/// Host name of the protected resource.
pub const RESOURCE_HOST: &str = "resource";
/// Port the resource listens on.
pub const RESOURCE_PORT: u16 = 7000;
/// Port a client's resource connection binds (the etcd client uses 3000).
pub const RESOURCE_CLIENT_PORT: u16 = 7001;

/// How the resource uses the fencing tokens accesses carry. [`crate::Run::fencing`] with `true`
/// means [`Fencing::Accesses`]; [`crate::Run::fencing_mode`] picks any mode. Not to be confused
/// with [`crate::checker::Fencing`], the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fencing {
    /// Every access is accepted, whatever its token.
    Off,
    /// Kleppmann's rule: a write whose token is below the highest accepted is rejected. Reads
    /// are not fenced and do not raise the highest, so a read-modify-write can still lose an
    /// update.
    Writes,
    /// Reads are fenced too: any access whose token is below the highest accepted is rejected,
    /// and accepted reads raise the highest, so once a newer holder has read, every older
    /// holder's access is rejected. What `fencing = true` means.
    Accesses,
}

impl Fencing {
    /// `fencing = true/false` as the issue and scenario files say it.
    pub fn from_flag(on: bool) -> Self {
        if on {
            Fencing::Accesses
        } else {
            Fencing::Off
        }
    }
}

/// A request to the resource, as a client sends it (bincode in one UDP datagram).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Read the counter, carrying the sender's fencing token (0 for none).
    Read { token: i64 },
    /// Write `value` (the sender's read + 1), carrying its fencing token.
    Write { value: u64, token: i64 },
}

/// The resource's answer to a [`Request`]. `highest` is the highest token accepted after the
/// request was handled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The counter (given to the caller only if `accepted`) and whether the read was accepted.
    Read {
        value: u64,
        accepted: bool,
        highest: i64,
    },
    /// Whether the write was applied.
    Write { accepted: bool, highest: i64 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Message<T> {
    id: u64,
    client: String,
    body: T,
}

#[derive(Default)]
struct State {
    value: u64,
    /// Highest token accepted (0: none yet; tokens are etcd revisions, >= 1).
    highest: i64,
    accepted_writes: u64,
    rejected_writes: u64,
    /// Last request id and reply per client: a duplicated or resent datagram is answered again,
    /// never applied twice.
    last: BTreeMap<String, (u64, Reply)>,
}

/// The resource's state, kept outside its host like a member's disk, so a crash of the host
/// does not reset the counter. Cheap to clone.
#[derive(Clone)]
pub struct Resource {
    fencing: Fencing,
    state: Rc<RefCell<State>>,
}

impl Resource {
    /// A resource with counter 0 and no token seen yet, applying `fencing`.
    pub fn new(fencing: Fencing) -> Self {
        Self {
            fencing,
            state: Rc::default(),
        }
    }

    /// The fencing mode it applies.
    pub fn fencing(&self) -> Fencing {
        self.fencing
    }

    /// The counter now.
    pub fn value(&self) -> u64 {
        self.state.borrow().value
    }

    /// Writes applied so far (with fencing on, those whose token was not below the highest
    /// accepted). A resent datagram is counted once.
    pub fn accepted_writes(&self) -> u64 {
        self.state.borrow().accepted_writes
    }

    /// Writes refused so far because their token was below the highest accepted; always 0
    /// with [`Fencing::Off`].
    pub fn rejected_writes(&self) -> u64 {
        self.state.borrow().rejected_writes
    }

    /// Apply one request from `client` and record it. Sync, so it is testable without a sim.
    pub fn handle(&self, client: &str, request: &Request, history: &History) -> Reply {
        let mut s = self.state.borrow_mut();
        let stale = |token: i64, s: &State| token < s.highest;
        match *request {
            Request::Read { token } => {
                let accepted = !(self.fencing == Fencing::Accesses && stale(token, &s));
                if accepted && self.fencing == Fencing::Accesses {
                    s.highest = s.highest.max(token);
                }
                LockEvent::ResourceRead {
                    client: client.to_string(),
                    token,
                    value: s.value,
                    accepted,
                    highest: s.highest,
                }
                .record(history, RESOURCE_HOST);
                Reply::Read {
                    value: s.value,
                    accepted,
                    highest: s.highest,
                }
            }
            Request::Write { value, token } => {
                let accepted = self.fencing == Fencing::Off || !stale(token, &s);
                let previous = s.value;
                let highest_before = s.highest;
                if accepted {
                    s.value = value;
                    s.highest = s.highest.max(token);
                    s.accepted_writes += 1;
                } else {
                    s.rejected_writes += 1;
                }
                LockEvent::ResourceWrite {
                    client: client.to_string(),
                    token,
                    value,
                    previous,
                    accepted,
                    highest: highest_before,
                }
                .record(history, RESOURCE_HOST);
                Reply::Write {
                    accepted,
                    highest: s.highest,
                }
            }
        }
    }

    /// The resource host's software: serve requests until the host is crashed.
    pub async fn serve(self, clock: Clock, history: History, links: LinkFaults) -> turmoil::Result {
        let socket = UdpSocket::bind(("0.0.0.0", RESOURCE_PORT)).await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await?;
            // A paused process reads nothing; datagrams queue meanwhile.
            clock.running().await;
            let Ok(msg) = bincode::deserialize::<Message<Request>>(&buf[..n]) else {
                continue;
            };
            let cached = self.state.borrow().last.get(&msg.client).cloned();
            let reply = match cached {
                Some((id, reply)) if id == msg.id => reply,
                Some((id, _)) if id > msg.id => continue,
                _ => {
                    let reply = self.handle(&msg.client, &msg.body, &history);
                    self.state
                        .borrow_mut()
                        .last
                        .insert(msg.client.clone(), (msg.id, reply.clone()));
                    reply
                }
            };
            let out = bincode::serialize(&Message {
                id: msg.id,
                client: msg.client.clone(),
                body: reply,
            })
            .expect("plain struct serializes");
            for _ in 0..links.copies(RESOURCE_HOST, &msg.client) {
                let _ = socket.send_to(&out, from).await;
            }
        }
    }
}

/// A client's connection to the resource: one request at a time, one datagram per request,
/// never resent (a resent write whose first copy was applied would be a second increment in
/// the client's mind; the server dedups anyway).
pub struct ResourceClient {
    name: String,
    socket: UdpSocket,
    clock: Clock,
    links: LinkFaults,
    next_id: u64,
    timeout: Duration,
    buf: Vec<u8>,
}

impl ResourceClient {
    /// Bind the client's socket. `incarnation` separates the request ids of a restarted host
    /// from its earlier life. Must be called inside a turmoil host.
    pub async fn connect(
        name: &str,
        incarnation: u32,
        clock: Clock,
        links: LinkFaults,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(("0.0.0.0", RESOURCE_CLIENT_PORT)).await?;
        Ok(Self {
            name: name.to_string(),
            socket,
            clock,
            links,
            next_id: (incarnation as u64) << 32,
            timeout,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// Read the counter with `token`.
    pub async fn read(&mut self, token: i64) -> Result<u64> {
        match self.request(Request::Read { token }).await? {
            Reply::Read {
                value,
                accepted: true,
                ..
            } => Ok(value),
            Reply::Read { highest, .. } => Err(Error::Fenced { token, highest }),
            other => panic!("resource answered a read with {other:?}"),
        }
    }

    /// Write `value` with `token`.
    pub async fn write(&mut self, value: u64, token: i64) -> Result<()> {
        match self.request(Request::Write { value, token }).await? {
            Reply::Write { accepted: true, .. } => Ok(()),
            Reply::Write { highest, .. } => Err(Error::Fenced { token, highest }),
            other => panic!("resource answered a write with {other:?}"),
        }
    }

    async fn request(&mut self, body: Request) -> Result<Reply> {
        self.clock.running().await;
        self.next_id += 1;
        let id = self.next_id;
        let out = bincode::serialize(&Message {
            id,
            client: self.name.clone(),
            body,
        })
        .expect("plain struct serializes");
        for _ in 0..self.links.copies(&self.name, RESOURCE_HOST) {
            let _ = self
                .socket
                .send_to(&out, (RESOURCE_HOST, RESOURCE_PORT))
                .await;
        }
        let deadline = self.clock.now() + self.timeout;
        loop {
            tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let Ok((n, _)) = r else { continue };
                    let Ok(msg) = bincode::deserialize::<Message<Reply>>(&self.buf[..n]) else {
                        continue;
                    };
                    if msg.id == id {
                        self.clock.running().await;
                        return Ok(msg.body);
                    }
                }
                _ = self.clock.sleep_until(deadline) => {
                    return Err(Error::ResourceTimeout {
                        timeout_ms: self.timeout.as_millis() as u64,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(resource: &Resource, history: &History, accesses: &[(&str, Request)]) -> Vec<Reply> {
        accesses
            .iter()
            .map(|(c, r)| resource.handle(c, r, history))
            .collect()
    }

    #[test]
    fn fencing_off_accepts_a_stale_write() {
        // `handle` records with sim_now(), which needs a simulation; run inside one.
        let mut sim = turmoil::Builder::new().build();
        sim.client("t", async {
            let history = History::new();
            let r = Resource::new(Fencing::Off);
            let replies = writes(
                &r,
                &history,
                &[
                    ("a", Request::Write { value: 1, token: 5 }),
                    ("b", Request::Write { value: 2, token: 3 }),
                ],
            );
            assert!(matches!(replies[1], Reply::Write { accepted: true, .. }));
            assert_eq!(r.value(), 2);
            Ok(())
        });
        sim.run().unwrap();
    }

    #[test]
    fn fencing_on_rejects_lower_tokens_after_a_newer_read() {
        let mut sim = turmoil::Builder::new().build();
        sim.client("t", async {
            let history = History::new();
            let r = Resource::new(Fencing::Accesses);
            let replies = writes(
                &r,
                &history,
                &[
                    ("a", Request::Read { token: 5 }),
                    ("b", Request::Read { token: 7 }),
                    ("a", Request::Write { value: 1, token: 5 }),
                    ("b", Request::Write { value: 1, token: 7 }),
                ],
            );
            assert!(matches!(
                replies[2],
                Reply::Write {
                    accepted: false,
                    ..
                }
            ));
            assert!(matches!(replies[3], Reply::Write { accepted: true, .. }));
            assert_eq!(
                (r.value(), r.accepted_writes(), r.rejected_writes()),
                (1, 1, 1)
            );

            // Kleppmann's write-only rule lets the stale write in, and b's then loses it.
            let w = Resource::new(Fencing::Writes);
            writes(
                &w,
                &history,
                &[
                    ("a", Request::Read { token: 5 }),
                    ("b", Request::Read { token: 7 }),
                    ("a", Request::Write { value: 1, token: 5 }),
                    ("b", Request::Write { value: 1, token: 7 }),
                ],
            );
            assert_eq!((w.value(), w.accepted_writes()), (1, 2));
            Ok(())
        });
        sim.run().unwrap();
    }
}
