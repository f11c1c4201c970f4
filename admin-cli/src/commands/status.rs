//! `switchyard status`: server health and snapshot version, the global kill switch, and every
//! flag at a glance. Exits 6 when the server reports itself degraded.

use reqwest::Method;

use super::flags::{HEADERS, rows};
use crate::Ctx;
use crate::error::CliError;
use crate::output::table;

/// Runs `status`.
pub async fn run(ctx: &Ctx) -> Result<(), CliError> {
    let answer = ctx.api.call_raw(Method::GET, "/health/ready", None).await?;
    let (status, ready) = (answer.status, answer.json);
    let list = ctx.api.get("/v1/flags").await?;
    let flags = list["flags"].as_array().cloned().unwrap_or_default();
    let switch = &list["global_kill_switch"];
    let combined = serde_json::json!({"health": ready, "flags": list});
    ctx.out.print(&combined, || {
        let health = if status.is_success() {
            format!(
                "server     {} ready (snapshot v{})",
                ctx.api.base(),
                ready["snapshot_version"]
            )
        } else {
            format!(
                "server     {} DEGRADED: {}",
                ctx.api.base(),
                ready["reason"].as_str().unwrap_or("unknown")
            )
        };
        let global = if switch["active"].as_bool() == Some(true) {
            format!(
                "global     KILL SWITCH ON since {} by {} ({})",
                switch["set_at"].as_str().unwrap_or("?"),
                switch["set_by"].as_str().unwrap_or("?"),
                switch["reason"].as_str().unwrap_or("no reason")
            )
        } else {
            "global     kill switch off".to_owned()
        };
        let killed = flags
            .iter()
            .filter(|f| f["kill_switch"].as_bool() == Some(true))
            .count();
        let enabled = flags
            .iter()
            .filter(|f| f["enabled"].as_bool() == Some(true))
            .count();
        let summary = format!(
            "flags      {} ({enabled} enabled, {killed} killed)",
            flags.len()
        );
        format!(
            "{health}\n{global}\n{summary}\n\n{}",
            table(&HEADERS, &rows(&flags))
        )
    });
    if status.is_success() {
        Ok(())
    } else {
        Err(CliError::Server(format!(
            "the server at {} is degraded",
            ctx.api.base()
        )))
    }
}
