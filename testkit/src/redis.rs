//! A `redis-server` of the caller's own, on a free port (never 6379), killed when dropped.
//! `kill`, `restart` and `restart_empty` are real: SIGKILL, then a new process on the same
//! port (with its files, or without). With
//! `persistent`, an append-only file fsynced on every write keeps acknowledged data across
//! the restart. [`RedisServer::replica_of`], [`RedisServer::cluster_node`] and
//! [`RedisServer::tls`] start the other kinds the HA tests need (see [`crate::ha`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::installed;

/// A running redis-server, killed when dropped.
pub struct RedisServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
    persistent: bool,
    /// Further arguments: replication, cluster mode, TLS.
    extra: Vec<String>,
    /// Whether it answers plain-text PING (a TLS-only server does not).
    plain: bool,
}

fn binary() -> String {
    installed("redis-server", "redis-server")
}

/// Runs `redis-cli -p port args…` and returns what it printed (trimmed); panics when it fails.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new(installed("redis-cli", "redis-tools"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(
        out.status.success(),
        "redis-cli -p {port} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl RedisServer {
    /// A throwaway Redis: nothing on disk.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// A Redis whose acknowledged writes survive `restart` (AOF, fsync always).
    pub fn persistent() -> Self {
        Self::launch(true)
    }

    /// A replica of `primary` (not persistent), started and syncing.
    pub fn replica_of(primary: &RedisServer) -> Self {
        let primary = primary.port.to_string();
        Self::launch_with(false, &["--replicaof", "127.0.0.1", &primary], true)
    }

    /// A node with cluster mode on, not yet part of a cluster (a `RedisCluster` of `ha` joins it).
    pub fn cluster_node() -> Self {
        Self::launch_with(
            false,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
            ],
            true,
        )
    }

    /// A TLS-only server (no plain port) with `certs`; it requires a client certificate
    /// signed by their CA.
    pub fn tls(certs: &crate::tls::Certificates) -> Self {
        let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
        let tls = [
            "--tls-cert-file".to_owned(),
            path(&certs.server_cert),
            "--tls-key-file".to_owned(),
            path(&certs.server_key),
            "--tls-ca-cert-file".to_owned(),
            path(&certs.ca),
            "--tls-auth-clients".to_owned(),
            "yes".to_owned(),
        ];
        let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
        Self::launch_with(false, &tls, false)
    }

    fn launch(persistent: bool) -> Self {
        Self::launch_with(persistent, &[], true)
    }

    fn launch_with(persistent: bool, extra: &[&str], plain: bool) -> Self {
        let mut server = RedisServer {
            port: crate::free_port(),
            child: None,
            dir: tempfile::tempdir().unwrap(),
            persistent,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            plain,
        };
        server.restart();
        server
    }

    /// `rediss://127.0.0.1:PORT`.
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// Waits until this replica's link to its primary is up (synced).
    pub fn wait_replicating(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cli(self.port, &["INFO", "replication"]).contains("master_link_status:up") {
            assert!(
                Instant::now() < deadline,
                "replica {} never synced",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to the running process: `STOP` freezes it (a replica that stops
    /// following), `CONT` lets it go on.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            crate::signal(child, signal);
        }
    }

    /// Whether the process is running (not killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, no shutdown save: what a crash looks like.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL, then a new process on the same port with nothing on disk: a Redis without
    /// persistence after a crash, or a node replaced by an empty one.
    pub fn restart_empty(&mut self) {
        self.kill();
        for entry in std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
        self.restart();
    }

    /// Starts (again) on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port.to_string();
        let mut args = vec![
            if self.plain { "--port" } else { "--tls-port" },
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--protected-mode",
            "no",
        ];
        let dir = self.dir.path().to_str().unwrap().to_owned();
        args.extend(["--dir", &dir]);
        if self.persistent {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            args.extend(["--appendonly", "no"]);
        }
        if !self.plain {
            args.extend(["--port", "0"]);
        }
        args.extend(self.extra.iter().map(String::as_str));
        let child = Command::new(binary())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// PING answered (plain), or the port accepting connections (TLS).
    fn answers(&self) -> bool {
        if !self.plain {
            return TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        }
        answers_ping(self.port)
    }
}

/// Whether 127.0.0.1:`port` answers PING with PONG (a Redis or a Sentinel).
pub(crate) fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
