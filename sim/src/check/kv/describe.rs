//! How `Kv` names operations in a report: requests and responses in etcdctl-like words, with
//! keys and values by name rather than by id.

use std::fmt::Write as _;

use super::model::Kv;
use super::ops::*;
use crate::etcd::request::*;

impl Kv {
    pub(super) fn describe_input(&self, input: &KvInput, out: &mut String) {
        let keys = |ks: &[KeyId]| {
            ks.iter()
                .map(|&k| self.key_name(k))
                .collect::<Vec<_>>()
                .join(",")
        };
        match input {
            KvInput::Put {
                key, value, lease, ..
            } => {
                let _ = write!(
                    out,
                    "put {}={}",
                    self.key_name(*key),
                    self.value_name(*value)
                );
                if *lease != NO_LEASE {
                    let _ = write!(out, " lease={lease:x}");
                }
            }
            KvInput::Delete { keys: ks } => {
                let _ = write!(out, "delete [{}]", keys(ks));
            }
            KvInput::Range { keys: ks, .. } => {
                let _ = write!(out, "range [{}]", keys(ks));
            }
            KvInput::Txn {
                compare,
                success,
                failure,
            } => {
                out.push_str("txn if ");
                for (i, c) in compare.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" && ");
                    }
                    let _ = write!(out, "{:?}({})", c.target, keys(&c.keys));
                    let _ = write!(out, " {:?}", c.result);
                }
                out.push_str(" then ");
                for (i, op) in success.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    self.describe_input(op, out);
                }
                out.push_str(" else ");
                for (i, op) in failure.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    self.describe_input(op, out);
                }
            }
            KvInput::Revoke { lease, .. } => {
                let _ = write!(out, "revoke lease {lease:x}");
            }
        }
    }

    pub(super) fn describe_obs(&self, obs: &KvObs) -> String {
        format!(
            "{}={} c{} m{} v{}",
            self.key_name(obs.key),
            self.value_name(obs.value),
            obs.create,
            obs.modified,
            obs.version
        )
    }

    pub(super) fn describe_output(&self, output: &KvOutput, out: &mut String) {
        match output {
            KvOutput::Put {
                revision,
                prev,
                prev_asked,
            } => {
                let _ = write!(out, "rev {revision}");
                if *prev_asked {
                    let _ = write!(
                        out,
                        " prev {}",
                        prev.as_ref()
                            .map_or("none".into(), |p| self.describe_obs(p))
                    );
                }
            }
            KvOutput::Delete {
                revision, deleted, ..
            } => {
                let _ = write!(out, "rev {revision} deleted {deleted}");
            }
            KvOutput::Range {
                revision,
                kvs,
                count,
                ..
            } => {
                let kvs: Vec<String> = kvs.iter().map(|o| self.describe_obs(o)).collect();
                let _ = write!(out, "rev {revision} count {count} [{}]", kvs.join(", "));
            }
            KvOutput::Txn {
                revision,
                succeeded,
                responses,
            } => {
                let _ = write!(
                    out,
                    "rev {revision} {}",
                    if *succeeded { "succeeded" } else { "failed" }
                );
                for r in responses {
                    out.push_str(" {");
                    self.describe_output(r, out);
                    out.push('}');
                }
            }
            KvOutput::Revoke { revision } => {
                let _ = write!(
                    out,
                    "revoked{}",
                    revision.map_or(String::new(), |r| format!(" rev {r}"))
                );
            }
            KvOutput::Mismatch(what) => out.push_str(what),
        }
    }
}
