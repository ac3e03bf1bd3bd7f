//! `PgAccess`: how a lock process reaches PostgreSQL — the application's connection handling
//! around libpq. It hands out the live connection and, once that is lost, opens a new one
//! (libpq never reconnects by itself; an application's pool does), retrying every second until
//! a server answers.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::pg::{PgClient, PgClientConfig};
use sim::History;

struct Inner {
    name: String,
    base_id: u32,
    config: PgClientConfig,
    history: History,
    connections: u32,
    current: Option<PgClient>,
}

/// See the module docs. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct PgAccess {
    inner: Rc<RefCell<Inner>>,
}

/// Connections one process may open (client ids are numbered within this range, so that no two
/// connections of a run share an id).
const CONNECTIONS_PER_PROCESS: u32 = 1024;

/// The pause between failed connection attempts (a pool's retry).
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

impl PgAccess {
    /// The access of process `name` (unique client id `base_id`), connecting with `config`.
    pub fn new(name: &str, base_id: u32, config: PgClientConfig, history: History) -> Self {
        PgAccess {
            inner: Rc::new(RefCell::new(Inner {
                name: name.to_string(),
                base_id,
                config,
                history,
                connections: 0,
                current: None,
            })),
        }
    }

    /// The connection settings.
    pub fn config(&self) -> PgClientConfig {
        self.inner.borrow().config.clone()
    }

    /// The live connection, or a new one when there is none or it was lost; retries until a
    /// server accepts.
    pub async fn client(&self) -> PgClient {
        loop {
            let (name, id, config, history) = {
                let mut inner = self.inner.borrow_mut();
                if let Some(c) = inner.current.as_ref().filter(|c| c.is_connected()) {
                    return c.clone();
                }
                inner.current = None;
                inner.connections += 1;
                let n = inner.connections % CONNECTIONS_PER_PROCESS;
                let id = inner.base_id * CONNECTIONS_PER_PROCESS + n;
                (
                    inner.name.clone(),
                    id,
                    inner.config.clone(),
                    inner.history.clone(),
                )
            };
            let clock = config.clock.clone();
            if let Ok(client) = PgClient::connect(&name, id, config, history).await {
                self.inner.borrow_mut().current = Some(client.clone());
                return client;
            }
            clock.sleep(RECONNECT_BACKOFF).await;
        }
    }

    /// Give the current connection up (closing it): the next [`PgAccess::client`] connects
    /// again. What an application does after a connection error.
    pub fn reset(&self) {
        if let Some(c) = self.inner.borrow_mut().current.take() {
            c.close();
        }
    }
}
