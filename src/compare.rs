//! `locksim compare`: every built-in lock on its store under the same fault families, over many
//! seeds, fencing off and on — the CP-vs-AP argument of the seed articles as one measured table,
//! with a replayable seed behind every cell.
//!
//! Rows are the built-in lock kinds on their backends ([`Row::builtin`]) — or the kinds
//! `--lock NAME[@BACKEND]` names, yours included ([`Row::parse`]); columns are fault
//! families ([`Family`]), scenario templates kept as files (`scenarios/compare/*.toml`, bundled;
//! `--family FILE` adds one) that say the same fault in each backend's words. A cell is a
//! scenario file composed from the row's base and the column's faults ([`Cell::text`]), written
//! out so `locksim run` replays any of its seeds.
//!
//! Every (cell, seed) run becomes one [`CellLine`] — the unit a shard writes (`--jsonl`) and a
//! merge reads back — and a cell's [`CellSummary`] is a function of its lines sorted by seed,
//! so shards merge exactly.
//!
//! # Layout
//! * here: [`Family`], [`Row`], [`Cell`], [`CellLine`], [`CellSummary`], [`Comparison`];
//!   [`cells`], [`run`], [`merge`], [`Comparison::of`].
//! * `html`: the heat map page ([`html::page`]).
//! * `text`: the terminal table ([`text::table`]).

use std::collections::BTreeMap;

use lock::{AlgorithmKind, LockEvent, LockKind};
use serde::{Deserialize, Serialize};
use sim::Record;

use crate::runner::RunOptions;
use crate::scenario::{self, Backend, Locks, Scenario, ScenarioError};
use crate::sweep::SeedLine;
use crate::verdict::{Kv, MutualExclusion, Resource};

pub mod html;
pub mod text;

/// The bundled fault families, in column order.
pub const BUNDLED_FAMILIES: &[(&str, &str)] = &[
    (
        "scenarios/compare/none.toml",
        include_str!("../scenarios/compare/none.toml"),
    ),
    (
        "scenarios/compare/leader-partition.toml",
        include_str!("../scenarios/compare/leader-partition.toml"),
    ),
    (
        "scenarios/compare/leader-crash.toml",
        include_str!("../scenarios/compare/leader-crash.toml"),
    ),
    (
        "scenarios/compare/holder-pause.toml",
        include_str!("../scenarios/compare/holder-pause.toml"),
    ),
    (
        "scenarios/compare/clock-jump.toml",
        include_str!("../scenarios/compare/clock-jump.toml"),
    ),
    (
        "scenarios/compare/failover.toml",
        include_str!("../scenarios/compare/failover.toml"),
    ),
];

/// A column: one fault, said in each backend's words. A backend without text is "n/a" here.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Family {
    /// `leader-crash`: in cell names and file names.
    pub name: String,
    /// The column's heading.
    pub title: String,
    pub description: String,
    /// `[[fault]]` tables per backend, as a scenario file writes them ("" = no fault).
    #[serde(skip)]
    faults: BTreeMap<Backend, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyFile {
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    etcd: Option<String>,
    redis: Option<String>,
    redlock: Option<String>,
    zk: Option<String>,
    pg: Option<String>,
}

impl Family {
    /// Reads a family file; every backend's faults are checked on that backend's rows, and an
    /// error names the file, the backend and the line within its faults.
    pub fn parse(file: &str, text: &str) -> Result<Family, ScenarioError> {
        // The family file's own lines are not known inside its strings: errors name the field.
        let err = |field: &str, message: String| ScenarioError {
            file: file.to_string(),
            line: 0,
            field: String::new(),
            message: if field.is_empty() {
                message
            } else {
                format!("field `{field}`: {message}")
            },
        };
        let raw: FamilyFile = toml::from_str(text).map_err(|e| err("", e.to_string()))?;
        let valid_name = !raw.name.is_empty()
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(err(
                "name",
                format!(
                    "{:?}: use lowercase letters, digits and '-' (it names files)",
                    raw.name
                ),
            ));
        }
        let mut faults = BTreeMap::new();
        for (backend, text) in [
            (Backend::Etcd, raw.etcd),
            (Backend::Redis, raw.redis),
            (Backend::Redlock, raw.redlock),
            (Backend::Zk, raw.zk),
            (Backend::Pg, raw.pg),
        ] {
            if let Some(text) = text {
                faults.insert(backend, text);
            }
        }
        if faults.is_empty() {
            return Err(err(
                "",
                "no backend's faults: give one or more of etcd, redis, redlock, zk, pg (\"\" for none)"
                    .into(),
            ));
        }
        let family = Family {
            name: raw.name,
            title: raw.title,
            description: raw.description.trim().to_string(),
            faults,
        };
        // A plan's hosts and roles depend on the backend (and its store size), not on the lock:
        // one row per backend checks it.
        let mut checked = Vec::new();
        for row in &Row::builtin() {
            if checked.contains(&row.backend) {
                continue;
            }
            checked.push(row.backend);
            if let Some(cell) = family.cell(row, false) {
                cell.scenario().map_err(|e| {
                    let base = cell.base_lines();
                    let at = if e.line > base {
                        format!("line {} of its faults", e.line - base)
                    } else {
                        "its faults".to_string()
                    };
                    err(
                        row.backend.name(),
                        format!(
                            "{at}, on lock {}: {}",
                            row.kind.name(),
                            if e.field.is_empty() {
                                e.message
                            } else {
                                format!("field `{}`: {}", e.field, e.message)
                            }
                        ),
                    )
                })?;
            }
        }
        Ok(family)
    }

    /// The bundled families, in column order.
    pub fn bundled() -> Vec<Family> {
        BUNDLED_FAMILIES
            .iter()
            .map(|(file, text)| Family::parse(file, text).expect("bundled families are valid"))
            .collect()
    }

    /// The cell of `row` in this column, or `None` when the family says nothing for its backend.
    pub fn cell(&self, row: &Row, fencing: bool) -> Option<Cell> {
        let faults = self.faults.get(&row.backend)?;
        Some(Cell {
            family: self.name.clone(),
            fencing,
            kind: row.kind.clone(),
            backend: row.backend,
            members: row.members,
            faults: faults.clone(),
        })
    }
}

/// A row: a lock kind (built-in or yours) on a backend and store size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub kind: LockKind,
    pub backend: Backend,
    /// etcd members, Redis primary + replicas, or Redlock masters.
    pub members: usize,
}

impl Row {
    /// `kind` on `backend` at the table's store size (3 etcd members; a Redis primary with 2
    /// replicas; 5 Redlock masters; 3 ZooKeeper servers; one PostgreSQL server).
    pub fn on(kind: LockKind, backend: Backend) -> Row {
        let members = match backend {
            Backend::Redlock => 5,
            Backend::Etcd | Backend::Redis | Backend::Zk => 3,
            Backend::Pg => 1,
        };
        Row {
            kind,
            backend,
            members,
        }
    }

    /// A row from `NAME` or `NAME@BACKEND` (`my-lock@redis`), the kind looked up in `locks`;
    /// a built-in kind goes on its own backend, yours on etcd unless `@` says otherwise.
    pub fn parse(text: &str, locks: &Locks) -> Result<Row, String> {
        let (name, backend) = match text.split_once('@') {
            Some((name, backend)) => (name, Some(backend)),
            None => (text, None),
        };
        let kind = locks.get(name).ok_or_else(|| {
            format!(
                "--lock {text:?}: unknown lock kind {name:?}; allowed: {}",
                locks.names().join(", ")
            )
        })?;
        let own = kind.builtin().map(|k| Row::of_builtin(k).backend);
        let backend = match backend {
            None => own.unwrap_or(Backend::Etcd),
            Some(b) => {
                let parsed = [
                    Backend::Etcd,
                    Backend::Redis,
                    Backend::Redlock,
                    Backend::Zk,
                    Backend::Pg,
                ]
                .into_iter()
                    .find(|x| x.name() == b)
                    .ok_or_else(|| {
                        format!(
                            "--lock {text:?}: unknown backend {b:?}; allowed: etcd, redis, redlock, zk, pg"
                        )
                    })?;
                if own.is_some_and(|own| own != parsed) {
                    return Err(format!(
                        "--lock {text:?}: {name} runs on {} only",
                        own.map(Backend::name).unwrap_or_default()
                    ));
                }
                parsed
            }
        };
        Ok(Row::on(kind.clone(), backend))
    }

    /// The default rows: every built-in kind on its store, then each lock of your own in
    /// `locks` on etcd.
    pub fn all(locks: &Locks) -> Vec<Row> {
        let mut rows = Row::builtin();
        for name in locks.names() {
            let kind = locks.get(name).expect("a listed name");
            if kind.builtin().is_none() {
                rows.push(Row::on(kind.clone(), Backend::Etcd));
            }
        }
        rows
    }

    fn of_builtin(kind: AlgorithmKind) -> Row {
        let backend = match kind {
            AlgorithmKind::RedisSetnx => Backend::Redis,
            AlgorithmKind::Redlock => Backend::Redlock,
            AlgorithmKind::ZkCurator | AlgorithmKind::ZkNaive => Backend::Zk,
            AlgorithmKind::PgRowLock | AlgorithmKind::PgAdvisory | AlgorithmKind::PgOptimistic => {
                Backend::Pg
            }
            _ => Backend::Etcd,
        };
        Row::on(kind.into(), backend)
    }

    /// Every built-in kind on its store: the three etcd locks on 3 members, `redis-setnx` on a
    /// primary with 2 replicas and 3 Sentinels, `redlock` on 5 masters.
    pub fn builtin() -> Vec<Row> {
        AlgorithmKind::ALL
            .into_iter()
            .map(Row::of_builtin)
            .collect()
    }
}

/// One cell with fencing off or on: a scenario composed from the row's base and the family's
/// faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub family: String,
    pub fencing: bool,
    kind: LockKind,
    backend: Backend,
    members: usize,
    faults: String,
}

/// The workload every cell shares: 3 clients holding 1–3 s on a 5 s TTL, 40 s of faults then
/// 10 s healed; `[expect]` claims safety, so `locksim run` of a cell exits 1 on a seed that
/// breaks it.
const BASE: &str = r#"name = "{name}"
description = "locksim compare: {lock} under {family}, fencing {fencing}."
duration = "40s"
[cluster]
backend = "{backend}"
members = {members}
[lock]
kind = "{lock}"
ttl = "5s"
fencing = {fencing_bool}
[workload]
clients = 3
hold = "1s..3s"
think = "0ms..300ms"
"#;

const EXPECT: &str = r#"
[expect]
mutual_exclusion = "holds"
resource = "intact"
"#;

impl Cell {
    /// The row's lock, by name.
    pub fn lock(&self) -> &str {
        self.kind.name()
    }

    /// `leader-crash.redis-setnx.fencing-off`: the cell's file name without `.toml`.
    pub fn id(&self) -> String {
        format!(
            "{}.{}.fencing-{}",
            self.family,
            self.lock(),
            on_off(self.fencing)
        )
    }

    fn base(&self) -> String {
        BASE.replace("{name}", &format!("compare-{}", self.id()))
            .replace("{lock}", self.lock())
            .replace("{family}", &self.family)
            .replace("{fencing}", on_off(self.fencing))
            .replace("{fencing_bool}", &self.fencing.to_string())
            .replace("{backend}", self.backend.name())
            .replace("{members}", &self.members.to_string())
    }

    fn base_lines(&self) -> usize {
        self.base().lines().count()
    }

    /// The cell as a scenario file.
    pub fn text(&self) -> String {
        format!("{}{}{EXPECT}", self.base(), self.faults.trim_end())
    }

    /// The cell's scenario, read back from [`Cell::text`] as `locksim run` reads it (a
    /// `locksim` that knows the lock: yours through [`crate::cli::main_with`]).
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        let locks = Locks::builtin().with_kind(self.kind.clone());
        scenario::parse_with(&format!("cells/{}.toml", self.id()), &self.text(), &locks)
    }
}

fn on_off(fencing: bool) -> &'static str {
    if fencing {
        "on"
    } else {
        "off"
    }
}

/// Every cell of `families` × `rows`, fencing off then on, in table order (row, column).
pub fn cells(families: &[Family], rows: &[Row]) -> Vec<Cell> {
    let mut out = Vec::new();
    for row in rows {
        for family in families {
            for fencing in [false, true] {
                out.extend(family.cell(row, fencing));
            }
        }
    }
    out
}

/// One seed of one cell: what a shard writes (`--jsonl`) and a merge reads back — a sweep's
/// [`SeedLine`] with the cell and the lock's cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellLine {
    /// [`Cell::id`].
    pub cell: String,
    /// The run as a sweep records it: seed, verdicts, digest, first violation, error.
    #[serde(flatten)]
    pub run: SeedLine,
    /// Times a client's `acquire` returned a guard.
    pub acquisitions: u64,
    /// The sum over those acquisitions of invoke → return, simulated ms.
    pub acquire_ms: u64,
    /// Client requests to the store (every recorded operation).
    pub ops: u64,
}

/// The acquisitions of a run and their summed latency (`acquire` invoked → returned a guard),
/// from the lock events in its history.
pub fn acquire_latency(records: &[Record]) -> (u64, u64) {
    let mut invoked: BTreeMap<String, u64> = BTreeMap::new();
    let (mut count, mut total) = (0, 0);
    for (at, process, event) in records.iter().filter_map(LockEvent::from_record) {
        match event {
            LockEvent::AcquireInvoked { .. } => {
                invoked.insert(process, at);
            }
            LockEvent::Acquired { .. } => {
                if let Some(start) = invoked.remove(&process) {
                    count += 1;
                    total += at - start;
                }
            }
            LockEvent::AcquireFailed { .. } => {
                invoked.remove(&process);
            }
            _ => {}
        }
    }
    (count, total)
}

fn line_of(cell: &Cell, scenario: &Scenario, seed: u64, options: RunOptions) -> CellLine {
    let (run, records) = crate::sweep::run_seed(scenario, seed, options);
    let records = records.unwrap_or_default();
    let (acquisitions, acquire_ms) = acquire_latency(&records);
    CellLine {
        cell: cell.id(),
        run,
        acquisitions,
        acquire_ms,
        ops: records
            .iter()
            .filter(|r| matches!(r, Record::Op(_)))
            .count() as u64,
    }
}

/// Runs every cell over `seeds` on `jobs` threads; `progress(done, total)` after each run.
/// Lines come back sorted by cell (table order) and seed, whatever thread finished first.
pub fn run(
    cells: &[Cell],
    seeds: &[u64],
    jobs: usize,
    options: RunOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<CellLine>, ScenarioError> {
    let scenarios: Vec<Scenario> = cells.iter().map(Cell::scenario).collect::<Result<_, _>>()?;
    let work: Vec<(usize, u64)> = (0..cells.len())
        .flat_map(|c| seeds.iter().map(move |&s| (c, s)))
        .collect();
    Ok(crate::sweep::parallel(
        work.len(),
        jobs,
        |i| {
            let (c, seed) = work[i];
            line_of(&cells[c], &scenarios[c], seed, options)
        },
        &|done| progress(done, work.len()),
    ))
}

/// Reads the `--jsonl` files of shards back. `Err` names the file and line of a malformed
/// line, or of a (cell, seed) that appears twice.
pub fn merge(files: &[(String, String)]) -> Result<Vec<CellLine>, String> {
    let mut seen: BTreeMap<(String, u64), String> = BTreeMap::new();
    let mut lines = Vec::new();
    for (name, text) in files {
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            let line: CellLine =
                serde_json::from_str(raw).map_err(|e| format!("{at}: not a compare line: {e}"))?;
            if let Some(before) = seen.insert((line.cell.clone(), line.run.seed), at.clone()) {
                return Err(format!(
                    "{at}: cell {} seed {} again (first at {before}): overlapping shards",
                    line.cell, line.run.seed
                ));
            }
            lines.push(line);
        }
    }
    if lines.is_empty() {
        return Err("no compare lines in the files given".into());
    }
    Ok(lines)
}

/// One cell over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellSummary {
    pub cell: String,
    pub family: String,
    pub lock: String,
    pub fencing: bool,
    pub seeds: usize,
    /// Seeds in which two clients believed they held the lock at once.
    pub violating: usize,
    /// Seeds in which the resource took a stale write or lost an update.
    pub corrupted: usize,
    /// Seeds whose KV history was not linearizable (a simulator bug; 0 expected).
    pub kv_violating: usize,
    /// Seeds whose simulation failed, with why (a bug; none expected).
    pub errors: Vec<String>,
    pub first_violating_seed: Option<u64>,
    pub first_corrupted_seed: Option<u64>,
    /// Mean `acquire` latency over every acquisition of every seed, simulated ms.
    pub mean_acquire_ms: Option<f64>,
    /// Client requests to the store per acquisition (a lock's message cost).
    pub ops_per_acquisition: Option<f64>,
    /// `locksim run DIR/cells/ID.toml --seed N` for the first violating (else corrupted) seed:
    /// it exits 1 while the seed breaks the lock.
    pub command: Option<String>,
}

impl CellSummary {
    /// The summary of one cell's lines (any order). `dir`: where the cell files are written.
    pub fn of(cell: &Cell, lines: &[&CellLine], dir: &str) -> CellSummary {
        let mut lines: Vec<&CellLine> = lines.to_vec();
        lines.sort_by_key(|l| l.run.seed);
        let first =
            |bad: &dyn Fn(&CellLine) -> bool| lines.iter().find(|l| bad(l)).map(|l| l.run.seed);
        let count = |bad: &dyn Fn(&CellLine) -> bool| lines.iter().filter(|l| bad(l)).count();
        let violated = |l: &CellLine| l.run.verdict == Some(MutualExclusion::Violated);
        let corrupted = |l: &CellLine| l.run.resource == Some(Resource::Corrupted);
        let acquisitions: u64 = lines.iter().map(|l| l.acquisitions).sum();
        let acquire_ms: u64 = lines.iter().map(|l| l.acquire_ms).sum();
        let ops: u64 = lines.iter().map(|l| l.ops).sum();
        let first_violating_seed = first(&violated);
        let first_corrupted_seed = first(&corrupted);
        let per = |total: u64| (acquisitions > 0).then(|| total as f64 / acquisitions as f64);
        CellSummary {
            cell: cell.id(),
            family: cell.family.clone(),
            lock: cell.lock().to_string(),
            fencing: cell.fencing,
            seeds: lines.len(),
            violating: count(&violated),
            corrupted: count(&corrupted),
            kv_violating: count(&|l: &CellLine| l.run.kv == Some(Kv::Violated)),
            errors: lines.iter().filter_map(|l| l.run.error.clone()).collect(),
            first_violating_seed,
            first_corrupted_seed,
            mean_acquire_ms: per(acquire_ms),
            ops_per_acquisition: per(ops),
            command: first_violating_seed
                .or(first_corrupted_seed)
                .map(|seed| format!("locksim run {dir}/cells/{}.toml --seed {seed}", cell.id())),
        }
    }
}

/// The whole table: the columns, the rows, and every applicable cell's summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The seeds every cell ran (`A..B`, or the shards' union).
    pub seeds: usize,
    pub families: Vec<Family>,
    pub locks: Vec<String>,
    /// In table order: row, column, fencing off then on.
    pub cells: Vec<CellSummary>,
}

impl Comparison {
    /// The table of `cells` from `lines` (a run's, or merged shards'). `Err` for a line whose
    /// cell is not in the table. Exact: the same lines in any split give the same table.
    pub fn of(
        families: &[Family],
        rows: &[Row],
        lines: &[CellLine],
        dir: &str,
    ) -> Result<Comparison, String> {
        let cells = cells(families, rows);
        let mut by_cell: BTreeMap<String, Vec<&CellLine>> =
            cells.iter().map(|c| (c.id(), Vec::new())).collect();
        for line in lines {
            by_cell
                .get_mut(&line.cell)
                .ok_or_else(|| {
                    format!(
                        "a line of cell {:?}, which is not in this table (its family not given?)",
                        line.cell
                    )
                })?
                .push(line);
        }
        let seeds = by_cell.values().map(Vec::len).max().unwrap_or(0);
        Ok(Comparison {
            seeds,
            families: families.to_vec(),
            locks: rows.iter().map(|r| r.kind.name().to_string()).collect(),
            cells: cells
                .iter()
                .map(|c| CellSummary::of(c, &by_cell[&c.id()], dir))
                .collect(),
        })
    }

    /// The summary of `family` × `lock` with fencing `on`, if that cell exists.
    pub fn cell(&self, family: &str, lock: &str, fencing: bool) -> Option<&CellSummary> {
        self.cells
            .iter()
            .find(|c| c.family == family && c.lock == lock && c.fencing == fencing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_family_composes_valid_cells() {
        let families = Family::bundled();
        assert_eq!(families.len(), 6);
        let all = cells(&families, &Row::builtin());
        // 10 locks × 6 families × 2, less redlock's leader-partition (no leader) and the pg
        // locks' (one server, no leader yet): 120 - 2 - 6 = 112.
        assert_eq!(all.len(), 112);
        for cell in &all {
            let s = cell.scenario().unwrap();
            assert_eq!(s.lock.fencing, cell.fencing);
        }
    }

    #[test]
    fn a_bad_family_names_its_file_backend_and_line() {
        let text = "name = \"x\"\ntitle = \"x\"\netcd = \"\"\"\n[[fault]]\nat = \"10s\"\nkind = \"crash\"\ntarget = \"n9\"\n\"\"\"\n";
        let e = Family::parse("my.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("my.toml: field `etcd`: line 4 of its faults, on lock lease-txn: field `fault[0].target`"), "{e}");
        let e = Family::parse("my.toml", "name = \"X Y\"\ntitle = \"t\"\netcd = \"\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `name`"), "{e}");
    }

    #[test]
    fn rows_by_name_and_backend() {
        let locks = Locks::builtin();
        let row = Row::parse("lease-txn", &locks).unwrap();
        assert_eq!((row.backend, row.members), (Backend::Etcd, 3));
        assert_eq!(Row::parse("redlock", &locks).unwrap().members, 5);
        assert_eq!(
            Row::parse("redlock@etcd", &locks).unwrap_err(),
            "--lock \"redlock@etcd\": redlock runs on redlock only"
        );
        assert!(Row::parse("nope", &locks)
            .unwrap_err()
            .contains("unknown lock kind \"nope\"; allowed: lease-txn, put"));
        assert!(Row::parse("put@mysql", &locks)
            .unwrap_err()
            .contains("unknown backend \"mysql\""));
    }

    #[test]
    fn acquire_latency_pairs_invoke_and_return_per_client() {
        let ev = |at, c: &str, e: LockEvent| e.at(at, c);
        let invoked = || LockEvent::AcquireInvoked {
            algorithm: "x".into(),
        };
        let acquired = || LockEvent::Acquired {
            algorithm: "x".into(),
            key: "k".into(),
            lease: 1,
            token: 1,
        };
        let records = [
            ev(100, "c1", invoked()),
            ev(120, "c2", invoked()),
            ev(150, "c1", acquired()),
            ev(
                400,
                "c2",
                LockEvent::AcquireFailed {
                    algorithm: "x".into(),
                    error: "e".into(),
                },
            ),
            ev(500, "c2", invoked()),
            ev(900, "c2", acquired()),
        ];
        assert_eq!(acquire_latency(&records), (2, 50 + 400));
    }
}
