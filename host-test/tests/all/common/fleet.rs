//! The fleet's real parts for tests: a `nats-server` of the test's own (random loopback port,
//! own store directory, killed by PID), worker and producer processes of the built binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use host_test::nats::NatsServer;

/// A JetStream-enabled nats-server for one test, or `None` when `nats-server` is not installed
/// (outside CI only: under `CI=true` that is a failure, since `.ci/run` installs it).
pub fn start_nats() -> Option<NatsServer> {
    if !host_test::nats::installed() {
        assert!(
            std::env::var("CI").is_err(),
            "nats-server is not installed (.ci/run installs Debian's package)"
        );
        eprintln!("skipped: nats-server is not installed");
        return None;
    }
    Some(NatsServer::start().expect("nats-server starts"))
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_host-test")
}

/// `host-test produce`; returns its exit status and stderr.
pub fn produce(nats: &str, events: &Path) -> (i32, String) {
    let output = Command::new(binary())
        .args(["produce", "--nats", nats, "--events"])
        .arg(events)
        .output()
        .expect("produce runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `host-test dead-letters`: the printed lines as JSON.
pub fn dead_letters(nats: &str, replay: bool) -> Vec<serde_json::Value> {
    let args: &[&str] = if replay { &["--replay"] } else { &[] };
    dead_letters_with(nats, args).0
}

/// `host-test dead-letters` with `args`: the printed lines as JSON, and its report (stderr).
pub fn dead_letters_with(nats: &str, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let output = Command::new(binary())
        .args(["dead-letters", "--nats", nats])
        .args(args)
        .output()
        .expect("dead-letters runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let letters = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a dead letter is JSON"))
        .collect();
    (letters, stderr)
}

/// A running `host-test worker`, its stderr in a file.
pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn start(nats: &str, tenants: &Path, origin: &str, extra: &[&str], log: PathBuf) -> Worker {
        Worker::start_with_env(nats, tenants, origin, extra, log, &[])
    }

    /// [`Worker::start`] with these environment variables set.
    pub fn start_with_env(
        nats: &str,
        tenants: &Path,
        origin: &str,
        extra: &[&str],
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Worker {
        let child = Command::new(binary())
            .envs(env.iter().copied())
            .args([
                "worker",
                "--nats",
                nats,
                "--zendesk-origin",
                origin,
                "--tenants",
            ])
            .arg(tenants)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("worker log"))
            .spawn()
            .expect("the worker starts");
        Worker { child, log }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGTERM, then the exit status (it must drain within `within`).
    pub fn terminate(mut self, within: Duration) -> i32 {
        self.signal("-TERM");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not drain within {within:?}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done` holds (polling), up to `limit`; returns how long it took.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}
