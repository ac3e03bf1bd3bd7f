//! The etcd-client lock kinds' bundled stories (feature `grpc`): every file in
//! `scenarios/grpc/` is bundled, and each matches its `[expect]` over seeds 0..20.

#[cfg(not(feature = "grpc"))]
#[test]
fn grpc_stories_skipped() {
    let line = "skipped: the etcd-client stories need `--features grpc` (etcd-client's build runs \
                protoc: apt install protobuf-compiler)";
    assert!(std::env::var_os("LOCKSIM_REQUIRE_REAL").is_none(), "{line}");
    // Straight to stderr: the test harness captures println!/eprintln!, and a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(feature = "grpc")]
#[path = "common/stories.rs"]
mod stories;

#[cfg(feature = "grpc")]
mod grpc {
    use locksim::scenario::{resolve, BUNDLED_GRPC};

    #[test]
    fn every_grpc_scenario_file_is_bundled() {
        super::stories::assert_every_file_bundled("scenarios/grpc", BUNDLED_GRPC);
    }

    #[test]
    fn every_grpc_story_matches_its_expectation_over_21_seeds() {
        for (name, _) in BUNDLED_GRPC {
            let scenario = resolve(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!scenario.description.is_empty());
            for seed in 0..=20 {
                let artifacts = locksim::runner::run(&scenario, seed)
                    .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
                let outcome = artifacts.outcome;
                assert!(
                    outcome.matches,
                    "{name} seed {seed}: mutual exclusion {} / resource {} / kv {}",
                    outcome.verdict, outcome.resource, outcome.kv
                );
                assert!(
                    !matches!(outcome.liveness, lock::LivenessVerdict::NotChecked { .. }),
                    "{name} seed {seed}: liveness {}",
                    outcome.liveness.describe()
                );
            }
        }
    }

    /// The gRPC path is as deterministic as the datagram one: one seed, one history.
    #[test]
    fn same_seed_same_digest_through_etcd_client() {
        for (name, _) in BUNDLED_GRPC {
            let scenario = resolve(name).unwrap();
            let digest = |seed| {
                locksim::runner::run(&scenario, seed)
                    .unwrap()
                    .outcome
                    .history_digest
            };
            assert_eq!(digest(5), digest(5), "{name}");
            assert_ne!(digest(5), digest(6), "{name}");
        }
    }
}
