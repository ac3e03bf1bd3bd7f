//! Jepsen's `jepsen.util` log lines: `INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[1 4]`
//! (tabs or spaces).

use super::edn::parse_edn_value;
use super::{event_type, Event, ParseError, Value};

/// Parse a Jepsen log into events.
///
/// A line is read when it holds `jepsen.util -` or `jepsen.util:` (older and newer Jepsen), or
/// when it starts with the fields themselves (`3 :invoke :read nil`). Fields after the marker
/// are separated by tabs or spaces: process, type, `:f`, and the value (the rest of the line, in
/// EDN). Other lines (other loggers, blank lines) are skipped; so are the nemesis's lines
/// (process `:nemesis`), which are not operations on the register.
///
/// Errors name the line: a malformed field, a value that is not EDN, or a file with no
/// operation at all.
pub fn parse_jepsen_log(text: &str) -> Result<Vec<Event>, ParseError> {
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let fields = if let Some(pos) = raw.find("jepsen.util -") {
            &raw[pos + "jepsen.util -".len()..]
        } else if let Some(pos) = raw.find("jepsen.util:") {
            &raw[pos + "jepsen.util:".len()..]
        } else if starts_with_fields(raw) {
            raw
        } else {
            continue;
        };
        let mut rest = fields.trim_start();
        let mut next_field = |what: &str| -> Result<&str, ParseError> {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (field, after) = rest.split_at(end);
            rest = after.trim_start();
            if field.is_empty() {
                Err(ParseError::new(line, format!("missing {what}")))
            } else {
                Ok(field)
            }
        };
        let process = next_field("process")?.to_string();
        if process == ":nemesis" {
            continue;
        }
        if process.parse::<i64>().is_err() {
            return Err(ParseError::new(
                line,
                format!("process {process:?} is not an integer"),
            ));
        }
        let kind = event_type(line, &parse_edn_value(line, next_field("type")?)?)?;
        let f = match parse_edn_value(line, next_field(":f")?)? {
            Value::Keyword(f) => f,
            other => {
                return Err(ParseError::new(
                    line,
                    format!(":f {other} is not a keyword"),
                ))
            }
        };
        let value = if rest.trim().is_empty() {
            Value::Nil
        } else {
            parse_edn_value(line, rest.trim())?
        };
        events.push(Event {
            line,
            process,
            kind,
            f,
            key: None,
            value,
        });
    }
    if events.is_empty() {
        return Err(ParseError::new(
            0,
            "no jepsen.util operation lines (expected e.g. `INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]`)",
        ));
    }
    Ok(events)
}

/// `3 :invoke …`: an integer, whitespace, then a keyword.
fn starts_with_fields(raw: &str) -> bool {
    let mut parts = raw.split_whitespace();
    matches!(
        (parts.next(), parts.next()),
        (Some(p), Some(t)) if p.parse::<i64>().is_ok() && t.starts_with(':')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::format::EventType;

    #[test]
    fn tabs_spaces_and_other_lines() {
        let text = "some header\nINFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n\
                    INFO  jepsen.util - 3   :info   :cas    :timed-out\n\
                    INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                    2 :invoke :read nil\n";
        let events = parse_jepsen_log(text).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].line, 2);
        assert_eq!(
            events[0].value,
            Value::Vector(vec![Value::Int(1), Value::Int(4)])
        );
        assert_eq!(events[1].kind, EventType::Info);
        assert_eq!(events[2].process, "2");
    }

    #[test]
    fn bad_lines_name_the_line() {
        let err = parse_jepsen_log("INFO  jepsen.util - x\t:invoke\t:read\tnil\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = parse_jepsen_log("\nINFO  jepsen.util - 1\t:begin\t:read\tnil\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains(":begin"), "{err}");
        let err = parse_jepsen_log("INFO  jepsen.util - 1\t:ok\t:read\t[1\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert_eq!(parse_jepsen_log("nothing here").unwrap_err().line, 0);
    }
}
