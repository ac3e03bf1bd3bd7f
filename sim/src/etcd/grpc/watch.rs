//! etcdserverpb.Watch: one bidirectional stream carries many watchers. Each watcher follows
//! the member's store from its start revision through the member's watch polls (so it sees
//! exactly what that member has applied, in revision order, each revision whole); a compacted
//! start cancels it with `compact_revision`, as etcd does. The stream ends with the member: a
//! client resumes elsewhere from the last revision it saw.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use etcd_client::proto::{PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchService};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::local::{expect_response, to_status, Front, Local};
use crate::etcd::error::Error;
use crate::etcd::request::*;
use crate::etcd::transport::{ClientRequest, WatchRequest};
use crate::world::history::sim_now;

/// etcd's default `--experimental-watch-progress-notify-interval`.
const PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_secs(600);
/// The watch id etcd puts on a progress answer that belongs to no watcher (`-1`).
const NO_WATCH_ID: i64 = -1;

type Out = mpsc::UnboundedSender<Result<PbWatchResponse, Status>>;

pub(crate) struct Watch(pub(crate) Front);

#[tonic::async_trait]
impl PbWatchService for Watch {
    type WatchStream = UnboundedReceiverStream<Result<PbWatchResponse, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<PbWatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let inbound = request.into_inner();
        let (out, rx) = mpsc::unbounded_channel();
        self.0
            .spawn(move |local| serve_stream(local, inbound, out))?;
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }
}

/// What one watcher was asked for.
struct Watcher {
    id: i64,
    request: WatchRequest,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
}

async fn serve_stream(local: Rc<Local>, mut inbound: Streaming<PbWatchRequest>, out: Out) {
    let mut watchers: BTreeMap<i64, JoinHandle<()>> = BTreeMap::new();
    let mut next_id = 0;
    while let Ok(Some(message)) = inbound.message().await {
        let header = match local.header().await {
            Ok(header) => header,
            Err(e) => {
                let _ = out.send(Err(to_status(e)));
                break;
            }
        };
        let answer = match message.request_union {
            Some(PbWatchRequestUnion::CreateRequest(c)) => {
                let id = if c.watch_id != 0 {
                    c.watch_id
                } else {
                    while watchers.contains_key(&next_id) {
                        next_id += 1;
                    }
                    next_id
                };
                let mut answer = PbWatchResponse {
                    header: convert::header(header),
                    watch_id: id,
                    created: true,
                    ..Default::default()
                };
                match watchers.entry(id) {
                    Entry::Occupied(_) => {
                        answer.canceled = true;
                        answer.cancel_reason =
                            "mvcc: duplicate watch ID provided on the WatchStream".into();
                    }
                    Entry::Vacant(slot) => {
                        let start = if c.start_revision > 0 {
                            c.start_revision
                        } else {
                            header.revision + 1
                        };
                        let watcher = Watcher {
                            id,
                            request: WatchRequest {
                                key: c.key,
                                range_end: c.range_end,
                                start_revision: start,
                                prev_kv: c.prev_kv,
                            },
                            no_put: c.filters.contains(&0),
                            no_delete: c.filters.contains(&1),
                            progress_notify: c.progress_notify,
                        };
                        let task =
                            tokio::task::spawn_local(follow(local.clone(), watcher, out.clone()));
                        slot.insert(task);
                    }
                }
                answer
            }
            Some(PbWatchRequestUnion::CancelRequest(c)) => match watchers.remove(&c.watch_id) {
                Some(task) => {
                    task.abort();
                    PbWatchResponse {
                        header: convert::header(header),
                        watch_id: c.watch_id,
                        canceled: true,
                        ..Default::default()
                    }
                }
                None => continue,
            },
            Some(PbWatchRequestUnion::ProgressRequest(_)) => PbWatchResponse {
                header: convert::header(header),
                watch_id: NO_WATCH_ID,
                ..Default::default()
            },
            None => continue,
        };
        if out.send(Ok(answer)).is_err() {
            break;
        }
    }
    for task in watchers.into_values() {
        task.abort();
    }
}

/// One watcher: poll the member from the next unseen revision, send every batch with events.
async fn follow(local: Rc<Local>, watcher: Watcher, out: Out) {
    let mut request = watcher.request;
    let mut last_sent = sim_now();
    loop {
        let poll = ClientRequest::Watch(request.clone());
        let answer = match expect_response!(local.ask(poll).await, Watch) {
            Ok(batch) => {
                if batch.progress_revision >= request.start_revision {
                    request.start_revision = batch.progress_revision + 1;
                }
                let events: Vec<_> = batch
                    .events
                    .into_iter()
                    .filter(|e| match e.kind {
                        EventType::Put => !watcher.no_put,
                        EventType::Delete => !watcher.no_delete,
                    })
                    .map(convert::event)
                    .collect();
                let quiet = sim_now().saturating_sub(last_sent);
                if events.is_empty()
                    && !(watcher.progress_notify && quiet >= PROGRESS_NOTIFY_INTERVAL)
                {
                    continue;
                }
                last_sent = sim_now();
                PbWatchResponse {
                    header: convert::header(batch.header),
                    watch_id: watcher.id,
                    events,
                    ..Default::default()
                }
            }
            Err(Error::Compacted { compact_revision }) => {
                let header = local.header().await.unwrap_or_default();
                let _ = out.send(Ok(PbWatchResponse {
                    header: convert::header(header),
                    watch_id: watcher.id,
                    canceled: true,
                    compact_revision,
                    ..Default::default()
                }));
                return;
            }
            // The member is busy or between leaders: its store is still there; poll again.
            Err(Error::Timeout) => continue,
            Err(e) => {
                let _ = out.send(Err(to_status(e)));
                return;
            }
        };
        if out.send(Ok(answer)).is_err() {
            return;
        }
    }
}
