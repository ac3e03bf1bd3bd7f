//! The one event loop every server host runs (an etcd member, an AP node, a sentinel): inbound
//! messages from receive tasks, one or two periodic timers on the host's own clock, nothing
//! acted on while the process is paused, and an async hook after every wake.
//!
//! The loop is one `select!` with three branches in a fixed order — [first timer, second timer,
//! inbound] — whether or not the host has a second timer: tokio draws the branch polled first
//! from the seeded RNG as `(r * BRANCHES) >> 32`, so the number and order of branches are part of
//! every run's history (a disabled branch still counts).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use crate::world::clock::{next_deadline, Clock};
use crate::world::datagram::{decode, MAX_DATAGRAM};

/// What a host does on its timers, on each inbound message and after each wake.
pub(crate) trait Host {
    /// What the host's receive tasks deliver.
    type Inbound: 'static;
    /// Timer `timer` (its index in the `timers` given to [`serve`]) is due.
    fn on_timer(&mut self, timer: usize);
    fn on_inbound(&mut self, inbound: Self::Inbound);
    /// After every message that arrived together was handled (e.g. propose them as one batch).
    fn flush_batch(&mut self) {}
    /// After every wake-up, timer or messages (e.g. run the Raft Ready loop, publish status).
    async fn after_wake(&mut self) {}
}

/// A periodic timer: first due at `first` (local time), then every `period`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timer {
    pub(crate) first: Duration,
    pub(crate) period: Duration,
}

/// Serves `host` until the host is crashed. `timers` (one or two) run on `clock`; after a pause
/// a timer fires once and carries on (no burst of missed ticks). Messages that arrived together
/// are handled together, then [`Host::flush_batch`].
pub(crate) async fn serve<H: Host>(
    host: &mut H,
    clock: Clock,
    timers: &[Timer],
    mut inbound: mpsc::UnboundedReceiver<H::Inbound>,
) {
    assert!(
        matches!(timers.len(), 1 | 2),
        "a host has one or two timers"
    );
    let has_second_timer = timers.len() == 2;
    // Without a second timer its branch is disabled, and its (never polled) deadline unused.
    let mut next = [timers[0].first, timers[timers.len() - 1].first];
    loop {
        let wake = tokio::select! {
            _ = clock.sleep_until(next[0]) => Wake::Timer(0),
            _ = clock.sleep_until(next[1]), if has_second_timer => Wake::Timer(1),
            Some(msg) = inbound.recv() => Wake::Inbound(msg),
        };
        // A paused process acts on nothing, not even what already arrived.
        clock.running().await;
        match wake {
            Wake::Timer(i) => {
                next[i] = next_deadline(next[i], timers[i].period, clock.now());
                host.on_timer(i);
            }
            Wake::Inbound(msg) => {
                host.on_inbound(msg);
                while let Ok(msg) = inbound.try_recv() {
                    host.on_inbound(msg);
                }
                host.flush_batch();
            }
        }
        host.after_wake().await;
    }
}

enum Wake<I> {
    Timer(usize),
    Inbound(I),
}

/// The inbound channel of a host whose one socket carries bincode datagrams: `(from, message)`.
pub(crate) fn datagram_inbox<M>(socket: Rc<UdpSocket>) -> mpsc::UnboundedReceiver<(SocketAddr, M)>
where
    M: serde::de::DeserializeOwned + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    receive_datagrams(socket, tx, |from, msg| (from, msg));
    rx
}

/// Spawns the receive task of a socket carrying bincode datagrams ([`crate::world::datagram`]):
/// each one that decodes as `M` goes to `tx` as `wrap(from, msg)`; undecodable ones are dropped.
/// The task holds the socket: abort it to close the socket before a process ends (a client
/// that drops a connection).
pub(crate) fn receive_datagrams<M, I>(
    socket: Rc<UdpSocket>,
    tx: mpsc::UnboundedSender<I>,
    wrap: fn(SocketAddr, M) -> I,
) -> tokio::task::JoinHandle<()>
where
    M: serde::de::DeserializeOwned + 'static,
    I: 'static,
{
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if let Some(msg) = decode::<M>(&buf[..n]) {
                if tx.send(wrap(from, msg)).is_err() {
                    return;
                }
            }
        }
    })
}
