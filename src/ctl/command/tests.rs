//! The ctl line parser's unit tests: each command's forms, and malformed lines' messages.

use sim::{Compare, CompareResult, CompareTarget, RequestOp, SortOrder, SortTarget};

use super::*;

fn parse(line: &str) -> Command {
    parse_line(line)
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
        .expect("not blank")
}

fn err(line: &str) -> String {
    match parse_line(line) {
        Err(e) => e.message().to_string(),
        Ok(c) => panic!("{line:?} parsed as {c:?}"),
    }
}

fn range(key: &[u8], end: &[u8]) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        range_end: end.to_vec(),
        ..RangeRequest::default()
    }
}

#[test]
fn blank_and_comment_lines_are_skipped() {
    assert_eq!(parse_line(""), Ok(None));
    assert_eq!(parse_line("   \t"), Ok(None));
    assert_eq!(parse_line("# put a b"), Ok(None));
    assert_eq!(parse_line("  # indented"), Ok(None));
}

#[test]
fn put_forms() {
    assert_eq!(
        parse("put k v"),
        Command::Put(PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..PutRequest::default()
        })
    );
    assert_eq!(
        parse("put k v --lease=694d77aa9e38260f --prev-kv"),
        Command::Put(PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            lease: 0x694d77aa9e38260f,
            prev_kv: true,
            ..PutRequest::default()
        })
    );
    // Flags anywhere, valued flags with a space, as pflag.
    assert_eq!(parse("put --lease 1f k v"), parse("put k v --lease=1f"));
    assert_eq!(
        parse("put k --ignore-value"),
        Command::Put(PutRequest {
            key: b"k".to_vec(),
            ignore_value: true,
            ..PutRequest::default()
        })
    );
    assert_eq!(
        parse(r#"put "a key" 'v w'"#),
        Command::Put(PutRequest {
            key: b"a key".to_vec(),
            value: b"v w".to_vec(),
            ..PutRequest::default()
        })
    );
}

#[test]
fn quoting_follows_go() {
    let Command::Put(p) = parse(r#"put "\xff\n\"q\"\u00e9\101" 'raw \n'"#) else {
        panic!()
    };
    assert_eq!(p.key, b"\xff\n\"q\"\xc3\xa9A".to_vec());
    assert_eq!(p.value, b"raw \\n".to_vec());
    // A quoted word is never a flag; `--` ends the flags.
    let Command::Put(p) = parse(r#"put "--prefix" v"#) else {
        panic!()
    };
    assert_eq!(p.key, b"--prefix".to_vec());
    let Command::Put(p) = parse("put -- -k -v") else {
        panic!()
    };
    assert_eq!((p.key, p.value), (b"-k".to_vec(), b"-v".to_vec()));
    assert_eq!(parse(r#"put k """#), parse("put k ''"));
}

#[test]
fn get_forms() {
    assert_eq!(parse("get k"), Command::Get(range(b"k", b"")));
    assert_eq!(parse("get a c"), Command::Get(range(b"a", b"c")));
    assert_eq!(parse("get k --prefix"), Command::Get(range(b"k", b"l")));
    assert_eq!(parse("get '' --prefix"), Command::Get(range(b"\0", b"\0")));
    assert_eq!(parse("get b --from-key"), Command::Get(range(b"b", b"\0")));
    assert_eq!(
        parse("get '' --from-key"),
        Command::Get(range(b"\0", b"\0"))
    );
    assert_eq!(
        parse(
            "get k --prefix --rev=7 --limit=2 --sort-by=modify --order=DESCEND \
             --consistency=s --keys-only --count-only"
        ),
        Command::Get(RangeRequest {
            limit: 2,
            revision: 7,
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Mod,
            serializable: true,
            keys_only: true,
            count_only: true,
            ..range(b"k", b"l")
        })
    );
    // clientv3's WithSort drops ascending-by-key.
    let Command::Get(r) = parse("get k --sort-by=KEY --order=ASCEND") else {
        panic!()
    };
    assert_eq!(
        (r.sort_target, r.sort_order),
        (SortTarget::Key, SortOrder::None)
    );
    let Command::Get(r) = parse("get k --sort-by=VALUE") else {
        panic!()
    };
    assert_eq!(
        (r.sort_target, r.sort_order),
        (SortTarget::Value, SortOrder::None)
    );
    let Command::Get(r) = parse("get k --sort-by=VERSION --order=ascend") else {
        panic!()
    };
    assert_eq!(
        (r.sort_target, r.sort_order),
        (SortTarget::Version, SortOrder::Ascend)
    );
    let Command::Get(r) = parse("get k --sort-by=CREATE --keys-only=false") else {
        panic!()
    };
    assert_eq!((r.sort_target, r.keys_only), (SortTarget::Create, false));
}

#[test]
fn del_forms() {
    assert_eq!(
        parse("del k"),
        Command::Del(DeleteRangeRequest {
            key: b"k".to_vec(),
            ..DeleteRangeRequest::default()
        })
    );
    assert_eq!(
        parse("del a\\xff --prefix --prev-kv"),
        Command::Del(DeleteRangeRequest {
            key: b"a\\xff".to_vec(),
            range_end: b"a\\xfg".to_vec(),
            prev_kv: true,
        })
    );
    assert_eq!(
        parse("del a z"),
        Command::Del(DeleteRangeRequest {
            key: b"a".to_vec(),
            range_end: b"z".to_vec(),
            prev_kv: false,
        })
    );
    let Command::Del(d) = parse("del m --from-key") else {
        panic!()
    };
    assert_eq!(d.range_end, vec![0]);
}

#[test]
fn txn_forms() {
    let Command::Txn(t) = parse(
        r#"txn IF create("k") = "0"; mod("k") > "3"; version("k") != "1"; value("k") < "v;w"; lease("k") = "1f" THEN put k "THEN; ELSE" --lease=1f; get k --prefix ELSE del k --prev-kv; get k"#,
    ) else {
        panic!()
    };
    let cmp = |result, target| Compare {
        result,
        target,
        key: b"k".to_vec(),
        range_end: vec![],
    };
    assert_eq!(
        t.compare,
        vec![
            cmp(CompareResult::Equal, CompareTarget::Create(0)),
            cmp(CompareResult::Greater, CompareTarget::Mod(3)),
            cmp(CompareResult::NotEqual, CompareTarget::Version(1)),
            cmp(CompareResult::Less, CompareTarget::Value(b"v;w".to_vec())),
            cmp(CompareResult::Equal, CompareTarget::Lease(0x1f)),
        ]
    );
    assert_eq!(
        t.success,
        vec![
            RequestOp::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"THEN; ELSE".to_vec(),
                lease: 0x1f,
                ..PutRequest::default()
            }),
            RequestOp::Range(range(b"k", b"l")),
        ]
    );
    assert_eq!(
        t.failure,
        vec![
            RequestOp::DeleteRange(DeleteRangeRequest {
                key: b"k".to_vec(),
                range_end: vec![],
                prev_kv: true,
            }),
            RequestOp::Range(range(b"k", b"")),
        ]
    );
    // etcdctl's short targets, backquoted keys, any subset of sections, empty txn.
    let Command::Txn(t) =
        parse(r#"txn IF ver(`k`) = "1"; c("k")>"2"; m("k") < "3"; val("k") = "x""#)
    else {
        panic!()
    };
    assert_eq!(t.compare.len(), 4);
    assert!(t.success.is_empty() && t.failure.is_empty());
    assert_eq!(parse("txn"), Command::Txn(TxnRequest::default()));
    let Command::Txn(t) = parse("txn ELSE put a b;") else {
        panic!()
    };
    assert_eq!(t.failure.len(), 1);
    // Lower-case words are not keywords.
    let Command::Txn(t) = parse("txn THEN put then else") else {
        panic!()
    };
    assert_eq!(t.success.len(), 1);
}

#[test]
fn txn_text_round_trips_to_etcdctl_stdin() {
    let t = TxnText::split(r#"IF mod("a") > "0" THEN put a "x y"; del b ELSE"#).unwrap();
    assert_eq!(
        t.to_interactive(),
        "mod(\"a\") > \"0\"\n\nput a \"x y\"\ndel b\n\n\n"
    );
}

#[test]
fn lease_forms() {
    assert_eq!(
        parse("lease grant 10"),
        Command::LeaseGrant(LeaseGrantRequest { ttl: 10, id: 0 })
    );
    assert_eq!(
        parse("lease revoke 694d77aa9e38260f"),
        Command::LeaseRevoke(LeaseRevokeRequest {
            id: 0x694d77aa9e38260f
        })
    );
    assert_eq!(
        parse("lease keep-alive --once 1f"),
        Command::LeaseKeepAlive(LeaseKeepAliveRequest { id: 0x1f })
    );
    assert_eq!(
        parse("lease timetolive 1F --keys"),
        Command::LeaseTimeToLive(LeaseTimeToLiveRequest {
            id: 0x1f,
            keys: true
        })
    );
    assert_eq!(
        parse("lease timetolive 1f"),
        Command::LeaseTimeToLive(LeaseTimeToLiveRequest {
            id: 0x1f,
            keys: false
        })
    );
    assert_eq!(parse("lease list"), Command::LeaseList);
}

#[test]
fn compaction_watch_endpoint() {
    assert_eq!(
        parse("compaction 5"),
        Command::Compaction(CompactionRequest { revision: 5 })
    );
    assert_eq!(
        parse("watch k --prefix --prev-kv --rev=3"),
        Command::Watch(WatchRequest {
            key: b"k".to_vec(),
            range_end: b"l".to_vec(),
            prev_kv: true,
            start_revision: 3,
        })
    );
    assert_eq!(
        parse("watch a c --rev 1"),
        Command::Watch(WatchRequest {
            key: b"a".to_vec(),
            range_end: b"c".to_vec(),
            prev_kv: false,
            start_revision: 1,
        })
    );
    assert_eq!(parse("endpoint status"), Command::EndpointStatus);
    assert_eq!(parse("endpoint status --cluster"), Command::EndpointStatus);
}

#[test]
fn simulation_commands() {
    assert_eq!(
        parse("sleep 500ms"),
        Command::Sleep(Duration::from_millis(500))
    );
    assert_eq!(parse("sleep 2s"), Command::Sleep(Duration::from_secs(2)));
    assert_eq!(parse("sleep 1m"), Command::Sleep(Duration::from_secs(60)));
    assert_eq!(parse("sleep 1h"), Command::Sleep(Duration::from_secs(3600)));
    assert_eq!(parse("crash n1"), Command::Crash(1));
    assert_eq!(parse("restart n12"), Command::Restart(12));
    assert_eq!(
        parse("partition n1,n2 | n3"),
        Command::Partition(vec![vec![1, 2], vec![3]])
    );
    assert_eq!(
        parse("partition n1 |n2| n3 , n4"),
        Command::Partition(vec![vec![1], vec![2], vec![3, 4]])
    );
    assert_eq!(parse("heal"), Command::Heal);
    assert_eq!(parse("leader"), Command::Leader);
    assert!(parse("heal").is_simulation());
    assert!(!parse("lease list").is_simulation());
    assert_eq!(member_name(3), "n3");
}

#[test]
fn malformed_lines_say_what_is_wrong_and_what_is_allowed() {
    let cases: &[(&str, &str)] = &[
        ("frob k", "unknown command \"frob\"; allowed: put, get"),
        (
            "get k --revv=3",
            "unknown flag --revv for get; allowed: --prefix, --from-key, --rev=N, --limit=N",
        ),
        (
            "get k -r 3",
            "unknown flag -r for get; flags are spelled --name",
        ),
        ("get", "get takes KEY [END], got 0 arguments"),
        ("get a b c", "get takes KEY [END], got 3 arguments"),
        (
            "get a b --prefix",
            "END cannot be given with --prefix or --from-key",
        ),
        (
            "get a --prefix --from-key",
            "--prefix and --from-key cannot be set at the same time",
        ),
        ("get a --rev=x", "--rev \"x\" is not an integer"),
        ("get a --limit=-1", "--limit of get must be >= 0"),
        (
            "get a --sort-by=size",
            "bad --sort-by \"SIZE\"; allowed: CREATE, MODIFY",
        ),
        (
            "get a --order=up",
            "bad --order \"UP\"; allowed: ASCEND, DESCEND",
        ),
        (
            "get a --consistency=x",
            "bad --consistency \"x\"; allowed: l",
        ),
        ("get a --rev", "flag --rev of get needs a value: --rev=N"),
        (
            "get a --prefix=yes",
            "flag --prefix of get is true or false",
        ),
        ("get a --rev=1 --rev=2", "flag --rev given twice"),
        ("put k", "put takes 2 arguments (KEY VALUE), got 1"),
        ("put k v w", "put takes 2 arguments (KEY VALUE), got 3"),
        (
            "put k v --ignore-value",
            "put --ignore-value takes 1 argument (KEY), got 2",
        ),
        ("put k v --lease=xyz", "lease id \"xyz\" is not hexadecimal"),
        ("put \"k v", "unterminated \" quote"),
        ("put \"k\"v w", "right after the closing quote"),
        ("put \"\\q\" v", "bad escape \\q"),
        ("put \"\\x4\" v", "bad escape"),
        ("lease", "lease needs a subcommand; allowed: grant TTL"),
        ("lease grant", "lease grant takes 1 argument (TTL), got 0"),
        ("lease grant x", "lease TTL \"x\" is not an integer"),
        ("lease grant -- -5", "lease TTL must be >= 0"),
        ("lease revoke xyz", "lease id \"xyz\" is not hexadecimal"),
        ("lease keep-alive 1f", "lease keep-alive needs --once"),
        (
            "lease timetolive",
            "lease timetolive takes 1 argument (HEXID), got 0",
        ),
        ("lease list x", "lease list takes 0 arguments (none), got 1"),
        ("lease frob", "unknown lease subcommand \"frob\""),
        ("compaction", "compaction takes 1 argument (REV)"),
        ("compaction 0", "compaction revision must be >= 1"),
        ("watch k", "watch needs --rev=N with N >= 1"),
        (
            "endpoint health",
            "endpoint supports only `endpoint status`",
        ),
        ("sleep 5", "bad duration \"5\"; write an integer and a unit"),
        ("sleep 1.5s", "bad duration"),
        ("sleep 2d", "bad duration"),
        (
            "sleep 307445734561825861m",
            "bad duration \"307445734561825861m\": too long; at most 18446744073709551615s",
        ),
        ("sleep 99999999999999999h", "too long"),
        (
            "skew n1 --offset=-5s",
            "bad duration \"-5s\"; write an integer",
        ),
        ("crash 1", "bad member \"1\"; members are n1, n2"),
        ("crash n0", "bad member \"n0\""),
        ("restart", "restart takes 1 argument (MEMBER), got 0"),
        ("partition n1,n2", "partition needs two or more groups"),
        ("partition n1 | ", "empty group"),
        ("partition n1 | n1", "member n1 is in two groups"),
        ("heal now", "heal takes 0 arguments"),
        (
            "txn put a b",
            "txn: expected IF, THEN or ELSE before \"put a b\"",
        ),
        (
            "txn THEN put a b IF create(\"a\") = \"0\"",
            "txn: IF out of place",
        ),
        ("txn THEN put a b THEN put c d", "txn: THEN out of place"),
        (
            "txn IF create(\"a\") = 0",
            "the value must be double-quoted",
        ),
        ("txn IF create a = \"0\"", "missing '('"),
        ("txn IF size(\"a\") = \"0\"", "unknown target \"size\""),
        (
            "txn IF create(\"a\") >= \"0\"",
            "the value must be double-quoted",
        ),
        ("txn IF create(\"a\") ~ \"0\"", "unknown operator"),
        (
            "txn IF create(\"a\" ) = \"0\"",
            "expected ')' right after the key",
        ),
        (
            "txn IF create(\"a\") = \"x\"",
            "create needs a decimal number, got \"x\"",
        ),
        (
            "txn IF lease(\"a\") = \"zz\"",
            "lease needs a hexadecimal number",
        ),
        (
            "txn IF create(\"a\") = \"0\" junk",
            "unexpected \"junk\" after the value",
        ),
        ("txn IF create(\"a) = \"0\"", "unterminated"),
        (
            "txn THEN watch a",
            "txn op \"watch\" in \"watch a\"; allowed: put, get, del",
        ),
        ("txn THEN get a --revv=1", "unknown flag --revv for get"),
    ];
    for (line, want) in cases {
        let got = err(line);
        assert!(
            got.contains(want),
            "{line:?}: got {got:?}, want it to contain {want:?}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_lines_never_panic(line in ".{0,80}") {
        let _ = parse_line(&line);
    }

    #[test]
    fn command_like_lines_never_panic(
        head in proptest::sample::select(vec![
            "put", "get", "del", "txn", "lease grant", "lease revoke", "lease keep-alive",
            "lease timetolive", "compaction", "watch", "sleep", "partition", "crash",
        ]),
        rest in "[ a-z0-9\"'`\\\\();=<>!|,;xIFTHENLS-]{0,60}",
    ) {
        let _ = parse_line(&format!("{head} {rest}"));
    }
}
