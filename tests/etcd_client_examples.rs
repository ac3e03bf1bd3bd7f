//! etcd-client's own examples (kv, lease, lock, election, watch, namespace), unmodified but
//! for their connect expression (see `build.rs`), run twice: inside the simulation against 3
//! members over gRPC, and against a real etcd 3.4 on loopback. What each prints must agree,
//! up to the numbers two clusters choose differently (member, cluster and lease ids, the Raft
//! term), and the simulated history must be linearizable.

#[cfg(not(feature = "grpc"))]
#[test]
fn etcd_client_examples_skipped() {
    let line = "skipped: etcd-client's examples need `--features grpc` (etcd-client's build runs \
                protoc: apt install protobuf-compiler)";
    assert!(std::env::var_os("LOCKSIM_REQUIRE_REAL").is_none(), "{line}");
    // Straight to stderr: the test harness captures println!/eprintln!, and a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(feature = "grpc")]
#[path = "conformance/etcd.rs"]
#[allow(dead_code)]
mod etcd;
#[cfg(feature = "grpc")]
#[path = "common/real_server.rs"]
#[allow(dead_code)]
mod real_server;

#[cfg(feature = "grpc")]
thread_local! {
    /// What the example running on this thread printed, line by line.
    static TRANSCRIPT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The real etcd the `real` variant connects to.
    static REAL_ENDPOINT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The examples print; here that goes to the transcript (a macro in scope shadows std's).
#[cfg(feature = "grpc")]
macro_rules! println {
    () => {
        $crate::TRANSCRIPT.with(|t| t.borrow_mut().push(String::new()))
    };
    ($($arg:tt)*) => {{
        // Formatted here, not in the closure: the arguments may use `?`.
        let line = format!($($arg)*);
        $crate::TRANSCRIPT.with(|t| t.borrow_mut().push(line))
    }};
}

/// One example as two modules: `simulated` (connect = `sim::grpc::connect`) and `real`.
#[cfg(feature = "grpc")]
macro_rules! example {
    ($name:ident) => {
        pub mod $name {
            pub mod simulated {
                use sim::grpc::etcd_client;
                async fn connect_here() -> Result<etcd_client::Client, etcd_client::Error> {
                    sim::grpc::connect(sim::grpc::GrpcOptions::default()).await
                }
                include!(concat!(
                    env!("OUT_DIR"),
                    "/etcd-client-examples/",
                    stringify!($name),
                    ".rs"
                ));
                pub async fn run() -> Result<(), etcd_client::Error> {
                    main().await
                }
            }
            pub mod real {
                use sim::grpc::etcd_client;
                async fn connect_here() -> Result<etcd_client::Client, etcd_client::Error> {
                    let endpoint = $crate::REAL_ENDPOINT.with(|e| e.borrow().clone());
                    etcd_client::Client::connect([endpoint], None).await
                }
                include!(concat!(
                    env!("OUT_DIR"),
                    "/etcd-client-examples/",
                    stringify!($name),
                    ".rs"
                ));
                pub async fn run() -> Result<(), etcd_client::Error> {
                    main().await
                }
            }
        }
    };
}

#[cfg(feature = "grpc")]
mod examples {
    example!(kv);
    example!(lease);
    example!(lock);
    example!(election);
    example!(watch);
    example!(namespace);
}

#[cfg(feature = "grpc")]
mod run {
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::time::Duration;

    use sim::check::{check_history, CheckOptions, Verdict};
    use sim::grpc::etcd_client::Error;
    use sim::{Cluster, ClusterConfig, MemberConfig};

    pub type Example = fn() -> Pin<Box<dyn Future<Output = Result<(), Error>>>>;

    fn take_transcript() -> Vec<String> {
        crate::TRANSCRIPT.with(|t| std::mem::take(&mut *t.borrow_mut()))
    }

    /// Run an example in a 3-member simulated cluster; its transcript and the KV verdict.
    pub fn simulated(example: Example, seed: u64) -> (Result<(), String>, Vec<String>, Verdict) {
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
        take_transcript();
        let result: Rc<RefCell<Option<Result<(), String>>>> = Rc::default();
        let out = result.clone();
        cluster.add_client("example", async move {
            let done = example().await.map_err(|e| e.to_string());
            *out.borrow_mut() = Some(done);
            Ok(())
        });
        cluster
            .run_until(Duration::from_secs(120), |_| result.borrow().is_some())
            .unwrap();
        let transcript = take_transcript();
        let result = result
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Err("did not finish within 120 s simulated".into()));
        let verdict = check_history(cluster.history(), &CheckOptions::default()).verdict;
        (result, transcript, verdict)
    }

    /// Run an example against a fresh real etcd on loopback.
    pub fn real(example: Example) -> (Result<(), String>, Vec<String>) {
        let etcd = crate::etcd::Etcd::start();
        crate::REAL_ENDPOINT.with(|e| *e.borrow_mut() = etcd.endpoint().to_string());
        take_transcript();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let result = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), example())
                .await
                .unwrap_or_else(|_| Err(Error::InvalidArgs("timed out after 60 s".into())))
        });
        (result.map_err(|e| e.to_string()), take_transcript())
    }

    /// Numbers two clusters choose differently: ids (10+ digits, or 10+ hex digits with a
    /// digit in them) become `<id>`, the member id `<member>` (the simulation's are the Raft
    /// ids 1..N, etcd's hashes of the member's URLs) and the Raft term `<term>`.
    pub fn normalize(lines: &[String]) -> Vec<String> {
        lines.iter().map(|l| normalize_line(l)).collect()
    }

    fn normalize_line(line: &str) -> String {
        let mut out = String::new();
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            let is_id = word.len() >= 10
                && word.chars().all(|c| c.is_ascii_hexdigit())
                && word.chars().any(|c| c.is_ascii_digit());
            out.push_str(if is_id { "<id>" } else { word });
            word.clear();
        };
        for c in line.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        let out = replace_number_after(&out, "member_id: ", "<member>");
        replace_number_after(&out, "raft_term: ", "<term>")
    }

    /// Every number that follows `label` in `line`, replaced by `with`.
    fn replace_number_after(line: &str, label: &str, with: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(at) = rest.find(label) {
            let start = at + label.len();
            let digits = rest[start..]
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '<' && c != '>')
                .unwrap_or(rest.len() - start);
            out.push_str(&rest[..start]);
            out.push_str(with);
            rest = &rest[start + digits..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(feature = "grpc")]
mod tests {
    use super::examples;
    use super::run::{normalize, real, simulated, Example};
    use sim::check::Verdict;

    fn check(name: &str, sim_side: Example, real_side: Example) {
        let source = include_str!(concat!(env!("OUT_DIR"), "/etcd-client-examples/SOURCE"));
        assert!(source.starts_with("found"), "{name}: {source}");
        let (result, transcript, verdict) = simulated(sim_side, 1);
        assert_eq!(result, Ok(()), "{name} in the simulation: {transcript:#?}");
        assert_eq!(verdict, Verdict::Linearizable, "{name}");
        // Same example, another seed: the same words (the run differs, the answers don't).
        let (_, again, _) = simulated(sim_side, 2);
        assert_eq!(
            normalize(&again),
            normalize(&transcript),
            "{name}: seeds 1 and 2 differ"
        );
        if !super::etcd::available_or_skip(&format!("etcd_client_examples::{name}")) {
            return;
        }
        let (real_result, real_transcript) = real(real_side);
        assert_eq!(
            real_result,
            Ok(()),
            "{name} on real etcd: {real_transcript:#?}"
        );
        assert_eq!(
            normalize(&transcript),
            normalize(&real_transcript),
            "{name}: the simulation (left) and real etcd (right) print differently"
        );
    }

    macro_rules! example_test {
        ($name:ident) => {
            #[test]
            fn $name() {
                check(
                    stringify!($name),
                    || Box::pin(examples::$name::simulated::run()),
                    || Box::pin(examples::$name::real::run()),
                );
            }
        };
    }

    example_test!(kv);
    example_test!(lease);
    example_test!(lock);
    example_test!(election);
    example_test!(watch);
    example_test!(namespace);
}
