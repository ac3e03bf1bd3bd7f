//! `Locks`: the lock kinds a scenario file's `lock.kind` may name — the five built-in ones, and
//! any of your own registered with [`Locks::with`]. Your own `locksim` binary passes its
//! `Locks` to [`crate::cli::main_with`], so `locksim run FILE --seed N` runs your lock.

use lock::{AlgorithmKind, LockAlgorithm, LockContext, LockKind};

/// The lock kinds a scenario may name, in the order error messages list them.
#[derive(Clone, Debug)]
pub struct Locks {
    kinds: Vec<LockKind>,
}

impl Default for Locks {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Locks {
    /// The built-in kinds: `lease-txn`, `put`, `etcd-mutex`, `redis-setnx`, `redlock`.
    pub fn builtin() -> Self {
        #[allow(unused_mut)]
        let mut kinds: Vec<LockKind> = AlgorithmKind::ALL.into_iter().map(LockKind::from).collect();
        // With the `grpc` feature: the etcd-client locks over etcd's gRPC API.
        #[cfg(feature = "grpc")]
        kinds.extend(lock::grpc::kinds());
        Self { kinds }
    }

    /// These kinds and `kind` (replacing a kind of the same name).
    pub fn with_kind(mut self, kind: LockKind) -> Self {
        self.kinds.retain(|k| k.name() != kind.name());
        self.kinds.push(kind);
        self
    }

    /// These kinds and your lock `name`, built by `factory` in each client's context.
    ///
    /// ```
    /// # use lock::{Guard, LockAlgorithm, LockContext, Result};
    /// # struct MyLock;
    /// # impl LockAlgorithm for MyLock {
    /// #     fn name(&self) -> &str { "my-lock" }
    /// #     async fn acquire(&mut self) -> Result<Guard> { Ok(Guard::new("k", None)) }
    /// #     async fn release(&mut self, _: Guard) -> Result<()> { Ok(()) }
    /// # }
    /// let locks = locksim::scenario::Locks::builtin().with("my-lock", |_ctx| MyLock);
    /// assert!(locks.get("my-lock").is_some());
    /// assert!(locks.get("lease-txn").is_some());
    /// ```
    pub fn with<L, F>(self, name: &str, factory: F) -> Self
    where
        L: LockAlgorithm + 'static,
        F: Fn(LockContext) -> L + Send + Sync + 'static,
    {
        self.with_kind(LockKind::new(name, factory))
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<&LockKind> {
        self.kinds.iter().find(|k| k.name() == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }
}
