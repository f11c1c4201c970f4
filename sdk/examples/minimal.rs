//! The smallest app on the SDK: connect, wait briefly for the server's flags, evaluate.
//!
//! Run a server (see the README), then:
//! `cargo run -p switchyard-sdk --example minimal`
//! (`SWITCHYARD_URL` and `SWITCHYARD_SDK_TOKEN` override the README's defaults.)

use std::time::Duration;

use switchyard_sdk::{Client, Context};

#[tokio::main]
async fn main() -> Result<(), switchyard_sdk::SdkError> {
    let url = std::env::var("SWITCHYARD_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token =
        std::env::var("SWITCHYARD_SDK_TOKEN").unwrap_or_else(|_| "dev-sdk-token-change-me".into());
    let client = Client::builder(url, token).build()?;
    if let Err(e) = client.wait_until_ready(Duration::from_secs(2)).await {
        eprintln!("serving defaults for now: {e}");
    }
    for user in ["internal-user-1", "42", "43"] {
        let ctx = Context::new().user(user).market("FR");
        let decision = client.evaluate("new-onboarding", &ctx);
        println!("new-onboarding for {user} in FR: {decision:?}");
    }
    client.shutdown().await;
    Ok(())
}
