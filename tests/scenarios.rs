//! The bundled scenarios: every file in `scenarios/` parses, and is reachable by name.

use locksim::scenario::{parse, resolve, BUNDLED};

#[test]
fn every_scenario_file_is_bundled_and_parses() {
    let mut on_disk: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".toml").map(String::from)
        })
        .collect();
    on_disk.sort();
    let mut bundled: Vec<String> = BUNDLED.iter().map(|(n, _)| n.to_string()).collect();
    bundled.sort();
    assert_eq!(on_disk, bundled, "scenarios/ and scenario::BUNDLED differ");
    for (name, text) in BUNDLED {
        let scenario = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&scenario.name, name, "the file name and `name` differ");
        assert!(
            !scenario.description.is_empty(),
            "{name} has no description"
        );
        assert_eq!(resolve(name).unwrap(), scenario);
    }
}

#[test]
fn unknown_name_lists_the_bundled_ones() {
    let e = resolve("no-such-story").unwrap_err().to_string();
    assert!(e.contains("bundled: put-lock-race"), "{e}");
}
