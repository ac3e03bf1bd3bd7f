//! Flags and positional words of one command, pflag-style (as etcdctl's cobra reads them), and
//! the integer words they carry. Why one parser: every command's errors then name the flags it
//! allows in the same words.

use std::collections::{BTreeMap, BTreeSet};

use sim::prefix_end;

use super::lexer::{lossy, Word};
use super::{ParseError, Result};

/// One allowed flag: `value` is the placeholder shown in errors (`N` in `--rev=N`), `None` for a
/// boolean flag.
pub(super) struct FlagSpec {
    name: &'static str,
    value: Option<&'static str>,
}

pub(super) const fn flag(name: &'static str) -> FlagSpec {
    FlagSpec { name, value: None }
}

pub(super) const fn valued(name: &'static str, placeholder: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        value: Some(placeholder),
    }
}

/// Flags and positional words of one command, pflag-style: flags anywhere, `--f=v` or `--f v`
/// for valued flags, `--f` or `--f=true|false` for booleans, `--` ends the flags.
pub(super) struct Flags {
    cmd: String,
    pub(super) positional: Vec<Vec<u8>>,
    /// BTreeMap so that, where we report several, the order is stable.
    values: BTreeMap<&'static str, String>,
    set: BTreeSet<&'static str>,
}

impl Flags {
    pub(super) fn parse(cmd: &str, args: Vec<Word>, spec: &[FlagSpec]) -> Result<Flags> {
        let allowed = || {
            if spec.is_empty() {
                "none".to_string()
            } else {
                spec.iter()
                    .map(|f| match f.value {
                        Some(p) => format!("--{}={p}", f.name),
                        None => format!("--{}", f.name),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut flags = Flags {
            cmd: cmd.to_string(),
            positional: Vec::new(),
            values: BTreeMap::new(),
            set: BTreeSet::new(),
        };
        let mut args = args.into_iter();
        while let Some(w) = args.next() {
            let text = lossy(&w.bytes);
            if w.quoted || !text.starts_with('-') || text == "-" {
                flags.positional.push(w.bytes);
                continue;
            }
            if text == "--" {
                flags.positional.extend(args.by_ref().map(|w| w.bytes));
                break;
            }
            let Some(body) = text.strip_prefix("--") else {
                return Err(ParseError::new(format!(
                    "unknown flag {text} for {cmd}; flags are spelled --name (quote a key or \
                     value that starts with '-'); allowed: {}",
                    allowed()
                )));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(f) = spec.iter().find(|f| f.name == name) else {
                return Err(ParseError::new(format!(
                    "unknown flag --{name} for {cmd}; allowed: {}",
                    allowed()
                )));
            };
            if !flags.set.insert(f.name) {
                return Err(ParseError::new(format!(
                    "flag --{name} given twice for {cmd}"
                )));
            }
            match f.value {
                None => {
                    let v = inline.unwrap_or_else(|| "true".to_string());
                    if v != "true" && v != "false" {
                        return Err(ParseError::new(format!(
                            "flag --{name} of {cmd} is true or false, got {v:?}"
                        )));
                    }
                    flags.values.insert(f.name, v);
                }
                Some(p) => {
                    let v = match inline {
                        Some(v) => v,
                        None => args.next().map(|w| lossy(&w.bytes)).ok_or_else(|| {
                            ParseError::new(format!(
                                "flag --{name} of {cmd} needs a value: --{name}={p}"
                            ))
                        })?,
                    };
                    flags.values.insert(f.name, v);
                }
            }
        }
        Ok(flags)
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v == "true")
    }

    pub(super) fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A non-negative integer flag; 0 when absent.
    pub(super) fn count(&self, name: &str) -> Result<i64> {
        let Some(v) = self.str(name) else {
            return Ok(0);
        };
        let n = parse_int(&format!("--{name}"), v.as_bytes())?;
        if n < 0 {
            return Err(ParseError::new(format!(
                "--{name} of {} must be >= 0, got {n}",
                self.cmd
            )));
        }
        Ok(n)
    }

    /// Exactly `N` positional words, named in the error by `names`.
    pub(super) fn positional<const N: usize>(
        self,
        cmd: &str,
        names: [&str; N],
    ) -> Result<[Vec<u8>; N]> {
        let got = self.positional.len();
        self.positional.try_into().map_err(|_| {
            ParseError::new(format!(
                "{cmd} takes {N} argument{} ({}), got {got}",
                if N == 1 { "" } else { "s" },
                if N == 0 {
                    "none".to_string()
                } else {
                    names.join(" ")
                },
            ))
        })
    }

    /// KEY and optional END, with etcdctl's `--prefix` / `--from-key` rules applied.
    pub(super) fn key_range(&self, cmd: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let (prefix, from_key) = (self.bool("prefix"), self.bool("from-key"));
        if prefix && from_key {
            return Err(ParseError::new(format!(
                "{cmd}: --prefix and --from-key cannot be set at the same time, choose one"
            )));
        }
        let (key, end) = match self.positional.as_slice() {
            [key] => (key.clone(), Vec::new()),
            [key, end] if !(prefix || from_key) => (key.clone(), end.clone()),
            [_, _] => {
                return Err(ParseError::new(format!(
                    "{cmd}: END cannot be given with --prefix or --from-key"
                )))
            }
            other => {
                return Err(ParseError::new(format!(
                    "{cmd} takes KEY [END], got {} arguments",
                    other.len()
                )))
            }
        };
        // As clientv3's WithPrefix / WithFromKey: an empty key means "every key", spelled
        // key = range_end = "\0" because etcd rejects an empty key.
        Ok(if prefix {
            if key.is_empty() {
                (vec![0], vec![0])
            } else {
                let end = prefix_end(&key);
                (key, end)
            }
        } else if from_key {
            (if key.is_empty() { vec![0] } else { key }, vec![0])
        } else {
            (key, end)
        })
    }
}

pub(super) fn parse_int(what: &str, text: &[u8]) -> Result<i64> {
    let s = lossy(text);
    s.parse::<i64>()
        .map_err(|_| ParseError::new(format!("{what} {s:?} is not an integer")))
}
