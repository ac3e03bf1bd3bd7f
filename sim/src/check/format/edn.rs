//! Jepsen history maps, one per line: `{:process 0, :type :invoke, :f :get, :key "7", :value nil}`.
//!
//! Why a small reader of our own: the EDN crates on crates.io are either unmaintained or bring a
//! whole data model we would convert out of again; Jepsen's history lines use a small subset
//! (maps, vectors, keywords, strings, integers, nil, booleans), which is what this reads.
//! Tagged literals (`#inst "…"`) are read as their value; floats and characters are refused.

use super::{event_type, Event, ParseError, Value};

/// Parse one EDN map per non-blank line (lines starting with `;` are comments).
///
/// Required keys: `:process`, `:type`, `:f`; optional `:value` (default nil) and `:key`. Other
/// keys (`:time`, `:index`, `:error`) are ignored. Lines of a wrapping vector (`[` … `]` alone on
/// their lines) are skipped, so `history.edn` written as one vector per line also reads.
pub fn parse_edn(text: &str) -> Result<Vec<Event>, ParseError> {
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim();
        if trimmed.is_empty() || trimmed.starts_with(';') {
            continue;
        }
        let Value::Map(entries) = parse_edn_value(line, trimmed)? else {
            return Err(ParseError::new(
                line,
                "expected a map {:process …, :type …, :f …}",
            ));
        };
        let get = |name: &str| {
            entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Keyword(k) if k == name))
                .map(|(_, v)| v)
        };
        let process = match get("process") {
            Some(Value::Int(p)) => p.to_string(),
            Some(Value::Keyword(k)) if k == "nemesis" => continue,
            Some(other) => {
                return Err(ParseError::new(
                    line,
                    format!(":process {other} is not an integer"),
                ))
            }
            None => return Err(ParseError::new(line, "missing :process")),
        };
        let kind = event_type(
            line,
            get("type").ok_or_else(|| ParseError::new(line, "missing :type"))?,
        )?;
        let f = match get("f") {
            Some(Value::Keyword(f)) => f.clone(),
            Some(other) => {
                return Err(ParseError::new(
                    line,
                    format!(":f {other} is not a keyword"),
                ))
            }
            None => return Err(ParseError::new(line, "missing :f")),
        };
        events.push(Event {
            line,
            process,
            kind,
            f,
            key: get("key").cloned(),
            value: get("value").cloned().unwrap_or(Value::Nil),
        });
    }
    if events.is_empty() {
        return Err(ParseError::new(0, "no history maps found"));
    }
    Ok(events)
}

/// Parse exactly one EDN value from `text`.
pub fn parse_edn_value(line: usize, text: &str) -> Result<Value, ParseError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        line,
    };
    let value = reader.value()?;
    reader.skip_ws();
    if reader.pos < reader.chars.len() {
        return Err(reader.error("trailing characters after the value"));
    }
    Ok(value)
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Reader {
    fn error(&self, what: &str) -> ParseError {
        ParseError::new(
            self.line,
            format!("EDN: {what} (at column {})", self.pos + 1),
        )
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.pos += 1;
            } else if c == ';' {
                self.pos = self.chars.len();
            } else {
                break;
            }
        }
    }

    fn is_delimiter(c: char) -> bool {
        c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !Self::is_delimiter(c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value, found the end of the line"));
        };
        match c {
            '{' => {
                self.pos += 1;
                let items = self.sequence('}')?;
                if items.len() % 2 != 0 {
                    return Err(self.error("a map needs an even number of forms"));
                }
                let mut it = items.into_iter();
                let mut entries = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Ok(Value::Map(entries))
            }
            '[' => {
                self.pos += 1;
                Ok(Value::Vector(self.sequence(']')?))
            }
            '(' => {
                self.pos += 1;
                Ok(Value::Vector(self.sequence(')')?))
            }
            '#' => {
                self.pos += 1;
                match self.peek() {
                    Some('{') => {
                        self.pos += 1;
                        Ok(Value::Vector(self.sequence('}')?))
                    }
                    Some('_') => {
                        // #_ discards the next form.
                        self.pos += 1;
                        self.value()?;
                        self.value()
                    }
                    _ => {
                        // A tagged literal: read the tag, keep the value.
                        self.token();
                        self.value()
                    }
                }
            }
            '"' => self.string(),
            ':' => {
                self.pos += 1;
                let name = self.token();
                if name.is_empty() {
                    return Err(self.error("empty keyword"));
                }
                Ok(Value::Keyword(name))
            }
            ')' | ']' | '}' => Err(self.error(&format!("unexpected '{c}'"))),
            '\\' => Err(self.error("characters are not supported")),
            _ => {
                let token = self.token();
                match token.as_str() {
                    "nil" => Ok(Value::Nil),
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    t if t.starts_with(|c: char| c.is_ascii_digit())
                        || (t.len() > 1
                            && t.starts_with(['-', '+'])
                            && t[1..].starts_with(|c: char| c.is_ascii_digit())) =>
                    {
                        t.trim_end_matches('N')
                            .parse::<i64>()
                            .map(Value::Int)
                            .map_err(|_| self.error(&format!("{t} is not a 64-bit integer")))
                    }
                    t => Ok(Value::Symbol(t.to_string())),
                }
            }
        }
    }

    fn sequence(&mut self, close: char) -> Result<Vec<Value>, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.error(&format!("missing '{close}'"))),
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn string(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(Value::Str(s)),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        '"' => s.push('"'),
                        '\\' => s.push('\\'),
                        'u' => {
                            let hex: String = self.chars.iter().skip(self.pos).take(4).collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error("bad \\u escape"))?;
                            self.pos += 4;
                            s.push(code);
                        }
                        other => return Err(self.error(&format!("unknown escape \\{other}"))),
                    }
                }
                c => s.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::format::EventType;

    #[test]
    fn reads_a_history_map() {
        let text = "{:process 0, :type :invoke, :f :get, :key \"7\", :value nil}\n\
                    ; a comment\n\
                    {:process 0, :type :ok, :f :get, :key \"7\", :value \"x \\\"1\\\"\", :time 12}\n";
        let events = parse_edn(text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].key, Some(Value::Str("7".into())));
        assert_eq!(events[1].kind, EventType::Ok);
        assert_eq!(events[1].line, 3);
        assert_eq!(events[1].value, Value::Str("x \"1\"".into()));
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_edn_value(1, "[1 -2 nil :a \"s\" #{3} (4)]").unwrap(),
            Value::Vector(vec![
                Value::Int(1),
                Value::Int(-2),
                Value::Nil,
                Value::Keyword("a".into()),
                Value::Str("s".into()),
                Value::Vector(vec![Value::Int(3)]),
                Value::Vector(vec![Value::Int(4)]),
            ])
        );
        assert_eq!(
            parse_edn_value(1, "#inst \"2020\"").unwrap(),
            Value::Str("2020".into())
        );
    }

    #[test]
    fn errors_name_the_line() {
        for bad in [
            "{:process 0 :type}",
            "{:process 0, :type :invoke}",
            "[1 2",
            "\"abc",
            "{:process x, :type :ok, :f :read}",
        ] {
            let err = parse_edn(&format!("\n{bad}\n")).unwrap_err();
            assert_eq!(err.line, 2, "{bad}: {err}");
        }
        assert_eq!(parse_edn("").unwrap_err().line, 0);
    }
}
