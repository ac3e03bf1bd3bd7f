//! A ctl line → words, as etcdctl's `argify` splits a txn line: bare words, `"double-quoted"`
//! with Go escapes or `'single-quoted'` literally. Why here and not in each command: the txn
//! grammar and the flag parser need the same quoting rules (a quoted word is never a flag).

use super::{ParseError, Result};

/// A word of a line after unquoting. `quoted` words are never flags or txn keywords.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Word {
    pub(super) bytes: Vec<u8>,
    pub(super) quoted: bool,
}

/// Splits a line into words (bytes after unquoting), as the shell does before dispatching.
///
/// Public so tests can turn a ctl line into the argv of the real `etcdctl`.
pub fn split_words(line: &str) -> std::result::Result<Vec<Vec<u8>>, ParseError> {
    Ok(words(line)?.into_iter().map(|w| w.bytes).collect())
}

pub(super) fn words(line: &str) -> Result<Vec<Word>> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let word = match c {
            '"' | '\'' => {
                let (body, end) = quoted_span(line, start)?;
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
                if let Some(&(_, next)) = chars.peek() {
                    if !next.is_whitespace() {
                        return Err(ParseError::new(format!(
                            "unexpected {next:?} right after the closing quote in {line:?}; \
                             separate words with spaces"
                        )));
                    }
                }
                let bytes = if c == '"' {
                    unescape_go(body)?
                } else {
                    body.as_bytes().to_vec()
                };
                Word {
                    bytes,
                    quoted: true,
                }
            }
            _ => {
                let mut end = line.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                Word {
                    bytes: line.as_bytes()[start..end].to_vec(),
                    quoted: false,
                }
            }
        };
        out.push(word);
    }
    Ok(out)
}

/// The body of the quoted string opening at `start` (`"`, `'` or `` ` ``) and the index just
/// after its closing quote. Only `"` strings have escapes (so `\"` does not close them).
pub(super) fn quoted_span(s: &str, start: usize) -> Result<(&str, usize)> {
    let quote = s[start..].chars().next().expect("start is a quote");
    let mut escaped = false;
    for (i, c) in s[start + 1..].char_indices() {
        let i = start + 1 + i;
        if escaped {
            escaped = false;
        } else if c == '\\' && quote == '"' {
            escaped = true;
        } else if c == quote {
            return Ok((&s[start + 1..i], i + 1));
        }
    }
    Err(ParseError::new(format!(
        "unterminated {quote} quote in {:?}",
        &s[start..]
    )))
}

/// Go's `strconv.Unquote` escapes, to bytes: keys are bytes, and `\xff` is one byte, not `ÿ`.
pub(super) fn unescape_go(body: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    let bad = |what: &str| {
        ParseError::new(format!(
            "bad escape {what} in \"{body}\"; allowed: \\a \\b \\f \\n \\r \\t \\v \\\\ \\\" \
             \\xHH \\OOO \\uHHHH \\UHHHHHHHH"
        ))
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(|| bad("at the end"))?;
        let simple = match e {
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let mut take = |n: usize, radix: u32| -> Result<u32> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.chars().count() != n {
                return Err(bad(&format!("\\{e}{digits}")));
            }
            u32::from_str_radix(&digits, radix).map_err(|_| bad(&format!("\\{e}{digits}")))
        };
        match e {
            'x' => out.push(take(2, 16)? as u8),
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = e.to_digit(8).expect("octal digit") * 64 + rest;
                out.push(u8::try_from(v).map_err(|_| bad(&format!("\\{e}… (> 255)")))?);
            }
            'u' | 'U' => {
                let v = take(if e == 'u' { 4 } else { 8 }, 16)?;
                let c = char::from_u32(v).ok_or_else(|| bad(&format!("\\{e}{v:X}")))?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(bad(&format!("\\{other}"))),
        }
    }
    Ok(out)
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
