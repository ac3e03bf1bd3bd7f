use std::time::Duration;

use super::*;

fn hosts() -> Vec<String> {
    ["n1", "n2", "n3", "c1"].map(String::from).to_vec()
}

fn at(secs: u64, fault: Fault, duration: Option<u64>) -> ScheduledFault {
    ScheduledFault {
        at: Duration::from_secs(secs),
        fault,
        duration: duration.map(Duration::from_secs),
    }
}

#[test]
fn plan_round_trips_through_json_with_duration_strings() {
    let plan = FaultPlan {
        faults: vec![
            at(
                10,
                Fault::Pause {
                    target: Target::Holder,
                },
                Some(15),
            ),
            at(
                12,
                Fault::Skew {
                    target: Target::Host("n1".into()),
                    rate: Some(2.0),
                    offset: Some(Duration::from_millis(300)),
                },
                None,
            ),
            at(
                20,
                Fault::Partition {
                    groups: vec![vec![Target::Minority], vec![Target::Majority]],
                },
                Some(5),
            ),
        ],
    };
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains(r#""at":"10s""#), "{json}");
    assert!(json.contains(r#""for":"15s""#), "{json}");
    assert!(json.contains(r#""kind":"pause""#), "{json}");
    assert!(json.contains(r#""offset":"300ms""#), "{json}");
    let back: FaultPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn validate_names_the_fault_and_says_what_is_allowed() {
    let bad = |faults: Vec<ScheduledFault>| FaultPlan { faults }.validate(&hosts(), 3).unwrap_err();

    let e = bad(vec![at(
        1,
        Fault::Crash {
            target: Target::Host("n9".into()),
            lose_unsynced: false,
        },
        None,
    )]);
    assert_eq!(e.index, 0);
    assert!(
        e.to_string()
            .contains(r#"unknown host "n9"; hosts are n1, n2, n3, c1"#),
        "{e}"
    );

    let e = bad(vec![at(1, Fault::Heal, None)]);
    assert!(e.message.contains("nothing to heal"), "{e}");

    let e = bad(vec![at(
        1,
        Fault::Resume {
            target: Target::Host("n1".into()),
        },
        Some(3),
    )]);
    assert!(e.message.contains("`for` is not allowed on resume"), "{e}");

    let e = bad(vec![at(
        1,
        Fault::Restart {
            target: Target::Host("n2".into()),
        },
        None,
    )]);
    assert!(e.message.contains("not crashed"), "{e}");

    let e = bad(vec![at(
        1,
        Fault::Loss {
            rate: 1.5,
            link: None,
        },
        Some(1),
    )]);
    assert!(e.message.contains("not a probability"), "{e}");

    let e = bad(vec![at(
        1,
        Fault::Skew {
            target: Target::Leader,
            rate: Some(0.0),
            offset: None,
        },
        None,
    )]);
    assert!(e.message.contains("must be > 0"), "{e}");

    // A partition whose `for` ran out leaves nothing to heal.
    let e = bad(vec![
        at(
            1,
            Fault::Isolate {
                target: Target::Leader,
            },
            Some(2),
        ),
        at(5, Fault::Heal, None),
    ]);
    assert_eq!(e.index, 1, "{e}");
}

#[test]
fn validate_accepts_paired_verbs_in_time_order() {
    let plan = FaultPlan {
        faults: vec![
            at(
                8,
                Fault::Restart {
                    target: Target::Host("n1".into()),
                },
                None,
            ),
            at(
                2,
                Fault::Crash {
                    target: Target::Host("n1".into()),
                    lose_unsynced: false,
                },
                None,
            ),
            at(
                3,
                Fault::Partition {
                    groups: vec![
                        vec![Target::Host("n2".into())],
                        vec![Target::Host("n3".into())],
                    ],
                },
                None,
            ),
            at(4, Fault::Heal, None),
            at(
                5,
                Fault::Pause {
                    target: Target::Host("c1".into()),
                },
                Some(1),
            ),
        ],
    };
    plan.validate(&hosts(), 3).unwrap();
}
