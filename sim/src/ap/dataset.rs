//! `Dataset`: one node's keyspace with TTLs. Sync code, no I/O, no clock of its own: every call
//! gets the node's local time, so a skewed node expires keys by its own clock.
//!
//! What the primary executes becomes [`Effect`]s, which is what replicas apply and what the
//! replication stream carries — Redis 7's effect replication: `SET k v PX 500` travels as
//! `SET k v PXAT <primary's clock + 500>`, a key the primary expires travels as `DEL`, and a
//! script travels as the writes it made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::command::{ApError, ApResult, Command, Reply};

/// One key's value and absolute expiry time (local milliseconds of the clock that set it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    pub value: Vec<u8>,
    /// `PXAT`: the key is logically gone once `now > expire_at_ms` (Redis's `keyIsExpired`
    /// uses a strict `>`).
    pub expire_at_ms: Option<u64>,
}

/// A change to the dataset, as replicated. Absolute times only, so a replica applying it late
/// does not extend the TTL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Set a key, replacing its value and its expiry (`SET k v PXAT t`, or no expiry).
    Set {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
        /// Absolute expiry in local milliseconds of the primary that executed it; `None`: none.
        expire_at_ms: Option<u64>,
    },
    /// Delete a key (a `DEL`, a script's delete, or an expiry the primary performed).
    Del {
        /// The key.
        key: Vec<u8>,
    },
    /// Set an existing key's absolute expiry (`PEXPIREAT`); nothing if the key is missing.
    PexpireAt {
        /// The key.
        key: Vec<u8>,
        /// Absolute expiry in local milliseconds of the primary that executed it.
        at_ms: u64,
    },
}

/// Invariant: holds only what the node has executed (primary) or applied from its primary's
/// stream in offset order (replica). Checked by the replication tests (`ap::replication`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    keys: BTreeMap<Vec<u8>, Entry>,
}

impl Dataset {
    /// An empty keyspace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored keys, logically expired ones included until they are deleted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is stored (logically expired ones count as stored).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The stored entry, logically expired or not (for inspection by tests and the harness).
    pub fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// The value as a reader at local time `now_ms` sees it: a logically expired key reads as
    /// missing. Does not delete (a replica reads this way: Redis ≥ 3.2 replicas hide expired
    /// keys but wait for the primary's `DEL`).
    pub fn read(&self, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        self.keys
            .get(key)
            .filter(|e| !is_expired(e, now_ms))
            .map(|e| e.value.as_slice())
    }

    /// Execute a command as the primary at local time `now_ms`: lazy expiry of the key it
    /// touches first (a `DEL` effect), then the command. Returns the reply and every effect to
    /// replicate, in order. `WAIT` is not a dataset command.
    ///
    /// # Panics
    /// On `WAIT` (the node handles it): a harness bug.
    pub fn execute(&mut self, command: &Command, now_ms: u64) -> (ApResult<Reply>, Vec<Effect>) {
        let mut effects = Vec::new();
        if let Some(key) = command.key() {
            if self.keys.get(key).is_some_and(|e| is_expired(e, now_ms)) {
                effects.push(self.apply_owned(Effect::Del { key: key.to_vec() }));
            }
        }
        let reply = match command {
            Command::Get { key } => Ok(self.bulk(key)),
            Command::Set { key, value, nx, px } => {
                if *nx && self.keys.contains_key(key) {
                    Ok(Reply::Nil)
                } else {
                    let expire_at_ms = px.map(|ms| now_ms + ms);
                    effects.push(self.apply_owned(Effect::Set {
                        key: key.clone(),
                        value: value.clone(),
                        expire_at_ms,
                    }));
                    Ok(Reply::Ok)
                }
            }
            Command::Del { key } => Ok(Reply::Integer(self.del(key, &mut effects))),
            Command::CompareAndDelete { key, value } => {
                if self.keys.get(key).is_some_and(|e| e.value == *value) {
                    Ok(Reply::Integer(self.del(key, &mut effects)))
                } else {
                    Ok(Reply::Integer(0))
                }
            }
            Command::CompareAndPexpire { key, value, ms } => {
                if self.keys.get(key).is_some_and(|e| e.value == *value) {
                    Ok(Reply::Integer(self.pexpire(key, *ms, now_ms, &mut effects)))
                } else {
                    Ok(Reply::Integer(0))
                }
            }
            Command::Pexpire { key, ms } => {
                Ok(Reply::Integer(self.pexpire(key, *ms, now_ms, &mut effects)))
            }
            Command::Incr { key } => self.incr(key, &mut effects),
            Command::Wait { .. } => panic!("WAIT is handled by the node, not the dataset"),
        };
        (reply, effects)
    }

    /// Answer a read-only command as a replica: no expiry, no effects.
    pub fn read_command(&self, command: &Command, now_ms: u64) -> ApResult<Reply> {
        match command {
            Command::Get { key } => Ok(self
                .read(key, now_ms)
                .map(|v| Reply::Bulk(v.to_vec()))
                .unwrap_or(Reply::Nil)),
            _ => Err(ApError::ReadOnly),
        }
    }

    /// Active expiry (Redis's `activeExpireCycle`, here a full scan): delete every key
    /// logically expired at `now_ms`, returning the `DEL`s to replicate. Only a primary calls it.
    pub fn expire_due(&mut self, now_ms: u64) -> Vec<Effect> {
        let due: Vec<Vec<u8>> = self
            .keys
            .iter()
            .filter(|(_, e)| is_expired(e, now_ms))
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .map(|key| self.apply_owned(Effect::Del { key }))
            .collect()
    }

    /// Apply a replicated effect (replicas, and the primary itself for what it executes).
    pub fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::Set {
                key,
                value,
                expire_at_ms,
            } => {
                self.keys.insert(
                    key.clone(),
                    Entry {
                        value: value.clone(),
                        expire_at_ms: *expire_at_ms,
                    },
                );
            }
            Effect::Del { key } => {
                self.keys.remove(key);
            }
            Effect::PexpireAt { key, at_ms } => {
                if let Some(e) = self.keys.get_mut(key) {
                    e.expire_at_ms = Some(*at_ms);
                }
            }
        }
    }

    fn apply_owned(&mut self, effect: Effect) -> Effect {
        self.apply(&effect);
        effect
    }

    fn bulk(&self, key: &[u8]) -> Reply {
        match self.keys.get(key) {
            Some(e) => Reply::Bulk(e.value.clone()),
            None => Reply::Nil,
        }
    }

    fn del(&mut self, key: &[u8], effects: &mut Vec<Effect>) -> i64 {
        if self.keys.contains_key(key) {
            effects.push(self.apply_owned(Effect::Del { key: key.to_vec() }));
            1
        } else {
            0
        }
    }

    fn pexpire(&mut self, key: &[u8], ms: u64, now_ms: u64, effects: &mut Vec<Effect>) -> i64 {
        if !self.keys.contains_key(key) {
            return 0;
        }
        if ms == 0 {
            // Redis: a timeout already in the past deletes the key and propagates a DEL.
            self.del(key, effects);
        } else {
            effects.push(self.apply_owned(Effect::PexpireAt {
                key: key.to_vec(),
                at_ms: now_ms + ms,
            }));
        }
        1
    }

    fn incr(&mut self, key: &[u8], effects: &mut Vec<Effect>) -> ApResult<Reply> {
        let (current, expire_at_ms) = match self.keys.get(key) {
            Some(e) => {
                let n = std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or(ApError::NotInteger)?;
                (n, e.expire_at_ms)
            }
            None => (0, None),
        };
        let next = current.checked_add(1).ok_or(ApError::Overflow)?;
        effects.push(self.apply_owned(Effect::Set {
            key: key.to_vec(),
            value: next.to_string().into_bytes(),
            expire_at_ms,
        }));
        Ok(Reply::Integer(next))
    }
}

fn is_expired(entry: &Entry, now_ms: u64) -> bool {
    entry.expire_at_ms.is_some_and(|at| now_ms > at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str, nx: bool, px: Option<u64>) -> Command {
        Command::Set {
            key: key.into(),
            value: value.into(),
            nx,
            px,
        }
    }

    #[test]
    fn set_nx_px_then_expiry_is_strictly_after_the_deadline() {
        let mut d = Dataset::new();
        let (r, effects) = d.execute(&set("k", "a", true, Some(100)), 1_000);
        assert_eq!(r, Ok(Reply::Ok));
        assert_eq!(
            effects,
            vec![Effect::Set {
                key: b"k".to_vec(),
                value: b"a".to_vec(),
                expire_at_ms: Some(1_100)
            }]
        );
        assert_eq!(
            d.execute(&set("k", "b", true, None), 1_100).0,
            Ok(Reply::Nil)
        );
        assert_eq!(d.read(b"k", 1_100), Some(&b"a"[..]));
        assert_eq!(d.read(b"k", 1_101), None);
        // Lazy expiry on access deletes and replicates a DEL before the command runs.
        let (r, effects) = d.execute(&set("k", "b", true, None), 1_101);
        assert_eq!(r, Ok(Reply::Ok));
        assert_eq!(effects[0], Effect::Del { key: b"k".to_vec() });
        assert_eq!(d.entry(b"k").unwrap().expire_at_ms, None);
    }

    #[test]
    fn release_and_extend_compare_the_value() {
        let mut d = Dataset::new();
        let _ = d.execute(&set("k", "t1", false, Some(50)), 0);
        let cad = |v: &str| Command::CompareAndDelete {
            key: b"k".to_vec(),
            value: v.into(),
        };
        let extend = Command::CompareAndPexpire {
            key: b"k".to_vec(),
            value: b"t1".to_vec(),
            ms: 500,
        };
        assert_eq!(d.execute(&extend, 10).0, Ok(Reply::Integer(1)));
        assert_eq!(d.entry(b"k").unwrap().expire_at_ms, Some(510));
        assert_eq!(d.execute(&cad("t2"), 20).0, Ok(Reply::Integer(0)));
        assert_eq!(d.execute(&cad("t1"), 20).0, Ok(Reply::Integer(1)));
        assert!(d.is_empty());
        assert_eq!(d.execute(&extend, 30).0, Ok(Reply::Integer(0)));
    }

    #[test]
    fn incr_keeps_ttl_and_rejects_non_integers() {
        let mut d = Dataset::new();
        let incr = Command::Incr { key: b"n".to_vec() };
        assert_eq!(d.execute(&incr, 0).0, Ok(Reply::Integer(1)));
        let _ = d.execute(
            &Command::Pexpire {
                key: b"n".to_vec(),
                ms: 100,
            },
            0,
        );
        assert_eq!(d.execute(&incr, 10).0, Ok(Reply::Integer(2)));
        assert_eq!(d.entry(b"n").unwrap().expire_at_ms, Some(100));
        let _ = d.execute(&set("s", "x", false, None), 0);
        let incr_s = Command::Incr { key: b"s".to_vec() };
        assert_eq!(d.execute(&incr_s, 0).0, Err(ApError::NotInteger));
    }

    #[test]
    fn replica_reads_hide_expired_keys_without_deleting_them() {
        let mut d = Dataset::new();
        d.apply(&Effect::Set {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            expire_at_ms: Some(10),
        });
        let get = Command::Get { key: b"k".to_vec() };
        assert_eq!(d.read_command(&get, 11), Ok(Reply::Nil));
        assert_eq!(d.len(), 1);
        assert_eq!(d.expire_due(11), vec![Effect::Del { key: b"k".to_vec() }]);
        assert!(d.is_empty());
    }
}
