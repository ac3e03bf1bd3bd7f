//! The explorer's unit tests: strategies, properties, and variants written back as TOML.

use super::*;
use crate::scenario::{parse, resolve, ReadMode};

/// A KV story written back keeps its `[kv]` section and read mode; its `kv = "violated"`
/// claim becomes `any` (a variant need not reproduce the stale read).
#[test]
fn kv_story_toml_round_trips() {
    for name in ["serializable-stale-read", "lease-based-read-pause"] {
        let story = resolve(name).unwrap();
        assert_eq!(story.expect_kv, Expect::Violated);
        let variant = Variant {
            scenario: story.clone(),
            seed: 3,
        };
        let text = variant.to_toml(Property::Safety);
        let back = parse("variant.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, Property::Safety.as_expectations(&story), "{text}");
        assert_eq!(back.kv, story.kv);
        assert_ne!(back.cluster.read_mode, ReadMode::Linearizable);
        assert_eq!(back.expect_kv, Expect::Any);
    }
}

/// Every ZooKeeper and PostgreSQL story written back parses to itself (with the property's
/// expectations): no etcd-only `[cluster]` field, the `[kv]` register's `sync`, the `[pg]` and
/// `[patroni]` settings kept.
#[test]
fn zk_and_pg_stories_round_trip() {
    let stories = crate::scenario::BUNDLED_ZK
        .iter()
        .chain(crate::scenario::BUNDLED_PG);
    for (name, _) in stories {
        let story = resolve(name).unwrap();
        let variant = Variant {
            scenario: story.clone(),
            seed: 3,
        };
        let text = variant.to_toml(Property::Safety);
        assert!(!text.contains("election_timeout"), "{text}");
        let back = parse("variant.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, Property::Safety.as_expectations(&story), "{text}");
        assert_eq!(back.kv, story.kv, "{name}");
        assert_eq!((back.pg, back.patroni), (story.pg, story.patroni), "{name}");
    }
}

#[test]
fn vary_parses_subsets_and_rejects_unknown_parts() {
    assert_eq!("all".parse::<Vary>().unwrap(), Vary::ALL);
    let v: Vary = "faults,seed".parse().unwrap();
    assert!(v.faults && v.seed && !v.workload);
    assert_eq!(v.to_string(), "faults,seed");
    assert!("faults,clients"
        .parse::<Vary>()
        .unwrap_err()
        .contains("allowed"));
    assert!("".parse::<Vary>().is_err());
}

#[test]
fn expect_property_checks_only_the_safety_claims() {
    let safe = resolve("lease-txn-partition-safe").unwrap();
    assert_eq!(Property::Expect.claims(&safe), (true, true));
    let story = resolve("pause-no-fencing").unwrap();
    assert_eq!(Property::Expect.claims(&story), (false, false));
    let fenced = resolve("pause-with-fencing").unwrap();
    assert_eq!(Property::Expect.claims(&fenced), (false, true));
}

/// Every generated variant, written as TOML, parses back through the same path as
/// `locksim run`'s (with the property's expectations): the shrunk file is always runnable.
fn round_trips(variant: &Variant) -> Result<(), TestCaseError> {
    let text = variant.to_toml(Property::Safety);
    let back =
        parse("variant.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    let want = Property::Safety.as_expectations(&variant.scenario);
    prop_assert_eq!(back, want, "{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn variant_toml_round_trips(variant in variants(&resolve("lease-txn-partition-safe").unwrap(), Vary::ALL)) {
        round_trips(&variant)?;
    }

    /// The redis world: nodes, sentinels, `primary`; never an etcd role.
    #[test]
    fn redis_variant_toml_round_trips(variant in variants(&resolve("ap-failover").unwrap(), Vary::ALL)) {
        round_trips(&variant)?;
    }

    /// Redlock's independent masters: no sentinel, no `primary`.
    #[test]
    fn redlock_variant_toml_round_trips(variant in variants(&resolve("redlock-clock-jump").unwrap(), Vary::ALL)) {
        round_trips(&variant)?;
    }
}
