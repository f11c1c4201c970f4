//! `switchyard fleet`, and the proof after a change that it took everywhere: the server's
//! fleet view (docs/api.md#fleet-proof-that-a-change-took) lists every instance and the SDKs streaming from it by version;
//! after `kill`, `unkill` and `rollout` the CLI waits (up to 5 s) until every live instance
//! and SDK serves the change, and names whoever does not.

use clap::Args;
use serde_json::Value;

use crate::Ctx;
use crate::error::CliError;
use crate::output::table;

/// How long a change is waited for before who is behind is named.
const WAIT_MS: u64 = 5_000;

/// `--no-wait`, on the commands that verify.
#[derive(Debug, Args)]
pub struct WaitArg {
    /// Do not wait for every instance and SDK to serve the change.
    #[arg(long)]
    pub no_wait: bool,
}

/// `1204` as `1,204`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn millis(ms: &Value) -> String {
    let ms = ms.as_u64().unwrap_or(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `v42: 1,200, v41: 4`: SDKs by version, newest first.
fn sdks_by_version(sdks: &Value) -> String {
    let mut counts: Vec<(u64, u64)> = sdks
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(v, n)| Some((v.parse().ok()?, n.as_u64()?)))
        .collect();
    if counts.is_empty() {
        return "-".into();
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts
        .iter()
        .map(|(v, n)| format!("v{v}: {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sdk a1b2 (app checkout) at v41`, for each named lagging SDK.
fn named_sdks(sdks: &Value) -> Vec<String> {
    sdks.as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "sdk {} (app {}) at v{}",
                s["client"].as_str().unwrap_or("?"),
                s["app"].as_str().unwrap_or("?"),
                s["version"]
            )
        })
        .collect()
}

/// Runs `fleet`.
pub async fn show(ctx: &Ctx) -> Result<(), CliError> {
    let fleet = ctx.api.get("/v1/fleet").await?;
    let latest = fleet["latest_version"].as_u64().unwrap_or(0);
    ctx.out.print(&fleet, || {
        let instances = fleet["instances"].as_array().cloned().unwrap_or_default();
        let rows: Vec<Vec<String>> = instances
            .iter()
            .map(|i| {
                let version = i["version"].as_u64().unwrap_or(0);
                vec![
                    i["id"].as_str().unwrap_or("?").to_owned(),
                    i["state"].as_str().unwrap_or("?").to_owned(),
                    format!("v{version}"),
                    match latest.saturating_sub(version) {
                        0 => "-".to_owned(),
                        n => format!("{n} behind"),
                    },
                    millis(&i["age_ms"]),
                    thousands(i["streams"].as_u64().unwrap_or(0)),
                    sdks_by_version(&i["sdks"]),
                ]
            })
            .collect();
        let mut out = vec![
            format!("latest v{latest}"),
            table(
                &[
                    "INSTANCE", "STATE", "VERSION", "LAG", "AGE", "STREAMS", "SDKS",
                ],
                &rows,
            ),
        ];
        for i in &instances {
            for sdk in named_sdks(&i["lagging_sdks"]) {
                out.push(format!(
                    "lagging: {sdk} on {}",
                    i["id"].as_str().unwrap_or("?")
                ));
            }
        }
        out.join("\n")
    });
    Ok(())
}

/// Waits until the fleet serves `version` (the write's `X-Switchyard-Snapshot-Version`) and
/// returns the line that says so; `Err(NotVerified)` naming who is behind at the timeout.
/// With `--no-wait`, or a server that did not say the version, returns what it did instead.
pub async fn verify(ctx: &Ctx, version: Option<u64>, wait: &WaitArg) -> Result<String, CliError> {
    if wait.no_wait {
        return Ok("not waiting for the fleet (--no-wait): `switchyard fleet` shows it".into());
    }
    let Some(version) = version else {
        return Ok(
            "fleet not verified: the server did not say which version serves the change".into(),
        );
    };
    let answer = ctx
        .api
        .get(&format!(
            "/v1/fleet/wait?version={version}&timeout_ms={WAIT_MS}"
        ))
        .await?;
    let tally = |what: &str| {
        format!(
            "{}/{}",
            thousands(answer[what]["serving"].as_u64().unwrap_or(0)),
            thousands(answer[what]["total"].as_u64().unwrap_or(0))
        )
    };
    let counted_out: Vec<&str> = answer["counted_out"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let out_note = if counted_out.is_empty() {
        String::new()
    } else {
        format!("; counted out (gone): {}", counted_out.join(", "))
    };
    let summary = format!(
        "{} instances and {} SDKs serve v{version}",
        tally("instances"),
        tally("sdks")
    );
    if answer["verified"].as_bool() == Some(true) {
        return Ok(format!(
            "verified: {summary} (slowest {}){out_note}",
            millis(&answer["elapsed_ms"])
        ));
    }
    let behind: Vec<String> = answer["behind"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            let id = b["id"].as_str().unwrap_or("?");
            let mut what = if b["state"] == "gone" {
                format!(
                    "{id} stopped heartbeating {} ago (frozen or cut off) at v{}",
                    millis(&b["age_ms"]),
                    b["version"]
                )
            } else if b["version"].as_u64().unwrap_or(0) < version {
                format!("{id} serves v{}", b["version"])
            } else {
                format!("{id} serves v{version}",)
            };
            let sdks_behind = b["sdks_behind"].as_u64().unwrap_or(0);
            if sdks_behind > 0 {
                let named = named_sdks(&b["lagging_sdks"]);
                what.push_str(&format!(
                    ", {} of its SDKs behind{}",
                    thousands(sdks_behind),
                    if named.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", named.join(", "))
                    }
                ));
            }
            what
        })
        .collect();
    Err(CliError::NotVerified(format!(
        "NOT verified after {}: {summary}; behind: {}{out_note}",
        millis(&answer["elapsed_ms"]),
        if behind.is_empty() {
            "no instance is live".to_owned()
        } else {
            behind.join("; ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(
            sdks_by_version(&serde_json::json!({"41": 4, "42": 1200})),
            "v42: 1,200, v41: 4"
        );
    }
}
