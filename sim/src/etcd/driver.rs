//! `Driver`: a synchronous handle on a simulated cluster, for `locksim ctl` and tests.
//!
//! A request is handed to a `Client` living in a host named `ctl`, and the simulation is stepped
//! until that client has the answer. Between requests, simulated time stands still, so a script
//! of requests replays byte for byte under one seed.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::etcd::client::Client;
use crate::etcd::cluster::{Cluster, ClusterConfig};
use crate::etcd::error::{Error, Result};
use crate::etcd::request::*;
use crate::etcd::transport::{ClientRequest, ClientResponse, WatchRequest, WatchResponse};
use crate::world::sim::SimError;

/// Name of the host the driver's client runs in.
pub const CTL_HOST: &str = "ctl";

pub(crate) enum Job {
    Call(ClientRequest),
    Status(String),
    WatchPoll(WatchRequest),
}

pub(crate) type Slot = Rc<RefCell<Option<Result<ClientResponse>>>>;

/// A synchronous handle on a simulated [`Cluster`]: each call hands one request to the client on
/// the [`CTL_HOST`] host and steps the simulation until its answer (or deadline) comes; simulated
/// time stands still between calls. See the module docs.
pub struct Driver<'a> {
    cluster: Cluster<'a>,
    jobs: mpsc::UnboundedSender<Job>,
    slot: Slot,
}

impl<'a> Driver<'a> {
    /// Build the cluster, add the `ctl` client host, and let the cluster elect a leader (or
    /// give up after 10 s of simulated time; requests will then say so).
    pub fn new(config: ClusterConfig) -> std::result::Result<Self, SimError> {
        let mut cluster = Cluster::new(config);
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let slot: Slot = Rc::default();
        let mut client_config = cluster.client_config(CTL_HOST);
        // A session moves on from a member that does not answer a write (see the field).
        client_config.write_attempt_timeout = Some(client_config.attempt_timeout);
        let history = cluster.history().clone();
        let out = slot.clone();
        cluster.add_client(CTL_HOST, async move {
            let client = Client::connect(CTL_HOST, 1, client_config, history).await?;
            while let Some(job) = rx.recv().await {
                let result = match job {
                    Job::Call(request) => client.call(request).await,
                    Job::Status(endpoint) => {
                        client.status(&endpoint).await.map(ClientResponse::Status)
                    }
                    Job::WatchPoll(request) => {
                        let mut watcher = client.watch(request);
                        watcher.poll().await.map(ClientResponse::Watch)
                    }
                };
                *out.borrow_mut() = Some(result);
            }
            Ok(())
        });
        Self::started(cluster, jobs, slot)
    }

    /// As [`Driver::new`], with every request sent through `etcd_client` over the members'
    /// gRPC API (feature `grpc`): `locksim ctl --grpc`, and the conformance scripts through
    /// gRPC. The `ctl` host's calls land in the history server-side, under `ctl`.
    #[cfg(feature = "grpc")]
    pub fn over_grpc(mut config: ClusterConfig) -> std::result::Result<Self, SimError> {
        config.member.grpc = true;
        let mut cluster = Cluster::new(config);
        let (jobs, rx) = mpsc::unbounded_channel::<Job>();
        let slot: Slot = Rc::default();
        let endpoints = cluster.member_names();
        let ctl = crate::etcd::grpc::serve_ctl(endpoints, rx, slot.clone());
        cluster.add_client(CTL_HOST, ctl);
        Self::started(cluster, jobs, slot)
    }

    /// Let the cluster elect a leader (or give up after 10 s of simulated time).
    fn started(
        cluster: Cluster<'a>,
        jobs: mpsc::UnboundedSender<Job>,
        slot: Slot,
    ) -> std::result::Result<Self, SimError> {
        let mut driver = Driver {
            cluster,
            jobs,
            slot,
        };
        driver
            .cluster
            .run_until(Duration::from_secs(10), |c| c.leader().is_some())?;
        Ok(driver)
    }

    /// The cluster, to apply faults or let time pass between requests.
    pub fn cluster(&mut self) -> &mut Cluster<'a> {
        &mut self.cluster
    }

    /// Send one request and step until its answer (or its deadline) comes.
    pub fn call(
        &mut self,
        request: ClientRequest,
    ) -> std::result::Result<Result<ClientResponse>, SimError> {
        self.run(Job::Call(request))
    }

    /// `endpoint status` of one member.
    pub fn status(
        &mut self,
        endpoint: &str,
    ) -> std::result::Result<Result<StatusResponse>, SimError> {
        Ok(self
            .run(Job::Status(endpoint.to_string()))?
            .map(|r| match r {
                ClientResponse::Status(s) => s,
                other => panic!("status answered with {other:?}"),
            }))
    }

    /// Every event from `request.start_revision` up to the current revision, merged into one
    /// response, then return (etcdctl `watch --rev=N` stopped once it has caught up; etcd also
    /// sends a catch-up backlog as one response).
    pub fn watch_until_now(
        &mut self,
        request: WatchRequest,
    ) -> std::result::Result<Result<WatchResponse>, SimError> {
        let mut request = request;
        let mut merged = WatchResponse::default();
        loop {
            let response = match self.run(Job::WatchPoll(request.clone()))? {
                Ok(ClientResponse::Watch(w)) => w,
                Ok(other) => panic!("watch answered with {other:?}"),
                Err(e) => return Ok(Err(e)),
            };
            let caught_up = response.progress_revision >= response.header.revision;
            request.start_revision = response.progress_revision + 1;
            merged.header = response.header;
            merged.progress_revision = response.progress_revision;
            merged.events.extend(response.events);
            if caught_up {
                return Ok(Ok(merged));
            }
        }
    }

    /// Let simulated time pass with no requests.
    pub fn sleep(&mut self, duration: Duration) -> std::result::Result<(), SimError> {
        self.cluster.run_for(duration)
    }

    fn run(&mut self, job: Job) -> std::result::Result<Result<ClientResponse>, SimError> {
        if self.cluster.is_crashed(CTL_HOST) {
            return Ok(Err(Error::Unavailable));
        }
        if self.cluster.is_paused(CTL_HOST) {
            // Its client would wait for the resume that only this caller can give.
            return Ok(Err(Error::InvalidArgument(
                "the ctl host is paused: `resume ctl` first".into(),
            )));
        }
        self.jobs
            .send(job)
            .expect("the ctl host lives as long as the driver");
        // Every request has a deadline (watch polls included), so an answer always comes well
        // within this; reaching it means the harness itself is stuck.
        let limit = self.cluster.elapsed() + Duration::from_secs(600);
        loop {
            if let Some(result) = self.slot.borrow_mut().take() {
                return Ok(result);
            }
            if self.cluster.elapsed() > limit {
                return Err(SimError {
                    elapsed: self.cluster.elapsed(),
                    message: "the ctl client got no answer within 600 s of simulated time".into(),
                });
            }
            self.cluster.step()?;
        }
    }
}
