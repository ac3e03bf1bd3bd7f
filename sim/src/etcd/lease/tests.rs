use super::*;
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// etcd's defaults: election timeout 1000 ms = 10 ticks of 100 ms.
fn etcd_default() -> Lessor {
    Lessor::new(min_lease_ttl(10, Duration::from_millis(100)))
}

fn leader_at(now: Duration) -> Lessor {
    let mut l = etcd_default();
    l.promote(now, SEC);
    l
}

#[test]
fn min_ttl_matches_etcd_formula() {
    // (3 * 10) / 2 = 15 ticks of 100 ms = 1.5 s, rounded up.
    assert_eq!(min_lease_ttl(10, Duration::from_millis(100)), 2);
    assert_eq!(min_lease_ttl(20, Duration::from_millis(100)), 3);
    // Integer division first, as etcd: (3 * 5) / 2 = 7 ticks = 0.7 s, rounded up.
    assert_eq!(min_lease_ttl(5, Duration::from_millis(100)), 1);
    assert_eq!(min_lease_ttl(10, Duration::from_millis(200)), 3);
}

#[test]
fn grant_raises_small_ttls_to_the_minimum() {
    // Measured on etcd 3.4.23 (election 1000 ms): `lease grant 1` -> TTL 2,
    // `lease grant 0` -> TTL 2, `lease grant -- -5` -> TTL 2, `lease grant 10` -> TTL 10.
    let mut l = leader_at(Duration::ZERO);
    assert_eq!(l.grant(1, 1, Duration::ZERO), Ok((1, 2)));
    assert_eq!(l.grant(2, 0, Duration::ZERO), Ok((2, 2)));
    assert_eq!(l.grant(3, -5, Duration::ZERO), Ok((3, 2)));
    assert_eq!(l.grant(4, 10, Duration::ZERO), Ok((4, 10)));
    l.check_invariants();
}

#[test]
fn grant_refuses_too_large_ttl_taken_id_and_no_lease() {
    // Measured on etcd 3.4.23: 9000000000 is granted, 9000000001 fails with
    // "etcdserver: too large lease TTL".
    let mut l = etcd_default();
    assert_eq!(
        l.grant(1, MAX_LEASE_TTL, Duration::ZERO),
        Ok((1, MAX_LEASE_TTL))
    );
    let err = l.grant(2, MAX_LEASE_TTL + 1, Duration::ZERO).unwrap_err();
    assert_eq!(err, Error::LeaseTtlTooLarge);
    assert_eq!(err.to_string(), "etcdserver: too large lease TTL");
    let err = l.grant(1, 5, Duration::ZERO).unwrap_err();
    assert_eq!(err, Error::LeaseExists);
    assert_eq!(err.to_string(), "etcdserver: lease already exists");
    assert_eq!(
        l.grant(NO_LEASE, 5, Duration::ZERO),
        Err(Error::LeaseNotFound)
    );
    assert_eq!(l.leases(), vec![1]);
    l.check_invariants();
}

#[test]
fn revoke_twice_is_lease_not_found() {
    // Measured on etcd 3.4.23: the second `lease revoke` prints
    // "Error: failed to revoke lease (etcdserver: requested lease not found)", code NotFound.
    let mut l = leader_at(Duration::ZERO);
    l.grant(7, 10, Duration::ZERO).unwrap();
    assert_eq!(l.revoke(7), Ok(()));
    let err = l.revoke(7).unwrap_err();
    assert_eq!(err.to_string(), "etcdserver: requested lease not found");
    assert_eq!(err.code(), "NotFound");
    assert!(!l.contains(7));
    // And `timetolive` of a revoked lease: etcd answers ttl -1, granted-ttl 0 (not an error).
    assert_eq!(l.time_to_live(7, Duration::ZERO), None);
}

#[test]
fn time_to_live_truncates_remaining_seconds() {
    // Measured on etcd 3.4.23: `lease grant 10`, then at once `timetolive` -> ttl 9,
    // granted-ttl 10; ~1.5 s later -> ttl 8. `lease grant 5` polled every 0.5 s -> 4, 4, 3.
    let mut l = leader_at(Duration::ZERO);
    let t0 = Duration::from_secs(100);
    l.grant(1, 10, t0).unwrap();
    assert_eq!(l.time_to_live(1, t0), Some((10, 10)));
    assert_eq!(l.time_to_live(1, t0 + 20 * MS), Some((9, 10)));
    assert_eq!(l.time_to_live(1, t0 + 1520 * MS), Some((8, 10)));
    l.grant(2, 5, t0).unwrap();
    assert_eq!(l.time_to_live(2, t0 + 20 * MS), Some((4, 5)));
    assert_eq!(l.time_to_live(2, t0 + 520 * MS), Some((4, 5)));
    assert_eq!(l.time_to_live(2, t0 + 1020 * MS), Some((3, 5)));
    // Expired, revoke in flight: 0, then negative, as int64(Remaining().Seconds()).
    assert_eq!(l.time_to_live(2, t0 + 5500 * MS), Some((0, 5)));
    assert_eq!(l.time_to_live(2, t0 + 6500 * MS), Some((-1, 5)));
}

#[test]
fn keep_alive_resets_expiry_and_returns_granted_ttl() {
    // Measured on etcd 3.4.23: `lease keep-alive --once` on a TTL-10 lease with 8 s left
    // -> "keepalived with TTL(10)"; `timetolive` right after -> ttl 9.
    let mut l = leader_at(Duration::ZERO);
    l.grant(1, 10, Duration::ZERO).unwrap();
    let t = Duration::from_millis(2100);
    assert_eq!(l.time_to_live(1, t), Some((7, 10)));
    assert_eq!(l.renew(1, t), Ok(10));
    assert_eq!(l.time_to_live(1, t + 30 * MS), Some((9, 10)));
    assert_eq!(l.expired(t + 10 * SEC - MS, 10), Vec::<LeaseId>::new());
    assert_eq!(l.expired(t + 10 * SEC, 10), vec![1]);
}

#[test]
fn keep_alive_after_expiry_is_lease_not_found() {
    // Measured on etcd 3.4.23: `lease grant 3`, sleep 4 s, `lease keep-alive --once`
    // -> "etcdserver: requested lease not found" (exit 2). There the revoke had already
    // been applied; here it is still in flight and the answer is the same.
    let mut l = leader_at(Duration::ZERO);
    l.grant(1, 3, Duration::ZERO).unwrap();
    assert_eq!(l.renew(1, 3 * SEC), Err(Error::LeaseNotFound));
    assert_eq!(l.renew(99, Duration::ZERO), Err(Error::LeaseNotFound));
    assert!(
        l.contains(1),
        "renew never removes; only a committed revoke does"
    );
}

#[test]
fn follower_never_expires_and_cannot_renew() {
    let mut l = etcd_default();
    l.grant(1, 2, Duration::ZERO).unwrap();
    let much_later = Duration::from_secs(1_000_000);
    assert!(l.expired(much_later, usize::MAX).is_empty());
    assert_eq!(
        l.renew(1, much_later),
        Err(Error::NotLeader { leader: None })
    );
    assert_eq!(l.time_to_live(1, much_later), Some((9_223_372_036, 2)));
    l.check_invariants();
}

#[test]
fn promote_gives_full_ttl_plus_extend() {
    // A lease granted on the old leader with 1 s left gets a whole new TTL plus the
    // election timeout on the new one: failover lengthens holds.
    let mut old = leader_at(Duration::ZERO);
    let mut new = etcd_default();
    old.grant(1, 5, Duration::ZERO).unwrap();
    new.grant(1, 5, Duration::ZERO).unwrap();
    let t = 4 * SEC;
    assert_eq!(old.time_to_live(1, t), Some((1, 5)));
    old.demote();
    assert!(old.expired(Duration::from_secs(100), 10).is_empty());
    new.promote(t, SEC);
    assert_eq!(new.time_to_live(1, t), Some((6, 5)));
    assert!(new.expired(t + 6 * SEC - MS, 10).is_empty());
    assert_eq!(new.expired(t + 6 * SEC, 10), vec![1]);
    old.check_invariants();
    new.check_invariants();
}

#[test]
fn promote_spreads_a_pile_up() {
    let mut l = etcd_default();
    for id in 1..=2000 {
        l.grant(id, 10, Duration::ZERO).unwrap();
    }
    let now = Duration::from_secs(50);
    l.promote(now, SEC);
    l.check_invariants();
    // The first 750 keep now + 11 s; the rest are pushed later, never earlier.
    let at_11 = l.expired(now + 11 * SEC, usize::MAX);
    assert_eq!(at_11.len(), 750);
    assert_eq!(at_11, (1..=750).collect::<Vec<_>>(), "ties broken by id");
    // No one-second window holds more than 750 expiries.
    for start_ms in (11_000..20_000).step_by(100) {
        let start = now + Duration::from_millis(start_ms);
        let n = l.expired(start + SEC, usize::MAX).len() - l.expired(start, usize::MAX).len();
        assert!(n <= 751, "{n} expiries in the second after {start_ms} ms");
    }
    assert_eq!(l.expired(now + 20 * SEC, usize::MAX).len(), 2000);
    // Under the threshold, no spreading.
    let mut small = etcd_default();
    for id in 1..1000 {
        small.grant(id, 10, Duration::ZERO).unwrap();
    }
    small.promote(now, SEC);
    assert_eq!(small.expired(now + 11 * SEC, usize::MAX).len(), 999);
}

#[test]
fn expired_is_bounded_and_oldest_first() {
    let mut l = leader_at(Duration::ZERO);
    l.grant(5, 3, Duration::ZERO).unwrap();
    l.grant(3, 4, Duration::ZERO).unwrap();
    l.grant(9, 3, Duration::ZERO).unwrap();
    l.grant(1, 30, Duration::ZERO).unwrap();
    let t = 10 * SEC;
    assert_eq!(l.expired(t, 10), vec![5, 9, 3]);
    assert_eq!(l.expired(t, 2), vec![5, 9]);
    assert_eq!(l.expired(t, 0), Vec::<LeaseId>::new());
}

#[test]
fn snapshot_round_trip_keeps_leases_but_not_expiries() {
    let mut l = leader_at(Duration::ZERO);
    l.grant(1, 5, Duration::ZERO).unwrap();
    l.grant(2, 50, Duration::ZERO).unwrap();
    let bytes = bincode::serialize(&l).unwrap();
    let mut restored: Lessor = bincode::deserialize(&bytes).unwrap();
    restored.check_invariants();
    assert!(!restored.is_primary());
    assert_eq!(restored.leases(), vec![1, 2]);
    assert_eq!(
        restored.time_to_live(2, Duration::ZERO),
        Some((FOREVER_SECS, 50))
    );
    restored.promote(10 * SEC, SEC);
    assert_eq!(restored.time_to_live(1, 10 * SEC), Some((6, 5)));
}

#[test]
fn id_generator_layout_matches_etcd() {
    // Measured on etcd 3.4.23: member 61f97220ab052a12 granted 2a12a205c8cde405: the low 16
    // bits of the member id, then time and counter.
    let mut g = LeaseIdGenerator::new(0x61f9_7220_ab05_2a12, Duration::from_millis(3));
    let a = g.next();
    let b = g.next();
    assert_eq!(a >> 48, 0x2a12);
    assert_eq!(a, 0x2a12_0000_0000_0301);
    assert_eq!(b, a + 1);
    // Member ids 1..n: small positive ids, distinct per member.
    let mut g1 = LeaseIdGenerator::new(1, Duration::ZERO);
    assert_eq!(g1.next(), 0x0001_0000_0000_0001);
    // A prefix with the top bit set is masked to a positive id.
    let mut g2 = LeaseIdGenerator::new(0xffff, Duration::ZERO);
    assert_eq!(g2.next(), 0x7fff_0000_0000_0001);
    // Same member, same time: same ids (deterministic).
    let mut g3 = LeaseIdGenerator::new(0x2a12, Duration::from_millis(3));
    assert_eq!(g3.next(), a);
}

#[test]
fn id_generator_never_yields_zero() {
    // Member 0 at time 0 wraps the suffix back to 0 after 2^48 ids; start just below it.
    let mut g = LeaseIdGenerator {
        prefix: 0,
        suffix: (1 << 48) - 2,
    };
    assert_eq!(g.next(), (1 << 48) - 1);
    assert_eq!(g.next(), 1, "0 is skipped");
}

#[derive(Clone, Debug)]
enum Op {
    Grant { id: LeaseId, ttl: i64 },
    Renew { id: LeaseId },
    Revoke { id: LeaseId },
    Promote { extend_ms: u64 },
    Demote,
    Advance { ms: u64 },
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1i64..12, -3i64..12).prop_map(|(id, ttl)| Op::Grant { id, ttl }),
        4 => (1i64..12).prop_map(|id| Op::Renew { id }),
        2 => (1i64..12).prop_map(|id| Op::Revoke { id }),
        1 => (0u64..3000).prop_map(|extend_ms| Op::Promote { extend_ms }),
        1 => Just(Op::Demote),
        4 => (0u64..4000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Snapshot),
    ]
}

proptest! {
    /// Against a model (id -> granted TTL), with time moving forward.
    #[test]
    fn follower_never_expires(ops in proptest::collection::vec(op(), 1..80)) {
        let min_ttl = 2;
        let mut l = Lessor::new(min_ttl);
        let mut model: BTreeMap<LeaseId, i64> = BTreeMap::new();
        let mut now = Duration::ZERO;
        for op in ops {
            l.check_invariants();
            match op {
                Op::Grant { id, ttl } => {
                    let r = l.grant(id, ttl, now);
                    if let std::collections::btree_map::Entry::Vacant(e) = model.entry(id) {
                        let ttl = ttl.max(min_ttl);
                        prop_assert_eq!(r, Ok((id, ttl)));
                        e.insert(ttl);
                        if l.is_primary() {
                            prop_assert_eq!(l.time_to_live(id, now), Some((ttl, ttl)));
                        }
                    } else {
                        prop_assert_eq!(r, Err(Error::LeaseExists));
                    }
                }
                Op::Renew { id } => {
                    let expired = l.expired(now, usize::MAX).contains(&id);
                    match l.renew(id, now) {
                        Ok(ttl) => {
                            prop_assert!(l.is_primary() && !expired);
                            prop_assert_eq!(Some(&ttl), model.get(&id));
                            prop_assert_eq!(l.time_to_live(id, now), Some((ttl, ttl)));
                        }
                        Err(Error::NotLeader { leader: None }) => prop_assert!(!l.is_primary()),
                        Err(Error::LeaseNotFound) => {
                            prop_assert!(!model.contains_key(&id) || expired)
                        }
                        Err(e) => prop_assert!(false, "unexpected {e:?}"),
                    }
                }
                Op::Revoke { id } => {
                    let r = l.revoke(id);
                    prop_assert_eq!(r.is_ok(), model.remove(&id).is_some());
                }
                Op::Promote { extend_ms } => {
                    let extend = Duration::from_millis(extend_ms);
                    l.promote(now, extend);
                    // Nothing expires before now + extend (indeed before + min TTL).
                    let soon = now + extend + Duration::from_secs(min_ttl as u64) - MS;
                    prop_assert!(l.expired(soon, usize::MAX).is_empty());
                    for (&id, &ttl) in &model {
                        let (remaining, granted) = l.time_to_live(id, now).unwrap();
                        prop_assert_eq!(granted, ttl);
                        prop_assert_eq!(remaining, ttl + extend_ms as i64 / 1000);
                    }
                }
                Op::Demote => l.demote(),
                Op::Advance { ms } => now += Duration::from_millis(ms),
                Op::Snapshot => {
                    let bytes = bincode::serialize(&l).unwrap();
                    let restored: Lessor = bincode::deserialize(&bytes).unwrap();
                    restored.check_invariants();
                    prop_assert!(!restored.is_primary());
                    prop_assert_eq!(restored.leases(), l.leases());
                }
            }
            l.check_invariants();
            prop_assert_eq!(l.leases(), model.keys().copied().collect::<Vec<_>>());
            let expired = l.expired(now, usize::MAX);
            if !l.is_primary() {
                prop_assert!(expired.is_empty(), "a follower reported {expired:?}");
            }
            for &id in &expired {
                let (remaining, _) = l.time_to_live(id, now).unwrap();
                prop_assert!(remaining <= 0);
            }
            prop_assert_eq!(l.expired(now, 1).len(), expired.len().min(1));
        }
    }
}
