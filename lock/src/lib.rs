//! Lock algorithms, the protected resource, workloads and safety checkers, run against the
//! simulated etcd of the `sim` crate.
//!
//! A [`Run`] puts N lock clients (`c1..cN`), a protected resource (`resource`) and the cluster
//! (`n1..nM`) on one turmoil simulation. Each client loops acquire → read the resource → think →
//! write read + 1 with its fencing token → release. Lock beliefs and resource accesses land in the
//! cluster's `History` next to every etcd operation and fault, and the checkers read them back.
//!
//! # Layout
//! * `error`: `Error`, what lock clients handle.
//! * `event`: `LockEvent`, the lock layer's records in the history.
//! * `algorithm`: `trait LockAlgorithm`, `Guard`, `FencingToken`, `LockOptions`; one file per
//!   algorithm (`lease_txn`, `put`, `etcd_mutex`) and `session` (lease + keepalive + belief).
//! * `resource`: `Resource`, the protected counter on its own host, with optional fencing.
//! * `workload`: `WorkloadConfig` and the client hosts' loop; `Holders`, who believes it holds.
//! * `kv_workload`: `KvWorkload`, register writers and readers beside the lock clients, whose
//!   reads (linearizable or serializable) the KV linearizability check judges.
//! * `checker`: `trait Checker`, `Timeline`, `Violation`; `mutual_exclusion`, `fencing`,
//!   `lost_update`, `liveness`.
//! * `run`: `Run` (builder), `RunHandle` (stepping, faults, `current_holder`), `Report`.

mod algorithm;
pub mod checker;
mod error;
mod event;
mod kv_workload;
mod resource;
mod run;
mod workload;

pub use algorithm::{
    AlgorithmKind, ApAccess, EtcdMutex, FencingToken, Guard, LeaseTxn, LockAlgorithm, LockContext,
    LockKind, LockOptions, LossReason, LossSignal, PutLock, Session, SessionWatch,
};
pub use checker::{Checker, LivenessVerdict, Timeline, Violation, ViolationKind};
pub use error::{Error, Result};
pub use event::LockEvent;
pub use kv_workload::{reader_endpoint, reader_name, writer_name, KvWorkload, KV_KEY};
pub use resource::{Fencing, Resource, ResourceClient, RESOURCE_HOST, RESOURCE_PORT};
pub use run::{Report, Run, RunHandle};
pub use workload::{client_name, Holders, WorkloadConfig};
