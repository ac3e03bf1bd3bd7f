//! `Session`: a lease kept alive by a keepalive loop, and the holder's belief about it
//! (etcd `client/v3/concurrency/session.go` over clientv3's lease keepalive).
//!
//! Two tasks run per session, as in clientv3:
//! * the keepalive loop sends a keepalive every TTL/3 after the last answer (resending after
//!   `keepalive_retry` when none came) and sets the local deadline = answer time + TTL; an answer
//!   with TTL <= 0 (or "lease not found") ends the session at once;
//! * the deadline loop looks every `deadline_check` whether the local deadline passed.
//!
//! Both run on the host's `Clock`: a paused process sends no keepalive and notices nothing until
//! it resumes; a skewed clock moves the deadline. When either notices, the session is lost for
//! good and a `BelievedLost` event is recorded at that moment.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sim::LeaseId;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{LockContext, LockOptions};
use crate::error::{Error, Result};
use crate::event::LockEvent;

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossReason {
    /// A keepalive answer said TTL <= 0 or "lease not found".
    Ttl,
    /// The local deadline (last keepalive answer + TTL) passed on the host's clock.
    Deadline,
}

impl LossReason {
    fn name(self) -> &'static str {
        match self {
            LossReason::Ttl => "ttl",
            LossReason::Deadline => "deadline",
        }
    }
}

struct State {
    lease: LeaseId,
    /// Invariant: goes false → true once, never back. Set only by `LossSignal::fire`.
    lost: watch::Sender<bool>,
}

/// What a holder can ask of its lock: has it noticed the hold is gone? The receiving half of a
/// [`LossSignal`]; a [`crate::Guard`] carries one.
#[derive(Clone)]
pub struct SessionWatch {
    state: Rc<State>,
}

impl std::fmt::Debug for SessionWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWatch")
            .field("lease", &self.state.lease)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl SessionWatch {
    /// Whether the signal has fired: the lock noticed the loss.
    pub fn is_lost(&self) -> bool {
        *self.state.lost.borrow()
    }

    /// Resolves once the signal has fired (at once if it has).
    pub async fn lost(&self) {
        let mut rx = self.state.lost.subscribe();
        let _ = rx.wait_for(|lost| *lost).await;
    }

    /// The lease (or grant id) this watch is about.
    pub fn lease(&self) -> LeaseId {
        self.state.lease
    }
}

/// How a lock says "I noticed I lost it": fire it once (from a keepalive task, a watch on the
/// lock key, a local deadline — whatever the lock has) and every [`SessionWatch`] of it turns
/// lost. The harness records the moment in the history (`believed_lost`) and ends the holder's
/// belief there; the lock records nothing itself. Firing again does nothing.
///
/// Made by [`crate::LockContext::loss_signal`]; cheap to clone.
#[derive(Clone)]
pub struct LossSignal {
    ctx: LockContext,
    state: Rc<State>,
}

impl LossSignal {
    pub(crate) fn new(ctx: &LockContext, lease: LeaseId) -> (LossSignal, SessionWatch) {
        let (lost, _) = watch::channel(false);
        let state = Rc::new(State { lease, lost });
        let watch = SessionWatch {
            state: state.clone(),
        };
        (
            LossSignal {
                ctx: ctx.clone(),
                state,
            },
            watch,
        )
    }

    /// The lock noticed the loss, for `reason` (a word or two: `ttl`, `deadline`, `key deleted`).
    pub fn fire(&self, reason: &str) {
        if self.state.lost.send_replace(true) {
            return;
        }
        LockEvent::BelievedLost {
            lease: self.state.lease,
            reason: reason.to_string(),
        }
        .record(&self.ctx.history, &self.ctx.process);
    }

    /// Whether it has fired.
    pub fn is_fired(&self) -> bool {
        *self.state.lost.borrow()
    }

    /// A watch of this signal (the same as the one it was made with).
    pub fn watch(&self) -> SessionWatch {
        SessionWatch {
            state: self.state.clone(),
        }
    }
}

/// A granted lease with its keepalive loop. Dropping it stops the loop (clientv3 `Orphan`).
pub struct Session {
    ctx: LockContext,
    lease: LeaseId,
    ttl_secs: i64,
    signal: LossSignal,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Session {
    /// Grant a lease of `options.ttl_secs` and start keeping it alive (clientv3 `NewSession`).
    pub async fn grant(ctx: &LockContext, options: &LockOptions) -> Result<Session> {
        let granted = ctx.io(ctx.client.lease_grant(options.ttl_secs)).await?;
        let ttl = Duration::from_secs(granted.ttl.max(1) as u64);
        let (signal, _) = LossSignal::new(ctx, granted.id);
        // Local time after which the lease may be gone; moved on by each keepalive answer.
        let deadline = Rc::new(Cell::new(ctx.clock.now() + ttl));
        let keepalive = tokio::task::spawn_local(keep_alive(
            ctx.clone(),
            signal.clone(),
            deadline.clone(),
            ttl,
            options.clone(),
        ));
        let deadline_loop = tokio::task::spawn_local(watch_deadline(
            ctx.clone(),
            signal.clone(),
            deadline,
            options.deadline_check,
        ));
        Ok(Session {
            ctx: ctx.clone(),
            lease: granted.id,
            ttl_secs: granted.ttl,
            signal,
            tasks: vec![keepalive, deadline_loop],
        })
    }

    /// The granted lease's id.
    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// The TTL the cluster granted (it may raise the one asked for).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// A watch of this session's loss, for a [`crate::Guard`].
    pub fn watch(&self) -> SessionWatch {
        self.signal.watch()
    }

    /// Whether the session noticed its lease is gone (clientv3 `Session.Done()` closed).
    pub fn is_lost(&self) -> bool {
        self.signal.is_fired()
    }

    /// Resolves when the session notices its lease is gone.
    pub async fn lost(&self) {
        self.signal.watch().lost().await
    }

    /// Stop the keepalive loop and revoke the lease (clientv3 `Session.Close`).
    pub async fn close(self) -> Result<()> {
        for task in &self.tasks {
            task.abort();
        }
        let ctx = self.ctx.clone();
        ctx.io(ctx.client.lease_revoke(self.lease))
            .await
            .map(|_| ())
            .map_err(Error::from)
    }
}

async fn keep_alive(
    ctx: LockContext,
    signal: LossSignal,
    deadline: Rc<Cell<Duration>>,
    ttl: Duration,
    options: LockOptions,
) {
    let clock = &ctx.clock;
    let period = |ttl: Duration| options.keepalive_interval.unwrap_or(ttl / 3);
    let mut next = clock.now() + period(ttl);
    loop {
        clock.sleep_until(next).await;
        match ctx
            .io(ctx.client.lease_keep_alive(signal.state.lease))
            .await
        {
            Ok(answer) if answer.ttl > 0 => {
                let ttl = Duration::from_secs(answer.ttl as u64);
                let now = clock.now();
                deadline.set(now + ttl);
                next = now + period(ttl);
            }
            Ok(_) | Err(sim::Error::LeaseNotFound) => {
                signal.fire(LossReason::Ttl.name());
                return;
            }
            Err(_) => next = clock.now() + options.keepalive_retry,
        }
    }
}

async fn watch_deadline(
    ctx: LockContext,
    signal: LossSignal,
    deadline: Rc<Cell<Duration>>,
    every: Duration,
) {
    loop {
        ctx.clock.sleep(every).await;
        if signal.is_fired() {
            return;
        }
        if ctx.clock.now() > deadline.get() {
            signal.fire(LossReason::Deadline.name());
            return;
        }
    }
}

/// A belief with no keepalive: the AP locks (`redis-setnx`, `redlock`) cannot renew, so their
/// holder believes until its own clock passes `deadline` (local time). Returns the watch and
/// the task that marks it lost at the deadline (abort it on release). `id` plays the lease's
/// part in the history: unique per acquisition, so one holder's loss never ends another's.
pub(crate) fn expiring(
    ctx: &LockContext,
    id: LeaseId,
    deadline: Duration,
) -> (SessionWatch, JoinHandle<()>) {
    let (signal, watch) = LossSignal::new(ctx, id);
    let task = {
        let ctx = ctx.clone();
        tokio::task::spawn_local(async move {
            ctx.clock.sleep_until(deadline).await;
            signal.fire(LossReason::Deadline.name());
        })
    };
    (watch, task)
}
