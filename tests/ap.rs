//! The AP store through its public API: async replication, Sentinel failover, the seed story
//! (two holders of a SET NX lock after a failover), demotion of an old primary, expiry by a
//! skewed node's clock, and determinism under faults on AP hosts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::ap::{ApClient, ApConfig, ApStore, NodeRole};
use sim::{sim_now, Cluster, ClusterConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn world(seed: u64, config: ApConfig) -> (Cluster<'static>, ApStore) {
    let mut cluster = Cluster::new(ClusterConfig {
        members: 0,
        seed,
        ..ClusterConfig::default()
    });
    let store = ApStore::add_to(&mut cluster, config);
    (cluster, store)
}

mod smoke {
    use super::*;

    #[test]
    fn set_then_get_through_the_sentinels() {
        let (mut cluster, store) = world(1, ApConfig::default());
        let cc = store.client_config(&mut cluster, "c1");
        let history = cluster.history().clone();
        let out = Rc::new(RefCell::new(None));
        let o = out.clone();
        cluster.add_client("c1", async move {
            let c = ApClient::connect("c1", 1, cc, history).await.unwrap();
            assert!(c.set(b"k", b"v", true, Some(ms(1000))).await.unwrap());
            let v = c.get(b"k").await.unwrap();
            *o.borrow_mut() = Some((v, c.last_node(), sim_now()));
            Ok(())
        });
        cluster.run_for(Duration::from_secs(2)).unwrap();
        let (v, node, _) = out.borrow().clone().unwrap();
        assert_eq!(v, Some(b"v".to_vec()));
        assert_eq!(node.as_deref(), Some("r1"));
        let status = store.node_status(&cluster);
        assert_eq!(status["r1"].role, NodeRole::Primary);
        // The SET, then the primary's expiry of the key (a replicated DEL) one second later.
        assert_eq!(status["r2"].offset, 2, "{status:?}");
        assert_eq!(status["r3"].offset, 2);
        assert_eq!(status["r3"].keys, 0);
        assert_eq!(store.operations(&cluster).len(), 2);
    }
}
