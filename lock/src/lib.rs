//! Lock algorithms, the protected resource, workloads and safety checkers, run against the
//! simulated cluster of the `sim` crate.
//!
//! # Layout
//! Nothing yet: the lock harness is built on top of `sim`'s `Client` and `History` (issue
//! "Locks, the protected resource and the safety checkers").
