//! Highly available Redis of the caller's own, from Debian's packages on free ports, stopped
//! when dropped: a primary with replicas watched by sentinels (`redis-sentinel`), a local
//! Redis Cluster (`redis-cli --cluster create`); the certificates a TLS Redis needs are in
//! [`crate::tls`].

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::installed;
use crate::redis::{RedisServer, answers_ping, cli};
pub use crate::tls::Certificates;

/// The name the sentinels monitor the primary under.
pub const MASTER: &str = "switchyard";

/// Polls `check` every 50 ms until it holds; panics with `what` after `limit`.
fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A field of `INFO`-style or `SENTINEL MASTER` output (`key:value` or alternating lines).
fn field(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(value) = line.strip_prefix(&format!("{name}:")) {
            return Some(value.to_owned());
        }
        if *line == name {
            return lines.get(i + 1).map(|v| (*v).to_owned());
        }
    }
    None
}

/// One `redis-sentinel` process.
pub struct Sentinel {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

impl Sentinel {
    /// A sentinel watching the primary on `primary`, agreeing on a failover with `quorum`
    /// others; it counts the primary down after 500 ms without an answer.
    fn start(primary: u16, quorum: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {primary} {quorum}\n\
                 sentinel down-after-milliseconds {MASTER} 500\n\
                 sentinel failover-timeout {MASTER} 2000\n\
                 sentinel parallel-syncs {MASTER} 2\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(installed("redis-sentinel", "redis-sentinel"))
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-sentinel");
        wait_until("redis-sentinel answers", Duration::from_secs(10), || {
            answers_ping(port)
        });
        Sentinel {
            port,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A primary, its replicas and the sentinels that watch them.
pub struct RedisHa {
    /// Every data server; the first started as the primary.
    pub servers: Vec<RedisServer>,
    /// The sentinels.
    pub sentinels: Vec<Sentinel>,
}

impl RedisHa {
    /// A primary with `replicas` replicas and `sentinels` sentinels (quorum: a majority),
    /// returned once every replica is in sync and every sentinel knows them all.
    pub fn start(replicas: usize, sentinels: usize) -> Self {
        let primary = RedisServer::start();
        let mut servers = vec![primary];
        for _ in 0..replicas {
            let replica = RedisServer::replica_of(&servers[0]);
            servers.push(replica);
        }
        let port = servers[0].port;
        wait_until("every replica in sync", Duration::from_secs(20), || {
            let info = cli(port, &["INFO", "replication"]);
            field(&info, "connected_slaves").as_deref() == Some(&replicas.to_string())
                && servers[1..].iter().all(|r| {
                    field(&cli(r.port, &["INFO", "replication"]), "master_link_status").as_deref()
                        == Some("up")
                })
        });
        let quorum = sentinels / 2 + 1;
        let sentinels: Vec<Sentinel> = (0..sentinels)
            .map(|_| Sentinel::start(port, quorum))
            .collect();
        let others = (sentinels.len() - 1).to_string();
        wait_until(
            "every sentinel knows every replica and sentinel",
            Duration::from_secs(30),
            || {
                sentinels.iter().all(|s| {
                    let master = cli(s.port, &["SENTINEL", "MASTER", MASTER]);
                    field(&master, "num-slaves").as_deref() == Some(&replicas.to_string())
                        && field(&master, "num-other-sentinels").as_deref() == Some(&others)
                })
            },
        );
        RedisHa { servers, sentinels }
    }

    /// Waits until the primary the sentinels name has every other running server as an
    /// online replica (after a failover, the old primary comes back as a replica and syncs).
    pub fn wait_healthy(&self, limit: Duration) {
        let running = self.servers.iter().filter(|s| s.is_running()).count();
        wait_until("every replica online", limit, || {
            let info = cli(self.primary_port(), &["INFO", "replication"]);
            let online = info.lines().filter(|l| l.contains("state=online")).count();
            field(&info, "role").as_deref() == Some("master") && online + 1 == running
        });
    }

    /// `host:port` of every sentinel.
    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect()
    }

    /// The port of the server the sentinels name primary now.
    pub fn primary_port(&self) -> u16 {
        for sentinel in &self.sentinels {
            let reply = cli(
                sentinel.port,
                &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER],
            );
            if let Some(port) = reply.lines().nth(1).and_then(|p| p.trim().parse().ok()) {
                return port;
            }
        }
        panic!("no sentinel names a primary")
    }

    /// SIGKILL the primary the sentinels name now; returns its port.
    pub fn kill_primary(&mut self) -> u16 {
        let port = self.primary_port();
        let server = self
            .servers
            .iter_mut()
            .find(|s| s.port == port)
            .expect("the primary is one of ours");
        server.kill();
        port
    }

    /// Waits until the sentinels name a primary other than `old`, and it takes writes.
    pub fn wait_for_failover(&self, old: u16, limit: Duration) -> u16 {
        let mut promoted = 0;
        wait_until("Sentinel promotes a replica", limit, || {
            promoted = self.primary_port();
            promoted != old
                && field(&cli(promoted, &["INFO", "replication"]), "role").as_deref()
                    == Some("master")
        });
        promoted
    }
}

/// A local Redis Cluster of primaries only.
pub struct RedisCluster {
    /// Its nodes.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// `n` primaries (at least 3) sharing the 16,384 slots, returned once the cluster is ok
    /// on every node.
    pub fn start(n: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..n).map(|_| RedisServer::cluster_node()).collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        cli(nodes[0].port, &args);
        wait_until(
            "the cluster is ok on every node",
            Duration::from_secs(30),
            || {
                nodes.iter().all(|node| {
                    field(&cli(node.port, &["CLUSTER", "INFO"]), "cluster_state").as_deref()
                        == Some("ok")
                })
            },
        );
        RedisCluster { nodes }
    }

    /// `redis://127.0.0.1:PORT` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// How many keys each node holds.
    pub fn keys_per_node(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|node| cli(node.port, &["DBSIZE"]).parse().unwrap_or(0))
            .collect()
    }
}
