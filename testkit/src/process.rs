//! A `switchyard-server` process of the test's own, on a free port, configured by the
//! environment alone, killed when dropped; signals are real (`kill -STOP`, `-CONT`, `-KILL`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running server process.
pub struct ServerProcess {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where its log (stdout and stderr) goes.
    pub log: PathBuf,
    child: Child,
    /// Killed and reaped: its pid may belong to another process now, so no more signals.
    reaped: bool,
}

/// Whether `GET path` on `port` answers 200.
pub fn get_ok(port: u16, path: &str) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = [0u8; 12];
    conn.write_all(request.as_bytes()).is_ok()
        && conn.read_exact(&mut answer).is_ok()
        && answer.ends_with(b"200")
}

impl ServerProcess {
    /// Starts `bin` with only `env` (plus the listen address) on a free port and waits until
    /// it is ready.
    pub fn start(bin: &Path, env: &[(&str, String)], log: &Path) -> Self {
        let server = ServerProcess::spawn_on(bin, crate::free_port(), env, log);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !get_ok(server.port, "/health/ready") {
            assert!(
                Instant::now() < deadline,
                "{} did not become ready; its log:\n{}",
                bin.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Starts `bin` with only `env` (plus the listen address) on `port`, without waiting for
    /// it (a caller that restarts an instance where its clients look for it, and waits its
    /// own way).
    pub fn spawn_on(bin: &Path, port: u16, env: &[(&str, String)], log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("a log file");
        let mut command = Command::new(bin);
        command
            .env_clear()
            .env("SWITCHYARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(file.try_clone().expect("a log file"))
            .stderr(file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        ServerProcess {
            port,
            log: log.to_owned(),
            child,
            reaped: false,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`, `KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        crate::signal(&self.child, signal);
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // A stopped process must be continued to die promptly on some systems.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(std::process::Stdio::null())
            .status();
        self.kill();
    }
}
