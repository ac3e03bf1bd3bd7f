//! Lock algorithms, the protected resource, workloads and safety checkers, run against the
//! simulated stores of the `sim` crate — and the harness that runs *your* lock the same way.
//!
//! A [`Run`] puts N lock clients (`c1..cN`), a protected resource (`resource`) and the cluster
//! (`n1..nM`) on one turmoil simulation. Each client loops acquire → read the resource → think →
//! write read + 1 with its fencing token → release. Lock beliefs and resource accesses land in the
//! cluster's `History` next to every etcd operation and fault, and the checkers read them back.
//!
//! # Test your own lock
//!
//! Implement [`LockAlgorithm`] with what [`LockContext`] hands each client process (its etcd
//! client, its clock, its name, the run's [`LockOptions`]) and run it with [`Run::with_lock`].
//! The harness records what every holder believes, injects the faults, and checks mutual
//! exclusion, fencing and lost updates. This lock holds for one lease TTL without keepalive:
//!
//! ```
//! use std::time::Duration;
//! use lock::{FencingToken, Guard, LockAlgorithm, LockContext, Result, Run};
//! use sim::{Compare, CompareResult, CompareTarget, PutRequest, RequestOp, TxnRequest};
//!
//! struct OneLease { ctx: LockContext, expiry: Option<tokio::task::JoinHandle<()>> }
//!
//! impl LockAlgorithm for OneLease {
//!     fn name(&self) -> &str { "one-lease" }
//!
//!     async fn acquire(&mut self) -> Result<Guard> {
//!         let (ctx, key) = (&self.ctx, self.ctx.options().key.clone());
//!         loop {
//!             let sent = ctx.clock().now();
//!             let lease = ctx.io(ctx.client().lease_grant(ctx.options().ttl_secs)).await?;
//!             let free = Compare { result: CompareResult::Equal, target: CompareTarget::Create(0),
//!                                  key: key.clone().into(), range_end: vec![] };
//!             let put = PutRequest { key: key.clone().into(), lease: lease.id, ..Default::default() };
//!             let txn = TxnRequest { compare: vec![free], success: vec![RequestOp::Put(put)], failure: vec![] };
//!             let answer = ctx.io(ctx.client().txn(txn)).await?;
//!             if answer.succeeded {
//!                 // Lost, as far as we can know, one TTL after the grant was asked for.
//!                 let (signal, watch) = ctx.loss_signal(lease.id);
//!                 let (clock, ttl) = (ctx.clock().clone(), Duration::from_secs(lease.ttl as u64));
//!                 self.expiry = Some(tokio::task::spawn_local(async move {
//!                     clock.sleep_until(sent + ttl).await;
//!                     signal.fire("ttl");
//!                 }));
//!                 return Ok(Guard::new(key, Some(FencingToken(answer.header.revision))).with_loss(watch));
//!             }
//!             ctx.sleep(ctx.options().retry_backoff).await;
//!         }
//!     }
//!
//!     async fn release(&mut self, guard: Guard) -> Result<()> {
//!         self.expiry.take().map(|task| task.abort());
//!         self.ctx.io(self.ctx.client().lease_revoke(guard.lease())).await?;
//!         Ok(())
//!     }
//! }
//!
//! let report = Run::with_lock("one-lease", |ctx| OneLease { ctx, expiry: None })
//!     .seed(7)
//!     .members(3)
//!     .fencing(true)
//!     .run()
//!     .unwrap();
//! assert!(report.is_safe(), "{}", report.summary());
//! assert!(report.acquisitions > 10);
//! ```
//!
//! Fault plans (`Run::fault_plan`, with the `holder` role), the bundled scenario files and
//! proptest over generated plans are one level up, in the `locksim` crate: `Scenario::load(…)
//! .with_lock(…).run(seed)` and `locksim::explore::fault_plans`. A complete crate that tests a
//! correct and a subtly broken lock this way is `examples/user-lock/` in the repository.
//!
//! # Layout
//! * `error`: `Error`, what lock clients handle.
//! * `event`: `LockEvent`, the lock layer's records in the history.
//! * `algorithm`: `trait LockAlgorithm`, `Guard`, `FencingToken`, `LockOptions`, `LockContext`,
//!   `LockKind` (built-in or yours); one file per algorithm (`lease_txn`, `put`, `etcd_mutex`,
//!   `redis_setnx`, `redlock`) and `session` (lease + keepalive + belief, `LossSignal`).
//! * `resource`: `Resource`, the protected counter on its own host, with optional fencing.
//! * `workload`: `WorkloadConfig` and the client hosts' loop; `Holders`, who believes it holds.
//! * `kv_workload`: `KvWorkload`, register writers and readers beside the lock clients, whose
//!   reads (linearizable or serializable) the KV linearizability check judges.
//! * `checker`: `trait Checker`, `Timeline`, `Violation`; `mutual_exclusion`, `fencing`,
//!   `lost_update`, `liveness`.
//! * `run`: `Run` (builder), `RunHandle` (stepping, faults, `current_holder`), `Report`.

#![warn(missing_docs)]

mod algorithm;
pub mod checker;
mod error;
mod event;
#[cfg(feature = "grpc")]
pub mod grpc;
mod kv_workload;
mod resource;
mod run;
mod workload;

pub use algorithm::row_id as pg_row_id;
pub use algorithm::{
    AlgorithmKind, ApAccess, EtcdMutex, FencingToken, Guard, LeaseTxn, LockAlgorithm, LockContext,
    LockKind, LockOptions, LossReason, LossSignal, PgAccess, PgLock, PgWay, PutLock, Session,
    SessionWatch, LOCK_TABLE,
};
pub use checker::{Checker, LivenessVerdict, Timeline, Violation, ViolationKind};
pub use error::{Error, Result};
pub use event::LockEvent;
pub use kv_workload::{reader_endpoint, reader_name, writer_name, KvWorkload, KV_KEY, KV_PATH};
pub use resource::{Fencing, Resource, ResourceClient, RESOURCE_HOST, RESOURCE_PORT};
pub use run::{Report, Run, RunHandle};
pub use workload::{client_name, Holders, WorkloadConfig};
