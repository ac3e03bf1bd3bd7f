//! Datagrams between simulated hosts: the one codec and receive-buffer size every store uses.
//!
//! Why UDP and not TCP: turmoil's TCP has no retransmission, so a stream that lost a segment in a
//! partition hangs forever without an error (DESIGN §7). Stores tolerate loss by design; client
//! RPCs carry a request id and a deadline, so a lost datagram becomes a
//! timeout the client reasons about instead of a silent hang.

use serde::{Deserialize, Serialize};

/// Receive buffer size. turmoil truncates a datagram to the buffer given to `recv_from`, and a
/// Raft snapshot travels in one datagram, so the buffer is generous.
pub const MAX_DATAGRAM: usize = 8 << 20;

/// Compact binary encoding for every datagram. Why bincode and not JSON: the codec runs per
/// message on the hot path of every simulated step.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serialize(value).expect("in-memory serialization of a plain struct cannot fail")
}

/// Decode; `None` for a malformed datagram (dropped, like a corrupt packet).
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    bincode::deserialize(bytes).ok()
}
