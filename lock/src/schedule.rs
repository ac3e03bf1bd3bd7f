//! `Schedule`: timed faults for a lock run — a stop-gap until `sim`'s fault plan (issue 3)
//! lands, kept small on purpose. Entries apply between simulation steps; an entry whose target
//! does not resolve yet (no leader, nobody holding the lock) waits for the first step at which
//! it does, so "pause the holder at 3 s" means "at the first moment after 3 s that someone holds".

use std::rc::Rc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::Cluster;

use crate::workload::Holders;

/// Whom a fault hits, resolved to a host name when it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Host(String),
    /// The running leader with the highest term.
    Leader,
    /// The client that believes it holds the lock (`Holders::current`).
    Holder,
    /// The protected resource's host.
    Resource,
}

/// A closure fault for what the enum does not cover.
pub type CustomFault = Rc<dyn Fn(&mut Cluster<'static>, &Holders)>;

#[derive(Clone)]
pub enum Fault {
    /// Crash the target; restart it after `restart_after` if given.
    Crash {
        target: Target,
        restart_after: Option<Duration>,
    },
    Restart(Target),
    /// Pause the target's process; resume it after `resume_after` if given.
    Pause {
        target: Target,
        resume_after: Option<Duration>,
    },
    Resume(Target),
    /// Cut every link between hosts of different groups.
    Partition(Vec<Vec<String>>),
    /// Cut the target off from every other host; heal after `heal_after` if given.
    Isolate {
        target: Target,
        heal_after: Option<Duration>,
    },
    /// Repair every cut link.
    Heal,
    Custom(CustomFault),
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Crash {
                target,
                restart_after,
            } => write!(f, "crash {target:?} restart_after {restart_after:?}"),
            Fault::Restart(t) => write!(f, "restart {t:?}"),
            Fault::Pause {
                target,
                resume_after,
            } => write!(f, "pause {target:?} resume_after {resume_after:?}"),
            Fault::Resume(t) => write!(f, "resume {t:?}"),
            Fault::Partition(groups) => write!(f, "partition {groups:?}"),
            Fault::Isolate { target, heal_after } => {
                write!(f, "isolate {target:?} heal_after {heal_after:?}")
            }
            Fault::Heal => write!(f, "heal"),
            Fault::Custom(_) => write!(f, "custom"),
        }
    }
}

/// Faults at simulated times. Entries at the same time apply in insertion order.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    pub(crate) entries: Vec<(Duration, Fault)>,
}

impl Schedule {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn at(mut self, at: Duration, fault: Fault) -> Self {
        self.entries.push((at, fault));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// A seeded mix of random partitions (hosts split at random into two sides, healed after
    /// 0.5–4 s) and leader crashes (restarted after 0.5–4 s), one at a time with 0.5–3 s of calm
    /// between, from `start` until `end`.
    pub fn random_partitions_and_leader_crashes(
        seed: u64,
        hosts: &[String],
        start: Duration,
        end: Duration,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xfa17_5eed);
        let ms =
            |rng: &mut ChaCha8Rng, lo: u64, hi: u64| Duration::from_millis(rng.gen_range(lo..=hi));
        let mut schedule = Schedule::new();
        let mut t = start;
        while t < end {
            let lasts = ms(&mut rng, 500, 4000);
            if rng.gen_bool(0.5) {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for h in hosts {
                    if rng.gen_bool(0.5) {
                        a.push(h.clone())
                    } else {
                        b.push(h.clone())
                    }
                }
                if a.is_empty() || b.is_empty() {
                    continue;
                }
                schedule = schedule
                    .at(t, Fault::Partition(vec![a, b]))
                    .at(t + lasts, Fault::Heal);
            } else {
                schedule = schedule.at(
                    t,
                    Fault::Crash {
                        target: Target::Leader,
                        restart_after: Some(lasts),
                    },
                );
            }
            t += lasts + ms(&mut rng, 500, 3000);
        }
        schedule
    }
}
