//! A Prometheus of the test's own (Debian's `prometheus` package), on a free port, scraping
//! one target every 200 ms, its data in a temporary directory; killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running Prometheus.
pub struct Prometheus {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

fn binary() -> String {
    let found = Command::new("sh")
        .args(["-c", "command -v prometheus"])
        .output();
    match found {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => panic!(
            "prometheus is not installed: the guard tests start their own. Install it with \
             `apt-get install -y prometheus` (scripts/test does this when it is missing)"
        ),
    }
}

/// How often it scrapes.
pub const SCRAPE: Duration = Duration::from_millis(200);

impl Prometheus {
    /// Starts scraping `127.0.0.1:target`'s `/metrics` and waits until it is ready.
    pub fn start(target: u16) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {ms}ms\n  evaluation_interval: {ms}ms\n\
                 scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n",
                ms = SCRAPE.as_millis()
            ),
        )
        .expect("write prometheus.yml");
        let port = crate::free_port();
        let child = Command::new(binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !crate::process::get_ok(port, "/-/ready") {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
