//! `switchyard eval`: a decision from the server, or `--offline` from an export file with
//! `switchyard-core` (the same engine), to check a rollout without touching production.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use switchyard_core::{Context, Export, Reason, Snapshot};

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
    /// Another context attribute a rule may compare, NAME=VALUE (repeatable), e.g.
    /// `--attr plan=beta --attr app_version=2.4.0`.
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    pub attributes: Vec<String>,
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
    let state = if answer["enabled"] == true {
        "ON"
    } else {
        "off"
    };
    // A boolean flag's value is its state; a flag with variants shows the variant and value.
    let served = match (&answer["value"], answer["variant"].as_str()) {
        (Value::Bool(_), Some("on" | "off")) | (Value::Null, _) => String::new(),
        (value, variant) => format!(" serving {} = {value}", variant.unwrap_or("?")),
    };
    let rule = answer["rule"]
        .as_str()
        .map_or(String::new(), |r| format!(", rule {r:?}"));
    format!(
        "{flag} for {who}{market}: {state}{served} ({}{rule}, v{}){source}",
        answer["reason"].as_str().unwrap_or("?"),
        answer["version"]
    )
}

/// The evaluation context: user, market and every `--attr`.
fn context(args: &EvalArgs) -> Result<serde_json::Map<String, Value>, CliError> {
    let mut context = serde_json::Map::new();
    context.insert("user_id".into(), json!(args.user));
    context.insert("market".into(), json!(args.market));
    for attr in &args.attributes {
        let (name, value) = attr
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--attr {attr:?}: give it as NAME=VALUE")))?;
        context.insert(name.to_owned(), json!(value));
    }
    Ok(context)
}

/// Runs `eval`.
pub async fn run(ctx: &Ctx, args: EvalArgs) -> Result<(), CliError> {
    check_key(&args.flag)?;
    let context = Value::Object(context(&args)?);
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
    let body = context.to_string();
    let ctx_core: Context<'_> = serde_json::from_str(&body)
        .map_err(|e| CliError::Usage(format!("the context is refused: {e}")))?;
    switchyard_core::validate_context(&ctx_core)
        .map_err(|e| CliError::Usage(format!("the context is refused: {e}")))?;
    let ctx_core = if snapshot.uses_clock() {
        ctx_core.at(std::time::SystemTime::now().into())
    } else {
        ctx_core
    };
    let decision = snapshot.evaluate(&args.flag, &ctx_core);
    let Some(flag) = snapshot
        .get(&args.flag)
        .filter(|_| decision.reason != Reason::FlagNotFound)
    else {
        return Err(CliError::NotFound(format!(
            "not found: {} has no flag {:?}",
            path.display(),
            args.flag
        )));
    };
    let mut answer = serde_json::to_value(decision).unwrap_or_default();
    answer["flag"] = json!(args.flag);
    answer["variant"] = json!(flag.variant_name(&decision));
    answer["value"] = flag.value(&decision).clone();
    if let Some(rule) = flag.rule_name(&decision) {
        answer["rule"] = json!(rule);
    }
    let source = format!(" [offline, from {}]", path.display());
    ctx.out
        .print(&answer, || line(&args.flag, &args, &answer, &source));
    Ok(())
}
