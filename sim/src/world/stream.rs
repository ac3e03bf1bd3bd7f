//! Connections over the world's datagrams: the in-order receiving half every connection-based
//! store uses ([`InOrder`]), and [`Endpoint`], one side of a TCP-like connection with
//! acknowledgements, retransmission and keepalive probes.
//!
//! Why a connection of our own and not turmoil's TCP: turmoil's TCP does not retransmit, so a
//! stream that lost a segment in a partition hangs forever without an error (DESIGN §7). Yet what
//! a database does with a dead client *is* TCP's behaviour: a backend ends only when its
//! server's kernel gives the connection up — unacknowledged data retransmitted `tcp_retries2`
//! times (about 15 minutes on Linux), or an idle connection's keepalive probes unanswered
//! (`tcp_keepalives_idle` + `count × interval`, 2 h 11 min by default) — or when a segment is
//! answered by a reset (the peer's process is gone). [`Endpoint`] keeps exactly those rules:
//! * data is numbered and handed over in order; duplicates are dropped;
//! * every data segment is acknowledged at once (cumulatively); unacknowledged data is sent
//!   again after the retransmission timeout, which starts at 200 ms and doubles up to 120 s
//!   (Linux's `TCP_RTO_MIN`/`TCP_RTO_MAX`); after `retries` retransmissions the next timeout
//!   kills the connection (`ETIMEDOUT`);
//! * a connection with nothing unacknowledged that heard nothing for `idle` sends a probe every
//!   `interval`; `count` unanswered probes kill it;
//! * a peer that knows no such connection answers with a reset.
//!
//! The acknowledgements and probes are the *kernel's*: a client whose process is paused still
//! answers them (its owner runs the endpoint in a task the pause does not stop), which is why a
//! paused lock holder keeps its database locks.
//!
//! ZooKeeper's connection keeps its own simpler rule (a lost datagram stalls it until the
//! client's read timeout, as ZooKeeper's own timeouts are far shorter than TCP's) and uses only
//! [`InOrder`].

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Identifies one connection of one client: `client id << 32 | attempt`.
pub(crate) type ConnId = u64;

/// One direction of a connection, as its receiver sees it: datagrams handed over strictly in
/// `seq` order, early ones held back, duplicates dropped.
#[derive(Debug)]
pub(crate) struct InOrder<T> {
    next: u64,
    early: BTreeMap<u64, T>,
}

impl<T> InOrder<T> {
    /// A stream whose next datagram is number `next`.
    pub(crate) fn from(next: u64) -> Self {
        InOrder {
            next,
            early: BTreeMap::new(),
        }
    }

    /// The number of the next datagram to hand over: everything below it was received.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Datagram `seq` arrived: what can now be handed over, in order (empty while a gap stays).
    pub(crate) fn accept(&mut self, seq: u64, body: T) -> Vec<T> {
        if seq < self.next {
            return Vec::new(); // a duplicate
        }
        self.early.insert(seq, body);
        let mut ready = Vec::new();
        while let Some(body) = self.early.remove(&self.next) {
            self.next += 1;
            ready.push(body);
        }
        ready
    }
}

/// TCP keepalive: probes on a connection idle for `idle`, every `interval`, `count` of them
/// before the connection is given up (`tcp_keepalives_idle`, `_interval`, `_count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (Linux: `tcp_keepalive_time`, 7200 s).
    pub idle: Duration,
    /// Between probes (Linux: `tcp_keepalive_intvl`, 75 s).
    pub interval: Duration,
    /// Unanswered probes before the connection is dead (Linux: `tcp_keepalive_probes`, 9).
    pub count: u32,
}

impl Default for Keepalive {
    /// Linux's defaults: what a socket gets when PostgreSQL's `tcp_keepalives_*` are 0.
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

impl Keepalive {
    /// How long an idle connection to a silent peer lives: `idle + count × interval`.
    pub fn detection_time(&self) -> Duration {
        self.idle + self.interval * self.count
    }
}

/// How one side of a connection gives its peer up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Keepalive probes on an idle connection (`None`: none, a silent peer is never noticed
    /// while nothing is sent).
    pub keepalive: Option<Keepalive>,
    /// Retransmissions of unacknowledged data before the connection is dead (Linux's
    /// `tcp_retries2`, 15: about 924.6 s with the timeouts below).
    pub retries: u32,
    /// `TCP_USER_TIMEOUT` (PostgreSQL's `tcp_user_timeout`): unacknowledged data older than this
    /// kills the connection, whatever `retries` says. `None`: the system's rule.
    pub user_timeout: Option<Duration>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            keepalive: Some(Keepalive::default()),
            retries: 15,
            user_timeout: None,
        }
    }
}

/// Linux's `TCP_RTO_MIN` and `TCP_RTO_MAX`.
const RTO_MIN: Duration = Duration::from_millis(200);
const RTO_MAX: Duration = Duration::from_secs(120);

/// What travels on a connection, either way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Segment<B> {
    pub(crate) conn: ConnId,
    pub(crate) kind: SegmentKind<B>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SegmentKind<B> {
    /// Data number `seq`; everything the sender received of ours below `ack`.
    Data { seq: u64, ack: u64, body: B },
    /// We received everything below `ack` (also the answer to a probe).
    Ack { ack: u64 },
    /// A keepalive probe: the peer's kernel answers with an `Ack`.
    Probe,
    /// The sender knows no such connection (its process closed it or restarted).
    Reset,
}

/// Why a connection died.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionEnd {
    /// Retransmissions or keepalive probes went unanswered (`ETIMEDOUT`).
    TimedOut,
    /// The peer answered with a reset (`ECONNRESET`).
    Reset,
}

/// One side of a connection: what we sent that the peer has not acknowledged, what we
/// received, and the timers that give the peer up (see the module docs).
#[derive(Debug)]
pub(crate) struct Endpoint<Out, In> {
    conn: ConnId,
    config: StreamConfig,
    next_seq: u64,
    unacked: VecDeque<(u64, Out)>,
    inbox: InOrder<In>,
    rto: Duration,
    retransmits: u32,
    retransmit_at: Option<Duration>,
    /// When the oldest unacknowledged data was first sent (for `user_timeout`).
    unacked_since: Option<Duration>,
    last_heard: Duration,
    probes: u32,
    ended: Option<ConnectionEnd>,
}

/// What a received segment produced: data to hand to the process, in order, and the segment
/// the kernel answers with.
#[derive(Debug)]
pub(crate) struct Received<Out, In> {
    pub(crate) data: Vec<In>,
    pub(crate) reply: Option<Segment<Out>>,
}

impl<Out: Clone, In> Endpoint<Out, In> {
    /// A new connection `conn`, opened at `now`.
    pub(crate) fn new(conn: ConnId, config: StreamConfig, now: Duration) -> Self {
        Endpoint {
            conn,
            config,
            next_seq: 0,
            unacked: VecDeque::new(),
            inbox: InOrder::from(0),
            rto: RTO_MIN,
            retransmits: 0,
            retransmit_at: None,
            unacked_since: None,
            last_heard: now,
            probes: 0,
            ended: None,
        }
    }

    pub(crate) fn conn(&self) -> ConnId {
        self.conn
    }

    /// How the connection died, once it has.
    pub(crate) fn ended(&self) -> Option<ConnectionEnd> {
        self.ended
    }

    /// Whether everything sent was acknowledged.
    pub(crate) fn all_acked(&self) -> bool {
        self.unacked.is_empty()
    }

    /// Queue `body` and give the segment to send now.
    pub(crate) fn send(&mut self, body: Out, now: Duration) -> Segment<Out> {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.unacked.is_empty() {
            self.retransmit_at = Some(now + self.rto);
            self.unacked_since = Some(now);
        }
        self.unacked.push_back((seq, body.clone()));
        self.segment(SegmentKind::Data {
            seq,
            ack: self.inbox.next(),
            body,
        })
    }

    /// A segment of this connection arrived at `now`.
    pub(crate) fn receive(&mut self, kind: SegmentKind<In>, now: Duration) -> Received<Out, In> {
        let mut received = Received {
            data: Vec::new(),
            reply: None,
        };
        if self.ended.is_some() {
            return received;
        }
        self.last_heard = now;
        self.probes = 0;
        match kind {
            SegmentKind::Data { seq, ack, body } => {
                self.acked(ack, now);
                received.data = self.inbox.accept(seq, body);
                received.reply = Some(self.segment(SegmentKind::Ack {
                    ack: self.inbox.next(),
                }));
            }
            SegmentKind::Ack { ack } => self.acked(ack, now),
            SegmentKind::Probe => {
                received.reply = Some(self.segment(SegmentKind::Ack {
                    ack: self.inbox.next(),
                }))
            }
            SegmentKind::Reset => self.ended = Some(ConnectionEnd::Reset),
        }
        received
    }

    /// The peer received our data below `ack`.
    fn acked(&mut self, ack: u64, now: Duration) {
        let before = self.unacked.len();
        while self.unacked.front().is_some_and(|(seq, _)| *seq < ack) {
            self.unacked.pop_front();
        }
        if self.unacked.len() == before {
            return;
        }
        self.rto = RTO_MIN;
        self.retransmits = 0;
        if self.unacked.is_empty() {
            self.retransmit_at = None;
            self.unacked_since = None;
        } else {
            self.retransmit_at = Some(now + self.rto);
            self.unacked_since = Some(now);
        }
    }

    /// The timers at `now`: what to send again (unacknowledged data, a probe). Afterwards
    /// [`Endpoint::ended`] says whether the connection died.
    pub(crate) fn poll(&mut self, now: Duration) -> Vec<Segment<Out>> {
        if self.ended.is_some() {
            return Vec::new();
        }
        if let Some(at) = self.retransmit_at {
            if now < at {
                return Vec::new();
            }
            let too_old = match (self.config.user_timeout, self.unacked_since) {
                (Some(limit), Some(since)) => now >= since + limit,
                _ => false,
            };
            if too_old || self.retransmits >= self.config.retries {
                self.ended = Some(ConnectionEnd::TimedOut);
                return Vec::new();
            }
            self.retransmits += 1;
            self.rto = (self.rto * 2).min(RTO_MAX);
            self.retransmit_at = Some(now + self.rto);
            let ack = self.inbox.next();
            let again: Vec<SegmentKind<Out>> = self
                .unacked
                .iter()
                .map(|(seq, body)| SegmentKind::Data {
                    seq: *seq,
                    ack,
                    body: body.clone(),
                })
                .collect();
            return again.into_iter().map(|k| self.segment(k)).collect();
        }
        let Some(keepalive) = self.config.keepalive else {
            return Vec::new();
        };
        let due = self.last_heard + keepalive.idle + keepalive.interval * self.probes;
        if now < due {
            return Vec::new();
        }
        if self.probes >= keepalive.count {
            self.ended = Some(ConnectionEnd::TimedOut);
            return Vec::new();
        }
        self.probes += 1;
        vec![self.segment(SegmentKind::Probe)]
    }

    /// When [`Endpoint::poll`] next has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        if self.ended.is_some() {
            return None;
        }
        if let Some(at) = self.retransmit_at {
            return Some(at);
        }
        self.config
            .keepalive
            .map(|k| self.last_heard + k.idle + k.interval * self.probes)
    }

    fn segment<B>(&self, kind: SegmentKind<B>) -> Segment<B> {
        Segment {
            conn: self.conn,
            kind,
        }
    }
}

/// The answer of a host that knows no connection `conn`: a reset, unless the segment was one.
pub(crate) fn reset_for<In, Out>(segment: &Segment<In>) -> Option<Segment<Out>> {
    (!matches!(segment.kind, SegmentKind::Reset)).then_some(Segment {
        conn: segment.conn,
        kind: SegmentKind::Reset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn pair() -> (Endpoint<u32, u32>, Endpoint<u32, u32>) {
        let config = StreamConfig::default();
        (
            Endpoint::new(7, config, Duration::ZERO),
            Endpoint::new(7, config, Duration::ZERO),
        )
    }

    #[test]
    fn data_arrives_in_order_once_and_is_acknowledged() {
        let (mut a, mut b) = pair();
        let s0 = a.send(10, S(0));
        let s1 = a.send(11, S(0));
        let r = b.receive(s1.kind.clone(), S(0));
        assert!(r.data.is_empty(), "held back behind the gap");
        let r = b.receive(s0.kind.clone(), S(0));
        assert_eq!(r.data, vec![10, 11]);
        assert!(b.receive(s1.kind, S(0)).data.is_empty(), "a duplicate");
        let ack = r.reply.unwrap();
        assert_eq!(ack.kind, SegmentKind::Ack { ack: 2 });
        a.receive(ack.kind, S(0));
        assert!(a.all_acked());
        assert_eq!(a.next_deadline(), Some(Keepalive::default().idle));
    }

    #[test]
    fn unacknowledged_data_is_resent_with_doubling_timeouts_then_times_out() {
        let (mut a, _) = pair();
        a.send(1, Duration::ZERO);
        let mut resent_at = Vec::new();
        while a.ended().is_none() {
            let at = a.next_deadline().unwrap();
            if !a.poll(at).is_empty() {
                resent_at.push(at);
            }
        }
        assert_eq!(resent_at.len(), 15);
        assert_eq!(resent_at[0], Duration::from_millis(200));
        assert_eq!(resent_at[1], Duration::from_millis(600));
        // Linux's tcp_retries2 = 15: given up 924.6 s after the first send.
        assert_eq!(a.ended(), Some(ConnectionEnd::TimedOut));
        let last = resent_at[14] + RTO_MAX;
        assert_eq!(last, Duration::from_millis(924_600));
    }

    #[test]
    fn a_silent_peer_of_an_idle_connection_is_given_up_after_the_probes() {
        let config = StreamConfig {
            keepalive: Some(Keepalive {
                idle: S(60),
                interval: S(10),
                count: 3,
            }),
            ..StreamConfig::default()
        };
        let mut a: Endpoint<u32, u32> = Endpoint::new(1, config, Duration::ZERO);
        let mut probes = Vec::new();
        while a.ended().is_none() {
            let at = a.next_deadline().unwrap();
            if !a.poll(at).is_empty() {
                probes.push(at.as_secs());
            }
            if probes.len() > 10 {
                break;
            }
        }
        assert_eq!(probes, vec![60, 70, 80]);
        assert_eq!(a.next_deadline(), None);
        assert_eq!(a.ended(), Some(ConnectionEnd::TimedOut));
    }

    #[test]
    fn an_answered_probe_keeps_the_connection_and_a_reset_ends_it() {
        let (mut a, mut b) = pair();
        let at = a.next_deadline().unwrap();
        let probe = a.poll(at).pop().unwrap();
        let reply = b.receive(probe.kind, at).reply.unwrap();
        a.receive(reply.kind, at);
        assert_eq!(a.next_deadline(), Some(at + Keepalive::default().idle));
        let reset: Segment<u32> = reset_for::<u32, u32>(&a.send(3, at)).unwrap();
        assert_eq!(reset_for::<u32, u32>(&reset), None);
        a.receive(reset.kind, at);
        assert_eq!(a.ended(), Some(ConnectionEnd::Reset));
    }

    #[test]
    fn user_timeout_cuts_retransmission_short() {
        let config = StreamConfig {
            user_timeout: Some(S(5)),
            ..StreamConfig::default()
        };
        let mut a: Endpoint<u32, u32> = Endpoint::new(1, config, Duration::ZERO);
        a.send(1, Duration::ZERO);
        let mut last = Duration::ZERO;
        while a.ended().is_none() {
            last = a.next_deadline().unwrap();
            a.poll(last);
        }
        assert!(last >= S(5) && last < S(10), "{last:?}");
    }
}
