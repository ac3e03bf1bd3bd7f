//! PostgreSQL conformance: the lock scripts in `tests/pg_conformance/*.sql` give the same
//! answers, line for line, from a real PostgreSQL 15 (through psql sessions) and from
//! `locksim ctl --backend pg` (its shell: psql-like sessions, each a `PgClient` connection to
//! the simulated server `p1` on the world).
//!
//! A script line is `S: statement` (session `S`, one letter: its own connection) or `sleep
//! 300ms`. After each line the transcript records, per session in name order, the lines each
//! session printed meanwhile — so a statement waiting for a lock prints nothing until the line
//! that frees it, and then its result appears there. psql prints in `-A -t` form (`1|a|0`,
//! `UPDATE 1`, `t`, an empty line for a void function, `ERROR:  55P03: …`); the lines psql adds
//! to an error (`LOCATION`, `DETAIL` — which name process ids —, `CONTEXT`, …) are left out.

#[path = "pg_conformance/postgres.rs"]
mod postgres;
#[path = "common/real_server.rs"]
mod real_server;

use std::path::PathBuf;
use std::time::Duration;

use locksim::ctl::pg::{parse_pg_line, PgShell};
use sim::pg::{Answer, Reply};

/// Every script runs on a fresh `locks` table.
const CREATE: &str = "drop table if exists locks; create table locks (id bigint primary key, \
                      value text, version bigint not null default 0);";

enum Line {
    Statement { session: char, sql: String },
    Sleep(Duration),
}

struct Script {
    path: PathBuf,
    lines: Vec<Line>,
}

fn scripts() -> Vec<Script> {
    real_server::scripts("pg_conformance", "sql")
        .into_iter()
        .map(|(path, text)| {
            let lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("--"))
                .map(|l| {
                    if let Some(d) = l.strip_prefix("sleep ") {
                        let ms = d.trim_end_matches("ms").parse().unwrap_or_else(|_| {
                            panic!("{}: sleep takes milliseconds: {l}", path.display())
                        });
                        return Line::Sleep(Duration::from_millis(ms));
                    }
                    let (session, sql) = l
                        .split_once(": ")
                        .filter(|(s, _)| s.len() == 1)
                        .unwrap_or_else(|| panic!("{}: not `S: sql`: {l}", path.display()));
                    Line::Statement {
                        session: session.chars().next().unwrap(),
                        sql: sql.to_string(),
                    }
                })
                .collect();
            Script { path, lines }
        })
        .collect()
}

/// The sessions a script uses, in name order.
fn sessions(script: &Script) -> Vec<char> {
    let mut s: Vec<char> = script
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Statement { session, .. } => Some(*session),
            Line::Sleep(_) => None,
        })
        .collect();
    s.sort();
    s.dedup();
    s
}

/// psql's lines for an answer, as compared.
fn psql_lines(answer: &Answer) -> Vec<String> {
    let mut out: Vec<String> = answer
        .notices
        .iter()
        .map(|n| format!("{}:  {}: {}", n.severity, n.sqlstate, n.message))
        .collect();
    match &answer.result {
        Err(e) => out.push(format!("ERROR:  {}: {}", e.sqlstate, e.message)),
        Ok(Reply::Rows { rows }) => out.extend(
            rows.iter()
                .map(|r| format!("{}|{}|{}", r.id, r.value, r.version)),
        ),
        Ok(Reply::Void) => out.push(String::new()),
        Ok(Reply::Returning { rows, tag, count }) => {
            out.extend(
                rows.iter()
                    .map(|r| format!("{}|{}|{}", r.id, r.value, r.version)),
            );
            out.push(format!("{tag} {count}"));
        }
        Ok(reply) => out.push(reply.to_string()),
    }
    out
}

/// The extra lines psql prints under an error or warning.
fn is_detail(line: &str) -> bool {
    [
        "LOCATION:",
        "DETAIL:",
        "HINT:",
        "CONTEXT:",
        "SCHEMA NAME:",
        "TABLE NAME:",
        "CONSTRAINT NAME:",
        "COLUMN NAME:",
        "DATATYPE NAME:",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// One entry per script line: `S: …` lines, sessions in name order.
type Transcript = Vec<Vec<String>>;

/// The script through `locksim ctl --backend pg` (its shell, as the CLI runs it): each line's
/// JSON answers, read back as the server's answers.
fn run_ctl(script: &Script) -> Transcript {
    let mut shell = PgShell::new(1, 0).expect("the server starts");
    let mut transcript = Transcript::new();
    for line in &script.lines {
        let text = match line {
            Line::Statement { session, sql } => format!("{session}: {sql}"),
            Line::Sleep(d) => format!("sleep {}ms", d.as_millis()),
        };
        let cmd = parse_pg_line(&text)
            .unwrap_or_else(|e| panic!("{}: {text}: {e:?}", script.path.display()))
            .expect("not a comment");
        let json = shell.execute(&cmd);
        let arrived: Vec<(char, Answer)> = json["answers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let session = a["session"].as_str().unwrap().chars().next().unwrap();
                let result = match a.get("ok") {
                    Some(ok) => Ok(serde_json::from_value::<Reply>(ok.clone()).unwrap()),
                    None => Err(serde_json::from_value(a["error"].clone()).unwrap()),
                };
                let notices = a
                    .get("notices")
                    .map(|n| serde_json::from_value(n.clone()).unwrap())
                    .unwrap_or_default();
                (session, Answer { result, notices })
            })
            .collect();
        let mut entry = Vec::new();
        for s in sessions(script) {
            for (_, a) in arrived.iter().filter(|(b, _)| *b == s) {
                entry.extend(psql_lines(a).into_iter().map(|l| format!("{s}: {l}")));
            }
        }
        transcript.push(entry);
    }
    transcript
}

fn run_real(server: &postgres::Postgres, script: &Script) -> Transcript {
    let mut setup = server.session();
    let mark = setup.send(CREATE);
    let lines = setup.until(&mark, Duration::from_secs(10));
    assert!(lines.contains(&mark), "setup failed: {lines:?}");
    let names = sessions(script);
    let mut psql: Vec<(char, postgres::Psql)> =
        names.iter().map(|&s| (s, server.session())).collect();
    // The mark each session's unfinished statement (one waiting for a lock) will print.
    let mut pending: Vec<Option<String>> = vec![None; names.len()];
    let mut transcript = Transcript::new();
    for line in &script.lines {
        let mut arrived: Vec<(char, Vec<String>)> = Vec::new();
        match line {
            Line::Statement { session, sql } => {
                let i = names.iter().position(|s| s == session).unwrap();
                let p = &mut psql[i].1;
                let mark = p.send(sql);
                // Its own answer, or nothing within 200 ms if it waits for a lock. The waits
                // are short so that real time stays close to the simulation's (a statement
                // there takes a few ms): the scripts' timeouts are 1 s and more.
                let mine = p.until(&mark, Duration::from_millis(200));
                if !mine.contains(&mark) {
                    pending[i] = Some(mark);
                }
                arrived.push((*session, mine));
            }
            Line::Sleep(d) => std::thread::sleep(*d),
        }
        // Whatever the line woke: the sessions still waiting.
        for (i, (s, p)) in psql.iter_mut().enumerate() {
            if let Some(mark) = &pending[i] {
                let lines = p.drain(Duration::from_millis(100));
                if lines.contains(mark) {
                    pending[i] = None;
                }
                arrived.push((*s, lines));
            }
        }
        let mut entry = Vec::new();
        for s in &names {
            for (_, lines) in arrived.iter().filter(|(a, _)| a == s) {
                // A DETAIL can run over several lines (a deadlock's names each process): its
                // unprefixed continuation lines go with it, up to the next prefixed line.
                let mut in_detail = false;
                for l in lines {
                    let mark = l.starts_with("__locksim_mark_");
                    let prefixed = mark || is_detail(l) || l.starts_with("ERROR:");
                    if prefixed || l.starts_with("WARNING:") {
                        in_detail = l.starts_with("DETAIL:");
                    }
                    if !mark && !is_detail(l) && !in_detail {
                        entry.push(format!("{s}: {l}"));
                    }
                }
            }
        }
        transcript.push(entry);
    }
    transcript
}

fn show(script: &Script, t: &Transcript) -> String {
    let mut out = String::new();
    for (line, entry) in script.lines.iter().zip(t) {
        match line {
            Line::Statement { session, sql } => out.push_str(&format!("{session}> {sql}\n")),
            Line::Sleep(d) => out.push_str(&format!("sleep {}ms\n", d.as_millis())),
        }
        for l in entry {
            out.push_str(&format!("    {l}\n"));
        }
    }
    out
}

#[test]
fn every_script_runs_through_locksim_ctl() {
    for script in scripts() {
        let t = run_ctl(&script);
        assert_eq!(t.len(), script.lines.len());
    }
}

#[test]
fn lock_scripts_match_real_postgres() {
    if !postgres::available_or_skip("lock_scripts_match_real_postgres") {
        return;
    }
    let server = postgres::Postgres::start();
    let mut lines = 0;
    for script in scripts() {
        let ours = run_ctl(&script);
        let real = run_real(&server, &script);
        lines += script.lines.len();
        assert_eq!(
            show(&script, &ours),
            show(&script, &real),
            "{}: locksim ctl (left) and PostgreSQL 15 (right) differ",
            script.path.display()
        );
    }
    println!("{lines} script lines, 0 differences");
}
