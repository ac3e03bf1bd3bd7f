//! The scenario file as written: serde sections that reject unknown fields, with the spans
//! validation points at in its errors. Nothing here is checked yet; `validate` does that.

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: String,
    pub(super) duration: Spanned<String>,
    #[serde(default)]
    pub(super) cluster: Option<Spanned<ClusterSection>>,
    #[serde(default)]
    pub(super) network: Option<Spanned<NetworkSection>>,
    pub(super) lock: Spanned<LockSection>,
    #[serde(default)]
    pub(super) workload: Option<Spanned<WorkloadSection>>,
    #[serde(default)]
    pub(super) kv: Option<Spanned<KvSection>>,
    #[serde(default)]
    pub(super) pg: Option<Spanned<PgSection>>,
    #[serde(default)]
    pub(super) patroni: Option<Spanned<PatroniSection>>,
    #[serde(default)]
    pub(super) fault: Vec<Spanned<FaultSection>>,
    #[serde(default)]
    pub(super) expect: Option<ExpectSection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ClusterSection {
    pub(super) backend: Option<Spanned<String>>,
    pub(super) members: Option<Spanned<i64>>,
    pub(super) election_timeout: Option<Spanned<String>>,
    pub(super) read_mode: Option<Spanned<String>>,
    pub(super) replication_lag: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkSection {
    pub(super) tick: Option<Spanned<String>>,
    pub(super) latency: Option<Spanned<String>>,
    pub(super) loss: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LockSection {
    pub(super) kind: Spanned<String>,
    pub(super) ttl: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) fencing: bool,
    #[serde(default)]
    pub(super) connection_listener: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkloadSection {
    pub(super) clients: Option<Spanned<i64>>,
    pub(super) hold: Option<Spanned<String>>,
    pub(super) think: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct KvSection {
    pub(super) writers: Option<Spanned<i64>>,
    pub(super) readers: Option<Spanned<i64>>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) request_timeout: Option<Spanned<String>>,
    pub(super) sync: Option<Spanned<bool>>,
}

/// The PostgreSQL servers' settings, named as in `postgresql.conf`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PgSection {
    pub(super) tcp_keepalives_idle: Option<Spanned<String>>,
    pub(super) tcp_keepalives_interval: Option<Spanned<String>>,
    pub(super) tcp_keepalives_count: Option<Spanned<i64>>,
    pub(super) tcp_user_timeout: Option<Spanned<String>>,
    pub(super) idle_in_transaction_session_timeout: Option<Spanned<String>>,
    pub(super) lock_timeout: Option<Spanned<String>>,
    pub(super) synchronous_commit: Option<Spanned<String>>,
    pub(super) synchronous_standby_names: Option<Spanned<String>>,
    pub(super) recovery_min_apply_delay: Option<Spanned<String>>,
    pub(super) client_keepalives_idle: Option<Spanned<String>>,
    pub(super) client_keepalives_interval: Option<Spanned<String>>,
    pub(super) client_keepalives_count: Option<Spanned<i64>>,
    pub(super) client_connect_timeout: Option<Spanned<String>>,
    pub(super) client_tcp_user_timeout: Option<Spanned<String>>,
}

/// The failover manager's settings, named as in Patroni's configuration.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PatroniSection {
    pub(super) ttl: Option<Spanned<String>>,
    pub(super) loop_wait: Option<Spanned<String>>,
    pub(super) retry_timeout: Option<Spanned<String>>,
    pub(super) maximum_lag_on_failover: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FaultSection {
    pub(super) at: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) target: Option<Spanned<String>>,
    #[serde(rename = "for")]
    pub(super) duration: Option<Spanned<String>>,
    pub(super) groups: Option<Spanned<Vec<Vec<String>>>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<String>>,
    pub(super) rate: Option<Spanned<f64>>,
    pub(super) offset: Option<Spanned<String>>,
    pub(super) latency: Option<Spanned<String>>,
    pub(super) lose_unsynced: Option<Spanned<bool>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectSection {
    pub(super) mutual_exclusion: Option<Spanned<String>>,
    pub(super) resource: Option<Spanned<String>>,
    pub(super) kv: Option<Spanned<String>>,
}
