//! A small etcd v3 running inside a deterministic network simulator.
//!
//! # Layout
//! * `request`: typed etcd v3 requests and responses.
//! * `error`: the one error type, with etcd's messages.

mod error;
mod request;

pub use error::{Error, Result};
pub use request::*;
