//! How the Redis store reaches Redis: one server, the primary that Sentinel names (followed
//! across failovers), or a Redis Cluster, each over TLS (`rediss://`) with a CA file and a
//! client certificate when configured. The store sees one [`Link`]: a connection for
//! commands, one for commits (so a commit's `WAIT` holds up nothing else), and the servers
//! to subscribe on, whatever the topology.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ClientTlsConfig, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisFuture,
    TlsCertificates, TlsMode, Value,
};

use super::super::StoreError;

/// How long one command may take before the store counts as unavailable.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the sentinels are asked which server is the primary. A failover is followed
/// within about this long after Sentinel has promoted a replica.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// Where the Redis store finds Redis.
#[derive(Clone, Debug)]
pub enum Topology {
    /// One server, by URL (a managed endpoint that fails over behind one address is one).
    Single(String),
    /// The primary the sentinels name `master`. `primary` is a URL whose scheme, user,
    /// password and database are used for the primary (its host and port are not).
    Sentinel {
        /// `host:port` or `redis://` / `rediss://` URLs of the sentinels.
        sentinels: Vec<String>,
        /// The name the sentinels monitor the primary under.
        master: String,
        /// Scheme, credentials and database for the primary.
        primary: Option<String>,
    },
    /// A Redis Cluster, found through these nodes' URLs.
    Cluster(Vec<String>),
}

/// PEM files for TLS: a CA to trust instead of the system's roots, and a client certificate
/// with its key for servers that ask for one.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// The CA certificate(s) that signed the servers' certificates.
    pub ca: Option<PathBuf>,
    /// This client's certificate.
    pub cert: Option<PathBuf>,
    /// This client's private key.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    fn certificates(&self) -> Result<Option<TlsCertificates>, StoreError> {
        let read = |path: &PathBuf| {
            std::fs::read(path)
                .map_err(|e| StoreError::Unavailable(format!("reading {}: {e}", path.display())))
        };
        let client_tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read(cert)?,
                client_key: read(key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(StoreError::Unavailable(
                    "a client certificate needs both its certificate and its key file".into(),
                ));
            }
        };
        let root_cert = self.ca.as_ref().map(read).transpose()?;
        Ok(
            (client_tls.is_some() || root_cert.is_some()).then_some(TlsCertificates {
                client_tls,
                root_cert,
            }),
        )
    }
}

/// A connection to whatever the topology is; cheap to clone.
#[derive(Clone)]
pub(super) enum Conn {
    One(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::One(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::One(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::One(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// What the store talks to now.
struct Current {
    commands: Conn,
    commits: Conn,
    /// Servers that carry the change channel, tried in turn.
    subscribe: Vec<Client>,
    /// The primary's address (Sentinel), to notice a failover.
    primary: Option<ConnectionAddr>,
}

/// The store's way to Redis. Until a first connection exists (Sentinel or Cluster down at
/// start) commands fail as unavailable; a background task keeps trying.
#[derive(Clone)]
pub(super) struct Link {
    current: Arc<ArcSwapOption<Current>>,
    cluster: bool,
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}

/// A client for `url`, with the TLS files when there are any.
fn client(
    url: impl IntoConnectionInfo,
    tls: &Option<TlsCertificates>,
) -> redis::RedisResult<Client> {
    match tls {
        Some(certs) => Client::build_with_tls(url, certs.clone()),
        None => Client::open(url),
    }
}

/// Two lazy connection managers on `client`: commands and commits.
fn one(client: Client, primary: Option<ConnectionAddr>) -> Result<Current, StoreError> {
    let manager = || {
        ConnectionManager::new_lazy_with_config(client.clone(), manager_config())
            .map(Conn::One)
            .map_err(|e| bad("redis", e))
    };
    Ok(Current {
        commands: manager()?,
        commits: manager()?,
        subscribe: vec![client.clone()],
        primary,
    })
}

impl Link {
    /// Opens the way to `topology`. Never waits for Redis: a server that is down now is
    /// reached once it is up.
    pub(super) fn open(topology: &Topology, tls: &TlsFiles) -> Result<Link, StoreError> {
        let certs = tls.certificates()?;
        let link = Link {
            current: Arc::new(ArcSwapOption::empty()),
            cluster: matches!(topology, Topology::Cluster(_)),
        };
        match topology {
            Topology::Single(url) => {
                let client = client(url.as_str(), &certs).map_err(|e| bad("bad Redis URL", e))?;
                link.current.store(Some(Arc::new(one(client, None)?)));
            }
            Topology::Sentinel {
                sentinels,
                master,
                primary,
            } => {
                let sentinel = sentinel_client(sentinels, master, primary.as_deref(), &certs)?;
                tokio::spawn(follow_primary(Arc::downgrade(&link.current), sentinel));
            }
            Topology::Cluster(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(2)
                    .max_retry_wait(200);
                if let Some(certs) = &certs {
                    builder = builder.certs(certs.clone());
                }
                let cluster = builder
                    .build()
                    .map_err(|e| bad("bad Redis Cluster URLs", e))?;
                let subscribe = nodes
                    .iter()
                    .map(|url| client(url.as_str(), &certs))
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad("bad Redis Cluster URL", e))?;
                tokio::spawn(join_cluster(
                    Arc::downgrade(&link.current),
                    cluster,
                    subscribe,
                ));
            }
        }
        Ok(link)
    }

    /// Whether this is a Redis Cluster (keys must then share one hash slot).
    pub(super) fn is_cluster(&self) -> bool {
        self.cluster
    }

    fn current(&self) -> Result<Arc<Current>, StoreError> {
        self.current.load_full().ok_or_else(|| {
            StoreError::Unavailable("redis: no primary reached yet (Sentinel or Cluster)".into())
        })
    }

    /// The connection for commands.
    pub(super) fn commands(&self) -> Result<Conn, StoreError> {
        Ok(self.current()?.commands.clone())
    }

    /// The connection for commits and their `WAIT`.
    pub(super) fn commits(&self) -> Result<Conn, StoreError> {
        Ok(self.current()?.commits.clone())
    }

    /// The servers to subscribe on now, to be tried in turn (empty until one is known).
    pub(super) fn subscribe_targets(&self) -> Vec<Client> {
        self.current
            .load()
            .as_ref()
            .map(|c| c.subscribe.clone())
            .unwrap_or_default()
    }
}

/// A Sentinel client for `master`, with the primary's scheme, credentials and database taken
/// from `primary`.
fn sentinel_client(
    sentinels: &[String],
    master: &str,
    primary: Option<&str>,
    certs: &Option<TlsCertificates>,
) -> Result<SentinelClient, StoreError> {
    let mut addrs = Vec::new();
    let mut sentinel_password = None;
    for entry in sentinels {
        let url = if entry.contains("://") {
            entry.clone()
        } else {
            format!("redis://{entry}")
        };
        let info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| bad("bad sentinel address", e))?;
        if sentinel_password.is_none() {
            sentinel_password = info.redis_settings().password().map(str::to_owned);
        }
        addrs.push(info.addr().clone());
    }
    let sentinel_tls = addrs
        .iter()
        .any(|a| matches!(a, ConnectionAddr::TcpTls { .. }));
    let mut builder = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)
        .map_err(|e| bad("sentinel", e))?;
    if let Some(password) = sentinel_password {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if let Some(certs) = certs {
        if sentinel_tls {
            builder = builder
                .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_certificates(certs.clone());
        }
        builder = builder.set_client_to_redis_certificates(certs.clone());
    }
    if let Some(primary) = primary {
        let info = primary
            .into_connection_info()
            .map_err(|e| bad("bad Redis URL", e))?;
        if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
            builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
        }
        let settings = info.redis_settings();
        builder = builder.set_client_to_redis_db(settings.db());
        if let Some(user) = settings.username() {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = settings.password() {
            builder = builder.set_client_to_redis_password(password);
        }
    }
    builder.build().map_err(|e| bad("sentinel", e))
}

/// Asks the sentinels which server is the primary every [`FOLLOW_EVERY`], and moves the
/// link there when it changed. Ends when the store is dropped.
async fn follow_primary(link: Weak<ArcSwapOption<Current>>, mut sentinel: SentinelClient) {
    loop {
        let found = tokio::time::timeout(RESPONSE_TIMEOUT, sentinel.async_get_client()).await;
        let Some(current) = link.upgrade() else {
            return;
        };
        match found {
            Ok(Ok(client)) => {
                let addr = client.get_connection_info().addr().clone();
                let known = current.load().as_ref().and_then(|c| c.primary.clone());
                if known.as_ref() != Some(&addr) {
                    match one(client, Some(addr.clone())) {
                        Ok(next) => {
                            tracing::warn!(primary = %addr, "following the primary Sentinel names");
                            current.store(Some(Arc::new(next)));
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot connect to the primary"),
                    }
                }
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "no primary from the sentinels"),
            Err(_) => tracing::debug!("the sentinels did not answer in time"),
        }
        drop(current);
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Connects to the cluster, retrying until it answers; the cluster connection then follows
/// the cluster's topology by itself. Ends when connected or when the store is dropped.
async fn join_cluster(
    link: Weak<ArcSwapOption<Current>>,
    cluster: redis::cluster::ClusterClient,
    subscribe: Vec<Client>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let connect = || async {
            tokio::time::timeout(RESPONSE_TIMEOUT, cluster.get_async_connection())
                .await
                .map_err(|_| bad("redis cluster", "timed out"))?
                .map_err(|e| bad("redis cluster", e))
        };
        let joined = async { Ok::<_, StoreError>((connect().await?, connect().await?)) }.await;
        let Some(current) = link.upgrade() else {
            return;
        };
        match joined {
            Ok((commands, commits)) => {
                current.store(Some(Arc::new(Current {
                    commands: Conn::Cluster(commands),
                    commits: Conn::Cluster(commits),
                    subscribe,
                    primary: None,
                })));
                tracing::info!("connected to the Redis Cluster");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot reach the Redis Cluster; retrying"),
        }
        drop(current);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
