//! Confirmation of dangerous commands (global kill, delete, import, rollout to 100 %): asked
//! on a terminal; refused without `--yes` when stdin is not one, so a script never hangs.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::CliError;

/// Goes ahead when `yes`, or when a person at the terminal answers `y`; refuses otherwise.
pub fn confirm(what: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Aborted(format!(
            "refusing to {what} without --yes (not on a terminal, so nobody can confirm)"
        )));
    }
    eprint!("About to {what}. Proceed? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Aborted(format!("no answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Aborted(format!("did not {what}: not confirmed")))
    }
}
