//! A [`Scenario`] written back as a scenario TOML file that `scenario::parse` accepts and
//! `locksim run` runs: how the explorer hands a shrunk plan to a person.
//!
//! Written by hand rather than with `toml::to_string`, because the file format is not the
//! struct: durations are one-unit strings (`"5500ms"`, not humantime's `"5s 500ms"`, which the
//! scenario parser rejects on purpose), a partition of one target is spelt `isolate`, and the
//! file should read like the bundled ones, sections in the same order.

use std::fmt::Write;

use sim::{Fault, ScheduledFault, Target};

use crate::scenario::{Backend, Expect, Scenario};

pub use crate::duration::format as duration;

fn quote(s: &str) -> String {
    // A TOML basic string is a JSON string for everything we write (no control characters
    // beyond what JSON escapes the same way).
    serde_json::to_string(s).expect("a string serialises")
}

fn target(t: &Target) -> String {
    quote(&t.to_string())
}

/// The scenario as TOML. `comment` goes first, each line prefixed with `# `.
pub fn scenario_toml(scenario: &Scenario, comment: &str) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let w = &mut out;
    let _ = writeln!(w, "name = {}", quote(&scenario.name));
    if !scenario.description.is_empty() {
        let _ = writeln!(w, "description = {}", quote(&scenario.description));
    }
    let _ = writeln!(w, "duration = \"{}\"", duration(scenario.duration));

    let c = &scenario.cluster;
    let _ = writeln!(w, "\n[cluster]");
    let _ = writeln!(w, "backend = \"{}\"", c.backend.name());
    let _ = writeln!(w, "members = {}", c.members);
    // Only the fields the backend has (a zk or pg file with etcd's fields is refused).
    if !matches!(c.backend, Backend::Zk | Backend::Pg) {
        let _ = writeln!(w, "election_timeout = \"{}\"", duration(c.election_timeout));
        let _ = writeln!(w, "read_mode = \"{}\"", c.read_mode.name());
        let _ = writeln!(w, "replication_lag = \"{}\"", c.replication_lag);
    }

    let _ = writeln!(w, "\n[network]");
    let _ = writeln!(w, "tick = \"{}\"", duration(scenario.tick));
    let _ = writeln!(w, "latency = \"{}\"", scenario.latency);
    let _ = writeln!(w, "loss = {:?}", scenario.loss);

    let l = &scenario.lock;
    let _ = writeln!(w, "\n[lock]");
    let _ = writeln!(w, "kind = {}", quote(l.kind.name()));
    let _ = writeln!(w, "ttl = \"{}\"", duration(l.ttl));
    let _ = writeln!(w, "fencing = {}", l.fencing);
    if l.connection_listener {
        let _ = writeln!(w, "connection_listener = true");
    }

    let wl = &scenario.workload;
    let _ = writeln!(w, "\n[workload]");
    let _ = writeln!(w, "clients = {}", wl.clients);
    let _ = writeln!(w, "hold = \"{}\"", wl.hold);
    let _ = writeln!(w, "think = \"{}\"", wl.think);

    if let Some(kv) = &scenario.kv {
        let _ = writeln!(w, "\n[kv]");
        let _ = writeln!(w, "writers = {}", kv.writers);
        let _ = writeln!(w, "readers = {}", kv.readers);
        let _ = writeln!(w, "interval = \"{}\"", kv.interval);
        let _ = writeln!(w, "request_timeout = \"{}\"", duration(kv.request_timeout));
        if kv.sync {
            let _ = writeln!(w, "sync = true");
        }
    }

    if c.backend == Backend::Pg {
        pg(w, &scenario.pg);
        if c.members > 1 {
            patroni(w, &scenario.patroni);
        }
    }

    for f in &scenario.faults.faults {
        fault(w, f);
    }

    let expect = |e: Expect, good: &str, bad: &str| match e {
        Expect::Holds => good.to_string(),
        Expect::Violated => bad.to_string(),
        Expect::Any => "any".to_string(),
    };
    let _ = writeln!(w, "\n[expect]");
    let _ = writeln!(
        w,
        "mutual_exclusion = \"{}\"",
        expect(scenario.expect_mutual_exclusion, "holds", "violated")
    );
    let _ = writeln!(
        w,
        "resource = \"{}\"",
        expect(scenario.expect_resource, "intact", "corrupted")
    );
    if scenario.cluster.backend == Backend::Etcd || scenario.kv.is_some() {
        let _ = writeln!(
            w,
            "kv = \"{}\"",
            expect(scenario.expect_kv, "linearizable", "violated")
        );
    }
    out
}

/// The `[pg]` section: the settings that differ from PostgreSQL's defaults.
fn pg(w: &mut String, config: &sim::pg::PgConfig) {
    let default = sim::pg::PgConfig::default();
    let _ = writeln!(w, "\n[pg]");
    let (k, d) = (&config.tcp_keepalives, &default.tcp_keepalives);
    if k.idle != d.idle {
        let _ = writeln!(w, "tcp_keepalives_idle = \"{}\"", duration(k.idle));
    }
    if k.interval != d.interval {
        let _ = writeln!(w, "tcp_keepalives_interval = \"{}\"", duration(k.interval));
    }
    if k.count != d.count {
        let _ = writeln!(w, "tcp_keepalives_count = {}", k.count);
    }
    if let Some(t) = config.tcp_user_timeout {
        let _ = writeln!(w, "tcp_user_timeout = \"{}\"", duration(t));
    }
    let e = &config.engine;
    if !e.idle_in_transaction_session_timeout.is_zero() {
        let _ = writeln!(
            w,
            "idle_in_transaction_session_timeout = \"{}\"",
            duration(e.idle_in_transaction_session_timeout)
        );
    }
    if !e.lock_timeout.is_zero() {
        let _ = writeln!(w, "lock_timeout = \"{}\"", duration(e.lock_timeout));
    }
    if config.synchronous_commit != default.synchronous_commit {
        let _ = writeln!(
            w,
            "synchronous_commit = \"{}\"",
            config.synchronous_commit.name()
        );
    }
    if !config.synchronous_standby_names.names.is_empty() {
        let names = config.synchronous_standby_names.to_conf();
        let _ = writeln!(w, "synchronous_standby_names = {}", quote(&names));
    }
    if !config.recovery_min_apply_delay.is_zero() {
        let d = duration(config.recovery_min_apply_delay);
        let _ = writeln!(w, "recovery_min_apply_delay = \"{d}\"");
    }
    let (k, d) = (&config.client_keepalives, &default.client_keepalives);
    if k.idle != d.idle {
        let _ = writeln!(w, "client_keepalives_idle = \"{}\"", duration(k.idle));
    }
    if k.interval != d.interval {
        let _ = writeln!(
            w,
            "client_keepalives_interval = \"{}\"",
            duration(k.interval)
        );
    }
    if k.count != d.count {
        let _ = writeln!(w, "client_keepalives_count = {}", k.count);
    }
    if let Some(t) = config.client_tcp_user_timeout {
        let _ = writeln!(w, "client_tcp_user_timeout = \"{}\"", duration(t));
    }
    if config.client_connect_timeout != default.client_connect_timeout {
        let t = duration(config.client_connect_timeout);
        let _ = writeln!(w, "client_connect_timeout = \"{t}\"");
    }
}

/// The `[patroni]` section, every setting.
fn patroni(w: &mut String, config: &sim::pg::PatroniConfig) {
    let _ = writeln!(w, "\n[patroni]");
    let _ = writeln!(w, "ttl = \"{}\"", duration(config.ttl));
    let _ = writeln!(w, "loop_wait = \"{}\"", duration(config.loop_wait));
    let _ = writeln!(w, "retry_timeout = \"{}\"", duration(config.retry_timeout));
    let _ = writeln!(
        w,
        "maximum_lag_on_failover = {}",
        config.maximum_lag_on_failover
    );
}

fn fault(w: &mut String, f: &ScheduledFault) {
    let _ = writeln!(w, "\n[[fault]]");
    let _ = writeln!(w, "at = \"{}\"", duration(f.at));
    let _ = writeln!(w, "kind = \"{}\"", f.fault.name());
    let link = |w: &mut String, link: &Option<(Target, Target)>| {
        if let Some((a, b)) = link {
            let _ = writeln!(w, "from = {}", target(a));
            let _ = writeln!(w, "to = {}", target(b));
        }
    };
    match &f.fault {
        Fault::Partition { groups } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| format!("[{}]", g.iter().map(target).collect::<Vec<_>>().join(", ")))
                .collect();
            let _ = writeln!(w, "groups = [{}]", groups.join(", "));
        }
        Fault::PartitionOneway { from, to } => {
            let _ = writeln!(w, "from = {}", target(from));
            let _ = writeln!(w, "to = {}", target(to));
        }
        Fault::Heal => {}
        Fault::Isolate { target: t }
        | Fault::Restart { target: t }
        | Fault::Pause { target: t }
        | Fault::Resume { target: t } => {
            let _ = writeln!(w, "target = {}", target(t));
        }
        Fault::Crash {
            target: t,
            lose_unsynced,
        } => {
            let _ = writeln!(w, "target = {}", target(t));
            if *lose_unsynced {
                let _ = writeln!(w, "lose_unsynced = true");
            }
        }
        Fault::Skew {
            target: t,
            rate,
            offset,
        } => {
            let _ = writeln!(w, "target = {}", target(t));
            if let Some(rate) = rate {
                let _ = writeln!(w, "rate = {rate:?}");
            }
            if let Some(offset) = offset {
                let _ = writeln!(w, "offset = \"{}\"", duration(*offset));
            }
        }
        Fault::Loss { rate, link: l } | Fault::Duplicate { rate, link: l } => {
            let _ = writeln!(w, "rate = {rate:?}");
            link(w, l);
        }
        Fault::Latency { min, max, link: l } => {
            let _ = writeln!(w, "latency = \"{}..{}\"", duration(*min), duration(*max));
            link(w, l);
        }
    }
    if let Some(d) = f.duration {
        let _ = writeln!(w, "for = \"{}\"", duration(d));
    }
}
