//! Redis high availability, measured: what `SWITCHYARD_STORE__REDIS_MIN_REPLICAS_ACKED=1`
//! costs a write (the same PATCH, through two instances on the same Sentinel-managed Redis,
//! one waiting for a replica and one not, interleaved in one run), and how long a SIGKILLed
//! primary keeps writes away: from the kill to Sentinel's promotion, to the first write
//! acknowledged through Switchyard, and to that kill switch served by both instances.
//!
//! Real parts: a primary, two replicas and three `redis-sentinel`s (down-after 500 ms), each
//! old primary restarted empty after its failover so Sentinel makes it a replica again, and
//! every replica back in sync before the next round.
//!
//! Run: `cargo run --release -p switchyard-benches --bin ha` (updates BENCHMARKS.md);
//! `-- --smoke` makes a few writes and one failover, and writes nothing.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};
use switchyard_benches::start_instance;
use switchyard_benches::{ADMIN, SDK, latency_table, measured_here, ms, percentile, report};
use switchyard_testkit::ha::{MASTER, RedisHa};

/// How long one failover may take before the run fails.
const GIVE_UP: Duration = Duration::from_secs(30);

async fn send(http: &reqwest::Client, base: &str, path: &str, body: Value) -> reqwest::StatusCode {
    let request = if path.starts_with("/v1/flags/") {
        http.patch(format!("{base}{path}"))
    } else {
        http.post(format!("{base}{path}"))
    };
    match request
        .bearer_auth(ADMIN)
        .json(&body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
    {
        Ok(answer) => answer.status(),
        Err(_) => reqwest::StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn reason(http: &reqwest::Client, base: &str) -> String {
    let answer = http
        .post(format!("{base}/v1/evaluate"))
        .bearer_auth(SDK)
        .json(&json!({"flag": "checkout", "context": {"user_id": "u"}}))
        .send()
        .await;
    match answer {
        Ok(a) => a.json::<Value>().await.unwrap_or_default()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Err(_) => String::new(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (writes, failovers) = if smoke { (10, 1) } else { (400, 5) };
    let mut ha = RedisHa::start(2, 3);
    let mut bases = Vec::new();
    for acked in [0, 1] {
        let sentinels = ha.sentinel_addrs();
        bases.push(
            start_instance(move |s| {
                s.store.redis_sentinels = sentinels;
                s.store.redis_master = Some(MASTER.into());
                s.store.redis_prefix = "habench".into();
                s.store.redis_min_replicas_acked = acked;
            })
            .await?,
        );
    }
    let http = reqwest::Client::new();
    let created = Instant::now();
    loop {
        let answer = http
            .put(format!("{}/v1/flags/checkout", bases[0]))
            .bearer_auth(ADMIN)
            .json(&json!({"enabled": true, "rollout_percentage": 100}))
            .send()
            .await?;
        if answer.status().is_success() {
            break;
        }
        if created.elapsed() > GIVE_UP {
            bail!("the first write never succeeded: {}", answer.status());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Write latency with and without a replica's confirmation, interleaved.
    let (mut plain, mut confirmed) = (Vec::new(), Vec::new());
    for i in 0..writes * 2 {
        let (base, samples) = if i % 2 == 0 {
            (&bases[0], &mut plain)
        } else {
            (&bases[1], &mut confirmed)
        };
        let sent = Instant::now();
        let body = json!({"description": format!("write {i}")});
        let status = send(&http, base, "/v1/flags/checkout", body).await;
        if !status.is_success() {
            bail!("write {i}: {status}");
        }
        samples.push(sent.elapsed());
    }
    plain.sort();
    confirmed.sort();

    // Failovers: SIGKILL the primary, then write the kill switch through both instances until
    // each has acknowledged it: the one on the primary's word shows how fast Switchyard
    // follows, the one waiting for a replica what durability adds.
    let (mut promoted, mut followed, mut durable, mut served) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..failovers {
        ha.wait_healthy(GIVE_UP);
        let killed_at = Instant::now();
        let old = ha.kill_primary();
        let active = round % 2 == 0;
        let want = if active {
            "GLOBAL_KILL_SWITCH"
        } else {
            "ROLLOUT"
        };
        let (mut promotion, mut acks) = (None, [None, None]);
        while acks.iter().any(Option::is_none) {
            if promotion.is_none() && ha.primary_port() != old {
                promotion = Some(killed_at.elapsed());
            }
            for (base, ack) in bases.iter().zip(acks.iter_mut()) {
                if ack.is_some() {
                    continue;
                }
                let body = json!({"active": active, "reason": format!("failover {round}")});
                if send(&http, base, "/v1/kill-switch", body)
                    .await
                    .is_success()
                {
                    *ack = Some(killed_at.elapsed());
                }
            }
            if killed_at.elapsed() > GIVE_UP {
                bail!("failover {round}: no write acknowledged within {GIVE_UP:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let promotion = match promotion {
            Some(p) => p,
            None => {
                ha.wait_for_failover(old, GIVE_UP);
                killed_at.elapsed()
            }
        };
        loop {
            let mut everywhere = true;
            for base in &bases {
                everywhere &= reason(&http, base).await == want;
            }
            if everywhere {
                break;
            }
            if killed_at.elapsed() > GIVE_UP {
                bail!("failover {round}: the kill switch was not served everywhere");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        served.push(killed_at.elapsed());
        promoted.push(promotion);
        let [plain_ack, durable_ack] = acks.map(Option::unwrap_or_default);
        followed.push(plain_ack);
        durable.push(durable_ack);
        eprintln!(
            "failover {round}: promoted {promotion:?}, acknowledged {plain_ack:?} / \
             {durable_ack:?} (durable)"
        );
        // The old primary comes back empty; Sentinel makes it a replica of the new one.
        let server = ha.servers.iter_mut().find(|s| s.port == old).unwrap();
        server.restart();
    }
    promoted.sort();
    followed.sort();
    durable.sort();
    served.sort();

    let cost = percentile(&confirmed, 50.0).as_secs_f64() / percentile(&plain, 50.0).as_secs_f64();
    let table = format!(
        "{}: a primary, two replicas and three sentinels (down-after 500 ms) on 127.0.0.1, two \
         instances (one worker each) in this process; PATCHes alternate between the \
         instance that waits for one replica and the one that does not.\n\n{}\n\
         `MIN_REPLICAS_ACKED=1` costs **{:.2}×** the plain write at p50 ({} vs {}).\n\n\
         {} failovers, SIGKILL of the primary to…\n\n{}",
        measured_here(),
        latency_table(&[
            (
                "**baseline**: PATCH acknowledged on the primary's word (`MIN_REPLICAS_ACKED=0`)",
                &plain
            ),
            (
                "PATCH acknowledged once a replica confirmed it (`MIN_REPLICAS_ACKED=1`)",
                &confirmed
            ),
        ]),
        cost,
        ms(percentile(&confirmed, 50.0)),
        ms(percentile(&plain, 50.0)),
        promoted.len(),
        latency_table(&[
            ("Sentinel names the promoted replica", &promoted),
            (
                "the first kill switch acknowledged, `MIN_REPLICAS_ACKED=0`",
                &followed
            ),
            (
                "the first kill switch acknowledged, `MIN_REPLICAS_ACKED=1`",
                &durable
            ),
            ("the last of them served by both instances", &served),
        ]),
    );
    report("ha", &table, smoke)?;
    Ok(())
}
