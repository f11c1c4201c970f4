//! `switchyard tokens create|list|revoke` (admin role).

use clap::Subcommand;
use clap::builder::TypedValueParser as _;
use reqwest::Method;
use serde_json::json;
use switchyard_core::Role;

use crate::Ctx;
use crate::error::CliError;
use crate::output::{cell, table};

/// Parses `--role` with the core's one list of roles (the server's own).
fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    let names = Role::ALL.map(Role::as_str);
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<Role>())
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token; it is shown once, only its hash is kept.
    Create {
        /// A unique name: the actor in the audit trail.
        name: String,
        /// What it may do: sdk < viewer < responder < editor < admin.
        #[arg(long, value_parser = role_parser())]
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
