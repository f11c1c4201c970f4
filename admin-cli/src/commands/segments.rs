//! `switchyard segments create|edit|delete|list`: named lists of constraints that rules name
//! by key. An edit carries the version read, so a concurrent change is a conflict (exit 5),
//! never overwritten; a delete asks for confirmation, and the server refuses one in use.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::check_key;
use super::targeting::{constraint, constraints_cell};
use crate::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::{cell, table};

/// Segment commands.
#[derive(Debug, Subcommand)]
pub enum SegmentsCommand {
    /// Every segment, in a table.
    List,
    /// Create a segment: contexts matching every --when.
    Create(SegmentArgs),
    /// Replace a segment's constraints (and description, if given), on the version read.
    Edit(SegmentArgs),
    /// Delete a segment (refused while a rule uses it; asks for confirmation).
    Delete {
        /// The segment's key.
        key: String,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `segments create|edit KEY --when 'ATTR OP VALUES'… [--description D]`.
#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// The segment's key: letters, digits, '.', '_', '-'.
    pub key: String,
    /// A constraint: `ATTRIBUTE OPERATOR VALUES`, as `rules add` takes it.
    #[arg(long = "when", value_name = "CONSTRAINT")]
    pub constraints: Vec<String>,
    /// What the segment is for.
    #[arg(long)]
    pub description: Option<String>,
}

fn path(key: &str) -> Result<String, CliError> {
    check_key(key).map_err(|e| CliError::Usage(e.to_string().replacen("flag", "segment", 1)))?;
    Ok(format!("/v1/segments/{key}"))
}

/// The body of a create or edit: the constraints, checked before any request.
fn body(args: &SegmentArgs, description: &str) -> Result<Value, CliError> {
    let constraints = args
        .constraints
        .iter()
        .map(|c| constraint(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "description": args.description.as_deref().unwrap_or(description),
        "constraints": constraints,
    }))
}

/// Runs a segments command.
pub async fn run(ctx: &Ctx, cmd: SegmentsCommand) -> Result<(), CliError> {
    match cmd {
        SegmentsCommand::List => {
            let list = ctx.api.get("/v1/segments").await?;
            let rows: Vec<Vec<String>> = list["segments"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    vec![
                        cell(&s["key"]),
                        constraints_cell(s),
                        cell(&s["description"]),
                        format!("v{}", s["version"]),
                    ]
                })
                .collect();
            ctx.out.print(&list, || {
                table(&["KEY", "WHEN", "DESCRIPTION", "VERSION"], &rows)
            });
        }
        SegmentsCommand::Create(args) => {
            let body = body(&args, "")?;
            let created = ctx
                .api
                .call(Method::PUT, &path(&args.key)?, Some(&body))
                .await?;
            ctx.out.print(&created, || {
                format!(
                    "created segment {} (v{}): {}",
                    args.key,
                    created["version"],
                    constraints_cell(&created)
                )
            });
        }
        SegmentsCommand::Edit(args) => {
            let at = path(&args.key)?;
            let current = ctx.api.get(&at).await?;
            let mut body = body(&args, current["description"].as_str().unwrap_or(""))?;
            body["expected_version"] = current["version"].clone();
            let edited = ctx.api.call(Method::PUT, &at, Some(&body)).await?;
            ctx.out.print(&edited, || {
                format!(
                    "segment {} {} → {} (v{} → v{})",
                    args.key,
                    constraints_cell(&current),
                    constraints_cell(&edited),
                    current["version"],
                    edited["version"]
                )
            });
        }
        SegmentsCommand::Delete { key, reason } => {
            let at = path(&key)?;
            let current = ctx.api.get(&at).await?;
            confirm(
                &format!("delete segment {key} (v{})", current["version"]),
                ctx.yes,
            )?;
            let body = json!({"expected_version": current["version"], "reason": reason});
            let deleted = ctx.api.call(Method::DELETE, &at, Some(&body)).await?;
            ctx.out.print(&deleted, || {
                format!("deleted segment {key} (was v{})", current["version"])
            });
        }
    }
    Ok(())
}
