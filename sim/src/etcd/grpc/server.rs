//! A member's gRPC server: tonic over turmoil TCP on the client port (2379; the member's
//! datagram clients use UDP on the same number), every v3 service on one connection, each
//! request tagged with the peer's host name for the history.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use etcd_client::proto::{
    PbClusterServer, PbKvServer, PbLeaseServer, PbMaintenanceServer, PbWatchServer,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::server::Connected;
use tonic::transport::Server;
use turmoil::net::{TcpListener, TcpStream};

use super::election::Election;
use super::kv::Kv;
use super::lease::Lease;
use super::local::{Front, FrontContext, Local};
use super::lock::Lock;
use super::maintenance::{Cluster, Maintenance};
use super::pb::v3electionpb::election_server::ElectionServer;
use super::pb::v3lockpb::lock_server::LockServer;
use super::watch::Watch;
use crate::etcd::transport::CLIENT_PORT;

/// The host a connection came from, as tonic's connect info on every request.
#[derive(Clone, Debug)]
pub(crate) struct Peer(String);

/// The host name of the peer that sent `request` (its process in the history).
pub(crate) fn peer<T>(request: &tonic::Request<T>) -> String {
    request
        .extensions()
        .get::<Peer>()
        .map_or_else(|| "unknown".to_string(), |peer| peer.0.clone())
}

/// An accepted turmoil TCP connection, with its peer's host name. It reads and writes nothing
/// while the member is paused: a stopped process answers no HTTP/2 ping either, so a client's
/// keepalive gives up on it and fails over, as it would on a SIGSTOPped etcd.
struct Connection {
    stream: TcpStream,
    peer: Peer,
    running: RunGate,
}

/// Waits out the member's pauses from poll-based I/O.
struct RunGate {
    paused: watch::Receiver<bool>,
    waiting: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl RunGate {
    fn poll_running(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if !*self.paused.borrow() {
                self.waiting = None;
                return Poll::Ready(());
            }
            let mut paused = self.paused.clone();
            let waiting = self.waiting.get_or_insert_with(|| {
                Box::pin(async move {
                    let _ = paused.wait_for(|p| !*p).await;
                })
            });
            ready!(waiting.as_mut().poll(cx));
            self.waiting = None;
        }
    }
}

impl Connected for Connection {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        ready!(self.running.poll_running(cx));
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.running.poll_running(cx));
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.running.poll_running(cx));
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serve etcd's v3 API for the member until the host goes down.
pub(crate) async fn serve(ctx: FrontContext) -> turmoil::Result {
    let clock = ctx.clock.clone();
    let local = Rc::new(Local::start(ctx).await?);
    let (front, worker) = Front::new(local);
    tokio::task::spawn_local(worker);

    let listener = TcpListener::bind(("0.0.0.0", CLIENT_PORT)).await?;
    let (accepted, incoming) = mpsc::unbounded_channel();
    tokio::task::spawn_local(async move {
        while let Ok((stream, from)) = listener.accept().await {
            let host = turmoil::reverse_lookup(from.ip()).unwrap_or_else(|| from.ip().to_string());
            let connection = Connection {
                stream,
                peer: Peer(host),
                running: RunGate {
                    paused: clock.pause_state(),
                    waiting: None,
                },
            };
            if accepted.send(Ok::<_, std::io::Error>(connection)).is_err() {
                return;
            }
        }
    });

    Server::builder()
        .add_service(PbKvServer::new(Kv(front.clone())))
        .add_service(PbWatchServer::new(Watch(front.clone())))
        .add_service(PbLeaseServer::new(Lease(front.clone())))
        .add_service(PbClusterServer::new(Cluster(front.clone())))
        .add_service(PbMaintenanceServer::new(Maintenance(front.clone())))
        .add_service(LockServer::new(Lock(front.clone())))
        .add_service(ElectionServer::new(Election(front)))
        .serve_with_incoming(UnboundedReceiverStream::new(incoming))
        .await?;
    Ok(())
}
