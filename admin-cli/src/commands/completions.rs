//! `switchyard completions bash|zsh|fish`: shell completions from the clap definition.

use clap::Args;
use clap_complete::Shell;

use crate::error::CliError;

/// `completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completions script of `command` (the CLI's own clap definition, handed in by
/// the dispatcher so this module needs no import of it).
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> Result<(), CliError> {
    clap_complete::generate(
        args.shell,
        &mut command,
        "switchyard",
        &mut std::io::stdout(),
    );
    Ok(())
}
