//! With the `grpc` feature: etcd-client's own examples, for `tests/etcd_client_examples.rs`.
//!
//! The examples ship inside the etcd-client package cargo downloaded (the version Cargo.lock
//! pins). Each is written to `OUT_DIR/etcd-client-examples/` with its one connect expression
//! `Client::connect(…)` replaced by `connect_here()`, which the test defines twice: the
//! simulation's `sim::grpc::connect`, and a real etcd on loopback. Two lines go because a
//! file `include!`d as a module cannot keep them: the `//!` header and `#[tokio::main]` (the
//! simulated host, or the test's runtime, is the runtime). Nothing else changes.
//!
//! Where the package sources are not in cargo's registry (a vendored build), a file saying so
//! is written instead and the test reports itself skipped.

use std::path::{Path, PathBuf};

/// The examples the test runs: every one whose calls the simulation serves.
const EXAMPLES: [&str; 6] = ["kv", "lease", "lock", "election", "watch", "namespace"];

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_GRPC").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("etcd-client-examples");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/etcd-client-examples");
    let found = examples_dir();
    let note = match &found {
        Some(dir) => format!("found: {}", dir.display()),
        None => "missing: etcd-client's sources are not in cargo's registry".to_string(),
    };
    std::fs::write(out.join("SOURCE"), &note).expect("write SOURCE");
    let Some(dir) = found else { return };
    for name in EXAMPLES {
        let path = dir.join(format!("{name}.rs"));
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let changed =
            with_connect_here(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::fs::write(out.join(format!("{name}.rs")), changed).expect("write example");
    }
}

/// `CARGO_HOME/registry/src/*/etcd-client-VERSION/examples`, VERSION from Cargo.lock.
fn examples_dir() -> Option<PathBuf> {
    let lock = std::fs::read_to_string("Cargo.lock").ok()?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"etcd-client\""))?
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))?
        .trim_end_matches('"')
        .to_string();
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let registries = std::fs::read_dir(home.join("registry/src")).ok()?;
    let mut dirs: Vec<PathBuf> = registries
        .filter_map(|r| r.ok())
        .map(|r| r.path().join(format!("etcd-client-{version}/examples")))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// The example with its connect expression replaced and the two lines dropped (see above).
fn with_connect_here(text: &str) -> Result<String, String> {
    let call = "Client::connect(";
    if text.matches(call).count() != 1 {
        return Err(format!("expected exactly one `{call}`"));
    }
    let start = text.find(call).expect("counted");
    let mut depth = 0;
    let mut end = None;
    for (i, c) in text[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(start + i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.ok_or("unbalanced parentheses after Client::connect")?;
    let replaced = format!("{}connect_here(){}", &text[..start], &text[end..]);
    Ok(replaced
        .lines()
        .filter(|l| !l.trim_start().starts_with("//!") && l.trim() != "#[tokio::main]")
        .collect::<Vec<_>>()
        .join("\n"))
}
