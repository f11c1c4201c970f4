//! Edits of one flag: `enable`, `disable`, `rollout`, `whitelist`, `markets` (and the
//! versioned edit `targeting`'s commands share). Each is a
//! read-modify-write carrying the version read; when someone else changed the flag meanwhile
//! (409) and the edit still makes sense, it is retried on the new version, never forced.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;
use switchyard_core::{Flag, FlagPatch, Markets};

use super::flag_path;
use crate::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::{cell, change, on_off};

/// How many times an edit is retried after concurrent changes.
const ATTEMPTS: usize = 3;

/// A command on one flag.
#[derive(Debug, Args)]
pub struct FlagArg {
    /// The flag's key.
    pub flag: String,
}

/// `rollout FLAG PERCENT`.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// The flag's key.
    pub flag: String,
    /// The new percentage, 0–100.
    #[arg(value_parser = clap::value_parser!(u32).range(0..=100))]
    pub percent: u32,
    #[command(flatten)]
    pub wait: super::fleet::WaitArg,
}

/// `whitelist add|remove|list`.
#[derive(Debug, Subcommand)]
pub enum WhitelistCommand {
    /// Whitelist users (they get the flag whatever the rollout and markets say).
    Add {
        /// The flag's key.
        flag: String,
        /// User ids.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Take users off the whitelist.
    Remove {
        /// The flag's key.
        flag: String,
        /// User ids.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// List the whitelisted users.
    List {
        /// The flag's key.
        flag: String,
    },
}

/// `markets set|clear`.
#[derive(Debug, Subcommand)]
pub enum MarketsCommand {
    /// Limit the flag to these markets (e.g. FR US UK, or FR,US,UK).
    Set {
        /// The flag's key.
        flag: String,
        /// Market codes.
        #[arg(required = true)]
        codes: Vec<String>,
    },
    /// Every market again.
    Clear {
        /// The flag's key.
        flag: String,
    },
}

/// Reads the flag, asks `patch` for the change (None: nothing to do), and writes it with the
/// version read; retries on a concurrent change. Returns (before, after) as the server sent
/// them, and the snapshot version that serves the change (None: nothing changed). The flag
/// is read and the change built with the core's own types.
pub(super) async fn edit(
    ctx: &Ctx,
    key: &str,
    patch: impl Fn(&Flag) -> Option<FlagPatch>,
) -> Result<(Value, Value, Option<u64>), CliError> {
    let path = flag_path(key)?;
    for _ in 0..ATTEMPTS {
        let before = ctx.api.get(&path).await?;
        let flag: Flag = serde_json::from_value(before.clone()).map_err(|e| {
            CliError::Server(format!("the server sent a flag this CLI cannot read: {e}"))
        })?;
        let Some(change) = patch(&flag) else {
            return Ok((before.clone(), before, None));
        };
        let change = FlagPatch {
            expected_version: Some(flag.version),
            ..change
        };
        let body = serde_json::to_value(&change)
            .map_err(|e| CliError::Usage(format!("cannot write the change: {e}")))?;
        match ctx
            .api
            .call_written(Method::PATCH, &path, Some(&body))
            .await
        {
            Ok(after) => return Ok((before, after.json, after.snapshot_version)),
            Err(CliError::Conflict(_)) => {
                eprintln!(
                    "{key} changed meanwhile (was v{}); applying the change to the new version",
                    before["version"]
                );
            }
            Err(e) => return Err(e),
        }
    }
    Err(CliError::Conflict(format!(
        "conflict: {key} kept changing under this edit ({ATTEMPTS} tries); look at `switchyard history {key}` and retry"
    )))
}

pub(super) fn report(
    ctx: &Ctx,
    key: &str,
    field: &str,
    shown: impl Fn(&Value) -> String,
    before: &Value,
    after: &Value,
) {
    ctx.out.print(after, || {
        if before["version"] == after["version"] {
            format!(
                "{key} {field} is already {} (v{}); nothing changed",
                shown(before),
                before["version"]
            )
        } else {
            change(key, field, &shown(before), &shown(after), before, after)
        }
    });
}

/// `enable` / `disable`.
pub async fn enable(ctx: &Ctx, args: FlagArg, on: bool) -> Result<(), CliError> {
    let (before, after, _) = edit(ctx, &args.flag, |f| {
        (f.enabled != on).then(|| FlagPatch {
            enabled: Some(on),
            ..FlagPatch::default()
        })
    })
    .await?;
    report(
        ctx,
        &args.flag,
        "enabled",
        |f| on_off(&f["enabled"]).to_owned(),
        &before,
        &after,
    );
    Ok(())
}

/// `rollout FLAG PERCENT`.
pub async fn rollout(ctx: &Ctx, args: RolloutArgs) -> Result<(), CliError> {
    if args.percent == 100 {
        confirm(
            &format!("roll {} out to 100 % of users", args.flag),
            ctx.yes,
        )?;
    }
    let (before, after, version) = edit(ctx, &args.flag, |f| {
        (f.rollout_percentage != args.percent).then(|| FlagPatch {
            rollout_percentage: Some(args.percent),
            ..FlagPatch::default()
        })
    })
    .await?;
    let fleet = match version {
        Some(_) => Some(super::fleet::verify(ctx, version, &args.wait).await),
        None => None,
    };
    report(
        ctx,
        &args.flag,
        "rollout",
        |f| format!("{}%", f["rollout_percentage"]),
        &before,
        &after,
    );
    match fleet {
        Some(Ok(line)) if !ctx.out.json => println!("{line}"),
        Some(Err(e)) => return Err(e),
        _ => {}
    }
    Ok(())
}

/// `FR US` and `FR,US` alike (as `--whitelist a,b` takes them): every item split on commas,
/// blanks dropped.
fn split_commas(items: Vec<String>) -> Vec<String> {
    items
        .iter()
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn users(flag: &Value) -> Vec<String> {
    flag["whitelist"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect()
}

/// `whitelist add|remove|list`.
pub async fn whitelist(ctx: &Ctx, cmd: WhitelistCommand) -> Result<(), CliError> {
    let (key, adding, listed) = match cmd {
        WhitelistCommand::List { flag } => {
            let found = ctx.api.get(&flag_path(&flag)?).await?;
            ctx.out
                .print(&found["whitelist"], || users(&found).join("\n"));
            return Ok(());
        }
        WhitelistCommand::Add { flag, users } => (flag, true, split_commas(users)),
        WhitelistCommand::Remove { flag, users } => (flag, false, split_commas(users)),
    };
    let (before, after, _) = edit(ctx, &key, |f| {
        let needed = listed.iter().any(|u| f.whitelist.contains(u) != adding);
        needed.then(|| FlagPatch {
            whitelist_add: adding.then(|| listed.clone()),
            whitelist_remove: (!adding).then(|| listed.clone()),
            ..FlagPatch::default()
        })
    })
    .await?;
    report(
        ctx,
        &key,
        "whitelist",
        |f| format!("{} users", users(f).len()),
        &before,
        &after,
    );
    Ok(())
}

/// `markets set|clear`.
pub async fn markets(ctx: &Ctx, cmd: MarketsCommand) -> Result<(), CliError> {
    let (key, codes) = match cmd {
        MarketsCommand::Set { flag, codes } => (flag, split_commas(codes)),
        MarketsCommand::Clear { flag } => (flag, Vec::new()),
    };
    let wanted = Markets::new(&codes);
    let (before, after, _) = edit(ctx, &key, |f| {
        (f.markets != wanted).then(|| FlagPatch {
            markets: Some(wanted.clone()),
            ..FlagPatch::default()
        })
    })
    .await?;
    let shown = |f: &Value| {
        if f["markets"].as_array().is_some_and(Vec::is_empty) {
            "every market".to_owned()
        } else {
            cell(&f["markets"])
        }
    };
    report(ctx, &key, "markets", shown, &before, &after);
    Ok(())
}
