//! Fuzzing the inputs a user writes: bundled scenario files and `locksim ctl` lines, mutated at
//! random (proptest, seeded, so a failure replays). Every mutant is either refused with a
//! message naming the file, line and field (for a scenario) or the line's problem (for ctl), or
//! accepted as something that ends: never a panic, never a run without end.
//!
//! How many inputs each property tried is printed (`cargo test --test fuzz_inputs -- --nocapture`).

use std::cell::Cell;

use locksim::scenario::{parse, BUNDLED};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A proptest runner with a fixed seed: the same inputs on every run, so a failure replays.
fn seeded(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x10c5_f022),
        ..Config::default()
    })
}

/// Values a careless or hostile edit puts in a field.
const NASTY: &[&str] = &[
    "\"\"",
    "\"0s\"",
    "\"-1s\"",
    "\"1.5s\"",
    "\"1s 500ms\"",
    "\"307445734561825861m\"",
    "\"99999999999999999h\"",
    "\"100000h\"",
    "\"18446744073709551616ms\"",
    "\"5s..1s\"",
    "\"..\"",
    "\"0ms..\"",
    "\"leader\"",
    "\"nobody\"",
    "\"n99\"",
    "\"ü\"",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "9223372036854775807",
    "nan",
    "inf",
    "true",
    "[]",
    "[[]]",
    "[[\"n1\"], []]",
    "{}",
];

/// One edit of a scenario file's text.
#[derive(Clone, Debug)]
enum Edit {
    /// Replace the value of the `line`-th `key = value` line.
    Value {
        line: usize,
        value: usize,
    },
    DeleteLine(usize),
    DuplicateLine(usize),
    /// Cut the text at a byte (kept on a char boundary).
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0..NASTY.len()).prop_map(|(line, value)| Edit::Value { line, value }),
        1 => any::<usize>().prop_map(Edit::DeleteLine),
        1 => any::<usize>().prop_map(Edit::DuplicateLine),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    match edit {
        Edit::Value { line, value } => {
            let assignments: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = "))
                .collect();
            if assignments.is_empty() {
                return text.to_string();
            }
            let i = assignments[line % assignments.len()];
            let key = lines[i].split(" = ").next().unwrap().to_string();
            lines[i] = format!("{key} = {}", NASTY[*value]);
        }
        Edit::DeleteLine(i) => {
            let i = i % lines.len();
            lines.remove(i);
        }
        Edit::DuplicateLine(i) => {
            let i = i % lines.len();
            lines.insert(i, lines[i].clone());
        }
        Edit::Truncate(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at].to_string();
        }
    }
    lines.join("\n")
}

/// Mutated bundled scenarios: each is refused with `file:line: field `…`: …` (or a whole-file
/// message naming the file), or parses into a run that ends — its duration within the bound,
/// every fault before the end.
#[test]
fn mutated_scenarios_are_refused_clearly_or_end() {
    let tried = Cell::new(0u32);
    let refused = Cell::new(0u32);
    let ran = Cell::new(0u32);
    let mut runner = seeded(3000);
    let inputs = (0..BUNDLED.len(), proptest::collection::vec(edit(), 1..4));
    runner
        .run(&inputs, |(which, edits)| {
            let (name, text) = BUNDLED[which];
            let file = format!("scenarios/{name}.toml");
            let mut mutant = text.to_string();
            for e in &edits {
                mutant = apply(&mutant, e);
            }
            tried.set(tried.get() + 1);
            let outcome = std::panic::catch_unwind(|| parse(&file, &mutant));
            let Ok(parsed) = outcome else {
                return Err(TestCaseError::fail(format!("panicked on:\n{mutant}")));
            };
            match parsed {
                Err(e) => {
                    refused.set(refused.get() + 1);
                    let message = e.to_string();
                    prop_assert!(
                        message.starts_with(&format!("{file}:")),
                        "no file named: {message}\n{mutant}"
                    );
                }
                Ok(scenario) => {
                    let bound = locksim::duration::max_sim_time().unwrap();
                    prop_assert!(scenario.duration <= bound, "{mutant}");
                    for f in &scenario.faults.faults {
                        prop_assert!(f.at < scenario.duration, "{mutant}");
                        prop_assert!(f.duration.is_none_or(|d| d <= bound), "{mutant}");
                    }
                    // Some accepted mutants are run: each ends, after its duration and the
                    // healed tail, or is refused by the runner — never a panic.
                    if ran.get() < 15 && scenario.duration <= std::time::Duration::from_secs(120) {
                        ran.set(ran.get() + 1);
                        if let Ok(artifacts) = locksim::runner::run(&scenario, 1) {
                            let end = scenario.duration.as_millis() as u64 + 10_000;
                            prop_assert!(artifacts.outcome.sim_ms <= end, "{mutant}");
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "scenario mutants: {} tried, {} refused with a message naming the file, {} accepted, {} of those run to their end",
        tried.get(),
        refused.get(),
        tried.get() - refused.get(),
        ran.get()
    );
    assert!(refused.get() > 0 && refused.get() < tried.get());
}

/// Words a ctl line is made of, valid and not.
const CTL_WORDS: &[&str] = &[
    "put",
    "get",
    "del",
    "txn",
    "lease",
    "grant",
    "revoke",
    "keep-alive",
    "timetolive",
    "watch",
    "compaction",
    "endpoint",
    "status",
    "sleep",
    "crash",
    "restart",
    "pause",
    "resume",
    "isolate",
    "skew",
    "loss",
    "duplicate",
    "latency",
    "partition",
    "partition-oneway",
    "heal",
    "leader",
    "n1",
    "n3",
    "n9",
    "n0",
    "ctl",
    "leader",
    "follower",
    "k",
    "v",
    "--prefix",
    "--rev=",
    "--rev=-1",
    "--limit=99999999999999999999",
    "--lease=1",
    "--rate",
    "2.0",
    "0",
    "-1",
    "1e999",
    "nan",
    "10",
    "5s",
    "99999999999999999h",
    "100000h",
    "1ms..5ms",
    "5ms..1ms",
    "|",
    ",",
    "\"",
    "'",
    "\\",
    "=",
    "==",
    "ü",
    "value(\"k\")",
    "mod(k)",
    "0.5",
    "2",
];

/// Random ctl lines, alone and as short scripts run against a simulated cluster: every line is
/// answered (an error line for a bad one), nothing panics, and every sleep is bounded.
#[test]
fn random_ctl_lines_parse_or_are_refused_and_scripts_end() {
    let tried = Cell::new(0u32);
    let mut runner = seeded(3000);
    let line = proptest::collection::vec(0..CTL_WORDS.len(), 0..7).prop_map(|ws| {
        ws.iter()
            .map(|&w| CTL_WORDS[w])
            .collect::<Vec<_>>()
            .join(" ")
    });
    runner
        .run(&line, |line| {
            tried.set(tried.get() + 1);
            let parsed = std::panic::catch_unwind(|| locksim::ctl::parse_line(&line));
            prop_assert!(parsed.is_ok(), "parse_line panicked on {line:?}");
            if let Ok(Ok(Some(locksim::ctl::Command::Sleep(d)))) = parsed {
                prop_assert!(d <= locksim::duration::max_sim_time().unwrap(), "{line:?}");
            }
            Ok(())
        })
        .unwrap();
    // Scripts: fewer (each starts a cluster), run through the shell end to end.
    let scripts = Cell::new(0u32);
    let mut runner = seeded(40);
    let script = proptest::collection::vec(line, 1..8);
    runner
        .run(&script, |lines| {
            scripts.set(scripts.get() + 1);
            let input = lines.join("\n");
            let mut exec = locksim::ctl::SimExecutor::new(3, 1).unwrap();
            let mut out = Vec::new();
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                locksim::ctl::run_shell(input.as_bytes(), &mut out, &mut exec)
            }));
            prop_assert!(matches!(ran, Ok(Ok(()))), "the shell failed on:\n{input}");
            let answered = String::from_utf8(out).unwrap().lines().count();
            let commands = lines
                .iter()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .count();
            prop_assert_eq!(answered, commands, "a line went unanswered:\n{}", input);
            Ok(())
        })
        .unwrap();
    println!(
        "ctl: {} random lines parsed or refused, {} random scripts run to the end",
        tried.get(),
        scripts.get()
    );
}

/// The three runaway durations of the defect report, in ctl: refused at once with the bound.
#[test]
fn ctl_sleeps_beyond_the_bound_are_refused() {
    for text in [
        "sleep 307445734561825861m",
        "sleep 99999999999999999h",
        "sleep 100000h",
    ] {
        let e = locksim::ctl::parse_line(text).unwrap_err();
        let message = e.message().to_string();
        assert!(
            message.contains("too long") || message.contains("LOCKSIM_MAX_SIM_TIME"),
            "{text}: {message}"
        );
    }
    assert!(locksim::ctl::parse_line("sleep 59m").unwrap().is_some());
}
