//! `KvWorkload`: plain key-value clients beside the lock clients — writers that put fresh
//! values into one register and readers that read it back — so a run's KV history has reads a
//! linearizability checker can judge (Jepsen's register workload). It runs on etcd (key
//! [`KV_KEY`]) or on a ZooKeeper ensemble (znode [`KV_PATH`], `setData` and `getData`).
//!
//! Why readers are bound to one member each (reader k talks only to member
//! `n((k−1) mod members + 1)`), while writers follow the leader over every endpoint: that is
//! how reads are served in the setups where the read mode matters. A Jepsen process is bound to
//! one node; an application that reads "its local etcd member" (the reason people ask for
//! serializable reads) does the same. A reader that followed the leader would hide what a cut-off
//! member answers. Writers use the whole endpoint list, as clientv3 does, so writes keep
//! committing on whichever member leads.
//!
//! Reads are linearizable (ReadIndex) unless `serializable` is set: then every read carries
//! `serializable = true`, as clientv3's `WithSerializable()`, and the member answers from its own
//! store without asking the leader. With members in `ReadMode::LeaseBased`, the leader answers
//! linearizable reads on its lease instead of a quorum round; that is a member setting, not this
//! workload's.
//!
//! On ZooKeeper, reader k is bound to server `z((k−1) mod servers + 1)` for the same reason, and
//! a read is answered from that server's own tree unless `sync` is set: then every read is
//! preceded by `sync(path)` in the same session, ZooKeeper's recipe for an up-to-date read.
//! Each client keeps one session and opens a new one only after it expired (as Curator does).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::zk::{CreateMode, ZkClientConfig, ZkError};
use sim::{Client, ClientConfig, ClientRequest, History, PutRequest, RangeRequest};

use crate::algorithm::ZkAccess;

/// The register every KV client writes and reads.
pub const KV_KEY: &str = "kv/register";

/// The register's znode on ZooKeeper.
pub const KV_PATH: &str = "/kv/register";

/// What the KV clients do. Durations are on each client's own clock.
#[derive(Clone, Debug, PartialEq)]
pub struct KvWorkload {
    /// Writer hosts `writer1..writerN`; writer I puts `"writerI-1"`, `"writerI-2"`, …, so every
    /// value is written once and a read names the write it saw.
    pub writers: usize,
    /// Reader hosts `reader1..readerN`, reader k bound to member `n((k−1) mod members + 1)`.
    pub readers: usize,
    /// Pause between one operation's answer and the next operation, drawn per operation.
    pub interval_min: Duration,
    /// Upper bound of that pause; each is drawn uniformly from `interval_min..=interval_max`
    /// (exactly `interval_min` if `interval_max <= interval_min`), as is the first start.
    pub interval_max: Duration,
    /// Deadline of one request (a clientv3 context timeout). A write that has no answer by then
    /// is indeterminate, and the writer goes on with the next value on another member.
    pub request_timeout: Duration,
    /// Readers ask for serializable reads (`RangeRequest::serializable`). etcd only.
    pub serializable: bool,
    /// Readers call `sync` before every read. ZooKeeper only.
    pub sync: bool,
}

impl Default for KvWorkload {
    fn default() -> Self {
        Self {
            writers: 1,
            readers: 3,
            interval_min: Duration::from_millis(20),
            interval_max: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
            serializable: false,
            sync: false,
        }
    }
}

impl KvWorkload {
    /// Host names, writers first: `writer1..`, `reader1..`.
    pub fn hosts(&self) -> Vec<String> {
        let writers = (0..self.writers).map(writer_name);
        writers.chain((0..self.readers).map(reader_name)).collect()
    }
}

/// Host name of writer `index` (0-based): `writer1`, `writer2`, …
pub fn writer_name(index: usize) -> String {
    format!("writer{}", index + 1)
}

/// Host name of reader `index` (0-based): `reader1`, `reader2`, …
pub fn reader_name(index: usize) -> String {
    format!("reader{}", index + 1)
}

/// The member (or ZooKeeper server) reader `index` (0-based) is bound to, among `endpoints`.
pub fn reader_endpoint(index: usize, endpoints: &[String]) -> String {
    endpoints[index % endpoints.len()].clone()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KvRole {
    Writer,
    Reader,
}

/// Everything one KV client host needs; cloned into its (restartable) host closure.
#[derive(Clone)]
pub(crate) struct KvClientSpec {
    pub role: KvRole,
    pub index: usize,
    pub config: KvWorkload,
    pub seed: u64,
    /// Endpoints already narrowed to the bound member for a reader.
    pub client_config: ClientConfig,
    /// On a ZooKeeper ensemble: the session's configuration (servers already narrowed to the
    /// bound one for a reader). The workload then speaks ZooKeeper instead of etcd.
    pub zk: Option<ZkClientConfig>,
    pub history: History,
    /// Lives outside the host: how many times it has started.
    pub incarnation: Rc<Cell<u32>>,
    /// Lives outside the host: the writer's last value number, so a restarted writer never
    /// writes a value twice (the harness's source of unique values, not the process's memory).
    pub written: Rc<Cell<u64>>,
}

impl KvClientSpec {
    /// The host's name: `writerN` or `readerN`.
    pub fn name(&self) -> String {
        match self.role {
            KvRole::Writer => writer_name(self.index),
            KvRole::Reader => reader_name(self.index),
        }
    }

    /// Unique per host and incarnation, and apart from the lock clients' ids (below 2^16):
    /// members match requests by (client id, sequence number), and a restarted client starts
    /// its sequence numbers again.
    fn client_id(&self, incarnation: u32) -> u32 {
        let role = match self.role {
            KvRole::Writer => 1,
            KvRole::Reader => 2,
        };
        (role << 28) | ((self.index as u32 + 1) << 16) | (incarnation & 0xffff)
    }

    /// The pauses between operations: drawn from the interval with the client's own RNG.
    fn pauses(&self, incarnation: u32) -> impl FnMut() -> Duration {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ (u64::from(self.client_id(incarnation)) << 24) ^ 0x6b76,
        );
        let (min, max) = (self.config.interval_min, self.config.interval_max);
        move || {
            if max <= min {
                min
            } else {
                Duration::from_micros(
                    rng.gen_range(min.as_micros() as u64..=max.as_micros() as u64),
                )
            }
        }
    }

    /// The writer's next value, `writerI-N`, never written before.
    fn next_value(&self) -> Vec<u8> {
        let n = self.written.get() + 1;
        self.written.set(n);
        format!("{}-{n}", self.name()).into_bytes()
    }
}

/// One KV client host's software: write or read, wait, repeat until the run ends.
pub(crate) async fn run_kv_client(spec: KvClientSpec) -> turmoil::Result {
    let incarnation = spec.incarnation.get();
    spec.incarnation.set(incarnation + 1);
    if let Some(zk) = spec.zk.clone() {
        return run_zk_kv_client(spec, zk, incarnation).await;
    }
    let name = spec.name();
    let clock = spec.client_config.clock.clone();
    let mut config = spec.client_config.clone();
    config.request_timeout = spec.config.request_timeout;
    config.attempt_timeout = config.attempt_timeout.min(spec.config.request_timeout);
    let client = Client::connect(
        &name,
        spec.client_id(incarnation),
        config,
        spec.history.clone(),
    )
    .await?;
    let mut draw = spec.pauses(incarnation);
    // Clients start at slightly different moments, as real ones do.
    clock.sleep(draw()).await;
    loop {
        let request = match spec.role {
            KvRole::Writer => ClientRequest::Put(PutRequest {
                key: KV_KEY.into(),
                value: spec.next_value(),
                ..PutRequest::default()
            }),
            KvRole::Reader => ClientRequest::Range(RangeRequest {
                key: KV_KEY.into(),
                serializable: spec.config.serializable,
                ..RangeRequest::default()
            }),
        };
        // Errors are in the history (fail or indeterminate); the workload just goes on.
        let _ = client.call(request).await;
        clock.sleep(draw()).await;
    }
}

/// The ZooKeeper client ids of KV hosts: above the lock clients' (`index + 1 + 64 ×
/// incarnation`, below 2^16), and small enough for [`ZkAccess`] to number sessions within.
fn zk_base_id(spec: &KvClientSpec, incarnation: u32) -> u32 {
    let role = match spec.role {
        KvRole::Writer => 0,
        KvRole::Reader => 1,
    };
    (1 << 16) + (role << 12) + ((spec.index as u32) << 8) + (incarnation & 0xff)
}

/// [`run_kv_client`] on ZooKeeper: the writer makes sure the register exists, then sets fresh
/// values; a reader gets the data (after a `sync` when asked). One session per process, a new
/// one after expiry; a call that failed waits for the connection before the next, so a
/// disconnected client does not spin.
async fn run_zk_kv_client(
    spec: KvClientSpec,
    config: ZkClientConfig,
    incarnation: u32,
) -> turmoil::Result {
    let name = spec.name();
    let clock = config.clock.clone();
    // The workload's deadline is the client's `zookeeper.request.timeout`: a call stuck on a
    // server cut off from its leader fails, and the client moves to another server.
    let config = ZkClientConfig {
        request_timeout: Some(spec.config.request_timeout),
        ..config
    };
    let access = ZkAccess::new(
        &name,
        zk_base_id(&spec, incarnation),
        config,
        spec.history.clone(),
    );
    let mut draw = spec.pauses(incarnation);
    clock.sleep(draw()).await;
    if spec.role == KvRole::Writer {
        for path in ["/kv", KV_PATH] {
            loop {
                let client = access.client().await;
                match client.create(path, b"", CreateMode::Persistent).await {
                    Ok(_) | Err(ZkError::NodeExists) => break,
                    Err(_) => ZkAccess::until_connected(&client).await,
                }
                clock.sleep(draw()).await;
            }
        }
    }
    loop {
        let client = access.client().await;
        let result = match spec.role {
            KvRole::Writer => client
                .set_data(KV_PATH, &spec.next_value(), -1)
                .await
                .map(|_| ()),
            KvRole::Reader => {
                let synced = if spec.config.sync {
                    client.sync(KV_PATH).await
                } else {
                    Ok(())
                };
                match synced {
                    Ok(()) => client.get_data(KV_PATH).await.map(|_| ()),
                    Err(e) => Err(e),
                }
            }
        };
        // Errors are in the history; a lost connection is waited out before going on.
        if matches!(
            result,
            Err(ZkError::ConnectionLoss | ZkError::RequestTimeout)
        ) {
            ZkAccess::until_connected(&client).await;
        }
        clock.sleep(draw()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_bound_round_robin() {
        let members: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        let bound: Vec<String> = (0..5).map(|i| reader_endpoint(i, &members)).collect();
        assert_eq!(bound, ["n1", "n2", "n3", "n1", "n2"]);
        let kv = KvWorkload {
            writers: 2,
            readers: 1,
            ..KvWorkload::default()
        };
        assert_eq!(kv.hosts(), ["writer1", "writer2", "reader1"]);
    }

    /// Members match requests by (client id, sequence): ids must differ between hosts and
    /// between incarnations of one host, and stay clear of the lock clients' small ids.
    #[test]
    fn client_ids_are_unique() {
        let spec = |role, index| KvClientSpec {
            role,
            index,
            config: KvWorkload::default(),
            seed: 0,
            client_config: ClientConfig::default(),
            zk: None,
            history: History::new(),
            incarnation: Rc::new(Cell::new(0)),
            written: Rc::new(Cell::new(0)),
        };
        let mut ids = std::collections::BTreeSet::new();
        for role in [KvRole::Writer, KvRole::Reader] {
            for index in 0..16 {
                for incarnation in 0..4 {
                    let id = spec(role, index).client_id(incarnation);
                    assert!(id >= 1 << 16, "{id} could be a lock client's");
                    assert!(ids.insert(id), "{role:?} {index} {incarnation}: {id} twice");
                }
            }
        }
    }
}
