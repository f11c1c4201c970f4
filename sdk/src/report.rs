//! The impact reporter: a task that sends the counts to `POST /v1/impact` every
//! `impact_interval` and forgets them (dropped, never queued, while the server is away).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::shared::Shared;

/// Sends the counts every `every` until `stop`, and once more then.
pub(crate) async fn report(
    shared: Arc<Shared>,
    http: reqwest::Client,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(every) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        let reports = {
            let served = shared.snapshot.load();
            shared.impact.take(served.as_deref())
        };
        for body in reports {
            let sent = http
                .post(format!("{}/v1/impact", shared.config.base_url))
                .bearer_auth(&shared.config.token)
                .timeout(shared.config.request_timeout)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => {}
                Ok(answer) => {
                    tracing::debug!(status = %answer.status(), "impact report refused; dropped");
                }
                Err(e) => tracing::debug!(error = %e, "impact report not sent; dropped"),
            }
        }
        if stopping {
            return;
        }
    }
}
