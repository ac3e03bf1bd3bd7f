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
    /// Invariant: goes false → true once, never back. Set only by `mark_lost`.
    lost: watch::Sender<bool>,
    /// Local time after which the lease may be gone.
    deadline: Cell<Duration>,
}

/// What a holder can ask of its session: has it noticed the lease is gone?
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
    pub fn is_lost(&self) -> bool {
        *self.state.lost.borrow()
    }

    pub async fn lost(&self) {
        let mut rx = self.state.lost.subscribe();
        let _ = rx.wait_for(|lost| *lost).await;
    }
}

/// A granted lease with its keepalive loop. Dropping it stops the loop (clientv3 `Orphan`).
pub struct Session {
    ctx: LockContext,
    lease: LeaseId,
    ttl_secs: i64,
    watch: SessionWatch,
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
        let (lost, _) = watch::channel(false);
        let state = Rc::new(State {
            lease: granted.id,
            lost,
            deadline: Cell::new(ctx.clock.now() + ttl),
        });
        let keepalive =
            tokio::task::spawn_local(keep_alive(ctx.clone(), state.clone(), ttl, options.clone()));
        let deadline = tokio::task::spawn_local(watch_deadline(
            ctx.clone(),
            state.clone(),
            options.deadline_check,
        ));
        Ok(Session {
            ctx: ctx.clone(),
            lease: granted.id,
            ttl_secs: granted.ttl,
            watch: SessionWatch { state },
            tasks: vec![keepalive, deadline],
        })
    }

    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// The TTL the cluster granted (it may raise the one asked for).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn watch(&self) -> SessionWatch {
        self.watch.clone()
    }

    pub fn is_lost(&self) -> bool {
        self.watch.is_lost()
    }

    pub async fn lost(&self) {
        self.watch.lost().await
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

fn mark_lost(ctx: &LockContext, state: &State, reason: LossReason) {
    if state.lost.send_replace(true) {
        return;
    }
    LockEvent::BelievedLost {
        lease: state.lease,
        reason: reason.name().to_string(),
    }
    .record(&ctx.history, &ctx.process);
}

async fn keep_alive(ctx: LockContext, state: Rc<State>, ttl: Duration, options: LockOptions) {
    let clock = &ctx.clock;
    let period = |ttl: Duration| options.keepalive_interval.unwrap_or(ttl / 3);
    let mut next = clock.now() + period(ttl);
    loop {
        clock.sleep_until(next).await;
        match ctx.io(ctx.client.lease_keep_alive(state.lease)).await {
            Ok(answer) if answer.ttl > 0 => {
                let ttl = Duration::from_secs(answer.ttl as u64);
                let now = clock.now();
                state.deadline.set(now + ttl);
                next = now + period(ttl);
            }
            Ok(_) | Err(sim::Error::LeaseNotFound) => {
                mark_lost(&ctx, &state, LossReason::Ttl);
                return;
            }
            Err(_) => next = clock.now() + options.keepalive_retry,
        }
    }
}

async fn watch_deadline(ctx: LockContext, state: Rc<State>, every: Duration) {
    loop {
        ctx.clock.sleep(every).await;
        if *state.lost.borrow() {
            return;
        }
        if ctx.clock.now() > state.deadline.get() {
            mark_lost(&ctx, &state, LossReason::Deadline);
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
    let (lost, _) = watch::channel(false);
    let state = Rc::new(State {
        lease: id,
        lost,
        deadline: Cell::new(deadline),
    });
    let task = {
        let ctx = ctx.clone();
        let state = state.clone();
        tokio::task::spawn_local(async move {
            ctx.clock.sleep_until(state.deadline.get()).await;
            mark_lost(&ctx, &state, LossReason::Deadline);
        })
    };
    (SessionWatch { state }, task)
}
