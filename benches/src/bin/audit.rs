//! Audit queries: one flag's newest entries (`/v1/audit?flag=…`, answered through the
//! index) beside the newest entries of the whole log (no filter: the cheapest query there
//! is), on logs of 10,000 and 100,000 entries in both stores. Before the indexes, a flag
//! filter scanned the log: its cost grew with the log (54 ms at 8.4k entries, 315 ms at
//! 100k, from outside); with them it should stay near the unfiltered page at any size.
//!
//! Run: `cargo run --release -p switchyard-benches --bin audit` (updates BENCHMARKS.md);
//! `-- --smoke` uses small logs and writes nothing (CI keeps it working).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use switchyard_benches::{benchmarks_md, latency_table, write_section};
use switchyard_server::store::embedded::EmbeddedStore;
use switchyard_server::store::redis::RedisStore;
use switchyard_server::store::{AuditEntry, AuditQuery, Commit, Store, Stores};
use switchyard_server::{Application, Settings};
use switchyard_testkit::redis::RedisServer;

/// Entries per commit while filling a log.
const BATCH: usize = 1000;
/// Flags the filler spreads entries over; the queried one gets one entry in `RARE`.
const FLAGS: usize = 100;
const RARE: usize = 500;
/// Entries per query: every log here holds at least this many about the queried flag.
const PAGE: usize = 20;

fn entry(i: usize) -> AuditEntry {
    let flag = if i.is_multiple_of(RARE) {
        "rare".to_owned()
    } else {
        format!("flag-{}", i % FLAGS)
    };
    AuditEntry {
        id: 0,
        at: Utc::now(),
        actor: format!("actor-{}", i % 7),
        action: "flag.update".into(),
        flag: Some(flag),
        before: Some(serde_json::json!({"rollout_percentage": 5, "version": i})),
        after: Some(serde_json::json!({"rollout_percentage": 25, "version": i + 1})),
        reason: None,
    }
}

/// Adds entries until the log holds `total`.
async fn fill(store: &dyn Store, from: usize, total: usize) -> anyhow::Result<()> {
    for start in (from..total).step_by(BATCH) {
        let audit = (start..(start + BATCH).min(total)).map(entry).collect();
        store
            .commit(Commit {
                writes: vec![],
                audit,
            })
            .await?;
    }
    Ok(())
}

/// `n` timings of `query`, sorted.
async fn time(store: &dyn Store, query: &AuditQuery, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let found = store.audit(query).await?;
        samples.push(started.elapsed());
        anyhow::ensure!(
            found.len() == query.limit,
            "{} of {}",
            found.len(),
            query.limit
        );
    }
    samples.sort();
    Ok(samples)
}

const ADMIN: &str = "audit-bench-admin-token-0123";
const SDK: &str = "audit-bench-sdk-token-01234567";

/// `n` evaluations timed one after another: alone, while 8 clients loop on a flag's audit
/// page, and while 8 clients loop on reading one flag (what any 8 busy clients cost); 3
/// rounds of each, taking turns. Each list sorted.
async fn evaluations_under_audit(
    store: Arc<dyn Stores>,
    n: usize,
) -> anyhow::Result<[Vec<Duration>; 3]> {
    let mut settings = Settings::default();
    settings.server.workers = 2;
    settings.server.writes_per_minute = 1_000_000;
    settings.admin_token = Some(ADMIN.into());
    settings.sdk_token = Some(SDK.into());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let app = Application::build_with(settings, store, listener).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    http.put(format!("{base}/v1/flags/f"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"enabled": true, "rollout_percentage": 50}))
        .send()
        .await?
        .error_for_status()?;
    let evaluate = |i: usize| {
        let body = serde_json::json!({"flag": "f", "context": {"user_id": format!("u-{i}")}});
        http.post(format!("{base}/v1/evaluate"))
            .bearer_auth(SDK)
            .json(&body)
            .send()
    };
    let background = [
        None,
        Some("/v1/audit?flag=flag-7&limit=50"),
        Some("/v1/flags/f"),
    ];
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for round in 0..9 {
        let kind = round % 3;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for path in background[kind]
            .into_iter()
            .flat_map(|p| std::iter::repeat_n(p, 8))
        {
            let (http, url, stop) = (http.clone(), format!("{base}{path}"), stop.clone());
            readers.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = http.get(&url).bearer_auth(ADMIN).send().await;
                }
            }));
        }
        for i in 0..n {
            let started = Instant::now();
            evaluate(i).await?.error_for_status()?;
            samples[kind].push(started.elapsed());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for reader in readers {
            reader.await?;
        }
    }
    for list in &mut samples {
        list.sort();
    }
    Ok(samples)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (sizes, n) = if smoke {
        (vec![10_000, 30_000], 5)
    } else {
        (vec![10_000, 100_000], 200)
    };
    let dir = tempfile::tempdir()?;
    let redis = RedisServer::start();
    let stores: Vec<(&str, Arc<dyn Stores>)> = vec![
        ("embedded", Arc::new(EmbeddedStore::open(dir.path())?)),
        (
            "redis",
            Arc::new(RedisStore::connect(&redis.url(), "audit-bench").await?),
        ),
    ];
    let flag = AuditQuery {
        flag: Some("rare".into()),
        limit: PAGE,
        ..Default::default()
    };
    let newest = AuditQuery {
        limit: PAGE,
        ..Default::default()
    };
    let mut labels = Vec::new();
    let mut results = Vec::new();
    for (name, store) in &stores {
        let mut filled = 0;
        for &size in &sizes {
            fill(store.as_ref(), filled, size).await?;
            filled = size;
            // Warm-up (and the one-time index build of an older Redis log, if any).
            time(store.as_ref(), &flag, 2).await?;
            let indexed = time(store.as_ref(), &flag, n).await?;
            let unfiltered = time(store.as_ref(), &newest, n).await?;
            labels.push(format!("{name}, {size} entries: flag=rare (index)"));
            results.push(indexed);
            labels.push(format!(
                "{name}, {size} entries: newest {PAGE}, no filter (baseline)"
            ));
            results.push(unfiltered);
        }
    }
    // Evaluations while 8 clients read a busy flag's audit page over HTTP, beside the same
    // evaluations with no audit reader, taking turns, on the embedded store's full log.
    let n_eval = if smoke { 50 } else { 500 };
    let [alone, audit, plain] = evaluations_under_audit(stores[0].1.clone(), n_eval).await?;
    labels.push("POST /v1/evaluate, nothing else running (baseline)".into());
    results.push(alone);
    labels.push("POST /v1/evaluate while 8 clients loop on /v1/audit?flag=flag-7".into());
    results.push(audit);
    labels.push("POST /v1/evaluate while 8 clients loop on GET /v1/flags/f (baseline)".into());
    results.push(plain);
    let rows: Vec<(&str, &[Duration])> = labels
        .iter()
        .map(String::as_str)
        .zip(results.iter().map(Vec::as_slice))
        .collect();
    let table = latency_table(&rows);
    println!("{table}");
    if !smoke {
        let body = format!(
            "Measured: `cargo run --release -p switchyard-benches --bin audit`, through the \
             `Store` API (no HTTP), {n} queries of {PAGE} entries each per row, on a log where \
             one entry in {RARE} is about the queried flag. Baseline: the newest {PAGE} entries \
             with no filter, on the same log in the same run. The last three rows: a server (2 \
             workers) on the embedded store's full log answering one client's evaluations in \
             sequence, alone, while 8 other clients (in the same process) loop on a flag's \
             audit page (about one entry in {FLAGS} of the log, 50 per page), and while they \
             loop on reading one flag instead: what any 8 busy clients cost on 2 cores. 3 \
             rounds of each, taking turns.\n\n{table}"
        );
        write_section(&benchmarks_md(), "audit", &body)?;
    }
    Ok(())
}
