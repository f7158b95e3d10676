//! A JetStream-enabled `nats-server` of our own, for benchmarks and tests: a random loopback
//! port, its own store directory, killed when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub struct NatsServer {
    child: Child,
    pub url: String,
    store: tempfile::TempDir,
}

/// Whether `nats-server` is on the PATH.
pub fn installed() -> bool {
    Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A loopback port nobody listens on now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl NatsServer {
    /// Starts one and waits until it listens; its log is `nats.log` in its store directory.
    pub fn start() -> Result<NatsServer> {
        let store = tempfile::tempdir().context("no store directory for nats-server")?;
        let port = free_port()?;
        let log = std::fs::File::create(store.path().join("nats.log"))?;
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start nats-server (Debian: apt-get install nats-server)")?;
        let mut server = NatsServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || server.child.try_wait()?.is_some() {
                bail!("nats-server did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Its store directory (JetStream's files and `nats.log`).
    pub fn dir(&self) -> &std::path::Path {
        self.store.path()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
