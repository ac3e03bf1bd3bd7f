//! `SessionTracker`: the leader's session expiry (ZooKeeper's `SessionTrackerImpl` over its
//! `ExpiryQueue`). Only the leader decides that a session expired; it then proposes the
//! `closeSession` that deletes the session's ephemerals on every server.
//!
//! Facts followed: a session's deadline is `now + timeout` rounded *up* to the next multiple of
//! `tickTime` (`ExpiryQueue.roundToNextInterval`), so it expires between `timeout` and
//! `timeout + tickTime` after it was last heard of; every request or ping of the session's
//! client — on the leader, or relayed by the follower it is connected to — moves the deadline;
//! a new leader gives every open session a full timeout from its own start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::zk::tree::SessionId;

#[derive(Default)]
pub(crate) struct SessionTracker {
    tick: Duration,
    /// Session → (timeout, deadline on the leader's clock).
    sessions: BTreeMap<SessionId, (Duration, Duration)>,
    /// Expired sessions whose `closeSession` was proposed (not proposed again).
    closing: BTreeSet<SessionId>,
}

impl SessionTracker {
    /// A new leader's tracker: every open session gets a full timeout from `now`.
    pub(crate) fn start(
        tick: Duration,
        open: impl IntoIterator<Item = (SessionId, u32)>,
        now: Duration,
    ) -> Self {
        let mut tracker = SessionTracker {
            tick,
            ..Default::default()
        };
        for (session, timeout_ms) in open {
            tracker.add(session, timeout_ms, now);
        }
        tracker
    }

    fn deadline(&self, timeout: Duration, now: Duration) -> Duration {
        let tick = self.tick.as_millis().max(1);
        let at = (now + timeout).as_millis();
        Duration::from_millis(((at / tick + 1) * tick) as u64)
    }

    pub(crate) fn add(&mut self, session: SessionId, timeout_ms: u32, now: Duration) {
        let timeout = Duration::from_millis(timeout_ms as u64);
        let deadline = self.deadline(timeout, now);
        self.sessions.insert(session, (timeout, deadline));
    }

    /// The session was heard from. False when the leader does not know it (expired, closed).
    pub(crate) fn touch(&mut self, session: SessionId, now: Duration) -> bool {
        if self.closing.contains(&session) {
            return false;
        }
        let Some(&(timeout, old)) = self.sessions.get(&session) else {
            return false;
        };
        let deadline = self.deadline(timeout, now);
        if deadline > old {
            self.sessions.insert(session, (timeout, deadline));
        }
        true
    }

    pub(crate) fn is_valid(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session) && !self.closing.contains(&session)
    }

    /// The session closed (its `closeSession` applied).
    pub(crate) fn remove(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        self.closing.remove(&session);
    }

    /// Sessions past their deadline and not yet being closed, in id order; marks them closing.
    pub(crate) fn expire(&mut self, now: Duration) -> Vec<SessionId> {
        let expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(s, (_, deadline))| *deadline <= now && !self.closing.contains(s))
            .map(|(s, _)| *s)
            .collect();
        self.closing.extend(expired.iter().copied());
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_the_tick_and_touches_move_them() {
        let ms = Duration::from_millis;
        let mut t = SessionTracker::start(ms(2000), [(1, 4000)], ms(500));
        // 500 + 4000 = 4500 → 6000.
        assert!(t.expire(ms(5999)).is_empty());
        t.touch(1, ms(3000)); // 7000 → 8000
        assert!(t.expire(ms(7999)).is_empty());
        assert_eq!(t.expire(ms(8000)), vec![1]);
        assert!(t.expire(ms(9000)).is_empty(), "proposed once");
        assert!(!t.is_valid(1));
        assert!(!t.touch(1, ms(9000)));
    }
}
