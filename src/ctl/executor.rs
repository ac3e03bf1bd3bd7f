//! `SimExecutor`: runs shell commands against a simulated cluster through a [`sim::Driver`].

use sim::{ClientRequest, ClientResponse, ClusterConfig, Driver, Error, MemberId, SimError};

use super::command::Command;
use super::{EndpointStatus, Executor, Output, WatchOutput};

/// A simulated etcd cluster behind the `locksim ctl` shell.
pub struct SimExecutor {
    driver: Driver<'static>,
    members: usize,
}

impl SimExecutor {
    /// Start `members` members under `seed` and wait for the first leader.
    pub fn new(members: usize, seed: u64) -> Result<Self, SimError> {
        let config = ClusterConfig {
            members,
            seed,
            ..ClusterConfig::default()
        };
        Ok(Self {
            driver: Driver::new(config)?,
            members,
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
        use ClientResponse as R;
        Ok(match cmd {
            Command::Put(r) => match self.call(ClientRequest::Put(r.clone()))? {
                R::Put(r) => Output::Put(r),
                other => unreachable_response(other),
            },
            Command::Get(r) => match self.call(ClientRequest::Range(r.clone()))? {
                R::Range(r) => Output::Range(r),
                other => unreachable_response(other),
            },
            Command::Del(r) => match self.call(ClientRequest::DeleteRange(r.clone()))? {
                R::DeleteRange(r) => Output::DeleteRange(r),
                other => unreachable_response(other),
            },
            Command::Txn(r) => match self.call(ClientRequest::Txn(r.clone()))? {
                R::Txn(r) => Output::Txn(r),
                other => unreachable_response(other),
            },
            Command::LeaseGrant(r) => match self.call(ClientRequest::LeaseGrant(r.clone()))? {
                R::LeaseGrant(r) => Output::LeaseGrant(r),
                other => unreachable_response(other),
            },
            Command::LeaseRevoke(r) => match self.call(ClientRequest::LeaseRevoke(r.clone()))? {
                R::LeaseRevoke(r) => Output::LeaseRevoke(r),
                other => unreachable_response(other),
            },
            Command::LeaseKeepAlive(r) => {
                match self.call(ClientRequest::LeaseKeepAlive(r.clone()))? {
                    R::LeaseKeepAlive(r) => Output::LeaseKeepAlive(r),
                    other => unreachable_response(other),
                }
            }
            Command::LeaseTimeToLive(r) => {
                match self.call(ClientRequest::LeaseTimeToLive(r.clone()))? {
                    R::LeaseTimeToLive(r) => Output::LeaseTimeToLive(r),
                    other => unreachable_response(other),
                }
            }
            Command::LeaseList => match self.call(ClientRequest::LeaseLeases)? {
                R::LeaseLeases(r) => Output::LeaseLeases(r),
                other => unreachable_response(other),
            },
            Command::Compaction(r) => match self.call(ClientRequest::Compact(r.clone()))? {
                R::Compact(r) => Output::Compaction(r),
                other => unreachable_response(other),
            },
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

fn unreachable_response(response: ClientResponse) -> ! {
    panic!("the cluster answered with a response of another kind: {response:?}")
}
