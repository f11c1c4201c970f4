//! `history`, `rollback`, `export`, `import`: a flag's past, and backups of everything.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};

use super::edit::FlagArg;
use super::flag_path;
use crate::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::{cell, on_off, table};

/// `rollback FLAG --to VERSION`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The flag's key.
    pub flag: String,
    /// The version to make current again.
    #[arg(long)]
    pub to: u64,
    /// Why, for the audit trail.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `export [FILE]`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write the backup (stdout when absent).
    pub file: Option<PathBuf>,
}

/// `import FILE`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A backup made by `export`.
    pub file: PathBuf,
    /// Show what would change, and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Only create and update; keep flags the backup does not have (default: restore exactly).
    #[arg(long)]
    pub merge: bool,
}

/// Runs `history`.
pub async fn history(ctx: &Ctx, args: FlagArg) -> Result<(), CliError> {
    let found = ctx
        .api
        .get(&format!("{}/history", flag_path(&args.flag)?))
        .await?;
    let versions = found["versions"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                format!("v{}", v["version"]),
                cell(&v["updated_at"]),
                cell(&v["updated_by"]),
                on_off(&v["enabled"]).to_owned(),
                format!("{}%", v["rollout_percentage"]),
                cell(&v["markets"]),
                v["whitelist"].as_array().map_or(0, Vec::len).to_string(),
                on_off(&v["kill_switch"]).to_owned(),
            ]
        })
        .collect();
    let headers = [
        "VERSION",
        "UPDATED",
        "BY",
        "ENABLED",
        "ROLLOUT",
        "MARKETS",
        "WHITELIST",
        "KILL",
    ];
    ctx.out.print(&found, || {
        let deleted = if found["deleted"] == true {
            " (deleted)"
        } else {
            ""
        };
        format!("{}{deleted}\n{}", args.flag, table(&headers, &rows))
    });
    Ok(())
}

/// Runs `rollback`.
pub async fn rollback(ctx: &Ctx, args: RollbackArgs) -> Result<(), CliError> {
    let path = flag_path(&args.flag)?;
    let before = ctx.api.get(&path).await.ok();
    let body = json!({"to_version": args.to, "reason": args.reason, "expected_version": before.as_ref().map(|b| b["version"].clone())});
    let after = ctx.api.post(&format!("{path}/rollback"), &body).await?;
    ctx.out.print(&after, || {
        let from = before
            .as_ref()
            .map_or("deleted".to_owned(), |b| format!("v{}", b["version"]));
        format!(
            "{} rolled back to the content of v{}: {from} → v{}",
            args.flag, args.to, after["version"]
        )
    });
    Ok(())
}

/// Runs `export`.
pub async fn export(ctx: &Ctx, args: ExportArgs) -> Result<(), CliError> {
    let backup = ctx.api.get("/v1/export").await?;
    let text = serde_json::to_string_pretty(&backup).unwrap_or_default();
    match args.file {
        None => println!("{text}"),
        Some(path) => {
            std::fs::write(&path, text + "\n")
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
            let count = backup["flags"].as_array().map_or(0, Vec::len);
            ctx.out.print(&json!({"file": path, "flags": count}), || {
                format!("exported {count} flags to {}", path.display())
            });
        }
    }
    Ok(())
}

fn plan_text(plan: &Value) -> String {
    let list = |k: &str| {
        let keys: Vec<String> = plan[k].as_array().into_iter().flatten().map(cell).collect();
        if keys.is_empty() {
            "-".to_owned()
        } else {
            keys.join(", ")
        }
    };
    format!(
        "create:    {}\nupdate:    {}\ndelete:    {}\nunchanged: {}\nglobal kill switch changes: {}",
        list("created"),
        list("updated"),
        list("deleted"),
        plan["unchanged"],
        if plan["global_kill_switch_changed"] == true {
            "yes"
        } else {
            "no"
        }
    )
}

/// Runs `import`: shows the plan, confirms, imports.
pub async fn import(ctx: &Ctx, args: ImportArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    let backup: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", args.file.display())))?;
    let mode = if args.merge { "merge" } else { "replace" };
    let plan = ctx
        .api
        .post(&format!("/v1/import?mode={mode}&dry_run=true"), &backup)
        .await?;
    if args.dry_run {
        ctx.out.print(&plan, || {
            format!("dry run ({mode}): nothing written\n{}", plan_text(&plan))
        });
        return Ok(());
    }
    // Nothing would change: nothing to confirm, nothing to write.
    let empty = |field: &str| plan[field].as_array().is_none_or(Vec::is_empty);
    if empty("created")
        && empty("updated")
        && empty("deleted")
        && plan["global_kill_switch_changed"] != true
    {
        ctx.out.print(&plan, || {
            format!(
                "nothing to import: the server already holds {} ({mode})",
                args.file.display()
            )
        });
        return Ok(());
    }
    if !ctx.out.json {
        println!(
            "import ({mode}) of {}:\n{}",
            args.file.display(),
            plan_text(&plan)
        );
    }
    confirm(&format!("import {} ({mode})", args.file.display()), ctx.yes)?;
    let done = ctx
        .api
        .post(&format!("/v1/import?mode={mode}"), &backup)
        .await?;
    ctx.out.print(&done, || "imported".to_owned());
    Ok(())
}
