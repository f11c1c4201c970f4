//! `switchyard tokens create|list|revoke` (admin role).

use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::json;

use crate::Ctx;
use crate::error::CliError;
use crate::output::{cell, table};

/// A token's role.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Role {
    /// Evaluate, snapshot, stream, OFREP.
    Sdk,
    /// + read flags, history, audit, export.
    Viewer,
    /// + flip kill switches.
    Responder,
    /// + create, change, roll back flags.
    Editor,
    /// + delete, import, manage tokens.
    Admin,
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token; it is shown once, only its hash is kept.
    Create {
        /// A unique name: the actor in the audit trail.
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: Role,
    },
    /// Every stored token (never the secret).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The token's id (see `tokens list`).
        id: String,
    },
}

/// Runs a tokens command.
pub async fn run(ctx: &Ctx, cmd: TokensCommand) -> Result<(), CliError> {
    match cmd {
        TokensCommand::Create { name, role } => {
            let role = format!("{role:?}").to_ascii_lowercase();
            let issued = ctx
                .api
                .post("/v1/tokens", &json!({"name": name, "role": role}))
                .await?;
            ctx.out.print(&issued, || {
                format!(
                    "created token {name} ({role}, id {})\n{}\nthis is the only time it is shown: store it now",
                    cell(&issued["id"]),
                    cell(&issued["token"])
                )
            });
        }
        TokensCommand::List => {
            let list = ctx.api.get("/v1/tokens").await?;
            let rows: Vec<Vec<String>> = list["tokens"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    vec![
                        cell(&t["id"]),
                        cell(&t["name"]),
                        cell(&t["role"]),
                        cell(&t["created_at"]),
                        cell(&t["created_by"]),
                    ]
                })
                .collect();
            ctx.out.print(&list, || {
                table(&["ID", "NAME", "ROLE", "CREATED", "BY"], &rows)
            });
        }
        TokensCommand::Revoke { id } => {
            ctx.api
                .call(Method::DELETE, &format!("/v1/tokens/{id}"), None)
                .await?;
            ctx.out
                .print(&json!({"revoked": id}), || format!("revoked token {id}"));
        }
    }
    Ok(())
}
