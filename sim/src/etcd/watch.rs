//! `WatchHub`: the watch polls a member holds open until it has events for them.
//!
//! A poll asks for every event in a key range from a start revision. The hub answers it as soon
//! as the member's store has at least one such event, or with an empty batch (progress only)
//! when the poll has waited `poll_timeout`. Answers never split a revision, so the client sees
//! each revision's events together (etcd's Atomic guarantee), in revision order (Ordered), and
//! since the client always asks for the first revision it has not seen, never twice (Unique).

use std::time::Duration;

use crate::etcd::error::{Error, Result};
use crate::etcd::mvcc::Mvcc;
use crate::etcd::request::*;
use crate::etcd::transport::{ReplyTo, WatchRequest, WatchResponse};

/// At most this many revisions per answer, so an answer fits one datagram comfortably.
pub(crate) const MAX_REVISIONS_PER_ANSWER: usize = 128;

struct Poll {
    from: ReplyTo,
    id: RequestId,
    request: WatchRequest,
    deadline: Duration,
}

/// An answer to send: to whom, for which request, what.
pub(crate) struct Answer {
    pub(crate) to: ReplyTo,
    pub(crate) id: RequestId,
    pub(crate) result: Result<WatchResponse>,
}

#[derive(Default)]
pub(crate) struct WatchHub {
    /// In arrival order, so answers go out in a deterministic order.
    polls: Vec<Poll>,
}

impl WatchHub {
    /// Take a poll. `start_revision == 0` means "from now on": fixed here to the current revision
    /// + 1, as etcd fixes it when the watch is created.
    pub(crate) fn register(
        &mut self,
        from: ReplyTo,
        id: RequestId,
        mut request: WatchRequest,
        mvcc: &Mvcc,
        deadline: Duration,
    ) {
        if request.start_revision <= 0 {
            request.start_revision = mvcc.revision() + 1;
        }
        self.polls.push(Poll {
            from,
            id,
            request,
            deadline,
        });
    }

    /// Answer every poll that has events (or an error), and every poll past its deadline with a
    /// progress-only batch. Call after each batch of applied entries and on each tick.
    pub(crate) fn answer_ready(&mut self, mvcc: &Mvcc, now: Duration) -> Vec<Answer> {
        let mut answers = Vec::new();
        self.polls.retain(|poll| {
            let req = &poll.request;
            let result = mvcc.events(
                req.start_revision,
                &req.key,
                &req.range_end,
                req.prev_kv,
                MAX_REVISIONS_PER_ANSWER,
            );
            let answer = match result {
                Ok(events) if !events.is_empty() => {
                    let revisions = count_revisions(&events);
                    let last = events.last().map(|e| e.kv.mod_revision).unwrap_or(0);
                    let progress_revision = if revisions >= MAX_REVISIONS_PER_ANSWER {
                        last
                    } else {
                        mvcc.revision()
                    };
                    Some(Ok(WatchResponse {
                        header: ResponseHeader {
                            revision: mvcc.revision(),
                            ..Default::default()
                        },
                        events,
                        progress_revision,
                    }))
                }
                Ok(_) if now >= poll.deadline => Some(Ok(WatchResponse {
                    header: ResponseHeader {
                        revision: mvcc.revision(),
                        ..Default::default()
                    },
                    events: Vec::new(),
                    progress_revision: mvcc.revision(),
                })),
                Ok(_) => None,
                Err(e @ Error::Compacted { .. }) => Some(Err(e)),
                Err(e) => Some(Err(e)),
            };
            match answer {
                Some(result) => {
                    answers.push(Answer {
                        to: poll.from.clone(),
                        id: poll.id,
                        result,
                    });
                    false
                }
                None => true,
            }
        });
        answers
    }

    pub(crate) fn len(&self) -> usize {
        self.polls.len()
    }
}

fn count_revisions(events: &[Event]) -> usize {
    let mut count = 0;
    let mut last = None;
    for e in events {
        if last != Some(e.kv.mod_revision) {
            count += 1;
            last = Some(e.kv.mod_revision);
        }
    }
    count
}
