//! Helpers shared by integration tests (`mod common;` in a test file).

use std::ops::Range;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{Fault, FaultPlan, ScheduledFault, Target};

/// What a world's random fault plans look like: the roles it has besides its hosts, how many
/// faults, and which groups a partition cuts (given two drawn targets).
pub struct PlanShape {
    pub roles: Vec<Target>,
    pub faults: Range<usize>,
    pub partition: fn(Target, Target) -> Vec<Vec<Target>>,
}

/// A seeded random plan with every fault kind, aimed at `hosts` and the shape's roles, each
/// fault starting in the first 80 % of `span` and lasting 2–30 % of it.
pub fn random_plan(seed: u64, hosts: &[String], span: Duration, shape: &PlanShape) -> FaultPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut targets: Vec<Target> = hosts.iter().map(|h| Target::Host(h.clone())).collect();
    targets.extend(shape.roles.iter().cloned());
    let mut faults = Vec::new();
    for _ in 0..rng.gen_range(shape.faults.clone()) {
        let at = span.mul_f64(rng.gen_range(0.0..0.8));
        let duration = Some(span.mul_f64(rng.gen_range(0.02..0.3)));
        let target = targets[rng.gen_range(0..targets.len())].clone();
        let other = targets[rng.gen_range(0..targets.len())].clone();
        let fault = match rng.gen_range(0..9) {
            0 => Fault::Partition {
                groups: (shape.partition)(target, other),
            },
            1 => Fault::PartitionOneway {
                from: target,
                to: other,
            },
            2 => Fault::Isolate { target },
            3 => Fault::Crash {
                target,
                lose_unsynced: false,
            },
            4 => Fault::Pause { target },
            5 => Fault::Skew {
                target,
                rate: Some(rng.gen_range(0.5..2.0)),
                offset: Some(Duration::from_millis(rng.gen_range(0..3000))),
            },
            6 => Fault::Loss {
                rate: rng.gen_range(0.05..0.5),
                link: None,
            },
            7 => Fault::Duplicate {
                rate: rng.gen_range(0.05..0.5),
                link: Some((target, other)),
            },
            _ => Fault::Latency {
                min: Duration::from_millis(1),
                max: Duration::from_millis(rng.gen_range(20..300)),
                link: None,
            },
        };
        faults.push(ScheduledFault {
            at,
            fault,
            duration,
        });
    }
    FaultPlan { faults }
}
