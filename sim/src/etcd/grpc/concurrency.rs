//! The server side of etcd's `concurrency` package, as `v3lock` and `v3election` use it: a
//! session on the caller's lease, the oldest-key-wins queue under a prefix, and the wait for
//! every older key's deletion. Each step is one request on the member's own path, recorded
//! under the caller's host (etcd runs these through an in-process client; the history shows
//! what that client did).

use tonic::Status;

use super::local::{expect_response, to_status, CallerGone, Local};
use crate::etcd::error::{Error, Result};
use crate::etcd::request::*;
use crate::etcd::transport::{ClientRequest, WatchRequest, WatchResponse};

/// clientv3's `concurrency.NewSession` default TTL, granted when the call names no lease.
const DEFAULT_SESSION_TTL: i64 = 60;

/// A caller's requests through this member.
pub(crate) struct Session<'a> {
    pub(crate) local: &'a Local,
    pub(crate) process: &'a str,
}

impl Session<'_> {
    /// The lease the call names, or a new one of clientv3's default TTL when it names none
    /// (`concurrency.NewSession`; the server orphans the session: nobody keeps it alive).
    pub(crate) async fn lease(&self, lease: LeaseId) -> Result<LeaseId> {
        if lease != NO_LEASE {
            return Ok(lease);
        }
        let grant = ClientRequest::LeaseGrant(LeaseGrantRequest {
            ttl: DEFAULT_SESSION_TTL,
            id: NO_LEASE,
        });
        expect_response!(self.local.call(self.process, grant).await, LeaseGrant).map(|r| r.id)
    }

    pub(crate) async fn txn(&self, txn: TxnRequest) -> Result<TxnResponse> {
        expect_response!(
            self.local.call(self.process, ClientRequest::Txn(txn)).await,
            Txn
        )
    }

    /// A linearizable read; clientv3 retries a read refused for want of a leader, and so does
    /// this, until the member's request timeout.
    pub(crate) async fn get(&self, range: RangeRequest) -> Result<RangeResponse> {
        let mut waited = std::time::Duration::ZERO;
        loop {
            let read = ClientRequest::Range(range.clone());
            match expect_response!(self.local.call(self.process, read).await, Range) {
                Err(Error::NoLeader) if waited < std::time::Duration::from_secs(5) => {
                    let backoff = std::time::Duration::from_millis(50);
                    self.local.sleep(backoff).await;
                    waited += backoff;
                }
                result => return result,
            }
        }
    }

    pub(crate) async fn delete(&self, key: Vec<u8>) -> Result<DeleteRangeResponse> {
        let delete = ClientRequest::DeleteRange(DeleteRangeRequest {
            key,
            ..Default::default()
        });
        expect_response!(self.local.call(self.process, delete).await, DeleteRange)
    }

    /// Wait until every key under `prefix` created at or before `max_create_revision` is gone
    /// (concurrency's `waitDeletes`): watch the newest such key's deletion, then look again.
    pub(crate) async fn wait_deletes(
        &self,
        prefix: &[u8],
        max_create_revision: Revision,
    ) -> Result<()> {
        loop {
            let newest = RangeRequest {
                max_create_revision,
                sort_order: SortOrder::Descend,
                ..first_created(prefix)
            };
            let answer = self.get(newest).await?;
            let Some(kv) = answer.kvs.into_iter().next() else {
                return Ok(());
            };
            self.wait_delete(kv.key, answer.header.revision).await?;
        }
    }

    /// Wait for a delete event of `key` from `revision` on (concurrency's `waitDelete`).
    async fn wait_delete(&self, key: Vec<u8>, revision: Revision) -> Result<()> {
        let mut poll = WatchRequest {
            key,
            start_revision: revision,
            ..Default::default()
        };
        loop {
            let batch = self.next_events(&mut poll).await?;
            if batch.events.iter().any(|e| e.kind == EventType::Delete) {
                return Ok(());
            }
        }
    }

    /// The next batch of events `poll` matches on this member (never empty), moving `poll`
    /// past them. Not recorded: a watch reads nothing the checker judges.
    pub(crate) async fn next_events(&self, poll: &mut WatchRequest) -> Result<WatchResponse> {
        loop {
            let watch = ClientRequest::Watch(poll.clone());
            match expect_response!(self.local.ask(watch).await, Watch) {
                Ok(batch) => {
                    poll.start_revision = poll.start_revision.max(batch.progress_revision + 1);
                    if !batch.events.is_empty() {
                        return Ok(batch);
                    }
                }
                Err(Error::Timeout) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The key created first under `prefix` (clientv3's `WithFirstCreate`): prefix, sorted by
/// create revision ascending, limit 1.
pub(crate) fn first_created(prefix: &[u8]) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: SortOrder::Ascend,
        sort_target: SortTarget::Create,
        ..Default::default()
    }
}

/// `key`'s create revision compared with `revision`.
pub(crate) fn created_at(key: &[u8], revision: Revision) -> Compare {
    Compare {
        result: CompareResult::Equal,
        target: CompareTarget::Create(revision),
        key: key.to_vec(),
        range_end: Vec::new(),
    }
}

/// The key prefix of a lock or election `name`: `name + "/"` (concurrency's `pfx`).
pub(crate) fn prefix_of(name: &[u8]) -> Vec<u8> {
    let mut prefix = name.to_vec();
    prefix.push(b'/');
    prefix
}

/// The queue key of `lease` under `prefix`: `prefix` + the lease id in lower-case hex.
pub(crate) fn queue_key(prefix: &[u8], lease: LeaseId) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(format!("{lease:x}").as_bytes());
    key
}

/// Run `work` unless the caller goes first; then run `cleanup` and answer "context canceled"
/// (etcd's gRPC server cancels the request context when its caller goes).
pub(crate) async fn unless_gone<T>(
    gone: &mut CallerGone,
    work: impl std::future::Future<Output = Result<T>>,
) -> std::result::Result<T, Status> {
    tokio::select! {
        biased;
        result = work => result.map_err(to_status),
        _ = gone.wait() => Err(Status::cancelled("context canceled")),
    }
}
