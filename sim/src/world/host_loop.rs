//! The event loop an AP store host runs (a node, a sentinel): datagrams in, one periodic timer
//! on the host's own clock, nothing acted on while the process is paused.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use crate::world::clock::{next_deadline, Clock};
use crate::world::datagram::{decode, MAX_DATAGRAM};

/// What a host does on its timer and on each message.
pub(crate) trait PeriodicHost {
    /// What arrives on the host's socket.
    type Message: serde::de::DeserializeOwned + 'static;
    fn on_timer(&mut self);
    fn on_message(&mut self, from: SocketAddr, msg: Self::Message);
    /// After every wake-up, timer or messages (e.g. publish status).
    fn after_wake(&mut self) {}
}

/// Serves `host` on `socket` until the host is crashed: the timer first fires at `first`, then
/// every `period` (after a pause it fires once and carries on); messages that arrived together
/// are handled together.
pub(crate) async fn serve<H: PeriodicHost>(
    host: &mut H,
    socket: Rc<UdpSocket>,
    clock: Clock,
    first: Duration,
    period: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::task::spawn_local(receive::<H::Message>(socket, tx));
    let mut next = first;
    loop {
        let inbound = tokio::select! {
            _ = clock.sleep_until(next) => None,
            Some(inbound) = rx.recv() => Some(inbound),
        };
        // A paused process acts on nothing, not even what already arrived.
        clock.running().await;
        match inbound {
            None => {
                next = next_deadline(next, period, clock.now());
                host.on_timer();
            }
            Some((from, msg)) => {
                host.on_message(from, msg);
                while let Ok((from, msg)) = rx.try_recv() {
                    host.on_message(from, msg);
                }
            }
        }
        host.after_wake();
    }
}

async fn receive<M: serde::de::DeserializeOwned>(
    socket: Rc<UdpSocket>,
    tx: mpsc::UnboundedSender<(SocketAddr, M)>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
        if let Some(msg) = decode::<M>(&buf[..n]) {
            if tx.send((from, msg)).is_err() {
                return;
            }
        }
    }
}
