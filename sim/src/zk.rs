//! A ZooKeeper-like ensemble on the world (issue 19, under way): so far its replicated state,
//! the znode tree (`tree`), with ZooKeeper 3.8's numbering and errors as measured against the
//! real server. The servers, sessions, client and locks build on it.

pub mod tree;
