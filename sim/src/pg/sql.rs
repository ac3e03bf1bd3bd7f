//! The psql-like syntax of `locksim ctl --backend pg` and of the pg conformance scripts: the
//! statements the database locks use, written as PostgreSQL takes them, parsed into
//! [`Statement`]s.
//!
//! Why a parser of its own rather than a SQL parser crate: the engine runs a fixed set of
//! statement shapes over `(id, value, version)` tables. A general parser would accept far
//! more than can run, and a refusal must say which shapes are supported. Keywords are
//! case-insensitive, strings are single-quoted (`''` inside), a trailing `;` is optional.
//!
//! ```text
//! BEGIN | START TRANSACTION        COMMIT | END        ROLLBACK | ABORT
//! SET lock_timeout = '200ms'       (or TO; a number is milliseconds; 0 = wait forever)
//! SET idle_in_transaction_session_timeout = '5s'
//! SELECT * FROM t WHERE id = 1 | id IN (1, 2) [AND version = 0] [ORDER BY id]
//!     [FOR UPDATE [NOWAIT | SKIP LOCKED]]
//! UPDATE t SET value = 'x', version = version + 1 WHERE id = 1 [AND version = 0] [RETURNING *]
//! INSERT INTO t VALUES (1, 'x'[, 0])
//! SELECT pg_advisory_lock(k) | pg_try_advisory_lock(k) | pg_advisory_xact_lock(k)
//!      | pg_try_advisory_xact_lock(k) | pg_advisory_unlock(k) | pg_advisory_unlock_all()
//! ```

use std::time::Duration;

use super::statement::{LockWait, Scope, Statement};

/// What the supported shapes are, for error messages.
pub const SUPPORTED: &str = "BEGIN, COMMIT, ROLLBACK, SET lock_timeout | idle_in_transaction_session_timeout = '…', SELECT * FROM t WHERE id = n | id IN (…) [AND version = n] [ORDER BY id] [FOR UPDATE [NOWAIT | SKIP LOCKED]], UPDATE t SET value = '…', version = version + 1 WHERE id = n [AND version = n] [RETURNING *], INSERT INTO t VALUES (n, '…'), SELECT pg_advisory_lock(k) and its try/xact/unlock variants";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Number(i64),
    Str(String),
    Punct(char),
}

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Number(n) => n.to_string(),
            Token::Str(s) => format!("'{s}'"),
            Token::Punct(c) => c.to_string(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut w = String::new();
            while let Some(&c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
            {
                w.push(c.to_ascii_lowercase());
                chars.next();
            }
            out.push(Token::Word(w));
        } else if c.is_ascii_digit()
            || (c == '-' && {
                let mut ahead = chars.clone();
                ahead.next();
                ahead.peek().is_some_and(|d| d.is_ascii_digit())
            })
        {
            let mut n = String::new();
            n.push(c);
            chars.next();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(d);
                chars.next();
            }
            let v = n
                .parse()
                .map_err(|_| format!("syntax error at or near \"{n}\""))?;
            out.push(Token::Number(v));
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted string".into()),
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => s.push(c),
                }
            }
            out.push(Token::Str(s));
        } else if "(),=+*;".contains(c) {
            out.push(Token::Punct(c));
            chars.next();
        } else {
            return Err(format!("syntax error at or near \"{c}\""));
        }
    }
    while out.last() == Some(&Token::Punct(';')) {
        out.pop();
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn near(&self) -> String {
        match self.peek() {
            Some(t) => format!("syntax error at or near \"{}\"", t.show()),
            None => "syntax error at end of input".into(),
        }
    }

    fn word(&mut self, w: &str) -> bool {
        if self.peek() == Some(&Token::Word(w.into())) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), String> {
        if self.word(w) {
            Ok(())
        } else {
            Err(self.near())
        }
    }

    fn punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        if self.punct(c) {
            Ok(())
        } else {
            Err(self.near())
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Word(w)) => {
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.near()),
        }
    }

    fn number(&mut self) -> Result<i64, String> {
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.at += 1;
                Ok(n)
            }
            _ => Err(self.near()),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Str(s)) => {
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.near()),
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.near()),
        }
    }

    /// `id = n` or `id IN (n, …)`, then `[AND version = n]`.
    fn id_condition(&mut self) -> Result<(Vec<i64>, Option<i64>), String> {
        self.expect_word("where")?;
        self.expect_word("id")?;
        let ids = if self.punct('=') {
            vec![self.number()?]
        } else {
            self.expect_word("in")?;
            self.expect_punct('(')?;
            let mut ids = vec![self.number()?];
            while self.punct(',') {
                ids.push(self.number()?);
            }
            self.expect_punct(')')?;
            ids
        };
        let version = if self.word("and") {
            self.expect_word("version")?;
            self.expect_punct('=')?;
            Some(self.number()?)
        } else {
            None
        };
        Ok((ids, version))
    }
}

/// Parse one statement. The error is PostgreSQL's for a syntax error (`syntax error at or near
/// "…"`) or says that the statement is valid SQL but not one of the supported shapes.
pub fn parse(text: &str) -> Result<Statement, String> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let unsupported = |what: &str| format!("{what} is not supported here; supported: {SUPPORTED}");
    let first = p.name().map_err(|_| p.near())?;
    let statement = match first.as_str() {
        "begin" => {
            let _ = p.word("transaction") || p.word("work");
            Statement::Begin
        }
        "start" => {
            p.expect_word("transaction")?;
            Statement::Begin
        }
        "commit" | "end" => {
            let _ = p.word("transaction") || p.word("work");
            Statement::Commit
        }
        "rollback" | "abort" => {
            let _ = p.word("transaction") || p.word("work");
            Statement::Rollback
        }
        "set" => {
            let setting = p.name()?;
            if setting != "lock_timeout" && setting != "idle_in_transaction_session_timeout" {
                return Err(unsupported(&format!("SET {setting}")));
            }
            if !p.punct('=') {
                p.expect_word("to")?;
            }
            let timeout = match p.peek().cloned() {
                Some(Token::Number(n)) if n >= 0 => {
                    p.at += 1;
                    Duration::from_millis(n as u64)
                }
                Some(Token::Str(s)) => {
                    p.at += 1;
                    parse_pg_duration(&s).ok_or_else(|| {
                        format!("invalid value for parameter \"{setting}\": \"{s}\"")
                    })?
                }
                _ => return Err(p.near()),
            };
            if setting == "lock_timeout" {
                Statement::SetLockTimeout { timeout }
            } else {
                Statement::SetIdleInTransactionTimeout { timeout }
            }
        }
        "select" => {
            if p.punct('*') {
                p.expect_word("from")?;
                let table = p.name()?;
                let (ids, version) = p.id_condition()?;
                if p.word("order") {
                    p.expect_word("by")?;
                    p.expect_word("id")?;
                }
                if p.word("for") {
                    p.expect_word("update")?;
                    let wait = if p.word("nowait") {
                        LockWait::NoWait
                    } else if p.word("skip") {
                        p.expect_word("locked")?;
                        LockWait::SkipLocked
                    } else {
                        LockWait::Wait
                    };
                    Statement::SelectForUpdate {
                        table,
                        ids,
                        version,
                        wait,
                    }
                } else {
                    if version.is_some() {
                        return Err(unsupported("a plain SELECT with a version condition"));
                    }
                    Statement::Select { table, ids }
                }
            } else {
                let function = p.name()?;
                p.expect_punct('(')?;
                let key = if function == "pg_advisory_unlock_all" {
                    None
                } else {
                    Some(p.number()?)
                };
                p.expect_punct(')')?;
                let session = Scope::Session;
                let xact = Scope::Transaction;
                match (function.as_str(), key) {
                    ("pg_advisory_lock", Some(key)) => Statement::AdvisoryLock {
                        key,
                        scope: session,
                    },
                    ("pg_advisory_xact_lock", Some(key)) => {
                        Statement::AdvisoryLock { key, scope: xact }
                    }
                    ("pg_try_advisory_lock", Some(key)) => Statement::AdvisoryTryLock {
                        key,
                        scope: session,
                    },
                    ("pg_try_advisory_xact_lock", Some(key)) => {
                        Statement::AdvisoryTryLock { key, scope: xact }
                    }
                    ("pg_advisory_unlock", Some(key)) => Statement::AdvisoryUnlock { key },
                    ("pg_advisory_unlock_all", None) => Statement::AdvisoryUnlockAll,
                    _ => return Err(unsupported(&format!("SELECT {function}(…)"))),
                }
            }
        }
        "update" => {
            let table = p.name()?;
            p.expect_word("set")?;
            p.expect_word("value")?;
            p.expect_punct('=')?;
            let value = p.string()?;
            p.expect_punct(',')?;
            p.expect_word("version")?;
            p.expect_punct('=')?;
            p.expect_word("version")?;
            p.expect_punct('+')?;
            if p.number()? != 1 {
                return Err(unsupported("a version step other than + 1"));
            }
            let (ids, expected_version) = p.id_condition()?;
            let [id] = ids[..] else {
                return Err(unsupported("an UPDATE of several ids"));
            };
            let returning = p.word("returning");
            if returning {
                p.expect_punct('*')?;
            }
            Statement::Update {
                table,
                id,
                value,
                expected_version,
                returning,
            }
        }
        "insert" => {
            p.expect_word("into")?;
            let table = p.name()?;
            p.expect_word("values")?;
            p.expect_punct('(')?;
            let id = p.number()?;
            p.expect_punct(',')?;
            let value = p.string()?;
            if p.punct(',') && p.number()? != 0 {
                return Err(unsupported("an INSERT with a version other than 0"));
            }
            p.expect_punct(')')?;
            Statement::Insert { table, id, value }
        }
        _ => return Err(format!("syntax error at or near \"{first}\"")),
    };
    p.end()?;
    Ok(statement)
}

/// PostgreSQL's time units for `lock_timeout`: a number with `ms`, `s`, `min` (or none: ms).
fn parse_pg_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "min" => n.checked_mul(60_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_statements_parse_as_postgres_writes_them() {
        assert_eq!(parse("begin;").unwrap(), Statement::Begin);
        assert_eq!(parse("COMMIT").unwrap(), Statement::Commit);
        assert_eq!(
            parse("select * from locks where id in (3, 1) and version = 0 order by id for update skip locked;")
                .unwrap(),
            Statement::SelectForUpdate {
                table: "locks".into(),
                ids: vec![3, 1],
                version: Some(0),
                wait: LockWait::SkipLocked,
            }
        );
        assert_eq!(
            parse("UPDATE locks SET value = 'it''s', version = version + 1 WHERE id = 1 AND version = 4")
                .unwrap(),
            Statement::Update {
                table: "locks".into(),
                id: 1,
                value: "it's".into(),
                expected_version: Some(4),
                returning: false,
            }
        );
        assert_eq!(
            parse("set lock_timeout to '2s'").unwrap(),
            Statement::SetLockTimeout {
                timeout: Duration::from_secs(2)
            }
        );
        assert_eq!(
            parse("select pg_try_advisory_xact_lock(-7)").unwrap(),
            Statement::AdvisoryTryLock {
                key: -7,
                scope: Scope::Transaction
            }
        );
        assert_eq!(
            parse("insert into locks values (4, 'd', 0)").unwrap(),
            Statement::Insert {
                table: "locks".into(),
                id: 4,
                value: "d".into()
            }
        );
    }

    #[test]
    fn refusals_say_where_or_what_is_supported() {
        assert_eq!(
            parse("selec 1").unwrap_err(),
            "syntax error at or near \"selec\""
        );
        assert_eq!(
            parse("select * from locks where id = ").unwrap_err(),
            "syntax error at end of input"
        );
        assert!(parse("set work_mem = '4MB'")
            .unwrap_err()
            .starts_with("SET work_mem is not supported here; supported: BEGIN"));
        assert_eq!(
            parse("set lock_timeout = 'soon'").unwrap_err(),
            "invalid value for parameter \"lock_timeout\": \"soon\""
        );
        assert!(parse("select * from locks where id = 1 extra").is_err());
    }
}
