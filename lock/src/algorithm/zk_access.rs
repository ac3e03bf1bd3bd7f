//! `ZkAccess`: how a lock process reaches ZooKeeper — Curator's part of it. It hands out the
//! live `ZkClient` and, once that session expired, opens a new one (Curator's
//! `ZookeeperFactory` after LOST); it retries an operation on `ConnectionLoss` as Curator's
//! `RetryLoop` does; and it turns the session's connection states into a lock's
//! [`LossSignal`] when a lock is asked to listen (Curator's `ConnectionStateListener`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::zk::{ConnState, ZkClient, ZkClientConfig, ZkError};
use sim::History;
use tokio::task::JoinHandle;

use super::LossSignal;

struct Inner {
    name: String,
    base_id: u32,
    config: ZkClientConfig,
    history: History,
    sessions: u32,
    current: Option<ZkClient>,
}

/// See the module docs. Cheap to clone: clones share the session.
#[derive(Clone)]
pub struct ZkAccess {
    inner: Rc<RefCell<Inner>>,
}

/// Curator's default `connectionTimeoutMs`: how long an operation waits for a connection.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);

/// Sessions one process may open (ids and ports are numbered within this range).
const SESSIONS_PER_PROCESS: u32 = 1024;

impl ZkAccess {
    /// The access of process `name` (unique client id `base_id`), connecting with `config`.
    pub fn new(name: &str, base_id: u32, config: ZkClientConfig, history: History) -> Self {
        ZkAccess {
            inner: Rc::new(RefCell::new(Inner {
                name: name.to_string(),
                base_id,
                config,
                history,
                sessions: 0,
                current: None,
            })),
        }
    }

    /// The live session's handle; a new session when there is none yet or the last one
    /// expired or was closed. Waits until it is connected.
    pub async fn client(&self) -> ZkClient {
        let (name, id, config, history) = {
            let mut inner = self.inner.borrow_mut();
            if let Some(c) = &inner.current {
                if !matches!(c.state(), ConnState::Expired | ConnState::Closed) {
                    return c.clone();
                }
            }
            inner.sessions += 1;
            let n = inner.sessions % SESSIONS_PER_PROCESS;
            let mut config = inner.config.clone();
            config.port += n as u16;
            let id = inner.base_id * SESSIONS_PER_PROCESS + n;
            (inner.name.clone(), id, config, inner.history.clone())
        };
        loop {
            // Fails only if the first connect learns Expired, which a new session cannot.
            if let Ok(client) = ZkClient::connect(&name, id, config.clone(), history.clone()).await
            {
                self.inner.borrow_mut().current = Some(client.clone());
                return client;
            }
            config.clock.sleep(Duration::from_secs(1)).await;
        }
    }

    /// Run `op` until it does not fail with `ConnectionLoss` (Curator's RetryLoop): after a
    /// failure, pause `backoff`, then wait while the client is disconnected — as Curator blocks
    /// until connected, up to its connection timeout (15 s) — and try again. A write that
    /// failed so may have happened: `op` must be safe to repeat or check for itself (protected
    /// mode does).
    pub async fn retrying<T, F, Fut>(
        client: &ZkClient,
        backoff: Duration,
        mut op: F,
    ) -> Result<T, ZkError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ZkError>>,
    {
        loop {
            match op().await {
                Err(ZkError::ConnectionLoss) => {
                    client.clock().sleep(backoff).await;
                    Self::until_connected(client).await;
                }
                other => return other,
            }
        }
    }

    /// Wait while `client` is disconnected (or connecting), at most Curator's connection
    /// timeout of 15 s. Returns at once when it is connected, expired or closed.
    pub async fn until_connected(client: &ZkClient) {
        let mut states = client.state_changes();
        let wait =
            states.wait_for(|s| !matches!(s, ConnState::Disconnected | ConnState::Connecting));
        tokio::select! {
            biased;
            _ = wait => {}
            _ = client.clock().sleep(CONNECTION_TIMEOUT) => {}
        }
    }

    /// Listen to `client`'s connection states for a holder: the first `Disconnected`
    /// (SUSPENDED: it may have lost the lock) or `Expired` (LOST: it has) fires `signal`.
    pub fn listen(client: &ZkClient, signal: LossSignal) -> JoinHandle<()> {
        let mut states = client.state_changes();
        tokio::task::spawn_local(async move {
            loop {
                let reason = match *states.borrow_and_update() {
                    ConnState::Disconnected => Some("suspended"),
                    ConnState::Expired => Some("lost"),
                    _ => None,
                };
                if let Some(reason) = reason {
                    signal.fire(reason);
                    return;
                }
                if states.changed().await.is_err() {
                    return;
                }
            }
        })
    }
}
