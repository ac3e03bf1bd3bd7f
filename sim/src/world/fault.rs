//! Faults: a plan of faults in simulated time aimed at hosts or roles, its check before a run,
//! and the injector that applies it between simulation steps.
//!
//! One fault API serves scenario files, the property-based explorer and tests: a plan is plain
//! serde data (durations as `"5s"` strings), validated against the world's hosts before a run,
//! and executed deterministically. Role targets (`leader`, `follower`, `holder`, …) are resolved
//! when the fault fires, and a fault with a duration undoes itself later on exactly the hosts it
//! hit — `pause holder for 15s` resumes the client it paused, not whoever holds the lock then.
//!
//! # Layout
//! * `plan`: `Target`, `Fault`, `ScheduledFault`, `FaultPlan` and its `validate`, `FaultError`.
//! * `roles`: `RoleResolver`, the trait each store implements for its roles.
//! * `injector`: `FaultInjector` — **where a fault reaches a host**.

mod injector;
mod plan;
mod roles;
#[cfg(test)]
mod tests;

pub use injector::FaultInjector;
pub use plan::{Fault, FaultError, FaultPlan, ScheduledFault, Target};
pub use roles::RoleResolver;
