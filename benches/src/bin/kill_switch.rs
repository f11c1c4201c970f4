//! Kill switch to SDK: the time from a kill switch write's acknowledgement until a connected
//! SDK client's `evaluate` obeys it, beside the write's own round trip measured in the same
//! run (the server has already swapped its snapshot when it acknowledges).
//!
//! Run: `cargo run --release -p switchyard-benches --bin kill_switch` (updates BENCHMARKS.md);
//! `-- --smoke` runs a few iterations and writes nothing (CI keeps it working).

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use switchyard_benches::{ADMIN, SDK, latency_table, measured_here, report, start_instance};
use switchyard_sdk::{Client, Context, Reason};

/// How long one flip may take to reach the SDK before it counts as lost.
const GIVE_UP: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let n = if smoke { 10 } else { 500 };
    let data = std::env::temp_dir().join(format!("switchyard-kill-bench-{}", std::process::id()));
    let base = start_instance(|s| s.store.data_dir = data.clone()).await?;

    let http = reqwest::Client::new();
    let flag_url = format!("{base}/v1/flags/checkout");
    let body = json!({"enabled": true, "rollout_percentage": 100});
    http.put(&flag_url)
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let client = Client::builder(&base, SDK).build()?;
    client.wait_until_ready(Duration::from_secs(10)).await?;
    let ctx = Context::new().user("u-1");

    let (mut writes, mut obeyed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let active = i % 2 == 0;
        let body = json!({"active": active, "reason": "benchmark"});
        let sent = Instant::now();
        let kill = http
            .post(format!("{flag_url}/kill"))
            .bearer_auth(ADMIN)
            .json(&body);
        kill.send().await?.error_for_status()?;
        let acknowledged = Instant::now();
        writes.push(acknowledged - sent);
        loop {
            let killed = client.evaluate("checkout", &ctx).reason == Reason::KillSwitch;
            if killed == active {
                obeyed.push(acknowledged.elapsed());
                break;
            }
            if acknowledged.elapsed() > GIVE_UP {
                bail!("flip {i} did not reach the SDK within {GIVE_UP:?}");
            }
            tokio::task::yield_now().await;
        }
    }
    client.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);
    writes.sort();
    obeyed.sort();
    let table = format!(
        "{here}, server (embedded store) and SDK in one process.\n\n\
         {}\n\
         Goal: a connected SDK obeys a kill switch within 100 ms.",
        latency_table(&[
            (
                "**baseline**: the kill switch write's own round trip",
                &writes
            ),
            ("write acknowledged → SDK's `evaluate` obeys", &obeyed),
        ]),
        here = measured_here(),
    );
    report("kill-switch-sdk", &table, smoke)?;
    Ok(())
}
