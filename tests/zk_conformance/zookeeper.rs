//! A real ZooKeeper 3.8 (Debian's `zookeeper` package) for the conformance test: a standalone
//! server started on a free loopback port with a temp dataDir, driven by zkCli
//! (`org.apache.zookeeper.ZooKeeperMain`) reading a script on stdin, killed when dropped.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

/// Debian's jars: the server and zkCli, and their dependencies beside them.
const JAR: &str = "/usr/share/java/zookeeper.jar";
const CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/*";

/// True when Debian's ZooKeeper and a Java runtime are installed.
pub fn installed() -> bool {
    std::path::Path::new(JAR).exists() && crate::real_server::runs("java", "-version")
}

/// Whether the real-ZooKeeper test can run (the harnesses' one rule: `real_server`).
pub fn available_or_skip(test: &str) -> bool {
    crate::real_server::available_or_skip(
        test,
        installed(),
        "ZooKeeper 3.8 and Java",
        "apt-get install -y zookeeper",
    )
}

/// A running standalone ZooKeeper. Dropping it kills the process and removes its directory.
pub struct ZooKeeper {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl ZooKeeper {
    /// A fresh server (zxid 0, only `/zookeeper`), ready for clients.
    pub fn start() -> ZooKeeper {
        let dir = crate::real_server::temp_dir("locksim-zk-conformance");
        std::fs::create_dir_all(dir.join("data")).expect("create the ZooKeeper data dir");
        let port = crate::real_server::free_ports(1)[0];
        let config = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("zoo.cfg"), config).expect("write zoo.cfg");
        let log = std::fs::File::create(dir.join("server.log")).expect("create the server log");
        let child = Process::new("java")
            .args([
                "-cp",
                CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(dir.join("zoo.cfg"))
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn the ZooKeeper server");
        let zk = ZooKeeper { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(zk.dir.join("server.log")).unwrap_or_default();
                panic!("ZooKeeper did not listen within 60 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        zk
    }

    /// Run zkCli with `input` on stdin (one session, as the shell's): its stdout and stderr
    /// merged in the order written, as a terminal shows them.
    pub fn zkcli(&self, input: &str) -> String {
        let out = self.dir.join("zkcli.out");
        let file = std::fs::File::create(&out).expect("create zkCli's output file");
        let mut child = Process::new("java")
            .args(["-cp", CLASSPATH, "org.apache.zookeeper.ZooKeeperMain"])
            .args(["-server", &format!("127.0.0.1:{}", self.port)])
            .stdin(Stdio::piped())
            .stdout(file.try_clone().expect("clone the output handle"))
            .stderr(file)
            .spawn()
            .expect("spawn zkCli");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write zkCli's script");
        // Its exit status is the last command's (1 after a NoNode): not a harness failure.
        child.wait().expect("wait for zkCli");
        std::fs::read_to_string(&out).expect("read zkCli's output")
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
