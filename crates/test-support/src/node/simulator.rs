//! The Cloud API simulator where the node's pods reach it: the operator binary's `simulator`
//! sub-command run inside the node's namespace on the node IP (pods reach the node through the
//! CNI bridge's gateway), with its admin API forwarded to 127.0.0.1 for the test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{NODE_IP, Node};
use crate::processes::{die_with_parent, spawn_from_long_lived_thread};
use crate::simulator::{SimAdmin, TEST_API_KEY};

/// A simulator process in the node's namespace. Killed when dropped.
pub struct NodeSimulator {
    child: Child,
    /// The URL pods use: `http://NODE_IP:PORT`.
    pub url_in_node: String,
    /// The URL the test uses (a forward to the same port).
    pub url: String,
    pub admin: SimAdmin,
}

impl Node {
    /// Starts a simulator accepting [`TEST_API_KEY`] with test-friendly delays (as
    /// [`crate::start_simulator`]). Blocking.
    pub fn start_simulator(&self) -> NodeSimulator {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut cmd = self.in_node(&crate::operator_binary());
        cmd.args([
            "simulator",
            "--listen",
            &format!("{NODE_IP}:0"),
            "--cluster-create-seconds",
            "2",
            "--operation-seconds",
            "1",
            "--deleted-retention-seconds",
            "2",
        ]);
        // The key through the environment, never on a command line.
        cmd.env("CRDB_SIMULATOR_API_KEYS", TEST_API_KEY).env("RUST_LOG", "warn");
        let log = self.layout.logs().join(format!("simulator-{n}.log"));
        let err = std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err);
        die_with_parent(&mut cmd);
        let mut child = spawn_from_long_lived_thread(cmd).expect("start the simulator in the node");
        let stdout = child.stdout.take().expect("the simulator's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let url_in_node = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("the simulator did not report its address (got {line:?}); its log:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
            })
            .to_string();
        let target = url_in_node.trim_start_matches("http://").to_string();
        let port = self.forward(&format!("simulator-{n}"), &target).unwrap_or_else(|e| panic!("forward to the simulator: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        let admin = SimAdmin::for_url(&url);
        NodeSimulator { child, url_in_node, url, admin }
    }
}

impl Drop for NodeSimulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
