//! Webhooks (docs/api.md#release-plans): every plan transition and kill switch change is `POST`ed as JSON to
//! each URL in `SWITCHYARD_NOTIFY__WEBHOOKS`. Off the request path: a write only puts the
//! event on a bounded queue (never waits); a task delivers, retrying each URL with
//! exponential backoff, and counts what fails in `switchyard_webhook_failures_total`.

use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounter;
use tokio::sync::mpsc;

use crate::changes::Event;

/// Events waiting for delivery at most; past this they are dropped (and counted).
const QUEUE: usize = 1024;
/// Tries per event and URL, the first retry after [`FIRST_RETRY`], each wait doubling.
const ATTEMPTS: u32 = 6;
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Deliveries in flight at most (each may retry for ~15 s); past it the queue waits, and a
/// full queue drops (counted).
const IN_FLIGHT: usize = 64;

/// The sending end; `None` when no webhook is configured.
pub struct Notifier {
    queue: Option<mpsc::Sender<Event>>,
    failures: IntCounter,
}

impl Notifier {
    /// Starts delivering to `urls` (nothing to do when empty); failures count in `failures`.
    pub fn start(urls: Vec<String>, failures: IntCounter) -> Self {
        if urls.is_empty() {
            return Notifier {
                queue: None,
                failures,
            };
        }
        let (queue, events) = mpsc::channel(QUEUE);
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("an HTTP client");
        tokio::spawn(deliver_all(events, Arc::new(urls), http, failures.clone()));
        Notifier {
            queue: Some(queue),
            failures,
        }
    }

    /// Queues `event`; drops (and counts) it when the queue is full.
    pub fn send(&self, event: Event) {
        if let Some(queue) = &self.queue
            && queue.try_send(event).is_err()
        {
            self.failures.inc();
            tracing::warn!("webhook queue full: a notification was dropped");
        }
    }
}

async fn deliver_all(
    mut events: mpsc::Receiver<Event>,
    urls: Arc<Vec<String>>,
    http: reqwest::Client,
    failures: IntCounter,
) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    while let Some(event) = events.recv().await {
        let body = Arc::new(serde_json::to_vec(&event).expect("events serialise"));
        for url in urls.iter() {
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                return;
            };
            let (http, url, body, failures) =
                (http.clone(), url.clone(), body.clone(), failures.clone());
            // Each URL on its own: a slow receiver delays nobody else.
            tokio::spawn(async move {
                deliver(&http, &url, &body, &failures).await;
                drop(permit);
            });
        }
    }
}

async fn deliver(http: &reqwest::Client, url: &str, body: &[u8], failures: &IntCounter) {
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let sent = http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await;
        let why = match sent {
            Ok(answer) if answer.status().is_success() => return,
            Ok(answer) => format!("answered {}", answer.status()),
            Err(e) => e.to_string(),
        };
        failures.inc();
        // The URL is not logged: webhook URLs often hold a secret.
        tracing::warn!(attempt, error = %why, "webhook delivery failed");
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
}
