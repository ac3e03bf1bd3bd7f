//! `SimExecutor`: runs shell commands against a simulated cluster through a [`sim::Driver`].

use sim::{
    ClientRequest, ClientResponse, ClusterConfig, Driver, Error, FaultInjector, FaultPlan,
    MemberId, SimError,
};

use super::command::Command;
use super::{EndpointStatus, Executor, Output, WatchOutput};

/// A simulated etcd cluster behind the `locksim ctl` shell.
pub struct SimExecutor {
    driver: Driver<'static>,
    members: usize,
    /// Applies fault commands; its seeded RNG picks among equal candidates (which follower).
    faults: FaultInjector,
}

impl SimExecutor {
    /// Start `members` members under `seed` and wait for the first leader.
    pub fn new(members: usize, seed: u64) -> Result<Self, SimError> {
        Self::start(members, seed, false)
    }

    /// [`SimExecutor::new`]; with `grpc`, every request goes through etcd-client over the
    /// members' gRPC API (`Driver::over_grpc`, feature `grpc`; without it `grpc` is refused
    /// by the caller and ignored here).
    pub fn start(members: usize, seed: u64, grpc: bool) -> Result<Self, SimError> {
        let config = ClusterConfig {
            members,
            seed,
            ..ClusterConfig::default()
        };
        #[cfg(feature = "grpc")]
        let driver = if grpc {
            Driver::over_grpc(config)?
        } else {
            Driver::new(config)?
        };
        #[cfg(not(feature = "grpc"))]
        let driver = {
            let _ = grpc;
            Driver::new(config)?
        };
        Ok(Self {
            driver,
            members,
            faults: FaultInjector::new(&FaultPlan::default(), seed),
        })
    }

    /// The run's history so far as JSON lines (see the README), pending operations shown as
    /// indeterminate.
    pub fn history_jsonl(&mut self) -> String {
        let history = self.driver.cluster().history().clone();
        history.close();
        history.to_jsonl()
    }

    fn member(&self, id: MemberId) -> Result<String, Error> {
        if id == 0 || id as usize > self.members {
            return Err(Error::InvalidArgument(format!(
                "no member n{id}: this cluster has n1..n{}",
                self.members
            )));
        }
        Ok(sim::member_name(id))
    }

    fn call(&mut self, request: ClientRequest) -> Result<ClientResponse, Error> {
        self.driver.call(request).map_err(simulation)?
    }
}

fn simulation(e: SimError) -> Error {
    Error::Simulation(e.to_string())
}

impl Executor for SimExecutor {
    fn execute(&mut self, cmd: &Command) -> Result<Output, Error> {
        Ok(match cmd {
            Command::Put(_)
            | Command::Get(_)
            | Command::Del(_)
            | Command::Txn(_)
            | Command::LeaseGrant(_)
            | Command::LeaseRevoke(_)
            | Command::LeaseKeepAlive(_)
            | Command::LeaseTimeToLive(_)
            | Command::LeaseList
            | Command::Compaction(_) => {
                let request = etcd_request(cmd).expect("every etcd command sends a request");
                output(self.call(request)?)
            }
            Command::Watch(w) => {
                let request = sim::WatchRequest {
                    key: w.key.clone(),
                    range_end: w.range_end.clone(),
                    start_revision: w.start_revision,
                    prev_kv: w.prev_kv,
                };
                let response = self.driver.watch_until_now(request).map_err(simulation)??;
                Output::Watch(WatchOutput {
                    header: response.header,
                    events: response.events,
                })
            }
            Command::EndpointStatus => {
                let mut statuses = Vec::new();
                for id in 1..=self.members as MemberId {
                    let name = sim::member_name(id);
                    // A crashed or unreachable member is left out, as etcdctl prints only the
                    // endpoints that answered (and an error on stderr for the rest).
                    if let Ok(status) = self.driver.status(&name).map_err(simulation)? {
                        statuses.push(EndpointStatus { member: id, status });
                    }
                }
                Output::EndpointStatus(statuses)
            }
            Command::Sleep(d) => {
                self.driver.sleep(*d).map_err(simulation)?;
                Output::Slept(*d)
            }
            Command::Crash(m) => {
                let name = self.member(*m)?;
                self.driver.cluster().crash(&name);
                Output::Done
            }
            Command::Restart(m) => {
                let name = self.member(*m)?;
                self.driver.cluster().restart(&name);
                Output::Done
            }
            Command::Partition(groups) => {
                let mut names = Vec::new();
                for group in groups {
                    let group: Result<Vec<String>, Error> =
                        group.iter().map(|&m| self.member(m)).collect();
                    names.push(group?);
                }
                self.driver.cluster().partition(&names);
                Output::Done
            }
            Command::Heal => {
                self.driver.cluster().heal();
                Output::Done
            }
            Command::Fault(fault) => {
                let roles = self.driver.cluster().roles();
                let hosts = self
                    .faults
                    .apply_now(self.driver.cluster(), &[&roles], fault)
                    .map_err(Error::InvalidArgument)?;
                Output::Faulted(hosts)
            }
            Command::Leader => {
                let leader = self.driver.cluster().leader();
                Output::Leader {
                    leader: leader.map(|(id, _)| id),
                    term: leader.map(|(_, term)| term).unwrap_or(0),
                }
            }
        })
    }
}

/// The request an etcd command sends, or `None` for commands the executor runs itself
/// (watch, endpoint status, simulation commands).
fn etcd_request(cmd: &Command) -> Option<ClientRequest> {
    Some(match cmd {
        Command::Put(r) => ClientRequest::Put(r.clone()),
        Command::Get(r) => ClientRequest::Range(r.clone()),
        Command::Del(r) => ClientRequest::DeleteRange(r.clone()),
        Command::Txn(r) => ClientRequest::Txn(r.clone()),
        Command::LeaseGrant(r) => ClientRequest::LeaseGrant(r.clone()),
        Command::LeaseRevoke(r) => ClientRequest::LeaseRevoke(r.clone()),
        Command::LeaseKeepAlive(r) => ClientRequest::LeaseKeepAlive(r.clone()),
        Command::LeaseTimeToLive(r) => ClientRequest::LeaseTimeToLive(r.clone()),
        Command::LeaseList => ClientRequest::LeaseLeases,
        Command::Compaction(r) => ClientRequest::Compact(r.clone()),
        _ => return None,
    })
}

fn output(response: ClientResponse) -> Output {
    match response {
        ClientResponse::Range(r) => Output::Range(r),
        ClientResponse::Put(r) => Output::Put(r),
        ClientResponse::DeleteRange(r) => Output::DeleteRange(r),
        ClientResponse::Txn(r) => Output::Txn(r),
        ClientResponse::LeaseGrant(r) => Output::LeaseGrant(r),
        ClientResponse::LeaseRevoke(r) => Output::LeaseRevoke(r),
        ClientResponse::LeaseKeepAlive(r) => Output::LeaseKeepAlive(r),
        ClientResponse::LeaseTimeToLive(r) => Output::LeaseTimeToLive(r),
        ClientResponse::LeaseLeases(r) => Output::LeaseLeases(r),
        ClientResponse::Compact(r) => Output::Compaction(r),
        // Only sent by the executor's own watch and status paths, never by `etcd_request`.
        other @ (ClientResponse::Watch(_) | ClientResponse::Status(_)) => {
            panic!("an etcd command was answered with {other:?}")
        }
    }
}
