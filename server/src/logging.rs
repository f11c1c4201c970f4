//! Logging setup. One thing beyond the format and filter: actix's HTTP layer logs every
//! malformed request at ERROR, so a noisy or hostile client could flood the log. Those events
//! are counted instead, reported at WARN at most once per [`REPORT_EVERY`], and exported as
//! `switchyard_http_malformed_requests_total`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogSettings;

/// Where actix-http logs a request it could not parse (answered 400 or 431).
const PARSE_ERRORS: &str = "actix_http::h1::dispatcher";
/// How often at most the count of malformed requests is logged.
pub const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Malformed requests seen by this process.
static MALFORMED: AtomicU64 = AtomicU64::new(0);

/// How many malformed requests this process has refused.
pub fn malformed_requests() -> u64 {
    MALFORMED.load(Ordering::Relaxed)
}

/// Counts the HTTP layer's parse errors.
struct CountMalformed;

impl<S: Subscriber> Layer<S> for CountMalformed {
    fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
        MALFORMED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Installs the global subscriber: `settings.level` as a filter, text or JSON lines, the
/// HTTP layer's parse errors counted rather than printed.
pub fn init(settings: &LogSettings) -> Result<(), String> {
    let filter = EnvFilter::try_new(&settings.level)
        .map_err(|e| format!("SWITCHYARD_LOG__LEVEL: {e}"))?
        .add_directive(
            format!("{PARSE_ERRORS}=off")
                .parse()
                .map_err(|e| format!("{e}"))?,
        );
    let counted = Targets::new().with_target(PARSE_ERRORS, tracing::Level::ERROR);
    let registry = tracing_subscriber::registry().with(CountMalformed.with_filter(counted));
    let fmt = tracing_subscriber::fmt::layer();
    if settings.format == "json" {
        registry.with(fmt.json().with_filter(filter)).init();
    } else {
        registry.with(fmt.with_filter(filter)).init();
    }
    Ok(())
}

/// Logs, at most once per [`REPORT_EVERY`], how many malformed requests arrived since the
/// last report. Runs until the process ends.
pub async fn report_malformed() {
    let mut reported = malformed_requests();
    loop {
        tokio::time::sleep(REPORT_EVERY).await;
        let now = malformed_requests();
        if now > reported {
            tracing::warn!(
                count = now - reported,
                "malformed HTTP requests refused (400/431) in the last minute"
            );
            reported = now;
        }
    }
}
