//! `switchyard`, the admin CLI: every operator and responder task against a Switchyard server,
//! with before → after output, confirmation of dangerous commands, versioned edits, and exit
//! codes a script can rely on.
//!
//! # Layout
//! - [`cli`]: the clap definitions (global options, commands).
//! - [`commands`]: one module per command group, each an `Args` type and a `run`.
//! - [`client`]: the HTTP client; every server answer mapped to a `CliError`.
//! - [`error`]: `CliError` and its exit codes.
//! - [`output`]: tables, before → after lines, `--json`.
//! - [`confirm`]: the confirmation prompt.
//! - [`profile`]: named servers and tokens from a config file.

pub mod cli;
pub mod client;
pub mod commands;
pub mod confirm;
pub mod error;
pub mod output;
pub mod profile;

use cli::{Cli, Command};
use client::Api;
use error::CliError;
use output::Output;

/// What every command gets: the server, how to print, whether to skip confirmations.
pub struct Ctx {
    /// The server.
    pub api: Api,
    /// How to print.
    pub out: Output,
    /// `--yes`.
    pub yes: bool,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    let profile = match &global.profile {
        Some(name) => Some(profile::load(name, global.config.clone())?),
        None => None,
    };
    let url = global
        .url
        .or_else(|| profile.as_ref().and_then(|p| p.url.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let token = global.token.or_else(|| profile.and_then(|p| p.token));
    let ctx = Ctx {
        api: Api::new(&url, token)?,
        out: Output { json: global.json },
        yes: global.yes,
    };
    let key = cli.command.flag_key().map(str::to_owned);
    let result = match cli.command {
        Command::Flags(cmd) => commands::flags::run(&ctx, cmd).await,
        Command::Enable(args) => commands::edit::enable(&ctx, args, true).await,
        Command::Disable(args) => commands::edit::enable(&ctx, args, false).await,
        Command::Rollout(args) => commands::edit::rollout(&ctx, args).await,
        Command::Whitelist(cmd) => commands::edit::whitelist(&ctx, cmd).await,
        Command::Markets(cmd) => commands::edit::markets(&ctx, cmd).await,
        Command::Variants(cmd) => commands::targeting::variants(&ctx, cmd).await,
        Command::Rules(cmd) => commands::targeting::rules(&ctx, cmd).await,
        Command::Segments(cmd) => commands::segments::run(&ctx, cmd).await,
        Command::Requires(args) => commands::targeting::requires(&ctx, args).await,
        Command::Kill(args) => commands::kill::kill(&ctx, args).await,
        Command::Unkill(args) => commands::kill::unkill(&ctx, args).await,
        Command::Status => commands::status::run(&ctx).await,
        Command::Fleet => commands::fleet::show(&ctx).await,
        Command::Audit(args) => commands::audit::run(&ctx, args).await,
        Command::History(args) => commands::backup::history(&ctx, args).await,
        Command::Rollback(args) => commands::backup::rollback(&ctx, args).await,
        Command::Export(args) => commands::backup::export(&ctx, args).await,
        Command::Import(args) => commands::backup::import(&ctx, args).await,
        Command::Eval(args) => commands::eval::run(&ctx, args).await,
        Command::Tokens(cmd) => commands::tokens::run(&ctx, cmd).await,
        Command::Plan(cmd) => commands::plan::run(&ctx, cmd).await,
        Command::Completions(args) => {
            commands::completions::run(args, <Cli as clap::CommandFactory>::command())
        }
    };
    match (result, key) {
        (Err(CliError::NotFound(message)), Some(key)) => {
            Err(CliError::NotFound(match did_you_mean(&ctx, &key).await {
                Some(near) => format!("{message}; did you mean {near}?"),
                None => message,
            }))
        }
        (result, _) => result,
    }
}

/// The existing flag key nearest to `key` (a typo or two away), if there is one.
async fn did_you_mean(ctx: &Ctx, key: &str) -> Option<String> {
    let list = ctx.api.get("/v1/flags").await.ok()?;
    let keys = list["flags"]
        .as_array()?
        .iter()
        .filter_map(|f| f["key"].as_str());
    let (distance, near) = keys
        .map(|k| (strsim::levenshtein(key, k), k))
        .filter(|(d, k)| *d > 0 && *k != key)
        .min()?;
    (distance <= (key.len() / 3).max(2)).then(|| near.to_owned())
}
