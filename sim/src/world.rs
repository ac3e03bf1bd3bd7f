//! The simulated world every store runs in: turmoil hosts, each with its own clock, the links
//! between them and their faults, the fault plan and its injector, and the history every client
//! operation and world event lands in.
//!
//! Nothing here knows a store. A store (etcd, the AP store) adds its hosts to the [`sim::World`]
//! and answers role questions through [`fault::RoleResolver`]; the history records every
//! store's operations through `crate::op`.

pub(crate) mod active_faults;
pub(crate) mod clock;
pub(crate) mod datagram;
pub(crate) mod fault;
pub(crate) mod history;
pub(crate) mod host_loop;
pub(crate) mod link_faults;
pub(crate) mod rpc;
pub(crate) mod sim;
pub(crate) mod stream;
