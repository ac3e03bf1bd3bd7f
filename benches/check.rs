//! Linearizability checker benchmark (not a timed test): generates histories with a known
//! linearization, writes them under `target/bench-histories/` (so other checkers can be run on
//! the very same files), checks each and prints the times.
//!
//! `cargo bench --bench check`. Figures and machine go to `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use std::time::Duration;

use sim::check::{check_history, check_text, CheckOptions, Format, Verdict};
use sim::{
    sim_now, Client, ClientRequest, ClusterConfig, Compare, CompareResult, CompareTarget, Driver,
    History, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

/// A simulated etcd run: `clients` clients doing put / get / txn-CAS on `keys` keys until
/// `ops` operations have been invoked. Returns the closed history.
fn simulated_history(seed: u64, ops: u64, keys: u64, clients: u32) -> History {
    let mut driver = Driver::new(ClusterConfig {
        seed,
        ..ClusterConfig::default()
    })
    .unwrap();
    let client_config = driver.cluster().client_config("writer");
    let history = driver.cluster().history().clone();
    let invoked = std::rc::Rc::new(std::cell::Cell::new(0u64));
    for c in 0..clients {
        let name = format!("c{}", c + 2);
        let (cc, h, invoked) = (client_config.clone(), history.clone(), invoked.clone());
        driver.cluster().add_client(&name.clone(), async move {
            let client = Client::connect(&name, c + 2, cc, h).await?;
            let mut rng = Rng::new(seed * 1000 + c as u64);
            let mut i = 0;
            while invoked.get() < ops {
                invoked.set(invoked.get() + 1);
                let key = format!("k{}", rng.below(keys));
                let value = format!("{name}-{i}");
                let request = match rng.below(10) {
                    0..=3 => ClientRequest::Put(PutRequest {
                        key: key.clone().into(),
                        value: value.into(),
                        ..Default::default()
                    }),
                    4..=7 => ClientRequest::Range(RangeRequest {
                        key: key.into(),
                        ..Default::default()
                    }),
                    _ => ClientRequest::Txn(TxnRequest {
                        compare: vec![Compare {
                            result: CompareResult::Less,
                            target: CompareTarget::Version(3 + rng.below(5) as i64),
                            key: key.clone().into(),
                            range_end: vec![],
                        }],
                        success: vec![RequestOp::Put(PutRequest {
                            key: key.clone().into(),
                            value: value.into(),
                            ..Default::default()
                        })],
                        failure: vec![RequestOp::Range(RangeRequest {
                            key: key.into(),
                            ..Default::default()
                        })],
                    }),
                };
                let _ = client.call(request).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
            }
            let _ = sim_now();
            Ok(())
        });
    }
    let cluster = driver.cluster();
    while invoked.get() < ops {
        cluster.run_for(Duration::from_secs(1)).unwrap();
    }
    cluster.run_for(Duration::from_secs(6)).unwrap();
    let history = cluster.history().clone();
    history.close();
    history
}

/// xorshift64*: a seeded generator, enough for workload choices.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// One generated event: (time, line).
type Line = (u64, u64, String);

/// A linearizable keyed get/put/append history: `clients` processes, `ops` operations, `keys`
/// keys. Each operation takes effect at a random point inside its interval, so the history is
/// linearizable by construction; intervals overlap heavily (each spans ~`clients` others).
fn append_history(seed: u64, ops: usize, keys: u64, clients: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut lines: Vec<Line> = Vec::new();
    // (linearization time, key, kind, value, process, call, ret)
    let mut next_free = vec![0u64; clients as usize];
    let mut planned = Vec::new();
    for i in 0..ops {
        let c = (i as u64 % clients) as usize;
        // A client thinks between operations; an operation takes 2..40 time units, so each
        // key sees a handful of concurrent operations at a time (about 4 with 50 clients and
        // 10 keys), as a real client workload would.
        let call = next_free[c] + rng.below(60);
        let lin = call + 1 + rng.below(20);
        let ret = lin + 1 + rng.below(20);
        next_free[c] = ret + 1;
        let key = rng.below(keys);
        let kind = match rng.below(10) {
            0..=3 => "get",
            4 => "put",
            _ => "append",
        };
        planned.push((lin, i, key, kind, format!("x {c} {i} y"), c, call, ret));
    }
    let mut state = vec![String::new(); keys as usize];
    let mut by_lin: Vec<usize> = (0..planned.len()).collect();
    by_lin.sort_by_key(|&i| (planned[i].0, i));
    let mut results = vec![String::new(); planned.len()];
    for i in by_lin {
        let (_, _, key, kind, value, ..) = &planned[i];
        let s = &mut state[*key as usize];
        match *kind {
            "get" => results[i] = s.clone(),
            "put" => *s = value.clone(),
            _ => s.push_str(value),
        }
    }
    for (i, (_, seq, key, kind, value, c, call, ret)) in planned.iter().enumerate() {
        let v = if *kind == "get" {
            "nil".to_string()
        } else {
            format!("{value:?}")
        };
        lines.push((
            *call,
            2 * *seq as u64,
            format!("{{:process {c}, :type :invoke, :f :{kind}, :key \"{key}\", :value {v}}}"),
        ));
        let out = if *kind == "get" {
            format!("{:?}", results[i])
        } else {
            v
        };
        lines.push((
            *ret,
            2 * *seq as u64 + 1,
            format!("{{:process {c}, :type :ok, :f :{kind}, :key \"{key}\", :value {out}}}"),
        ));
    }
    lines.sort();
    let mut text = String::new();
    for (_, _, l) in lines {
        let _ = writeln!(text, "{l}");
    }
    text
}

/// A short register history with many unknown-outcome writes, as Jepsen logs it: `clients`
/// processes; each write or CAS times out (`:info`) with probability `info_percent`, taking
/// effect or not at random; a process that timed out is replaced by a fresh one (Jepsen's
/// rule).
fn register_history(seed: u64, ops: usize, clients: u64, info_percent: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut process: Vec<u64> = (0..clients).collect();
    let mut next_process = clients;
    let mut next_free = vec![0u64; clients as usize];
    let mut planned = Vec::new();
    for i in 0..ops {
        let c = (i as u64 % clients) as usize;
        let call = next_free[c] + rng.below(3);
        let lin = call + 1 + rng.below(10);
        let ret = lin + 1 + rng.below(10);
        next_free[c] = ret + 1;
        let kind = match rng.below(10) {
            0..=3 => 0, // read
            4..=7 => 1, // write
            _ => 2,     // cas
        };
        let info = kind != 0 && rng.below(100) < info_percent;
        let applies = !info || rng.below(2) == 0;
        planned.push((
            lin,
            i,
            kind,
            rng.below(5),
            rng.below(5),
            info,
            applies,
            c,
            call,
            ret,
        ));
    }
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].0, i));
    let mut reg: Option<u64> = None;
    let mut outcome = vec![(None, true); planned.len()];
    for i in order {
        let (_, _, kind, a, b, _, applies, ..) = planned[i];
        match kind {
            0 => outcome[i] = (reg, true),
            1 if applies => reg = Some(a),
            2 if applies => {
                let ok = reg == Some(a);
                if ok {
                    reg = Some(b);
                }
                outcome[i].1 = ok;
            }
            _ => {}
        }
    }
    let mut lines: Vec<Line> = Vec::new();
    for (i, &(_, seq, kind, a, b, info, _, c, call, ret)) in planned.iter().enumerate() {
        let p = process[c];
        let (f, arg) = match kind {
            0 => ("read", "nil".to_string()),
            1 => ("write", a.to_string()),
            _ => ("cas", format!("[{a} {b}]")),
        };
        lines.push((
            call,
            2 * seq as u64,
            format!("INFO  jepsen.util - {p}\t:invoke\t:{f}\t{arg}"),
        ));
        let done = if info {
            process[c] = next_process;
            next_process += 1;
            format!("INFO  jepsen.util - {p}\t:info\t:{f}\t:timed-out")
        } else {
            match kind {
                0 => format!(
                    "INFO  jepsen.util - {p}\t:ok\t:read\t{}",
                    outcome[i].0.map_or("nil".into(), |v| v.to_string())
                ),
                1 => format!("INFO  jepsen.util - {p}\t:ok\t:write\t{a}"),
                _ => format!(
                    "INFO  jepsen.util - {p}\t:{}\t:cas\t[{a} {b}]",
                    if outcome[i].1 { "ok" } else { "fail" }
                ),
            }
        };
        lines.push((ret, 2 * seq as u64 + 1, done));
    }
    lines.sort();
    let mut text = String::new();
    for (_, _, l) in lines {
        let _ = writeln!(text, "{l}");
    }
    text
}

fn time<F: FnMut() -> Verdict>(mut f: F, runs: usize) -> (Verdict, f64) {
    let mut best = f64::MAX;
    let mut verdict = Verdict::Unknown;
    for _ in 0..runs {
        let start = Instant::now();
        verdict = f();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (verdict, best)
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-histories");
    std::fs::create_dir_all(dir.join("register")).unwrap();
    let options = CheckOptions::default();

    println!("etcd kv model, simulated 3-member cluster, 10 keys, 50 clients (jsonl)");
    // The simulation itself takes minutes; LOCKSIM_BENCH_NO_SIM=1 skips this part.
    let sim_seeds: &[u64] = if std::env::var_os("LOCKSIM_BENCH_NO_SIM").is_some() {
        &[]
    } else {
        &[1, 2]
    };
    for &seed in sim_seeds {
        let history = simulated_history(seed, 10_000, 10, 50);
        std::fs::write(
            dir.join(format!("etcd-10000-{seed}.jsonl")),
            history.to_jsonl(),
        )
        .unwrap();
        let mut ops = 0;
        let (v, secs) = time(
            || {
                let r = check_history(&history, &options);
                ops = r.ops;
                r.verdict
            },
            3,
        );
        assert_eq!(v, Verdict::Linearizable);
        println!(
            "  seed {seed}: {ops} ops checked: {:.1} ms (best of 3)",
            secs * 1e3
        );
    }

    println!("keyed append, 10 keys, 50 clients (edn)");
    for (seed, ops) in [(1, 10_000), (2, 10_000), (3, 10_000)] {
        let text = append_history(seed, ops, 10, 50);
        std::fs::write(dir.join(format!("append-{ops}-{seed}.edn")), &text).unwrap();
        let (v, secs) = time(
            || {
                check_text(&text, Format::Edn, None, None, &options)
                    .unwrap()
                    .verdict
            },
            3,
        );
        assert_eq!(v, Verdict::Linearizable, "seed {seed}");
        println!("  seed {seed}: {ops} ops: {:.1} ms (best of 3)", secs * 1e3);
        let one = CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        };
        let (_, secs1) = time(
            || {
                check_text(&text, Format::Edn, None, None, &one)
                    .unwrap()
                    .verdict
            },
            3,
        );
        println!("           1 thread: {:.1} ms", secs1 * 1e3);
    }

    println!("register, 300 histories × 200 ops, 10 clients, 40% of writes/cas :info (jepsen-log)");
    let texts: Vec<String> = (0..300)
        .map(|seed| register_history(seed, 200, 10, 40))
        .collect();
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("register/r{i:03}.log")), t).unwrap();
    }
    let (_, secs) = time(
        || {
            for t in &texts {
                let r = check_text(t, Format::JepsenLog, None, None, &options).unwrap();
                assert_eq!(r.verdict, Verdict::Linearizable, "{r}");
            }
            Verdict::Linearizable
        },
        3,
    );
    println!(
        "  all 300: {:.1} ms (best of 3), {:.2} ms each",
        secs * 1e3,
        secs * 1e3 / 300.0
    );
    println!("histories written to {}", dir.display());
}
