//! The simulation commands every non-etcd shell shares (`crash`, `restart`, `partition`,
//! `heal`, and the fault grammar's `pause`, `isolate`, `loss`, …) on a world whose store nodes
//! are named as [`Nodes`] says. `sleep` and `leader` differ per store and stay with each shell.

use serde_json::{json, Value};
use sim::{FaultInjector, RoleResolver, World};

use super::command::{Command, Nodes};

/// The run's history so far as JSON lines, pending operations shown as indeterminate.
pub fn history_jsonl(world: &World) -> String {
    let history = world.history().clone();
    history.close();
    history.to_jsonl()
}

/// A refusal line, as the shells print it.
pub fn refused(message: String) -> Value {
    json!({ "error": "BadArguments", "message": message })
}

/// The world's store nodes: `count` of them, named by `nodes`.
pub struct NodeSet {
    pub nodes: Nodes,
    pub count: usize,
}

impl NodeSet {
    /// Node `id`'s host name, or why there is none.
    pub fn name(&self, id: u64) -> Result<String, String> {
        let p = self.nodes.prefix;
        if id == 0 || id as usize > self.count {
            return Err(format!(
                "no {noun} {p}{id}: this world has {p}1..{p}{}",
                self.count,
                noun = self.nodes.noun
            ));
        }
        Ok(self.nodes.name(id))
    }

    /// Apply `cmd` to `world`: its JSON line, or `None` when it is not a shared command
    /// (`sleep`, `leader`, an etcd verb: the shell's own business).
    pub fn apply(
        &self,
        world: &mut World,
        faults: &mut FaultInjector,
        roles: &[&dyn RoleResolver],
        cmd: &Command,
    ) -> Option<Value> {
        Some(match cmd {
            Command::Crash(id) | Command::Restart(id) => match self.name(*id) {
                Ok(name) => {
                    if matches!(cmd, Command::Crash(_)) {
                        world.crash(&name);
                        json!({ "ok": true, "crashed": name })
                    } else {
                        world.restart(&name);
                        json!({ "ok": true, "restarted": name })
                    }
                }
                Err(e) => refused(e),
            },
            Command::Partition(groups) => {
                let mut names = Vec::new();
                for group in groups {
                    match group.iter().map(|&id| self.name(id)).collect() {
                        Ok(g) => names.push(g),
                        Err(e) => return Some(refused(e)),
                    }
                }
                world.partition(&names);
                json!({ "ok": true, "partition": names })
            }
            Command::Heal => {
                world.heal();
                json!({ "ok": true })
            }
            Command::Fault(fault) => match faults.apply_now(world, roles, fault) {
                Ok(hosts) => json!({ "ok": true, "hosts": hosts }),
                Err(e) => refused(e),
            },
            _ => return None,
        })
    }
}
