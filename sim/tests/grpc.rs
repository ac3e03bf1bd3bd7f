//! etcd-client code against the simulated cluster over gRPC (feature `grpc`).

#![cfg(feature = "grpc")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::grpc::etcd_client::{GetOptions, SortOrder, SortTarget};
use sim::grpc::{connect, GrpcOptions};
use sim::{Cluster, ClusterConfig, MemberConfig};

fn grpc_cluster(seed: u64) -> Cluster<'static> {
    let mut cluster = Cluster::new(ClusterConfig {
        seed,
        member: MemberConfig {
            grpc: true,
            ..MemberConfig::default()
        },
        ..ClusterConfig::default()
    });
    cluster
        .run_until(Duration::from_secs(5), |c| c.leader().is_some())
        .unwrap();
    cluster
}

#[test]
fn put_and_get_through_etcd_client() {
    let mut cluster = grpc_cluster(1);
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let out = seen.clone();
    cluster.add_client("c1", async move {
        let mut client = connect(GrpcOptions::default()).await?;
        client.put("a/1", "one", None).await?;
        client.put("a/2", "two", None).await?;
        client.put("b", "bee", None).await?;
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Key, SortOrder::Descend)
            .with_limit(1);
        let answer = client.get("a/", Some(options)).await?;
        for kv in answer.kvs() {
            out.borrow_mut()
                .push(format!("{}={}", kv.key_str()?, kv.value_str()?));
        }
        out.borrow_mut().push(format!("count {}", answer.count()));
        Ok(())
    });
    cluster
        .run_until(Duration::from_secs(10), |_| {
            !seen.borrow().is_empty() && seen.borrow().len() == 2
        })
        .unwrap();
    assert_eq!(
        *seen.borrow(),
        vec!["a/2=two".to_string(), "count 2".to_string()]
    );
    let ops = cluster.history().operations();
    assert_eq!(ops.len(), 4, "{ops:#?}");
    assert!(ops.iter().all(|op| op.process == "c1"));
}
