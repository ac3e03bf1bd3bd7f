//! Streaming replication on a server: the primary's walsenders, a standby's walreceiver and
//! redo, synchronous commit, and the two role changes a failover manager asks for — promote
//! and follow.
//!
//! What follows PostgreSQL 15 and why:
//! * A standby asks its upstream for WAL by reporting how far it got (`StandbyStatusUpdate`:
//!   written, flushed, applied); the primary streams its *flushed* WAL from there. Received WAL
//!   is flushed at once and applied after `recovery_min_apply_delay`.
//! * A commit with `synchronous_commit` above `local` and a non-empty
//!   `synchronous_standby_names` is logged and flushed, then waits — locks held, not yet
//!   visible — until the synchronous standbys confirm it at that level (`FIRST n`: the first n
//!   connected standbys of the list; `ANY n`: any n). Too few connected standbys: it waits.
//! * Promotion replays everything received and starts a new timeline at the current position.
//!   A standby that meets a newer timeline which began *before* its own end has WAL the new
//!   primary never had: it rewinds to the timeline's start (what `pg_rewind` does when the old
//!   primary rejoins) — those commits are lost, and the history says how many.
//! * Advisory locks and open transactions are never in the WAL: a promoted standby has none.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use turmoil::net::UdpSocket;

use super::{recovered_engine, Server};
use crate::pg::cluster::SyncCommit;
use crate::pg::engine::{Lsn, WalRecord};
use crate::pg::error::PgError;
use crate::pg::wire::{Replication, REPLICATION_PORT};
use crate::world::datagram::encode;
use crate::world::history::{sim_now, ClusterEvent};

/// What a server's failover manager asks of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// `pg_ctl promote`: a standby becomes a primary on a new timeline.
    Promote,
    /// Stream from `upstream` (a primary restarted as a standby with `primary_conninfo`).
    Follow(String),
    /// Stop taking writes: restart as a standby with no upstream yet (Patroni's demotion when
    /// it cannot keep the leader key).
    Demote,
}

/// How often a standby reports its position when nothing arrives (the walreceiver's status
/// messages; PostgreSQL's `wal_receiver_status_interval` is 10 s, but a standby also reports
/// after every write, which is what matters here).
const FEEDBACK_INTERVAL: Duration = Duration::from_millis(500);
/// How long a walsender waits for the standby's position to move before it sends again from
/// there (a datagram was lost, or they arrived out of order and the standby dropped a gap).
const RESEND_AFTER: Duration = Duration::from_millis(200);
/// Records per WAL message.
const BATCH: usize = 64;

/// One standby as its primary's walsender sees it.
#[derive(Debug)]
struct Standby {
    /// The timeline it is on.
    timeline: u32,
    write: Lsn,
    flush: Lsn,
    apply: Lsn,
    heard: Duration,
    /// The end of what was sent.
    sent: Lsn,
    /// When its flush position last moved (or the stream was last restarted from it).
    progress_at: Duration,
}

/// The replication half of a server.
pub(crate) struct State {
    socket: Rc<UdpSocket>,
    /// Primary: its standbys, by name.
    standbys: BTreeMap<String, Standby>,
    /// Standby: flushed records waiting for `recovery_min_apply_delay`, with their due time.
    to_apply: VecDeque<(Duration, WalRecord)>,
    /// Standby: when it last reported to its upstream.
    reported_at: Duration,
    /// Primary: when the WAL was last flushed (`synchronous_commit = off`).
    pub(super) last_flush: Duration,
}

impl State {
    pub(super) fn new(socket: Rc<UdpSocket>, now: Duration) -> Self {
        State {
            socket,
            standbys: BTreeMap::new(),
            to_apply: VecDeque::new(),
            reported_at: now,
            last_flush: now,
        }
    }
}

impl Server {
    /// The periodic part: a primary streams and releases confirmed commits; a standby applies
    /// what is due and reports.
    pub(super) fn replicate(&mut self) {
        let now = self.now();
        if self.is_standby() {
            self.apply_due(now);
            if now >= self.repl.reported_at + FEEDBACK_INTERVAL {
                self.report();
            }
        } else {
            self.stream(now);
            self.release_confirmed();
        }
    }

    /// A replication message arrived.
    pub(super) fn on_replication(&mut self, message: Replication) {
        let now = self.now();
        match message {
            Replication::Feedback {
                name,
                timeline,
                write,
                flush,
                apply,
            } => {
                if self.is_standby() || timeline > self.ctx.disk.borrow().timeline {
                    return; // not (or no longer) the primary it thinks it follows
                }
                let s = self.repl.standbys.entry(name).or_insert(Standby {
                    timeline,
                    write,
                    flush,
                    apply,
                    heard: now,
                    sent: flush,
                    progress_at: now,
                });
                s.timeline = timeline;
                s.heard = now;
                if flush > s.flush {
                    s.progress_at = now;
                }
                (s.write, s.flush, s.apply) = (write, flush, apply);
                s.sent = s.sent.max(flush);
                self.stream(now);
                self.release_confirmed();
            }
            Replication::Wal {
                timeline,
                history,
                from,
                records,
            } => self.receive_wal(timeline, history, from, records, now),
        }
    }

    /// Primary: send each live standby the flushed WAL it lacks.
    fn stream(&mut self, now: Duration) {
        let timeout = self.ctx.config.wal_sender_timeout;
        let disk = self.ctx.disk.borrow();
        let end = disk.lsn();
        let mut out = Vec::new();
        for (name, s) in self.repl.standbys.iter_mut() {
            // A standby on an older timeline learns the new one (and where it began) even
            // when it has nothing to receive: it may have to rewind.
            let behind_timeline = s.timeline < disk.timeline;
            if now >= s.heard + timeout || (s.flush >= end && !behind_timeline) {
                continue;
            }
            let stalled = now >= s.progress_at + RESEND_AFTER;
            let mut from = if stalled {
                s.progress_at = now;
                s.flush
            } else if s.sent < end {
                s.sent
            } else {
                continue;
            };
            if behind_timeline {
                let switch = disk
                    .history
                    .iter()
                    .filter(|(t, _)| *t > s.timeline)
                    .map(|(_, at)| *at)
                    .min()
                    .unwrap_or(end);
                from = from.min(switch);
            }
            let records: Vec<WalRecord> = disk
                .wal
                .iter()
                .filter(|r| r.lsn > from)
                .take(BATCH)
                .cloned()
                .collect();
            s.sent = records.last().map_or(from, |r| r.lsn).max(s.sent);
            let message = Replication::Wal {
                timeline: disk.timeline,
                history: disk.history.clone(),
                from,
                records,
            };
            out.push((name.clone(), message));
        }
        drop(disk);
        for (name, message) in out {
            self.send_replication(&name, &message);
        }
    }

    /// Primary: the position the synchronous standbys confirmed at the commit level, and the
    /// commits it releases.
    fn release_confirmed(&mut self) {
        let config = &self.ctx.config;
        let names = &config.synchronous_standby_names;
        if names.names.is_empty() || config.synchronous_commit < SyncCommit::RemoteWrite {
            return;
        }
        let now = self.now();
        let level = config.synchronous_commit;
        let live: Vec<Lsn> = names
            .names
            .iter()
            .filter_map(|n| self.repl.standbys.get(n))
            .filter(|s| now < s.heard + config.wal_sender_timeout)
            .map(|s| match level {
                SyncCommit::RemoteWrite => s.write,
                SyncCommit::RemoteApply => s.apply,
                _ => s.flush,
            })
            .collect();
        if live.len() < names.num {
            return; // too few synchronous standbys: commits wait
        }
        let confirmed = if names.any {
            let mut sorted = live;
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            sorted[names.num - 1]
        } else {
            live[..names.num].iter().copied().min().unwrap_or_default()
        };
        let answers = self.engine.release_commits(confirmed, now);
        self.deliver(answers);
    }

    /// Standby: WAL from the upstream. A newer timeline that began before this server's end
    /// makes it rewind first.
    fn receive_wal(
        &mut self,
        timeline: u32,
        history: Vec<(u32, Lsn)>,
        from: Lsn,
        records: Vec<WalRecord>,
        now: Duration,
    ) {
        if !self.is_standby() {
            return;
        }
        let (mine, end) = {
            let disk = self.ctx.disk.borrow();
            (disk.timeline, disk.lsn())
        };
        if timeline < mine {
            return; // a primary that was replaced
        }
        if timeline > mine {
            let switch = history
                .iter()
                .filter(|(t, _)| *t > mine)
                .map(|(_, at)| *at)
                .min()
                .unwrap_or(Lsn::MAX);
            if end > switch {
                self.rewind(switch);
            }
            let mut disk = self.ctx.disk.borrow_mut();
            disk.timeline = timeline;
            disk.history = history;
        }
        let end = self.ctx.disk.borrow().lsn();
        if from <= end {
            let delay = self.ctx.config.recovery_min_apply_delay;
            let mut disk = self.ctx.disk.borrow_mut();
            for record in records.into_iter().filter(|r| r.lsn > end) {
                disk.wal.push(record.clone());
                self.repl.to_apply.push_back((now + delay, record));
            }
        }
        self.apply_due(now);
        self.report();
    }

    /// Standby: apply the records whose delay is over.
    fn apply_due(&mut self, now: Duration) {
        while self
            .repl
            .to_apply
            .front()
            .is_some_and(|(due, _)| *due <= now)
        {
            let (_, record) = self.repl.to_apply.pop_front().expect("just checked");
            self.engine.apply(&record);
        }
    }

    /// Standby: tell the upstream how far this server got.
    fn report(&mut self) {
        let (upstream, timeline, flush) = {
            let disk = self.ctx.disk.borrow();
            let Some(upstream) = disk.standby_of.clone().filter(|u| !u.is_empty()) else {
                return;
            };
            (upstream, disk.timeline, disk.lsn())
        };
        self.repl.reported_at = self.now();
        let message = Replication::Feedback {
            name: self.ctx.name.clone(),
            timeline,
            write: flush,
            flush,
            apply: self.engine.lsn().min(flush),
        };
        self.send_replication(&upstream, &message);
    }

    /// To server `to`'s replication port (walsender and walreceiver address each other by
    /// name).
    fn send_replication(&self, to: &str, message: &Replication) {
        let bytes = encode(message);
        for _ in 0..self.ctx.links.copies(&self.ctx.name, to) {
            let _ = self.repl.socket.try_send_to(&bytes, (to, REPLICATION_PORT));
        }
    }

    /// Drop the WAL past `switch` (it never reached the new timeline) and redo the rest: what
    /// `pg_rewind` leaves. The dropped commits are lost; the history says how many.
    fn rewind(&mut self, switch: Lsn) {
        let (lost, from) = {
            let mut disk = self.ctx.disk.borrow_mut();
            let from = disk.lsn();
            let keep = disk.wal.iter().take_while(|r| r.lsn <= switch).count();
            let lost = disk.wal.len() - keep;
            disk.wal.truncate(keep);
            (lost, from)
        };
        self.repl.to_apply.clear();
        self.engine = recovered_engine(&self.ctx);
        self.ctx.history.event(
            ClusterEvent::PgRewound {
                server: self.ctx.name.clone(),
                lost_commits: lost as u64,
                from_lsn: from,
                to_lsn: switch,
            },
            sim_now(),
        );
    }

    /// Requests from the failover manager.
    pub(super) fn take_control(&mut self) {
        let requests = std::mem::take(&mut *self.ctx.control.borrow_mut());
        for request in requests {
            match request {
                Control::Promote => self.promote(),
                Control::Follow(upstream) => self.follow(upstream),
                Control::Demote if !self.is_standby() => self.follow(String::new()),
                Control::Demote => {}
            }
        }
    }

    /// `pg_ctl promote`: replay what was received, start a new timeline, take writes.
    fn promote(&mut self) {
        if !self.is_standby() {
            return;
        }
        while let Some((_, record)) = self.repl.to_apply.pop_front() {
            self.engine.apply(&record);
        }
        let (timeline, lsn) = {
            let mut disk = self.ctx.disk.borrow_mut();
            let lsn = disk.lsn();
            disk.timeline += 1;
            let timeline = disk.timeline;
            disk.history.push((timeline, lsn));
            disk.standby_of = None;
            (timeline, lsn)
        };
        self.repl.standbys.clear();
        self.role_changed();
        self.ctx.history.event(
            ClusterEvent::PgPromoted {
                server: self.ctx.name.clone(),
                timeline,
                lsn,
            },
            sim_now(),
        );
    }

    /// Stream from `upstream` (none yet: empty). A primary restarts as a standby: every session
    /// ends, and what it had in memory (transactions, advisory locks) is gone.
    fn follow(&mut self, upstream: String) {
        let was_primary = !self.is_standby();
        self.ctx.disk.borrow_mut().standby_of = Some(upstream.clone());
        if was_primary {
            self.terminate_all(PgError::admin_shutdown());
            self.engine = recovered_engine(&self.ctx);
            self.repl.standbys.clear();
            self.ctx.history.event(
                ClusterEvent::PgDemoted {
                    server: self.ctx.name.clone(),
                    upstream,
                },
                sim_now(),
            );
        }
        self.role_changed();
        self.report();
    }

    /// After a start or a role change: commits wait for standbys only on a primary with
    /// synchronous standbys named.
    pub(super) fn role_changed(&mut self) {
        let config = &self.ctx.config;
        let wait = !self.is_standby()
            && !config.synchronous_standby_names.names.is_empty()
            && config.synchronous_commit >= SyncCommit::RemoteWrite;
        self.engine.set_commit_wait(wait);
    }
}
