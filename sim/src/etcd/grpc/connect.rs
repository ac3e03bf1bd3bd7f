//! `connect`: an `etcd_client::Client` for code running in a simulated host.
//!
//! etcd-client's own `Client::connect` dials real TCP and balances with tower's p2c, which
//! picks endpoints with an unseeded RNG. Here every endpoint is a lazy tonic channel over
//! turmoil TCP, and one of them is current: every call goes to it, and a call that fails in
//! transport (refused, reset, keepalive timeout) or is answered "unavailable" (no leader,
//! request timed out) moves the client to the next endpoint for later calls — the pinned
//! endpoint with failover of etcd's clientv3 before 3.4, chosen because it is deterministic.
//!
//! turmoil's TCP does not retransmit: a connection across a partition just stalls. HTTP/2
//! keepalive (etcdctl's 2 s / 6 s) ends it as a real client's keepalive would, so a call to a
//! cut-off member fails and the client moves on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use etcd_client::{Channel as EtcdChannel, Client};
use hyper_util::rt::TokioIo;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceExt};

use crate::etcd::transport::CLIENT_PORT;

/// How simulated code reaches the members over gRPC. The defaults are etcdctl's.
#[derive(Clone, Debug)]
pub struct GrpcOptions {
    /// Member host names, tried in this order: the first is current until a call to it fails.
    pub endpoints: Vec<String>,
    /// How long opening a connection may take (etcdctl `--dial-timeout`, 2 s).
    pub dial_timeout: Duration,
    /// HTTP/2 ping interval while calls are open (etcdctl `--keepalive-time`, 2 s).
    pub keep_alive_time: Duration,
    /// A ping unanswered this long closes the connection and fails its calls (etcdctl
    /// `--keepalive-timeout`, 6 s).
    pub keep_alive_timeout: Duration,
    /// A deadline on every call (tonic's `Endpoint::timeout`); `None`, as etcd-client's
    /// default, lets a Lock or Campaign wait as long as it takes.
    pub request_timeout: Option<Duration>,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        Self {
            endpoints: vec!["n1".into(), "n2".into(), "n3".into()],
            dial_timeout: Duration::from_secs(2),
            keep_alive_time: Duration::from_secs(2),
            keep_alive_timeout: Duration::from_secs(6),
            request_timeout: None,
        }
    }
}

/// An `etcd_client::Client` to the simulated members, from code in a simulated host. Nothing
/// is dialled until the first call.
///
/// ```no_run
/// # async fn demo() -> Result<(), etcd_client::Error> {
/// let mut client = sim::grpc::connect(sim::grpc::GrpcOptions::default()).await?;
/// client.put("greeting", "hello", None).await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(options: GrpcOptions) -> Result<Client, etcd_client::Error> {
    let mut channels = Vec::with_capacity(options.endpoints.len());
    for host in &options.endpoints {
        let uri = format!("http://{host}:{CLIENT_PORT}");
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| etcd_client::Error::InvalidArgs(e.to_string()))?
            .connect_timeout(options.dial_timeout)
            .http2_keep_alive_interval(options.keep_alive_time)
            .keep_alive_timeout(options.keep_alive_timeout);
        if let Some(timeout) = options.request_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        channels.push(endpoint.connect_with_connector_lazy(tower::service_fn(dial)));
    }
    if channels.is_empty() {
        return Err(etcd_client::Error::InvalidArgs(
            "no endpoints: GrpcOptions::endpoints is empty".into(),
        ));
    }
    let failover = Failover {
        channels: channels.into(),
        current: Arc::new(AtomicUsize::new(0)),
    };
    let channel = EtcdChannel::Custom(BoxCloneSyncService::new(failover));
    Client::from_channel(channel, None).await
}

/// Open a turmoil TCP connection to the URI's host and port.
async fn dial(uri: http::Uri) -> std::io::Result<TokioIo<turmoil::net::TcpStream>> {
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or(CLIENT_PORT);
    let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
    Ok(TokioIo::new(stream))
}

/// Every call to the current endpoint; a failed one moves to the next (see the module docs).
#[derive(Clone)]
struct Failover {
    channels: Arc<[Channel]>,
    current: Arc<AtomicUsize>,
}

/// gRPC's code for "unavailable" in a trailers-only answer's `grpc-status`.
const UNAVAILABLE: &str = "14";

impl Service<http::Request<Body>> for Failover {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, BoxError>> + Send>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is the chosen channel's, awaited in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let n = self.channels.len();
        let index = self.current.load(Ordering::Relaxed) % n;
        let channel = self.channels[index].clone();
        let current = self.current.clone();
        Box::pin(async move {
            let result = match channel.ready_oneshot().await {
                Ok(mut ready) => ready.call(request).await.map_err(BoxError::from),
                Err(e) => Err(BoxError::from(e)),
            };
            let failed = match &result {
                Err(_) => true,
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .is_some_and(|code| code == UNAVAILABLE),
            };
            if failed {
                let _ = current.compare_exchange(
                    index,
                    (index + 1) % n,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            result
        })
    }
}
