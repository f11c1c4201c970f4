//! `switchyard flags list|get|create|delete`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::flag_path;
use crate::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::{cell, on_off, table};

/// Flag commands.
#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// Every flag, in a table.
    List,
    /// One flag, in full.
    Get {
        /// The flag's key.
        flag: String,
    },
    /// Create a flag.
    Create(CreateArgs),
    /// Delete a flag (its history is kept; asks for confirmation).
    Delete {
        /// The flag's key.
        flag: String,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `flags create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new flag's key: letters, digits, '.', '_', '-'.
    pub flag: String,
    /// What the flag is for.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Create it enabled (its targeting applies at once).
    #[arg(long)]
    pub enabled: bool,
    /// Rollout percentage, 0–100.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub rollout: u32,
    /// Markets, comma-separated (e.g. FR,US); none means every market.
    #[arg(long, value_delimiter = ',')]
    pub markets: Vec<String>,
    /// Whitelisted users, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub whitelist: Vec<String>,
    /// Stickiness group (flags sharing one bucket users alike).
    #[arg(long)]
    pub group: Option<String>,
}

/// One table row per flag.
pub fn rows(flags: &[Value]) -> Vec<Vec<String>> {
    flags
        .iter()
        .map(|f| {
            vec![
                cell(&f["key"]),
                on_off(&f["enabled"]).to_owned(),
                format!("{}%", f["rollout_percentage"]),
                cell(&f["markets"]),
                f["whitelist"].as_array().map_or(0, Vec::len).to_string(),
                if f["kill_switch"].as_bool() == Some(true) {
                    "KILLED".into()
                } else {
                    "-".into()
                },
                format!("v{}", f["version"]),
            ]
        })
        .collect()
}

/// The headers of [`rows`].
pub const HEADERS: [&str; 7] = [
    "KEY",
    "ENABLED",
    "ROLLOUT",
    "MARKETS",
    "WHITELIST",
    "KILL",
    "VERSION",
];

/// Runs a flags command.
pub async fn run(ctx: &Ctx, cmd: FlagsCommand) -> Result<(), CliError> {
    match cmd {
        FlagsCommand::List => {
            let list = ctx.api.get("/v1/flags").await?;
            let flags = list["flags"].as_array().cloned().unwrap_or_default();
            ctx.out.print(&list, || table(&HEADERS, &rows(&flags)));
        }
        FlagsCommand::Get { flag } => {
            let found = ctx.api.get(&flag_path(&flag)?).await?;
            ctx.out.print(&found, || describe(&found));
        }
        FlagsCommand::Create(args) => {
            let body = json!({
                "description": args.description, "enabled": args.enabled,
                "rollout_percentage": args.rollout, "markets": args.markets,
                "whitelist": args.whitelist, "group_id": args.group,
            });
            let created = ctx
                .api
                .call(Method::PUT, &flag_path(&args.flag)?, Some(&body))
                .await?;
            ctx.out.print(&created, || {
                format!(
                    "created {} (v{})\n{}",
                    args.flag,
                    created["version"],
                    describe(&created)
                )
            });
        }
        FlagsCommand::Delete { flag, reason } => {
            let path = flag_path(&flag)?;
            let current = ctx.api.get(&path).await?;
            confirm(
                &format!("delete flag {flag} (v{})", current["version"]),
                ctx.yes,
            )?;
            let body = json!({"expected_version": current["version"], "reason": reason});
            let deleted = ctx.api.call(Method::DELETE, &path, Some(&body)).await?;
            ctx.out.print(&deleted, || {
                format!(
                    "deleted {flag} (was v{}; its history is kept)",
                    current["version"]
                )
            });
        }
    }
    Ok(())
}

/// A flag, one field per line.
pub fn describe(flag: &Value) -> String {
    let fields = [
        ("key", cell(&flag["key"])),
        ("description", cell(&flag["description"])),
        ("enabled", on_off(&flag["enabled"]).to_owned()),
        ("rollout", format!("{}%", flag["rollout_percentage"])),
        ("group", cell(&flag["group_id"])),
        ("markets", cell(&flag["markets"])),
        ("whitelist", cell(&flag["whitelist"])),
        ("kill switch", on_off(&flag["kill_switch"]).to_owned()),
        ("version", cell(&flag["version"])),
        (
            "updated",
            format!(
                "{} by {}",
                cell(&flag["updated_at"]),
                cell(&flag["updated_by"])
            ),
        ),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k:<12} {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}
