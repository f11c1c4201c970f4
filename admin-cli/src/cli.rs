//! The command line: global options and every command, as clap derive types. The doc
//! comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// The Switchyard operator's and incident responder's tool.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    after_help = "Exit codes: 0 done; 1 refused or not confirmed; 2 usage or invalid input; \
                  3 authentication or role (401/403); 4 not found; 5 conflict (a concurrent change); \
                  6 server or network error; 7 changed, but not every instance and SDK was seen \
                  serving it within 5 s."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The server's URL.
    #[arg(long, env = "SWITCHYARD_URL", global = true)]
    pub url: Option<String>,
    /// An API token (its role decides what it may do).
    #[arg(long, env = "SWITCHYARD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// A profile from the config file (url and token).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The config file holding profiles [default: ~/.config/switchyard/config.toml].
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Print the server's JSON objects instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not ask for confirmation (required for dangerous commands when not on a terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, show, create and delete flags.
    #[command(subcommand)]
    Flags(commands::flags::FlagsCommand),
    /// Turn a flag on (its targeting applies).
    Enable(commands::edit::FlagArg),
    /// Turn a flag off for everyone.
    Disable(commands::edit::FlagArg),
    /// Set a flag's rollout percentage (100 % asks for confirmation).
    Rollout(commands::edit::RolloutArgs),
    /// Add, remove or list whitelisted users.
    #[command(subcommand)]
    Whitelist(commands::edit::WhitelistCommand),
    /// Set or clear a flag's markets.
    #[command(subcommand)]
    Markets(commands::edit::MarketsCommand),
    /// Set or clear the values a flag serves (its variants, weights and off value).
    #[command(subcommand)]
    Variants(commands::targeting::VariantsCommand),
    /// Add, remove, move or list a flag's rules (tried in order, after the whitelist).
    #[command(subcommand)]
    Rules(commands::targeting::RulesCommand),
    /// Create, edit, delete or list segments (named lists of constraints rules refer to).
    #[command(subcommand)]
    Segments(commands::segments::SegmentsCommand),
    /// Set the flags a flag requires (none: clear): PARENT, PARENT=off, PARENT:v1,v2.
    Requires(commands::targeting::RequiresArgs),
    /// Kill a flag (or everything, with --global): off for everyone, at once.
    Kill(commands::kill::KillArgs),
    /// Lift a flag's (or the global) kill switch.
    Unkill(commands::kill::UnkillArgs),
    /// Server health, the global kill switch, and every flag at a glance.
    Status,
    /// Every instance and the SDKs streaming from it, with the version each serves.
    Fleet,
    /// The audit trail, oldest first; --follow keeps printing new entries.
    Audit(commands::audit::AuditArgs),
    /// A flag's versions, newest first.
    History(commands::edit::FlagArg),
    /// Make an earlier version of a flag current again.
    Rollback(commands::backup::RollbackArgs),
    /// Write every flag and the global kill switch (the backup format) to FILE or stdout.
    Export(commands::backup::ExportArgs),
    /// Restore a backup (shows what would change; --dry-run stops there).
    Import(commands::backup::ImportArgs),
    /// Evaluate a flag, on the server or --offline from an export file.
    Eval(commands::eval::EvalArgs),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Tokens(commands::tokens::TokensCommand),
    /// Release plans: start one, see every plan's progress, pause, resume, advance, abort.
    #[command(subcommand)]
    Plan(commands::plan::PlanCommand),
    /// Print shell completions.
    Completions(commands::completions::CompletionsArgs),
}

impl Command {
    /// The flag a command is about, when it names one: a 404 on it gets a "did you mean".
    pub fn flag_key(&self) -> Option<&str> {
        use commands::edit::{MarketsCommand, WhitelistCommand};
        use commands::flags::FlagsCommand;
        use commands::targeting::{RulesCommand, VariantsCommand};
        match self {
            Command::Flags(FlagsCommand::Get { flag } | FlagsCommand::Delete { flag, .. }) => {
                Some(flag)
            }
            Command::Enable(args) | Command::Disable(args) | Command::History(args) => {
                Some(&args.flag)
            }
            Command::Rollout(args) => Some(&args.flag),
            Command::Whitelist(
                WhitelistCommand::Add { flag, .. }
                | WhitelistCommand::Remove { flag, .. }
                | WhitelistCommand::List { flag },
            ) => Some(flag),
            Command::Markets(MarketsCommand::Set { flag, .. } | MarketsCommand::Clear { flag }) => {
                Some(flag)
            }
            Command::Variants(
                VariantsCommand::Set { flag, .. } | VariantsCommand::Clear { flag },
            ) => Some(flag),
            Command::Rules(
                RulesCommand::Remove { flag, .. }
                | RulesCommand::Move { flag, .. }
                | RulesCommand::List { flag },
            ) => Some(flag),
            Command::Rules(RulesCommand::Add(args)) => Some(&args.flag),
            Command::Requires(args) => Some(&args.flag),
            Command::Kill(args) => args.flag.as_deref(),
            Command::Unkill(args) => args.flag.as_deref(),
            Command::Rollback(args) => Some(&args.flag),
            Command::Eval(args) => Some(&args.flag),
            Command::Plan(commands::plan::PlanCommand::Start(args)) => Some(&args.flag),
            _ => None,
        }
    }
}
