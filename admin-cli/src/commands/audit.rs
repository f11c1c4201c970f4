//! `switchyard audit`: the audit trail, oldest first, filtered; `--follow` keeps polling and
//! prints new entries as they come.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::Value;

use crate::Ctx;
use crate::error::CliError;
use crate::output::{cell, table};

/// How often `--follow` asks for new entries.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries about this flag.
    #[arg(long)]
    pub flag: Option<String>,
    /// Only entries by this actor (token name).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only entries since this time: RFC 3339 (2026-11-22T10:00:00Z) or an age (30m, 2h, 7d).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// How many entries to show first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Keep printing new entries until interrupted.
    #[arg(long)]
    pub follow: bool,
}

/// An RFC 3339 time, or an age like `30m` counted back from now.
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| {
        format!("{text:?}: use RFC 3339 (2026-11-22T10:00:00Z) or an age like 30m, 2h, 7d")
    })?;
    let age = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    Ok(Utc::now() - age)
}

fn query(args: &AuditArgs, limit: u32) -> String {
    let mut pairs = vec![("limit", limit.to_string())];
    if let Some(f) = &args.flag {
        pairs.push(("flag", f.clone()));
    }
    if let Some(a) = &args.actor {
        pairs.push(("actor", a.clone()));
    }
    if let Some(t) = args.since {
        pairs.push((
            "since",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ));
    }
    let url =
        reqwest::Url::parse_with_params("http://q/v1/audit", &pairs).expect("a static base URL");
    format!("/v1/audit?{}", url.query().unwrap_or_default())
}

fn row(e: &Value) -> Vec<String> {
    vec![
        cell(&e["id"]),
        cell(&e["at"]),
        cell(&e["actor"]),
        cell(&e["action"]),
        cell(&e["flag"]),
        cell(&e["reason"]),
    ]
}

const HEADERS: [&str; 6] = ["ID", "AT", "ACTOR", "ACTION", "FLAG", "REASON"];

/// Runs `audit`.
pub async fn run(ctx: &Ctx, args: AuditArgs) -> Result<(), CliError> {
    let page = ctx.api.get(&query(&args, args.limit)).await?;
    let mut entries: Vec<Value> = page["entries"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    ctx.out.print(&page, || {
        table(&HEADERS, &entries.iter().map(row).collect::<Vec<_>>())
    });
    if !args.follow {
        return Ok(());
    }
    let mut last = entries.last().and_then(|e| e["id"].as_u64()).unwrap_or(0);
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let page = ctx.api.get(&query(&args, 1000)).await?;
        let mut fresh: Vec<Value> = page["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["id"].as_u64().unwrap_or(0) > last)
            .cloned()
            .collect();
        fresh.reverse();
        for entry in &fresh {
            if ctx.out.json {
                println!("{entry}");
            } else {
                println!("{}", row(entry).join("  "));
            }
            last = last.max(entry["id"].as_u64().unwrap_or(0));
        }
    }
}
