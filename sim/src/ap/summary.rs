//! AP commands and replies in redis-cli's words, for history summaries (text output, timeline
//! titles): `SET lock "c1:8050:67" NX PX 10000`, `(integer) 1`, `(nil)`.

use super::command::{Command, Reply};

/// A key as redis-cli would let you type it: bare when it is printable without spaces or
/// quotes, else quoted with escapes.
fn key(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() && c != '"') => {
            s.to_string()
        }
        _ => quoted(bytes),
    }
}

/// A value in double quotes, as redis-cli prints a bulk string (`\xNN` for bytes that are not
/// printable ASCII).
fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

pub(crate) fn command(c: &Command) -> String {
    match c {
        Command::Get { key: k } => format!("GET {}", key(k)),
        Command::Set {
            key: k,
            value,
            nx,
            px,
        } => {
            let mut s = format!("SET {} {}", key(k), quoted(value));
            if *nx {
                s.push_str(" NX");
            }
            if let Some(ms) = px {
                s.push_str(&format!(" PX {ms}"));
            }
            s
        }
        Command::Del { key: k } => format!("DEL {}", key(k)),
        Command::CompareAndDelete { key: k, value } => {
            format!("EVAL release {} {}", key(k), quoted(value))
        }
        Command::CompareAndPexpire { key: k, value, ms } => {
            format!("EVAL extend {} {} {ms}", key(k), quoted(value))
        }
        Command::Pexpire { key: k, ms } => format!("PEXPIRE {} {ms}", key(k)),
        Command::Incr { key: k } => format!("INCR {}", key(k)),
        Command::Wait {
            replicas,
            timeout_ms,
        } => format!("WAIT {replicas} {timeout_ms}"),
    }
}

pub(crate) fn reply(r: &Reply) -> String {
    match r {
        Reply::Ok => "OK".into(),
        Reply::Nil => "(nil)".into(),
        Reply::Bulk(v) => quoted(v),
        Reply::Integer(n) => format!("(integer) {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_as_redis_cli_would_print_them() {
        let set = Command::Set {
            key: b"lock".to_vec(),
            value: b"c1:8050:67".to_vec(),
            nx: true,
            px: Some(10_000),
        };
        assert_eq!(command(&set), r#"SET lock "c1:8050:67" NX PX 10000"#);
        let odd = Command::Get {
            key: b"a b\x01".to_vec(),
        };
        assert_eq!(command(&odd), r#"GET "a b\x01""#);
        assert_eq!(reply(&Reply::Integer(1)), "(integer) 1");
        assert_eq!(reply(&Reply::Nil), "(nil)");
    }
}
