//! Saturated KV load inside the simulation: a 3-member cluster and client hosts whose writers
//! put 100-byte values back to back through the normal [`sim::Client`] — every request a
//! datagram through turmoil, a Raft proposal, an MVCC write on each member and a recorded
//! history operation, exactly as a lock run pays for them. With [`Via::EtcdClient`] (feature
//! `grpc`) the same writers put through `etcd_client` instead: HTTP/2 over turmoil TCP to the
//! members' gRPC front, then the same path.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sim::{Client, Cluster, ClusterConfig, PutRequest};

/// Which client the writers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `sim::Client`: datagrams to the members' client port.
    Native,
    /// `etcd_client::Client` over the members' gRPC API (feature `grpc`).
    EtcdClient,
}

/// Shape of one load run.
#[derive(Clone, Copy, Debug)]
pub struct KvLoad {
    /// The writers' client.
    pub via: Via,
    pub seed: u64,
    /// Client hosts (`c1..`).
    pub hosts: usize,
    /// Concurrent writers per client host, each with its own key.
    pub writers_per_host: usize,
    pub value_size: usize,
    /// Simulated time measured, after the cluster elected a leader and served a first write.
    pub measure: Duration,
    /// Compact away revisions older than this, every this often (etcd's
    /// `--auto-compaction-mode=periodic`), as a cluster under sustained load is run; `None`
    /// keeps every revision and the store grows for the whole run.
    pub compact_every: Option<Duration>,
}

/// What one load run measured.
#[derive(Clone, Copy, Debug)]
pub struct KvLoadResult {
    pub writers: usize,
    /// Puts acknowledged during the measured window.
    pub committed: u64,
    pub simulated: Duration,
    pub wall: Duration,
    /// CPU time of the measured window (this thread).
    pub cpu: Duration,
}

impl KvLoadResult {
    pub fn per_wall_sec(&self) -> f64 {
        self.committed as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    pub fn per_cpu_sec(&self) -> f64 {
        self.committed as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
    pub fn per_sim_sec(&self) -> f64 {
        self.committed as f64 / self.simulated.as_secs_f64().max(1e-9)
    }
}

/// The writers of one host through `etcd_client` (one HTTP/2 connection, one stream per call).
/// Compaction stays with the native path: the etcd-client row measures puts alone.
#[cfg(feature = "grpc")]
async fn etcd_client_writers(
    endpoints: Vec<String>,
    writers: usize,
    host: String,
    value: Vec<u8>,
    acked: Rc<Cell<u64>>,
    revision: Rc<Cell<i64>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let options = sim::grpc::GrpcOptions {
        endpoints,
        ..Default::default()
    };
    let client = sim::grpc::connect(options).await?;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (mut client, acked, revision, value) = (
            client.clone(),
            acked.clone(),
            revision.clone(),
            value.clone(),
        );
        let key = format!("bench/{host}/{w}");
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                // Errors (no leader yet) are part of the load: go on.
                if let Ok(response) = client.put(key.clone(), value.clone(), None).await {
                    acked.set(acked.get() + 1);
                    let rev = response.header().map_or(0, |h| h.revision());
                    revision.set(revision.get().max(rev));
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Runs the load and times the measured window (the warm-up is not timed).
pub fn run(load: KvLoad) -> Result<KvLoadResult, sim::SimError> {
    let mut config = ClusterConfig {
        members: 3,
        seed: load.seed,
        ..ClusterConfig::default()
    };
    if load.via == Via::EtcdClient {
        if !cfg!(feature = "grpc") {
            return Err(sim::SimError {
                elapsed: Duration::ZERO,
                message: "the etcd-client load needs locksim built with --features grpc".into(),
            });
        }
        config.member.grpc = true;
    }
    let mut cluster = Cluster::new(config);
    let acked = Rc::new(Cell::new(0u64));
    // The newest revision any writer saw acknowledged: what the compactor compacts up to.
    let revision = Rc::new(Cell::new(0i64));
    let history = cluster.history().clone();
    for h in 0..load.hosts {
        let name = lock::client_name(h);
        let config = cluster.client_config(&name);
        let acked = acked.clone();
        let revision = revision.clone();
        let history = history.clone();
        let host = name.clone();
        let compact_every = if h == 0 { load.compact_every } else { None };
        let writers = load.writers_per_host;
        let value = vec![b'v'; load.value_size];
        cluster.add_host(&name, move || {
            let (config, acked, revision, history, host, value) = (
                config.clone(),
                acked.clone(),
                revision.clone(),
                history.clone(),
                host.clone(),
                value.clone(),
            );
            async move {
                #[cfg(feature = "grpc")]
                if load.via == Via::EtcdClient {
                    let endpoints = config.endpoints.clone();
                    return etcd_client_writers(endpoints, writers, host, value, acked, revision)
                        .await;
                }
                let clock = config.clock.clone();
                let client = Client::connect(&host, h as u32 + 1, config, history).await?;
                let mut tasks = Vec::new();
                if let Some(every) = compact_every {
                    let (client, revision) = (client.clone(), revision.clone());
                    tasks.push(tokio::task::spawn_local(async move {
                        let mut behind = 0;
                        loop {
                            clock.sleep(every).await;
                            if behind > 0 {
                                let _ = client.compact(behind).await;
                            }
                            behind = revision.get();
                        }
                    }));
                }
                for w in 0..writers {
                    let (client, acked, revision, value) = (
                        client.clone(),
                        acked.clone(),
                        revision.clone(),
                        value.clone(),
                    );
                    let key = format!("bench/{host}/{w}").into_bytes();
                    tasks.push(tokio::task::spawn_local(async move {
                        loop {
                            let put = PutRequest {
                                key: key.clone(),
                                value: value.clone(),
                                ..PutRequest::default()
                            };
                            // Errors (no leader yet, a timeout) are part of the load: go on.
                            if let Ok(response) = client.put(put).await {
                                acked.set(acked.get() + 1);
                                revision.set(revision.get().max(response.header.revision));
                            }
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
                Ok(())
            }
        });
    }
    // Warm up: a leader, and writes flowing.
    let warmup_limit = Duration::from_secs(30);
    let ready = cluster.run_until(warmup_limit, |_| acked.get() > 0)?;
    if !ready {
        return Err(sim::SimError {
            elapsed: cluster.elapsed(),
            message: "no write acknowledged within 30 s of simulated warm-up".into(),
        });
    }
    let before = acked.get();
    let started = Instant::now();
    let cpu_started = super::machine::thread_cpu_time();
    cluster.run_for(load.measure)?;
    let wall = started.elapsed();
    let cpu = super::machine::thread_cpu_time().saturating_sub(cpu_started);
    Ok(KvLoadResult {
        writers: load.hosts * load.writers_per_host,
        committed: acked.get() - before,
        simulated: load.measure,
        wall,
        cpu,
    })
}
