//! `Kv`: the etcd KV model — put, range, delete and txn with revision-checked responses — and
//! the conversion of a [`Record`](crate::Record) history into per-key partitions.
//!
//! # What is checked
//! Per partition (a set of keys closed under the operations that touch several of them):
//! * every value, `version`, `lease`, `create_revision` and `mod_revision` a response shows for a
//!   key (range `kvs`, `prev_kv`, `prev_kvs`, txn sub-responses) is what the sequence of writes
//!   placed before it produced; `count` and `more` of a range; `deleted` of a delete; which
//!   branch a txn took (`succeeded`), with etcd's compare semantics;
//! * revisions are monotonic along the linearization: a write's `header.revision` is greater than
//!   every revision seen before it in the partition, a read's is no smaller, every `mod_revision`
//!   a read shows is at most its `header.revision`, and a key's revisions are those of the write
//!   that produced it.
//!
//! # What is not checked
//! * Revisions are global, but a partition sees only its keys' writes: gaps are allowed (other
//!   keys' writes fill them) and revisions are not compared across partitions. So two writes to
//!   different keys that claim the same revision are not caught.
//! * A write whose answer never came gets an unknown revision, bounded below; the first read that
//!   shows it pins it.
//! * Ranges with a `revision` (reads of the past), min/max revision filters, or a `limit` with a
//!   sort other than by key are not modelled and are left out (reported in the notes); the sub-
//!   responses of such ranges inside a txn are not checked. Inner txn headers are not checked
//!   (etcd's values there are quirky, see [`crate::Mvcc::txn`]).
//! * Leases are modelled only as "every key attached to lease L disappears at once when L is
//!   revoked": a `LeaseRevoke` that succeeded is an operation; an expiry the history records
//!   (`lease_expired` event) is a revoke that took effect by that time; every other lease a put
//!   used may be revoked at any point after its first use, or never (an expiry whose proposing
//!   leader crashed leaves no event). TTLs, grants and keepalives are not checked.
//! * Watches, status, compaction: ignored.
//! * Serializable ranges are checked as if linearizable: etcd does not promise that, so a
//!   history that uses them on purpose will be reported.
//! * The store is assumed empty when the history starts.
//!
//! # Layout
//! * `ops`: the model's vocabulary — `KeyId`, `ValueId`, `Rev`, `KeyState`, `KvState`, and
//!   `KvInput`/`KvOutput`, requests and responses with keys resolved.
//! * `model`: `Kv`, the semantics the WGL search steps: compares, txn branches, writes,
//!   observed revisions.
//! * `describe`: `Kv`'s words for operations in reports.
//! * `universe`: `Universe` (keys and values interned over the history) and `Converter`
//!   (requests and responses resolved against it).
//! * `convert`: `kv_partitions`, records to per-key partitions, with the synthetic lease
//!   revokes.
//! * `tests`: the model's unit tests.

mod convert;
mod describe;
mod model;
mod ops;
mod universe;

#[cfg(test)]
mod tests;

pub use convert::kv_partitions;
pub use model::Kv;
