//! Locks written against `etcd_client` (feature `grpc`): etcd's server-side Lock and Election
//! APIs, as a user of the etcd-client crate calls them, on a lease the client keeps alive.
//!
//! * `etcd-client-lock` ([`EtcdClientLock`]): `lease_grant` + keepalive, then the `Lock` RPC
//!   (etcd's `v3lock`: concurrency's mutex run by the server) with that lease; `Unlock` and a
//!   revoke to release. Token: the lock key's create revision.
//! * `etcd-client-election` ([`EtcdClientElection`]): the same lease, `Campaign` with the
//!   process name as value; `Resign` with the leader key to release. Token: the leader key's
//!   revision (`LeaderKey::rev`), the number a leader proclaims or guards its writes with.
//!
//! Both believe they hold until they release or their keepalive notices the lease is gone
//! (an answer with TTL 0, or no answer for a whole TTL since the last one was sent): what an
//! etcd-client user who follows the docs gets, including the pause that outlives the lease.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sim::grpc::etcd_client::{self, Client, LeaderKey, ResignOptions};
use sim::grpc::{connect, GrpcOptions};
use tokio::task::JoinHandle;

use crate::algorithm::{
    FencingToken, Guard, LockAlgorithm, LockContext, LockKind, LossSignal, SessionWatch,
};
use crate::error::{Error, Result};

/// The lock kinds this module adds, for a scenario registry.
pub fn kinds() -> [LockKind; 2] {
    [
        LockKind::new("etcd-client-lock", EtcdClientLock::new).serving_grpc(),
        LockKind::new("etcd-client-election", EtcdClientElection::new).serving_grpc(),
    ]
}

fn client_error(e: etcd_client::Error) -> Error {
    Error::Client(e.to_string())
}

impl LockContext {
    /// An `etcd_client::Client` to this run's members over gRPC (their names from the run's
    /// etcd client, in its order). The lock kind must be [`LockKind::serving_grpc`].
    pub async fn etcd_client(&self) -> Result<Client> {
        let options = GrpcOptions {
            endpoints: self.client().endpoints().to_vec(),
            ..GrpcOptions::default()
        };
        connect(options).await.map_err(client_error)
    }
}

/// A lease with its keepalive loop on the host's clock, and the loss signal it fires.
struct Lease {
    id: i64,
    watch: SessionWatch,
    task: JoinHandle<()>,
}

impl Lease {
    /// Grant a lease of the run's TTL and keep it alive every TTL/3 (clientv3's period).
    async fn grant(ctx: &LockContext, client: &mut Client) -> Result<Lease> {
        let sent = ctx.clock().now();
        let ttl = ctx.options().ttl_secs;
        let grant = ctx
            .io(client.lease_grant(ttl, None))
            .await
            .map_err(client_error)?;
        let ttl = Duration::from_secs(grant.ttl().max(1) as u64);
        let (signal, watch) = ctx.loss_signal(grant.id());
        let deadline = Rc::new(Cell::new(sent + ttl));
        let task = tokio::task::spawn_local(keep_alive(
            ctx.clone(),
            client.clone(),
            grant.id(),
            ttl,
            deadline,
            signal,
        ));
        Ok(Lease {
            id: grant.id(),
            watch,
            task,
        })
    }

    /// Stop renewing and revoke (errors ignored: the lease then expires by itself).
    async fn end(self, ctx: &LockContext, client: &mut Client) {
        self.task.abort();
        let _ = ctx.io(client.lease_revoke(self.id)).await;
    }
}

/// Renew until an answer says the lease is gone or none came for a whole TTL.
async fn keep_alive(
    ctx: LockContext,
    mut client: Client,
    lease: i64,
    ttl: Duration,
    deadline: Rc<Cell<Duration>>,
    signal: LossSignal,
) {
    let mut stream = None;
    loop {
        let renew = async {
            ctx.sleep(ttl / 3).await;
            let sent = ctx.clock().now();
            if stream.is_none() {
                stream = ctx.io(client.lease_keep_alive(lease)).await.ok();
            }
            let Some((keeper, answers)) = stream.as_mut() else {
                return (sent, None);
            };
            let answer = match ctx.io(keeper.keep_alive()).await {
                Ok(()) => ctx.io(answers.message()).await.ok().flatten(),
                Err(_) => None,
            };
            (sent, answer.map(|a| a.ttl()))
        };
        tokio::select! {
            biased;
            _ = ctx.clock().sleep_until(deadline.get()) => {
                signal.fire("deadline");
                return;
            }
            (sent, answer) = renew => match answer {
                Some(ttl) if ttl > 0 => deadline.set(sent + Duration::from_secs(ttl as u64)),
                Some(_) => {
                    signal.fire("ttl");
                    return;
                }
                // The stream broke (its member went away): open another next time.
                None => stream = None,
            },
        }
    }
}

/// etcd's server-side `Lock` RPC on a lease the client keeps alive (see the module docs).
pub struct EtcdClientLock {
    ctx: LockContext,
    client: Option<Client>,
    lease: Option<Lease>,
}

impl EtcdClientLock {
    /// A lock on `ctx.options().key`; connects on the first acquire.
    pub fn new(ctx: LockContext) -> Self {
        Self {
            ctx,
            client: None,
            lease: None,
        }
    }
}

/// The connected client, connecting on first use.
async fn client_of<'a>(
    ctx: &LockContext,
    client: &'a mut Option<Client>,
) -> Result<&'a mut Client> {
    if client.is_none() {
        *client = Some(ctx.etcd_client().await?);
    }
    Ok(client.as_mut().expect("just connected"))
}

/// Retry `call` after the run's backoff until it succeeds or the lease is gone (both locks'
/// calls are safe to repeat on the same lease: the server finds the caller's own key).
async fn until_done<T, F, Fut>(ctx: &LockContext, watch: &SessionWatch, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    loop {
        if watch.is_lost() {
            return Err(Error::SessionExpired);
        }
        match ctx.io(call()).await {
            Ok(answer) if !watch.is_lost() => return Ok(answer),
            Ok(_) => return Err(Error::SessionExpired),
            Err(_) => ctx.sleep(ctx.options().retry_backoff).await,
        }
    }
}

impl LockAlgorithm for EtcdClientLock {
    fn name(&self) -> &str {
        "etcd-client-lock"
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let ctx = self.ctx.clone();
        let client = client_of(&ctx, &mut self.client).await?;
        let lease = Lease::grant(&ctx, client).await?;
        let name = ctx.options().key.clone();
        let options = etcd_client::LockOptions::new().with_lease(lease.id);
        let held = until_done(&ctx, &lease.watch, || {
            let mut c = client.clone();
            let (name, options) = (name.clone(), options.clone());
            async move { c.lock(name, Some(options)).await }
        })
        .await;
        let held = match held {
            Ok(held) => held,
            Err(e) => {
                lease.end(&ctx, client).await;
                return Err(e);
            }
        };
        let key = held.key().to_vec();
        // The token is the key's create revision (the Lock answer's header is the revision the
        // caller became owner at, which is later when it had to wait).
        let got = until_done(&ctx, &lease.watch, || {
            let mut c = client.clone();
            let key = key.clone();
            async move { c.get(key, None).await }
        })
        .await?;
        let Some(kv) = got.kvs().first() else {
            lease.end(&ctx, client).await;
            return Err(Error::SessionExpired);
        };
        let guard = Guard::new(
            String::from_utf8_lossy(&key),
            Some(FencingToken(kv.create_revision())),
        )
        .with_lease(lease.id)
        .with_loss(lease.watch.clone());
        self.lease = Some(lease);
        Ok(guard)
    }

    async fn release(&mut self, guard: Guard) -> Result<()> {
        let ctx = self.ctx.clone();
        let client = client_of(&ctx, &mut self.client).await?;
        let unlocked = ctx.io(client.unlock(guard.key())).await;
        if let Some(lease) = self.lease.take() {
            lease.end(&ctx, client).await;
        }
        unlocked.map(|_| ()).map_err(client_error)
    }
}

/// etcd's server-side election: `Campaign` on a lease the client keeps alive, `Resign` to
/// release (see the module docs).
pub struct EtcdClientElection {
    ctx: LockContext,
    client: Option<Client>,
    lease: Option<Lease>,
    leader: Option<LeaderKey>,
}

impl EtcdClientElection {
    /// An election named `ctx.options().key`; connects on the first campaign.
    pub fn new(ctx: LockContext) -> Self {
        Self {
            ctx,
            client: None,
            lease: None,
            leader: None,
        }
    }
}

impl LockAlgorithm for EtcdClientElection {
    fn name(&self) -> &str {
        "etcd-client-election"
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let ctx = self.ctx.clone();
        let client = client_of(&ctx, &mut self.client).await?;
        let lease = Lease::grant(&ctx, client).await?;
        let name = ctx.options().key.clone();
        let value = ctx.process().to_string();
        let elected = until_done(&ctx, &lease.watch, || {
            let mut c = client.clone();
            let (name, value) = (name.clone(), value.clone());
            async move { c.campaign(name, value, lease.id).await }
        })
        .await;
        let leader = match elected.map(|mut e| e.take_leader()) {
            Ok(Some(leader)) => leader,
            Ok(None) => {
                lease.end(&ctx, client).await;
                return Err(Error::Client(
                    "Campaign answered without a leader key".into(),
                ));
            }
            Err(e) => {
                lease.end(&ctx, client).await;
                return Err(e);
            }
        };
        let guard = Guard::new(
            leader.key_str().unwrap_or_default(),
            Some(FencingToken(leader.rev())),
        )
        .with_lease(lease.id)
        .with_loss(lease.watch.clone());
        self.leader = Some(leader);
        self.lease = Some(lease);
        Ok(guard)
    }

    async fn release(&mut self, _guard: Guard) -> Result<()> {
        let ctx = self.ctx.clone();
        let client = client_of(&ctx, &mut self.client).await?;
        let resigned = match self.leader.take() {
            Some(leader) => {
                let options = ResignOptions::new().with_leader(leader);
                ctx.io(client.resign(Some(options))).await.map(|_| ())
            }
            None => Ok(()),
        };
        if let Some(lease) = self.lease.take() {
            lease.end(&ctx, client).await;
        }
        resigned.map_err(client_error)
    }
}
