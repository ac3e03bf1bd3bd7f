//! ZooKeeper requests and answers in zkCli's words, for history summaries and timelines
//! (`create -e -s /locks/_c_…-lock- → /locks/_c_…-lock-0000000003 (czxid 0x200000005)`).

use crate::zk::state::WriteOp;
use crate::zk::tree::{CreateMode, MultiOp};
use crate::zk::wire::{Answer, ZkRequest};

fn flags(mode: CreateMode) -> &'static str {
    match mode {
        CreateMode::Persistent => "",
        CreateMode::Ephemeral => "-e ",
        CreateMode::PersistentSequential => "-s ",
        CreateMode::EphemeralSequential => "-e -s ",
    }
}

fn text(data: &Option<Vec<u8>>) -> String {
    match data {
        Some(d) => String::from_utf8_lossy(d).into_owned(),
        None => "null".into(),
    }
}

fn version(v: i32) -> String {
    if v == -1 {
        String::new()
    } else {
        format!(" -v {v}")
    }
}

fn write(op: &WriteOp) -> String {
    match op {
        WriteOp::Create { path, data, mode } => {
            format!("create {}{path} {:?}", flags(*mode), text(data))
        }
        WriteOp::Delete { path, version: v } => format!("delete{} {path}", version(*v)),
        WriteOp::SetData {
            path,
            data,
            version: v,
        } => format!("set{} {path} {:?}", version(*v), text(data)),
        WriteOp::Multi(ops) => {
            let ops: Vec<String> = ops
                .iter()
                .map(|op| match op {
                    MultiOp::Create { path, data, mode } => write(&WriteOp::Create {
                        path: path.clone(),
                        data: data.clone(),
                        mode: *mode,
                    }),
                    MultiOp::Delete { path, version } => write(&WriteOp::Delete {
                        path: path.clone(),
                        version: *version,
                    }),
                    MultiOp::SetData {
                        path,
                        data,
                        version,
                    } => write(&WriteOp::SetData {
                        path: path.clone(),
                        data: data.clone(),
                        version: *version,
                    }),
                    MultiOp::Check { path, version: v } => format!("check{} {path}", version(*v)),
                })
                .collect();
            format!("multi [{}]", ops.join("; "))
        }
    }
}

/// A request as zkCli would type it.
pub(crate) fn request(r: &ZkRequest) -> String {
    let w = |watch: bool| if watch { "-w " } else { "" };
    match r {
        ZkRequest::Write(op) => write(op),
        ZkRequest::GetData { path, watch } => format!("get {}{path}", w(*watch)),
        ZkRequest::Exists { path, watch } => format!("stat {}{path}", w(*watch)),
        ZkRequest::GetChildren { path, watch } => format!("ls {}{path}", w(*watch)),
        ZkRequest::Sync { path } => format!("sync {path}"),
        ZkRequest::CloseSession => "close".into(),
    }
}

/// An answer in a few words, zxids in hex as zkCli prints them.
pub(crate) fn answer(a: &Answer) -> String {
    match a {
        Answer::Done => "ok".into(),
        Answer::Created { path, stat } => format!("{path} (czxid {:#x})", stat.czxid),
        Answer::Stat(stat) => format!("version {} (mzxid {:#x})", stat.version, stat.mzxid),
        Answer::Data { data, stat } => format!("{:?} (version {})", text(data), stat.version),
        Answer::Exists(None) => "none".into(),
        Answer::Exists(Some(stat)) => format!("exists (czxid {:#x})", stat.czxid),
        Answer::Children { children, .. } => format!("[{}]", children.join(", ")),
        Answer::Synced(path) => format!("synced {path}"),
        Answer::Multi(Ok(results)) => format!("multi ok ({} ops)", results.len()),
        Answer::Multi(Err(f)) => format!("multi failed at op {}: {}", f.index, f.error.name()),
    }
}
