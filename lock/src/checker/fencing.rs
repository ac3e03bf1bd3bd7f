//! `Fencing`: the writes the resource accepted carry strictly increasing tokens.
//!
//! One exception: the same client writing again with the same token. etcd's `Mutex.Lock`
//! reuses the session's key when it still exists ("reuse key in case this session already holds
//! the lock"), so after an `Unlock` whose answer never came the next `Lock` is granted with the
//! same create revision: the same grant continued, nobody else held the lock in between.
//!
//! Does not verify: reads, whether the increments were right (`LostUpdate` does), or writes
//! without a token (token 0, [`crate::FencingToken::NONE`]: a lock without tokens cannot be
//! fenced, and only `LostUpdate` can judge what it let through).

use super::{Checker, Timeline, Violation, ViolationKind};

/// Checker: the writes the resource accepted carry strictly increasing fencing tokens,
/// reported as [`ViolationKind::Fencing`] (the earlier write's client and token first).
///
/// The same client writing again with the same token passes: etcd's `Mutex.Lock` reuses the
/// session's key, so that is the same grant continued. Writes without a token (0,
/// [`crate::FencingToken::NONE`]) are not judged, nor are reads or the increments
/// ([`super::LostUpdate`] does those). Not to be confused with [`crate::Fencing`], the
/// resource's fencing mode.
pub struct Fencing;

impl Checker for Fencing {
    fn name(&self) -> &'static str {
        "fencing"
    }

    fn check(&self, timeline: &Timeline) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut last: Option<(String, i64, u64)> = None;
        for w in timeline
            .accesses()
            .into_iter()
            .filter(|a| a.write && a.accepted && a.token != crate::FencingToken::NONE.0)
        {
            if let Some((client, token, at)) = &last {
                if w.token < *token || (w.token == *token && w.client != *client) {
                    out.push(Violation {
                        kind: ViolationKind::Fencing,
                        clients: vec![client.clone(), w.client.clone()],
                        tokens: vec![*token, w.token],
                        from_ms: *at,
                        to_ms: w.at_ms,
                        faults: timeline.faults_during(*at, w.at_ms),
                        detail: format!(
                            "write by {} with token {} accepted at {} ms after a write by {} with token {} at {} ms",
                            w.client, w.token, w.at_ms, client, token, at
                        ),
                    });
                }
            }
            last = Some((w.client.clone(), w.token, w.at_ms));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn stale_token_accepted_is_flagged() {
        let v = Fencing.check(&Timeline::from_records(&paused_holder()));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].clients, vec!["c2", "c1"]);
        assert_eq!(v[0].tokens, vec![9, 5]);
        assert_eq!(v[0].faults, vec!["pause c1".to_string()]);
    }

    #[test]
    fn increasing_tokens_and_rejected_stale_writes_pass() {
        assert!(Fencing
            .check(&Timeline::from_records(&sequential()))
            .is_empty());
        // The same grant continued (same client, same token) is not a regression...
        let again = [
            write(100, "c1", 5, 0, 1, true),
            write(200, "c1", 5, 1, 2, true),
        ];
        assert!(Fencing.check(&Timeline::from_records(&again)).is_empty());
        // ...but another client with an equal token is.
        let shared = [
            write(100, "c1", 5, 0, 1, true),
            write(200, "c2", 5, 1, 2, true),
        ];
        assert_eq!(Fencing.check(&Timeline::from_records(&shared)).len(), 1);
        let mut records = paused_holder();
        // With fencing on the resource refused c1's write.
        records[8] = write(6010, "c1", 5, 1, 1, false);
        assert!(Fencing.check(&Timeline::from_records(&records)).is_empty());
    }

    #[test]
    fn writes_without_a_token_are_not_judged() {
        // A lock without tokens (Guard::new(key, None)): every access carries token 0, and the
        // fencing checker has nothing to compare — the lost-update checker judges them.
        let tokenless = [
            write(100, "c1", 0, 0, 1, true),
            write(200, "c2", 0, 1, 2, true),
            write(300, "c1", 0, 2, 3, true),
        ];
        assert!(Fencing
            .check(&Timeline::from_records(&tokenless))
            .is_empty());
    }
}
