//! The one-line txn grammar: `txn [IF cmp; …] [THEN op; …] [ELSE op; …]`, the form of
//! etcdctl's interactive `txn` on one line, with compares spelled as etcdctl's `ParseCompare`
//! reads them. Why a grammar of its own: clauses hold quoted text with `;` and keywords in it,
//! so the line is not a word list.

use sim::{Compare, CompareResult, CompareTarget, RequestOp, TxnRequest};

use super::etcd::{parse_del, parse_get, parse_put};
use super::lexer::{lossy, quoted_span, unescape_go, words};
use super::{ParseError, Result};

/// The clauses of a one-line txn, as raw text: what etcdctl's interactive `txn` reads as three
/// blocks of lines separated by blank lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnText {
    pub compares: Vec<String>,
    pub success: Vec<String>,
    pub failure: Vec<String>,
}

impl TxnText {
    /// Splits `[IF cmp; …] [THEN op; …] [ELSE op; …]` (the text after `txn`). The keywords are
    /// upper case, bare (outside quotes) and come in this order, each at most once.
    pub fn split(rest: &str) -> std::result::Result<TxnText, ParseError> {
        #[derive(Clone, Copy, PartialEq, PartialOrd)]
        enum Section {
            Start,
            If,
            Then,
            Else,
        }
        let mut text = TxnText::default();
        let mut section = Section::Start;
        let mut clause = String::new();
        let finish = |section: Section, clause: &mut String, text: &mut TxnText| -> Result<()> {
            let c = clause.trim().to_string();
            clause.clear();
            if c.is_empty() {
                return Ok(());
            }
            match section {
                Section::Start => {
                    return Err(ParseError::new(format!(
                    "txn: expected IF, THEN or ELSE before {c:?}; usage: txn IF <cmp>[; <cmp>…] \
                         THEN <op>[; <op>…] ELSE <op>[; <op>…]"
                )))
                }
                Section::If => text.compares.push(c),
                Section::Then => text.success.push(c),
                Section::Else => text.failure.push(c),
            }
            Ok(())
        };
        let mut i = 0;
        while i < rest.len() {
            let c = rest[i..].chars().next().expect("i is a char boundary");
            if matches!(c, '"' | '\'' | '`') {
                let (_, end) = quoted_span(rest, i)?;
                clause.push_str(&rest[i..end]);
                i = end;
                continue;
            }
            let at_word_start = i == 0 || rest[..i].ends_with(char::is_whitespace);
            let keyword = [
                ("IF", Section::If),
                ("THEN", Section::Then),
                ("ELSE", Section::Else),
            ]
            .into_iter()
            .find(|(k, _)| {
                at_word_start
                    && rest[i..].starts_with(k)
                    && rest[i + k.len()..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace)
            });
            if let Some((k, next)) = keyword {
                finish(section, &mut clause, &mut text)?;
                if next <= section {
                    return Err(ParseError::new(format!(
                        "txn: {k} out of place; the sections are IF, THEN, ELSE, in this order, \
                         each at most once"
                    )));
                }
                section = next;
                i += k.len();
            } else if c == ';' {
                finish(section, &mut clause, &mut text)?;
                i += 1;
            } else {
                clause.push(c);
                i += c.len_utf8();
            }
        }
        finish(section, &mut clause, &mut text)?;
        Ok(text)
    }

    /// The stdin etcdctl's `txn` reads: compares, blank line, success ops, blank line, failure
    /// ops, blank line. Used to drive the real etcdctl with the same script.
    pub fn to_interactive(&self) -> String {
        let mut s = String::new();
        for block in [&self.compares, &self.success, &self.failure] {
            for line in block {
                s.push_str(line);
                s.push('\n');
            }
            s.push('\n');
        }
        s
    }
}

pub(super) fn parse_txn(rest: &str) -> Result<TxnRequest> {
    let text = TxnText::split(rest)?;
    let ops = |clauses: &[String]| -> Result<Vec<RequestOp>> {
        clauses.iter().map(|c| parse_op(c)).collect()
    };
    Ok(TxnRequest {
        compare: text
            .compares
            .iter()
            .map(|c| parse_compare(c))
            .collect::<Result<_>>()?,
        success: ops(&text.success)?,
        failure: ops(&text.failure)?,
    })
}

fn parse_op(clause: &str) -> Result<RequestOp> {
    let words = words(clause)?;
    let (name, args) = words.split_first().expect("clauses are not blank");
    let args = args.to_vec();
    Ok(match lossy(&name.bytes).as_str() {
        "put" => RequestOp::Put(parse_put(args)?),
        "get" => RequestOp::Range(parse_get(args)?),
        "del" => RequestOp::DeleteRange(parse_del(args)?),
        other => {
            return Err(ParseError::new(format!(
                "txn op {other:?} in {clause:?}; allowed: put, get, del"
            )))
        }
    })
}

/// `target("key") op "value"`, as etcdctl's `ParseCompare`: the key and value are Go-quoted,
/// numbers are decimal except the lease id (hex). Unlike etcdctl, trailing text is an error.
fn parse_compare(clause: &str) -> Result<Compare> {
    const USAGE: &str = "compare is target(\"key\") op \"value\" with target version|ver, \
        create|c, mod|m, value|val or lease and op =, !=, > or <";
    let bad = |what: String| ParseError::new(format!("{what} in {clause:?}; {USAGE}"));
    let (target, rest) = clause
        .split_once('(')
        .ok_or_else(|| bad("missing '('".into()))?;
    let quoted = |s: &str, what: &str| -> Result<(Vec<u8>, usize)> {
        match s.chars().next() {
            Some(q @ ('"' | '`')) => {
                let (body, end) = quoted_span(s, 0)?;
                let bytes = if q == '"' {
                    unescape_go(body)?
                } else {
                    body.as_bytes().to_vec()
                };
                Ok((bytes, end))
            }
            _ => Err(bad(format!("the {what} must be double-quoted"))),
        }
    };
    let (key, end) = quoted(rest, "key")?;
    let rest = rest[end..]
        .strip_prefix(')')
        .ok_or_else(|| bad("expected ')' right after the key".into()))?
        .trim_start();
    let (result, rest) = [
        ("!=", CompareResult::NotEqual),
        ("=", CompareResult::Equal),
        (">", CompareResult::Greater),
        ("<", CompareResult::Less),
    ]
    .into_iter()
    .find_map(|(op, r)| rest.strip_prefix(op).map(|rest| (r, rest.trim_start())))
    .ok_or_else(|| bad("unknown operator".into()))?;
    let (value, end) = quoted(rest, "value")?;
    if !rest[end..].trim().is_empty() {
        return Err(bad(format!(
            "unexpected {:?} after the value",
            rest[end..].trim()
        )));
    }
    let number = |radix: u32| -> Result<i64> {
        let s = lossy(&value);
        i64::from_str_radix(&s, radix).map_err(|_| {
            bad(format!(
                "{target} needs a {} number, got {s:?}",
                if radix == 16 {
                    "hexadecimal"
                } else {
                    "decimal"
                }
            ))
        })
    };
    let target = match target.trim() {
        "version" | "ver" => CompareTarget::Version(number(10)?),
        "create" | "c" => CompareTarget::Create(number(10)?),
        "mod" | "m" => CompareTarget::Mod(number(10)?),
        "value" | "val" => CompareTarget::Value(value),
        "lease" => CompareTarget::Lease(number(16)?),
        other => return Err(bad(format!("unknown target {other:?}"))),
    };
    Ok(Compare {
        result,
        target,
        key,
        range_end: Vec::new(),
    })
}
