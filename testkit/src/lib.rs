//! Helpers shared by the workspace's tests and benchmarks, so each is written once.
//!
//! # Layout
//! - [`redis`]: `RedisServer`, a redis-server of the caller's own on a free port.
//! - [`ha`]: `RedisHa` (a primary, replicas, sentinels) and `RedisCluster`.
//! - [`tls`]: the `Certificates` a TLS Redis needs.
//! - [`process`]: `ServerProcess`, a switchyard-server process, with real signals.
//! - [`proxy`]: `Proxy`, a TCP proxy a test can freeze to cut a stream silently.
//! - [`http`]: a webhook `Receiver` and an `App` whose `/metrics` the test writes.
//! - [`prometheus`]: `Prometheus`, Debian's prometheus of the caller's own, scraping an `App`.

pub mod ha;
pub mod http;
pub mod process;
pub mod prometheus;
pub mod proxy;
pub mod redis;
pub mod tls;

/// A port free on 127.0.0.1 right now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The path of `program`, or a panic saying which Debian package to install.
pub fn installed(program: &str, package: &str) -> String {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output();
    match found {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => panic!(
            "{program} is not installed: the tests start their own. Install it with \
             `apt-get install -y {package}` (scripts/test does this when it is missing)"
        ),
    }
}

/// Sends `signal` (e.g. `STOP`, `CONT`) to `child` with kill(1).
pub(crate) fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}
