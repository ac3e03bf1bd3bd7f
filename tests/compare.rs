//! `locksim compare`: the table's cells, its page, its replay commands and its shards.

use std::path::Path;
use std::process::Command;

use locksim::compare::{self, Comparison, Family, Row};
use locksim::runner::RunOptions;
use roxmltree::{Document, ParsingOptions};

fn locksim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_locksim"))
        .args(args)
        .output()
        .expect("locksim runs")
}

/// One CLI run of the whole table over seeds 0..2, shared by the tests that read its files.
fn table_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-0..2");
        let _ = std::fs::remove_dir_all(&dir);
        let out = locksim(&["compare", "--seeds", "0..2", "--out", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("2 seeds per cell"), "{text}");
        dir
    })
}

fn comparison_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap()
}

#[test]
fn the_page_is_a_heat_map_whose_links_open_pictures() {
    let dir = table_dir();
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    let options = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(&html, options).expect("well-formed XHTML");
    let table = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && n.attribute("class") == Some("heatmap"))
        .expect("the heat map");
    let rows: Vec<_> = table.children().filter(|n| n.has_tag_name("tr")).collect();
    // The built-in kinds, and with the `grpc` feature the etcd-client locks on etcd.
    let locks = locksim::compare::Row::all(&locksim::scenario::Locks::builtin()).len();
    assert_eq!(rows.len(), 1 + locks, "a heading row and one per lock");
    let headings = rows[0].children().filter(|n| n.has_tag_name("th")).count();
    assert_eq!(
        headings,
        1 + 6,
        "the lock column and one per bundled family"
    );
    let cells: Vec<_> = table
        .descendants()
        .filter(|n| n.attribute("class") == Some("cell"))
        .collect();
    assert_eq!(
        cells.len(),
        locks * 6 - 1 - 3,
        "every lock × 6 families, less redlock's and the pg locks' leader-partition"
    );
    for cell in &cells {
        let style = cell.attribute("style").unwrap();
        assert!(style.starts_with("background:hsl(0, 75%, "), "{style}");
    }
    let na = table
        .descendants()
        .filter(|n| n.attribute("class") == Some("na"))
        .count();
    assert_eq!(na, 4, "redlock's and the pg locks' leader-partition");
    // put breaks with no fault at all: its cell is the darkest, with a picture behind it.
    let put_none = cells
        .iter()
        .find(|c| c.attribute("data-cell") == Some("none.put"))
        .unwrap();
    assert!(put_none.attribute("style").unwrap().contains("62%"));
    let links: Vec<&str> = table
        .descendants()
        .filter(|n| n.has_tag_name("a"))
        .filter_map(|n| n.attribute("href"))
        .collect();
    assert!(links.len() > 10, "{links:?}");
    for href in links {
        let picture =
            std::fs::read_to_string(dir.join(href)).unwrap_or_else(|e| panic!("{href}: {e}"));
        Document::parse_with_options(&picture, options).unwrap_or_else(|e| panic!("{href}: {e}"));
        assert!(picture.contains("<svg"), "{href}");
    }
}

#[test]
fn every_first_breaking_seed_reproduces_with_its_command() {
    let dir = table_dir();
    let json = comparison_json(dir);
    let mut checked = 0;
    for cell in json["cells"].as_array().unwrap() {
        let Some(command) = cell["command"].as_str() else {
            continue;
        };
        let args: Vec<&str> = command.split(' ').skip(1).collect();
        let out = locksim(&args);
        assert_eq!(out.status.code(), Some(1), "{command}: it must still break");
        let text = String::from_utf8_lossy(&out.stdout);
        let broke = if cell["first_violating_seed"].is_null() {
            "resource corrupted"
        } else {
            "mutual exclusion violated"
        };
        assert!(text.contains(broke), "{command}: {text}");
        checked += 1;
    }
    assert!(checked > 20, "{checked} commands");
}

#[test]
fn cp_locks_with_fencing_keep_the_resource_intact_under_every_fault() {
    let json = comparison_json(table_dir());
    for cell in json["cells"].as_array().unwrap() {
        let lock = cell["lock"].as_str().unwrap();
        if (lock == "lease-txn" || lock == "etcd-mutex") && cell["fencing"] == true {
            assert_eq!(cell["corrupted"], 0, "{}", cell["cell"]);
        }
        assert_eq!(cell["kv_violating"], 0, "{}", cell["cell"]);
        assert_eq!(
            cell["errors"].as_array().unwrap().len(),
            0,
            "{}",
            cell["cell"]
        );
    }
}

#[test]
fn four_shards_merge_to_the_unsharded_table() {
    let families: Vec<Family> = Family::bundled()
        .into_iter()
        .filter(|f| f.name == "none" || f.name == "holder-pause")
        .collect();
    let rows: Vec<Row> = Row::builtin()
        .into_iter()
        .filter(|r| matches!(r.kind.name(), "put" | "redis-setnx"))
        .collect();
    let cells = compare::cells(&families, &rows);
    let options = RunOptions { check_kv: false };
    let all = locksim::sweep::seeds("0..8", None).unwrap();
    let whole = compare::run(&cells, &all, 2, options, &|_, _| {}).unwrap();
    let mut files = Vec::new();
    for i in 0..4 {
        let shard = locksim::sweep::seeds("0..8", Some(&format!("{i}/4"))).unwrap();
        let lines = compare::run(&cells, &shard, 2, options, &|_, _| {}).unwrap();
        let text: String = lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect();
        files.push((format!("shard{i}.jsonl"), text));
    }
    let merged = compare::merge(&files).unwrap();
    let a = Comparison::of(&families, &rows, &whole, "out").unwrap();
    let b = Comparison::of(&families, &rows, &merged, "out").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.seeds, 8);
    assert!(a.cell("none", "put", false).unwrap().violating > 0);
    // Overlapping shards are refused, naming the line.
    files.push(("again.jsonl".into(), files[0].1.clone()));
    let e = compare::merge(&files).unwrap_err();
    assert!(e.starts_with("again.jsonl:1: cell "), "{e}");
}

#[test]
fn a_family_file_of_your_own_adds_a_column() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-family");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let family = dir.join("follower-crash.toml");
    std::fs::write(
        &family,
        "name = \"follower-crash\"\ntitle = \"a follower crash\"\netcd = \"\"\"\n[[fault]]\nat = \"10s\"\nkind = \"crash\"\ntarget = \"follower\"\nfor = \"5s\"\n\"\"\"\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let out = locksim(&[
        "compare",
        "--seeds",
        "0..1",
        "--family",
        family.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"follower-crash"));
    assert!(out_dir
        .join("cells/follower-crash.etcd-mutex.fencing-on.toml")
        .exists());
    assert!(!out_dir
        .join("cells/follower-crash.redlock.fencing-on.toml")
        .exists());
    // A bad one is refused with exit 2, naming file, backend and line.
    std::fs::write(&family, "name = \"x\"\ntitle = \"x\"\nredis = \"\"\"\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"leader\"\n\"\"\"\n").unwrap();
    let out = locksim(&[
        "compare",
        "--family",
        family.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("follower-crash.toml: field `redis`: line 4 of its faults"),
        "{err}"
    );
}
