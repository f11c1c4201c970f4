//! Watch a flag obey a kill switch: prints the flag's state for one user whenever it
//! changes, for a minute. Flip the switch from another terminal:
//!
//! ```sh
//! curl -X POST http://127.0.0.1:8080/v1/flags/dark-mode/kill \
//!   -H 'Authorization: Bearer dev-admin-token-change-me' -d '{"active": true, "reason": "demo"}'
//! ```
//!
//! `cargo run -p switchyard-sdk --example kill_switch [FLAG]`

use std::time::{Duration, Instant};

use switchyard_sdk::{Client, Context};

#[tokio::main]
async fn main() -> Result<(), switchyard_sdk::SdkError> {
    let flag = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "dark-mode".into());
    let url = std::env::var("SWITCHYARD_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token =
        std::env::var("SWITCHYARD_SDK_TOKEN").unwrap_or_else(|_| "dev-sdk-token-change-me".into());
    let client = Client::builder(url, token).build()?;
    let _ = client.wait_until_ready(Duration::from_secs(2)).await;
    let ctx = Context::new().user("42");
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(60) {
        let decision = client.evaluate(&flag, &ctx);
        if last != Some(decision) {
            println!(
                "{:>7.3}s {flag}: {} ({}, {:?})",
                started.elapsed().as_secs_f64(),
                if decision.enabled { "ON" } else { "off" },
                decision.reason.as_str(),
                client.status(),
            );
            last = Some(decision);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    client.shutdown().await;
    Ok(())
}
