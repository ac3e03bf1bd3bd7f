//! What every store's story test checks: each file in a store's `scenarios/` folder is
//! bundled, and each bundled story matches its `[expect]` over seeds 0..=20 with liveness
//! judged.

// Each test crate uses the checks it needs.
#![allow(dead_code)]

use locksim::scenario::resolve;

/// `dir`'s scenario files are exactly `bundled`'s names.
pub fn assert_every_file_bundled(dir: &str, bundled: &[(&str, &str)]) {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".toml").map(String::from)
        })
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = bundled.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(on_disk, names, "{dir} and its bundled list differ");
}

/// Every story of `bundled` matches its expectation, and someone acquires after the heal,
/// for seeds 0..=20.
pub fn assert_stories_match(bundled: &[(&str, &str)]) {
    for (name, _) in bundled {
        let scenario = resolve(name).unwrap_or_else(|e| panic!("{e}"));
        assert!(!scenario.description.is_empty());
        for seed in 0..=20 {
            let outcome = locksim::runner::run(&scenario, seed)
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"))
                .outcome;
            assert!(
                outcome.matches,
                "{name} seed {seed}: mutual exclusion {} / resource {} / kv {} {:?}",
                outcome.verdict, outcome.resource, outcome.kv, outcome.kv_detail
            );
            assert!(
                matches!(outcome.liveness, lock::LivenessVerdict::Ok { .. }),
                "{name} seed {seed}: liveness {}",
                outcome.liveness.describe()
            );
        }
    }
}
