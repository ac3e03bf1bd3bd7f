//! `Lessor`: the lease table of one member, with etcd 3.4's `lease/lessor.go` semantics.
//!
//! Every member applies the same committed `LeaseGrant`/`LeaseRevoke` entries, so the *set* of
//! leases (id, granted TTL) is replicated state and travels in the Raft snapshot. Expiry times are
//! not: they are local, volatile state that only the leader (the *primary* lessor) keeps finite.
//! A follower holds every lease "forever" and never revokes anything, because its clock is not
//! trusted and two members revoking independently would race. On leader change the new leader
//! [`promote`](Lessor::promote)s: every lease gets a fresh full TTL plus an election timeout, so a
//! failover *lengthens* every hold. That is etcd's behaviour, and the simulator shows it.
//!
//! Time is always passed in as `now`, the simulated time since the start of the run: this module
//! never reads a clock (no `Instant::now`), so a run is a pure function of its seed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::etcd::error::{Error, Result};
use crate::etcd::request::{LeaseId, MemberId, NO_LEASE};

/// etcd's `MaxLeaseTTL` (about 285 years, in seconds). A grant above it is refused with
/// [`Error::LeaseTtlTooLarge`]; measured on etcd 3.4.23: `lease grant 9000000000` succeeds,
/// `lease grant 9000000001` fails with "etcdserver: too large lease TTL".
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// etcd's `leaseRevokeRate`: at most this many leases are revoked per second. The revoke loop
/// runs every 500 ms and asks for `LEASE_REVOKE_RATE / 2` expired leases per pass (pass that as
/// `limit` to [`Lessor::expired`]); [`Lessor::promote`] spreads expiries so that piled-up leases
/// stay under three quarters of this rate.
pub const LEASE_REVOKE_RATE: usize = 1000;

/// etcd's `expiredLeaseRetryInterval`: after proposing the revoke of an expired lease, the leader
/// waits this long before proposing it again. [`Lessor::expired`] is a pure query and keeps
/// reporting a lease until its revoke is applied, so the caller keeps the in-flight set and
/// applies this interval (rejected alternative: a `&mut self` query that hides the retry timer in
/// replicated state, where it does not belong).
pub const EXPIRED_LEASE_RETRY_INTERVAL: Duration = Duration::from_secs(3);

/// What etcd's `Lease.Remaining()` turns into for a lease that never expires
/// (`time.Duration(math.MaxInt64)`, truncated to whole seconds).
const FOREVER_SECS: i64 = i64::MAX / 1_000_000_000;

/// etcd's `minLeaseTTL`: `(3 * election_ticks) / 2` heartbeats, rounded up to whole seconds, so
/// that a lease cannot expire during a leader election (etcdserver `NewServer`). With etcd's
/// defaults (10 ticks of 100 ms) this is 2 s: measured on etcd 3.4.23, `lease grant 1` answers
/// `TTL: 2`.
pub fn min_lease_ttl(election_ticks: usize, tick: Duration) -> i64 {
    let min = tick * ((3 * election_ticks) / 2) as u32;
    let secs = min.as_secs() as i64;
    if min.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// One lease. Its keys are not tracked here: every key in the MVCC store carries its lease id, and
/// the revoke deletes them there (rejected alternative: etcd's `itemSet`, a second copy of the
/// same relation that could disagree with the store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Lease {
    /// Granted TTL in seconds, after raising to the minimum.
    ///
    /// Invariant: `min_ttl <= ttl <= MAX_LEASE_TTL`. Checked: `Lessor::check_invariants`.
    ttl: i64,
    /// When the lease expires, in simulated time; `None` = never ("forever" in etcd).
    ///
    /// Invariant: `Some` exactly when the lessor is primary. Why: only the leader's clock decides
    /// expiry. Not serialized: a snapshot carries replicated state only, and an expiry measured
    /// on another member's clock means nothing here. Checked: `Lessor::check_invariants`.
    #[serde(skip)]
    expiry: Option<Duration>,
}

impl Lease {
    /// etcd's `Lease.refresh(extend)`: expire `extend + ttl` from now. (Without lease
    /// checkpointing, off by default in 3.4, the remaining TTL is always the full TTL.)
    fn refresh(&mut self, now: Duration, extend: Duration) {
        self.expiry = Some(now + extend + Duration::from_secs(self.ttl as u64));
    }

    fn is_expired(&self, now: Duration) -> bool {
        self.expiry.is_some_and(|e| e <= now)
    }
}

/// The lease table of one member; see the module docs.
///
/// `Clone + Serialize` because it is part of the state machine that goes into a Raft snapshot.
/// A deserialized `Lessor` is a non-primary one (every lease lasts forever): a member that
/// restores a snapshot and is, or becomes, leader must call [`promote`](Lessor::promote).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lessor {
    /// Grants below this many seconds are raised to it. Invariant: `>= 1`.
    min_ttl: i64,
    /// By id, so iteration (and so everything derived from it) is deterministic.
    ///
    /// Invariant: no key is `NO_LEASE`. Why: 0 means "no lease" on every key.
    leases: BTreeMap<LeaseId, Lease>,
    /// True while this member is the Raft leader (between `promote` and `demote`).
    ///
    /// Invariant: a non-primary lessor reports no expired lease, so a follower never proposes a
    /// revoke. Why: follower clocks are untrusted. Checked: `check_invariants` (all expiries are
    /// `None`); proptest `lease::tests::follower_never_expires`.
    #[serde(skip)]
    primary: bool,
}

impl Lessor {
    /// A lessor with no leases, not primary.
    ///
    /// `min_ttl_secs` = etcd's `minLeaseTTL`, ceil(1.5 × election timeout) in seconds; see
    /// [`min_lease_ttl`].
    ///
    /// # Panics
    ///
    /// If `min_ttl_secs < 1` (a harness configuration bug).
    pub fn new(min_ttl_secs: i64) -> Self {
        assert!(
            min_ttl_secs >= 1,
            "min lease TTL must be at least 1 s, got {min_ttl_secs}"
        );
        Lessor {
            min_ttl: min_ttl_secs,
            leases: BTreeMap::new(),
            primary: false,
        }
    }

    /// Applies a committed `LeaseGrant` (on every member). Returns the id and the granted TTL.
    ///
    /// As etcd's `lessor.Grant`, in this order: `id == NO_LEASE` is [`Error::LeaseNotFound`];
    /// `ttl > MAX_LEASE_TTL` is [`Error::LeaseTtlTooLarge`]; a taken id is
    /// [`Error::LeaseExists`]; a TTL below the minimum (including 0 and negative ones) is raised
    /// to the minimum silently, and the response carries the raised TTL. On the primary the lease
    /// expires at `now + ttl`; elsewhere it lasts until a promotion.
    pub fn grant(&mut self, id: LeaseId, ttl: i64, now: Duration) -> Result<(LeaseId, i64)> {
        if id == NO_LEASE {
            return Err(Error::LeaseNotFound);
        }
        if ttl > MAX_LEASE_TTL {
            return Err(Error::LeaseTtlTooLarge);
        }
        if self.leases.contains_key(&id) {
            return Err(Error::LeaseExists);
        }
        let mut lease = Lease {
            ttl: ttl.max(self.min_ttl),
            expiry: None,
        };
        if self.primary {
            lease.refresh(now, Duration::ZERO);
        }
        let ttl = lease.ttl;
        self.leases.insert(id, lease);
        Ok((id, ttl))
    }

    /// Applies a committed `LeaseRevoke` (on every member): forgets the lease.
    ///
    /// [`Error::LeaseNotFound`] if absent (measured on etcd 3.4.23: revoking twice answers
    /// "etcdserver: requested lease not found" the second time). The caller deletes the attached
    /// keys in the MVCC store, in the same revision.
    pub fn revoke(&mut self, id: LeaseId) -> Result<()> {
        self.leases
            .remove(&id)
            .map(|_| ())
            .ok_or(Error::LeaseNotFound)
    }

    /// KeepAlive, served by the leader without going through Raft: the lease now expires at
    /// `now + ttl`. Returns the granted TTL (what etcd's keepalive response carries).
    ///
    /// [`Error::NotLeader`] when not primary (the caller fills in the leader if it knows it);
    /// [`Error::LeaseNotFound`] when absent *or already expired*. Simplification: etcd's `Renew`
    /// on an expired lease blocks until its revoke is applied (then `LeaseNotFound`) or the member
    /// is demoted (then "not primary", and the client retries elsewhere). Answering
    /// `LeaseNotFound` at once is the outcome of the common case, without a waiting queue; a
    /// client that would have been told "not primary" learns the same thing from its next renew.
    pub fn renew(&mut self, id: LeaseId, now: Duration) -> Result<i64> {
        if !self.primary {
            return Err(Error::NotLeader { leader: None });
        }
        let lease = self.leases.get_mut(&id).ok_or(Error::LeaseNotFound)?;
        if lease.is_expired(now) {
            return Err(Error::LeaseNotFound);
        }
        lease.refresh(now, Duration::ZERO);
        Ok(lease.ttl)
    }

    /// Becoming leader (etcd `Promote(extend)`, where etcd passes the election timeout as
    /// `extend`): every lease expires at `now + extend + ttl`.
    ///
    /// Why the full TTL: without lease checkpointing (off by default in 3.4) the new leader does
    /// not know how much of a lease was left, so it restarts every lease. Why `extend`: clients
    /// need time to find the new leader before their leases can expire.
    ///
    /// Like etcd, when there are at least [`LEASE_REVOKE_RATE`] leases the expiries are spread so
    /// that at most 3/4 of the revoke rate falls due in any one-second window: otherwise every
    /// lease granted with the same TTL would expire in the same instant after the failover and
    /// the revoke loop would fall behind. etcd sorts by remaining time with an unstable sort;
    /// here ties are broken by id, so the spreading is deterministic.
    pub fn promote(&mut self, now: Duration, extend: Duration) {
        self.primary = true;
        for lease in self.leases.values_mut() {
            lease.refresh(now, extend);
        }
        if self.leases.len() < LEASE_REVOKE_RATE {
            // No possibility of a pile-up.
            return;
        }
        let remaining = |l: &Lease| l.expiry.expect("primary") - now;
        let mut order: Vec<(Duration, LeaseId)> = self
            .leases
            .iter()
            .map(|(&id, l)| (remaining(l), id))
            .collect();
        order.sort();
        let target_per_sec = (3 * LEASE_REVOKE_RATE) / 4;
        let mut base_window = order[0].0;
        let mut next_window = base_window + Duration::from_secs(1);
        let mut expires = 0usize;
        for (remaining, id) in order {
            if remaining > next_window {
                base_window = remaining;
                next_window = base_window + Duration::from_secs(1);
                expires = 1;
                continue;
            }
            expires += 1;
            if expires <= target_per_sec {
                continue;
            }
            // If leases are extended by n seconds, leases n seconds ahead of the base window are
            // extended by only one second (etcd's comment). Computed in nanoseconds as etcd's
            // float64 arithmetic. It is always positive (at least 1/750 s: the previous delay, or
            // the 1 s window, bounds `remaining - base_window`); the clamp only guards the cast.
            let rate_delay = 1e9 * (expires as f64 / target_per_sec as f64)
                - (remaining - base_window).as_nanos() as f64;
            let delay = Duration::from_nanos(rate_delay.max(0.0) as u64);
            next_window = base_window + delay;
            self.leases
                .get_mut(&id)
                .expect("listed above")
                .refresh(now, delay + extend);
        }
    }

    /// Losing leadership (etcd `Demote`): every lease lasts forever until the next promotion.
    pub fn demote(&mut self) {
        self.primary = false;
        for lease in self.leases.values_mut() {
            lease.expiry = None;
        }
    }

    /// True between [`promote`](Lessor::promote) and [`demote`](Lessor::demote).
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// The leases whose expiry is `<= now`, earliest expiry first (ties by id), at most `limit`
    /// (etcd revokes a bounded number per pass: `LEASE_REVOKE_RATE / 2` every 500 ms).
    ///
    /// Leader only: a non-primary lessor answers nothing. The caller proposes a `LeaseRevoke` for
    /// each, and must not propose one again within [`EXPIRED_LEASE_RETRY_INTERVAL`].
    pub fn expired(&self, now: Duration, limit: usize) -> Vec<LeaseId> {
        if !self.primary {
            return Vec::new();
        }
        let mut due: Vec<(Duration, LeaseId)> = self
            .leases
            .iter()
            .filter_map(|(&id, l)| l.expiry.filter(|&e| e <= now).map(|e| (e, id)))
            .collect();
        due.sort();
        due.into_iter().take(limit).map(|(_, id)| id).collect()
    }

    /// `(remaining seconds, granted TTL)`, or `None` if there is no such lease (etcd's gRPC layer
    /// then answers `TTL: -1, grantedTTL: 0` rather than an error; measured on etcd 3.4.23).
    ///
    /// Remaining seconds are truncated toward zero, as etcd's `int64(l.Remaining().Seconds())`:
    /// measured on etcd 3.4.23, a lease granted with TTL 10 shows `ttl: 9` a moment later. An
    /// expired lease whose revoke is still in flight shows 0 or a negative number, as in etcd.
    ///
    /// Meaningful on the primary only: etcd forwards `LeaseTimeToLive` to the leader, and so must
    /// the caller. On a non-primary member the remaining time is what etcd's `Remaining()` gives
    /// for a lease that never expires (`math.MaxInt64` ns ≈ 9223372036 s).
    pub fn time_to_live(&self, id: LeaseId, now: Duration) -> Option<(i64, i64)> {
        let lease = self.leases.get(&id)?;
        let remaining = match lease.expiry {
            None => FOREVER_SECS,
            Some(e) => {
                let nanos = e.as_nanos() as i128 - now.as_nanos() as i128;
                // Integer division truncates toward zero, as Go's float-to-int conversion.
                (nanos / 1_000_000_000) as i64
            }
        };
        Some((remaining, lease.ttl))
    }

    /// Every lease id, ascending. (etcd's `LeaseLeases` lists them by remaining time; by id is
    /// deterministic on every member, which is what a simulation needs.)
    pub fn leases(&self) -> Vec<LeaseId> {
        self.leases.keys().copied().collect()
    }

    /// Whether a lease with this id exists (granted and not yet revoked); an expired lease whose
    /// revoke is still in flight is still here.
    pub fn contains(&self, id: LeaseId) -> bool {
        self.leases.contains_key(&id)
    }

    /// Asserts the invariants written on the fields.
    ///
    /// # Panics
    ///
    /// On a broken invariant: a bug in this module or its caller.
    pub fn check_invariants(&self) {
        assert!(self.min_ttl >= 1, "min lease TTL {} < 1", self.min_ttl);
        for (&id, lease) in &self.leases {
            assert_ne!(id, NO_LEASE, "lease id 0 (NoLease) in the table");
            assert!(
                (self.min_ttl..=MAX_LEASE_TTL).contains(&lease.ttl),
                "lease {id:x}: ttl {} outside [{}, {MAX_LEASE_TTL}]",
                lease.ttl,
                self.min_ttl
            );
            assert_eq!(
                lease.expiry.is_some(),
                self.primary,
                "lease {id:x}: expiry {:?} but primary = {}",
                lease.expiry,
                self.primary
            );
        }
    }
}

/// Lease ids chosen by the member that receives a `LeaseGrant` with id 0, as etcd's
/// `pkg/idutil.Generator`: the low 16 bits of the member id, then 40 bits of time in
/// milliseconds, then an 8-bit counter, incremented per id (carrying into the time bits).
///
/// Differences from etcd, both deliberate: the time is the simulated `now`, not the wall clock,
/// so ids are deterministic; and etcd shares one generator between request ids and lease ids (so
/// consecutive grants on etcd 3.4.23 got ids 2 apart: `…e405`, `…e407`), while this one makes
/// lease ids only (consecutive ids differ by 1). Like etcd, a member restarted less than
/// `ids / 256` ms later may hand out an id again; the grant then fails with `LeaseExists`.
#[derive(Clone, Debug)]
pub struct LeaseIdGenerator {
    /// `(member & 0xffff) << 48`.
    prefix: u64,
    /// `time_ms << 8`, plus the ids handed out; only its low 48 bits are used.
    suffix: u64,
}

impl LeaseIdGenerator {
    const SUFFIX_BITS: u32 = 48;
    const COUNTER_BITS: u32 = 8;
    const TIME_BITS: u32 = Self::SUFFIX_BITS - Self::COUNTER_BITS;

    /// A generator for `member`, seeded with the simulated time `now`.
    pub fn new(member: MemberId, now: Duration) -> Self {
        let prefix = (member & 0xffff) << Self::SUFFIX_BITS;
        let millis = now.as_millis() as u64 & ((1u64 << Self::TIME_BITS) - 1);
        LeaseIdGenerator {
            prefix,
            suffix: millis << Self::COUNTER_BITS,
        }
    }

    /// The next id: positive and non-zero, as etcd's `LeaseGrant` loop (`for r.ID == NoLease {
    /// r.ID = int64(reqIDGen.Next() & ((1 << 63) - 1)) }`) makes it.
    // Not `Iterator::next`: the sequence never ends, and an `Option` would only add an unwrap
    // at every grant. The name is etcd's `Generator.Next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> LeaseId {
        loop {
            self.suffix = self.suffix.wrapping_add(1);
            let id = self.prefix | (self.suffix & ((1u64 << Self::SUFFIX_BITS) - 1));
            let id = (id & (u64::MAX >> 1)) as LeaseId;
            if id != NO_LEASE {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests;
