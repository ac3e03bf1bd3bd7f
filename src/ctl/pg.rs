//! `locksim ctl --backend pg`: psql sessions into simulated PostgreSQL servers.
//!
//! A line is `S: statement` (session `S` — a name of letters, digits or `_` — each its own
//! connection, opened on first use), a simulation command (`sleep 300ms`, `crash p1`,
//! `partition p1 | …`, `pause ctl`, …), or a comment (`--`, `#`). Exactly one JSON line per
//! line: a statement's line names its session and statement, and carries every answer that
//! arrived while it ran — its own, unless it waits for a lock, and those of sessions it woke —
//! under `"answers"`, in arrival order, with the sessions still waiting under `"waiting"`:
//!
//! ```text
//! {"session":"B","statement":"SELECT * FROM locks WHERE id = 1 ORDER BY id FOR UPDATE",
//!  "answers":[],"waiting":["B"]}
//! {"session":"A","statement":"COMMIT","answers":[
//!   {"session":"A","ok":{"result":"tag","tag":"COMMIT"}},
//!   {"session":"B","ok":{"result":"rows","rows":[{"id":1,"value":"a2","version":1}]}}]}
//! ```
//!
//! An error is `{"session":…,"error":{"sqlstate":"55P03","message":"…"}}`, notices come under
//! `"notices"` with psql's severity. `tests/pg_conformance.rs` compares these with real psql.

use std::io::{self, BufRead, Write};

use serde_json::{json, Value};

use sim::pg::driver::{Arrived, PgDriver};
use sim::pg::{sql, PgConfig};
use sim::{FaultInjector, FaultPlan, SimError};

use super::command::{parse_simulation, Command, Nodes, ParseError};
use super::simulation::{refused, NodeSet};

/// One line of a pg script.
#[derive(Clone, Debug, PartialEq)]
pub enum PgCommand {
    /// `S: statement`.
    Statement {
        /// The session's name.
        session: String,
        /// The statement, parsed.
        statement: sim::pg::Statement,
    },
    /// A simulation command.
    Simulation(Command),
}

/// Parse one line; `None` for a blank line or a comment.
pub fn parse_pg_line(line: &str) -> Result<Option<PgCommand>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with("--") || line.starts_with('#') {
        return Ok(None);
    }
    if let Some((session, text)) = line.split_once(':') {
        let session = session.trim();
        if !session.is_empty()
            && session
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return sql::parse(text.trim())
                .map(|statement| {
                    Some(PgCommand::Statement {
                        session: session.to_string(),
                        statement,
                    })
                })
                .map_err(ParseError::new);
        }
    }
    match parse_simulation(line, Nodes::PG)? {
        Some(cmd) => Ok(Some(PgCommand::Simulation(cmd))),
        None => Err(ParseError::new(format!(
            "not `SESSION: statement` or a simulation command: {line:?}; statements: {}",
            sql::SUPPORTED
        ))),
    }
}

/// Simulated PostgreSQL servers behind the shell.
pub struct PgShell {
    driver: PgDriver<'static>,
    servers: usize,
    faults: FaultInjector,
}

impl PgShell {
    /// Start `servers` servers under `seed` (`p1` the primary).
    pub fn new(servers: usize, seed: u64) -> Result<Self, SimError> {
        Ok(PgShell {
            driver: PgDriver::new(servers, seed, PgConfig::default())?,
            servers,
            faults: FaultInjector::new(&FaultPlan::default(), seed),
        })
    }

    /// The run's history so far as JSON lines, pending operations shown as indeterminate.
    pub fn history_jsonl(&mut self) -> String {
        super::simulation::history_jsonl(self.driver.world())
    }

    /// Run one line: its JSON line.
    pub fn execute(&mut self, cmd: &PgCommand) -> Value {
        match self.run(cmd) {
            Ok(value) => value,
            Err(e) => json!({ "error": "Simulation", "message": e.to_string() }),
        }
    }

    fn run(&mut self, cmd: &PgCommand) -> Result<Value, SimError> {
        let mut line = match cmd {
            PgCommand::Statement { session, statement } => {
                let arrived = self.driver.execute(session, statement.clone())?;
                let mut line = json!({
                    "session": session,
                    "statement": statement.to_string(),
                });
                line["answers"] = answers(&arrived);
                line
            }
            PgCommand::Simulation(Command::Sleep(d)) => {
                let arrived = self.driver.sleep(*d)?;
                let mut line = json!({ "ok": true, "slept_ms": d.as_millis() as u64 });
                if !arrived.is_empty() {
                    line["answers"] = answers(&arrived);
                }
                line
            }
            PgCommand::Simulation(other) => {
                let nodes = NodeSet {
                    nodes: Nodes::PG,
                    count: self.servers,
                };
                let mut line = nodes
                    .apply(self.driver.world(), &mut self.faults, &[], other)
                    .unwrap_or_else(|| refused(format!("{other:?} is not a pg command")));
                let arrived = self.driver.take_arrived();
                if !arrived.is_empty() {
                    line["answers"] = answers(&arrived);
                }
                line
            }
        };
        let waiting = self.driver.waiting();
        if !waiting.is_empty() {
            line["waiting"] = json!(waiting);
        }
        Ok(line)
    }
}

fn answers(arrived: &[Arrived]) -> Value {
    Value::Array(
        arrived
            .iter()
            .map(|(session, result)| {
                let mut a = json!({ "session": session });
                match result {
                    Ok(answer) => {
                        match &answer.result {
                            Ok(reply) => a["ok"] = json!(reply),
                            Err(e) => a["error"] = json!(e),
                        }
                        if !answer.notices.is_empty() {
                            a["notices"] = json!(answer.notices);
                        }
                    }
                    Err(e) => a["error"] = json!(e),
                }
                a
            })
            .collect(),
    )
}

/// Reads `input` line by line and writes one JSON line per command to `output`, flushed.
pub fn run_pg_shell(
    input: impl BufRead,
    output: impl Write,
    shell: &mut PgShell,
) -> io::Result<()> {
    super::run_lines(input, output, parse_pg_line, |cmd| shell.execute(cmd))
}
