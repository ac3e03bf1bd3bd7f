//! The verdicts of a run as types: mutual exclusion, the protected resource, the KV history.
//! They print (and serialize) as the words `run` and `--json` have always used — `holds`,
//! `violated`, `intact`, `corrupted`, `linearizable`, `unknown`, `unchecked` — and code compares
//! them as values, never as strings.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether two clients ever believed they held the lock at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutualExclusion {
    Holds,
    Violated,
}

/// Whether the protected resource saw a stale write (fencing) or lost an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Intact,
    Corrupted,
}

/// The KV history's linearizability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kv {
    Linearizable,
    Violated,
    /// The search budget ran out: counted as neither.
    Unknown,
    /// Not checked: `--no-check`, or a store with no KV history (the AP store).
    Unchecked,
}

impl MutualExclusion {
    pub fn name(self) -> &'static str {
        match self {
            MutualExclusion::Holds => "holds",
            MutualExclusion::Violated => "violated",
        }
    }
}

impl Resource {
    pub fn name(self) -> &'static str {
        match self {
            Resource::Intact => "intact",
            Resource::Corrupted => "corrupted",
        }
    }
}

impl Kv {
    pub fn name(self) -> &'static str {
        match self {
            Kv::Linearizable => "linearizable",
            Kv::Violated => "violated",
            Kv::Unknown => "unknown",
            Kv::Unchecked => "unchecked",
        }
    }
}

macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
display_by_name!(MutualExclusion, Resource, Kv);
