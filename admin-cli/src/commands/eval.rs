//! `switchyard eval`: a decision from the server, or `--offline` from an export file with
//! `switchyard-core` (the same engine), to check a rollout without touching production.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use switchyard_core::{Context, Export, Snapshot};

use super::check_key;
use crate::Ctx;
use crate::error::CliError;

/// `eval FLAG [--user U] [--market M] [--offline --file EXPORT]`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The flag's key.
    pub flag: String,
    /// The user to evaluate for.
    #[arg(long)]
    pub user: Option<String>,
    /// The caller's market.
    #[arg(long)]
    pub market: Option<String>,
    /// Evaluate locally from --file instead of asking the server.
    #[arg(long, requires = "file")]
    pub offline: bool,
    /// An export file (`switchyard export`), for --offline.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

fn line(flag: &str, args: &EvalArgs, answer: &Value, source: &str) -> String {
    let who = args
        .user
        .as_deref()
        .map_or("no user".to_owned(), |u| format!("user {u}"));
    let market = args
        .market
        .as_deref()
        .map_or(String::new(), |m| format!(" in {m}"));
    format!(
        "{flag} for {who}{market}: {} ({}, v{}){source}",
        if answer["enabled"] == true {
            "ON"
        } else {
            "off"
        },
        answer["reason"].as_str().unwrap_or("?"),
        answer["version"]
    )
}

/// Runs `eval`.
pub async fn run(ctx: &Ctx, args: EvalArgs) -> Result<(), CliError> {
    check_key(&args.flag)?;
    let context = json!({"user_id": args.user, "market": args.market});
    if !args.offline {
        let answer = ctx
            .api
            .post(
                "/v1/evaluate",
                &json!({"flag": args.flag, "context": context}),
            )
            .await?;
        ctx.out
            .print(&answer, || line(&args.flag, &args, &answer, ""));
        return Ok(());
    }
    let path = args.file.clone().unwrap_or_default();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let export: Export = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not an export: {e}", path.display())))?;
    let snapshot = Snapshot::from_export(0, export);
    let mut ctx_core = Context::new();
    ctx_core.user_id = args.user.as_deref().map(Into::into);
    ctx_core.market = args.market.as_deref().map(Into::into);
    let decision = snapshot.evaluate(&args.flag, &ctx_core);
    if decision.reason == switchyard_core::Reason::FlagNotFound {
        return Err(CliError::NotFound(format!(
            "not found: {} has no flag {:?}",
            path.display(),
            args.flag
        )));
    }
    let mut answer = serde_json::to_value(decision).unwrap_or_default();
    answer["flag"] = json!(args.flag);
    let source = format!(" [offline, from {}]", path.display());
    ctx.out
        .print(&answer, || line(&args.flag, &args, &answer, &source));
    Ok(())
}
