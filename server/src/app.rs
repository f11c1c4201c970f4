//! The one place routes and middleware are wired: `Application::build` opens the store,
//! loads the first snapshot, binds the listener (port 0 works: tests read `port()`), and
//! returns a server ready to run.

use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};
use anyhow::Context as _;

use crate::config::{Settings, StoreSettings};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Stores;
use crate::store::embedded::EmbeddedStore;
use crate::store::redis::{RedisOptions, RedisStore, TlsFiles, Topology};
use crate::tasks::{self, sync};
use crate::wire::ProblemBodies;
use crate::{api, demo, edge, fleet};

/// How to reach Redis, when the settings name one: a Cluster by its nodes, a primary through
/// Sentinel, or one server.
fn redis_options(store: &StoreSettings) -> Option<RedisOptions> {
    let topology = if !store.redis_cluster_nodes.is_empty() {
        Topology::Cluster(store.redis_cluster_nodes.clone())
    } else if let Some(master) = &store.redis_master {
        Topology::Sentinel {
            sentinels: store.redis_sentinels.clone(),
            master: master.clone(),
            primary: store.redis_url.clone(),
        }
    } else {
        Topology::Single(store.redis_url.clone()?)
    };
    Some(RedisOptions {
        topology,
        tls: TlsFiles {
            ca: store.redis_ca_file.clone(),
            cert: store.redis_client_cert.clone(),
            key: store.redis_client_key.clone(),
        },
        min_replicas_acked: store.redis_min_replicas_acked,
        wait_timeout: Duration::from_millis(store.redis_wait_timeout_ms),
    })
}

/// A bound, ready-to-run server.
pub struct Application {
    server: Server,
    port: u16,
    state: Arc<AppState>,
}

impl Application {
    /// Opens the store (Redis when a URL is set, else embedded), loads the snapshot, seeds
    /// the demo if asked, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let keep = NonZeroUsize::new(settings.retention.history_versions);
        let store: Arc<dyn Stores> = match redis_options(&settings.store) {
            Some(options) => Arc::new(
                RedisStore::open(&options, &settings.store.redis_prefix, keep)
                    .await
                    .context("connecting to Redis (SWITCHYARD_STORE__REDIS_*)")?,
            ),
            None => Arc::new(
                EmbeddedStore::open_with(&settings.store.data_dir, keep)
                    .context("opening the embedded store")?,
            ),
        };
        let listener = TcpListener::bind(&settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        Application::build_with(settings, store, listener).await
    }

    /// Like [`Application::build`], with the store and listener given (tests).
    pub async fn build_with(
        settings: Settings,
        store: Arc<dyn Stores>,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let mut settings = settings;
        settings
            .server
            .instance_id
            .get_or_insert_with(|| fleet::default_id(port));
        let state = Arc::new(AppState::new(settings, store));
        // A store that is down now (Redis) must not stop the start: the instance serves as
        // soon as a first snapshot loads, and says not-ready until then.
        match sync::refresh(&state).await {
            Ok(()) if state.settings().demo => {
                demo::seed(&state).await.context("seeding the demo flags")?;
            }
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "store unavailable at start; retrying"),
        }
        if state.is_loaded() && state.tokens().is_empty() {
            tracing::warn!(
                "no token is configured, so every request will answer 401: set \
                 SWITCHYARD_ADMIN_TOKEN and SWITCHYARD_SDK_TOKEN (16 characters or more) for a \
                 first run, then create named tokens with POST /v1/tokens"
            );
        }
        let interval = Duration::from_secs(state.settings().server.reconcile_interval_secs);
        sync::spawn_sync(&state, interval);
        sync::spawn_retention(&state, RETENTION_EVERY);
        tasks::heartbeat::spawn_heartbeat(&state);
        tasks::scheduler::spawn_scheduler(&state);
        tasks::impact::spawn_flusher(&state);

        let data = web::Data::from(state.clone());
        let server_settings = state.settings().server.clone();
        let make_app = move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    ApiError::BadRequest(format!("invalid query string: {e}")).into()
                }))
                .app_data(web::PathConfig::default().error_handler(|e, _| {
                    ApiError::BadRequest(format!("invalid path: {e}")).into()
                }))
                .configure(|cfg| api::configure(cfg, &server_settings))
                .default_service(web::to(|| async {
                    actix_web::HttpResponse::NotFound().finish()
                }))
                .wrap_fn(edge::edge)
        };
        // actix-web's HttpServer, assembled by hand for one reason: each connection passes
        // through wire::ProblemBodies, so even the answers the HTTP layer writes itself (400,
        // 408, 431 before any route) are problem+json. Signals are ours (run_until_stopped):
        // streams must end before the graceful stop waits on them; in-flight requests get a
        // second to finish (docs/flags.md#limits-and-safety-rules: exit within 2 s).
        let mut server = Server::build()
            .disable_signals()
            .shutdown_timeout(SHUTDOWN_GRACE_SECS)
            .listen("switchyard", listener, move || {
                // actix_web::Error turns into a response by itself: no map_err layer (a
                // future of its own on every request).
                let app = make_app().into_factory();
                let http = HttpService::build()
                    .on_connect_ext(|_, ext| {
                        ext.insert(crate::auth::ConnectionToken::default());
                    })
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .finish(map_config(app, |()| AppConfig::default()));
                fn_service(|io: TcpStream| async move {
                    let peer = io.peer_addr().ok();
                    Ok((ProblemBodies::new(io), Protocol::Http1, peer))
                })
                .and_then(http)
            })?;
        if state.settings().server.workers > 0 {
            server = server.workers(state.settings().server.workers);
        }
        Ok(Application {
            server: server.run(),
            port,
            state,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests inspect it).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// A handle that stops the server (gracefully with `stop(true)`).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT, then stops gracefully: open streams end at once (their
    /// SDKs reconnect to another instance), in-flight requests finish, and the process can
    /// exit within 2 s (docs/flags.md#limits-and-safety-rules).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopping = self.state.stopping().clone();
        let handle = self.server.handle();
        drop(self.state);
        tokio::spawn(async move {
            match stop_signal().await {
                Ok(signal) => tracing::info!(signal, "stopping: streams end, requests finish"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for stop signals");
                    return;
                }
            }
            stopping.send_replace(true);
            handle.stop(true).await;
        });
        self.server.await
    }
}

/// How often old audit entries are pruned (and once at start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Seconds in-flight requests get to finish once the server stops.
const SHUTDOWN_GRACE_SECS: u64 = 1;

/// Waits for SIGTERM (what orchestrators send) or SIGINT (Ctrl-C); names the one that came.
async fn stop_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
