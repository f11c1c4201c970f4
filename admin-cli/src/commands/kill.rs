//! `kill` and `unkill`, the responder's commands. After flipping a switch they ask the server
//! to evaluate and print what it now answers, then wait until every instance and SDK serves
//! the change (`fleet::verify`): proof that it took, everywhere.

use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::flag_path;
use super::fleet::{WaitArg, verify as verify_fleet};
use crate::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::change;

/// `kill FLAG --reason R` or `kill --global --reason R`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The flag to kill.
    #[arg(required_unless_present = "global", conflicts_with = "global")]
    pub flag: Option<String>,
    /// Kill every flag (asks for confirmation).
    #[arg(long)]
    pub global: bool,
    /// Why, for the audit trail (required).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub wait: WaitArg,
}

/// `unkill FLAG` or `unkill --global`.
#[derive(Debug, Args)]
pub struct UnkillArgs {
    /// The flag to bring back.
    #[arg(required_unless_present = "global", conflicts_with = "global")]
    pub flag: Option<String>,
    /// Lift the global kill switch.
    #[arg(long)]
    pub global: bool,
    /// Why, for the audit trail.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub wait: WaitArg,
}

/// Proof that the flip took: what the server answers now for `flag`, judged by what the
/// command changed. Killed, the answer must be `KILL_SWITCH`; lifted, it must no longer be
/// (the flag's own targeting decides again, whatever it says for a caller with no user).
async fn verify(ctx: &Ctx, flag: &str, active: bool) -> Result<String, CliError> {
    let answer = ctx
        .api
        .post("/v1/evaluate", &json!({"flag": flag, "context": {}}))
        .await;
    let answer = match answer {
        Err(CliError::NotFound(_)) => return Ok(String::new()),
        other => other?,
    };
    let reason = answer["reason"].as_str().unwrap_or("?");
    Ok(match (active, reason) {
        (true, "KILL_SWITCH") => {
            format!("verified: the server now answers {flag} off for everyone (KILL_SWITCH)")
        }
        (false, r) if r != "KILL_SWITCH" && r != "GLOBAL_KILL_SWITCH" => format!(
            "verified: the server no longer applies {flag}'s kill switch (its targeting decides: {r})"
        ),
        (false, "GLOBAL_KILL_SWITCH") => format!(
            "verified: {flag}'s own kill switch is off; the global kill switch still holds every flag off"
        ),
        (_, r) => format!("warning: the server answers {flag} with {r}: check `switchyard status`"),
    })
}

/// Prints the change and the evaluation's proof, then the fleet's: a fleet that did not
/// follow in time is an error (exit 7) after the change is shown.
fn report(
    ctx: &Ctx,
    after: &Value,
    text: String,
    fleet: Result<String, CliError>,
) -> Result<(), CliError> {
    match fleet {
        Ok(line) => {
            ctx.out.print(after, || format!("{text}\n{line}"));
            Ok(())
        }
        Err(e) => {
            ctx.out.print(after, || text);
            Err(e)
        }
    }
}

async fn flip_flag(
    ctx: &Ctx,
    key: &str,
    active: bool,
    reason: Option<String>,
    wait: &WaitArg,
) -> Result<(), CliError> {
    let path = flag_path(key)?;
    let before = ctx
        .api
        .get(&path)
        .await
        .map_err(|e| e.needing("responder"))?;
    let written = ctx
        .api
        .call_written(
            Method::POST,
            &format!("{path}/kill"),
            Some(&json!({"active": active, "reason": reason})),
        )
        .await?;
    let after = written.json;
    let proof = verify(ctx, key, active).await?;
    let fleet = verify_fleet(ctx, written.snapshot_version, wait).await;
    let shown = |f: &Value| {
        if f["kill_switch"].as_bool() == Some(true) {
            "ON".to_owned()
        } else {
            "off".to_owned()
        }
    };
    let text = format!(
        "{}\n{proof}",
        change(
            key,
            "kill switch",
            &shown(&before),
            &shown(&after),
            &before,
            &after
        )
    );
    report(ctx, &after, text, fleet)
}

async fn flip_global(
    ctx: &Ctx,
    active: bool,
    reason: Option<String>,
    wait: &WaitArg,
) -> Result<(), CliError> {
    let before = ctx
        .api
        .get("/v1/kill-switch")
        .await
        .map_err(|e| e.needing("responder"))?;
    let written = ctx
        .api
        .call_written(
            Method::POST,
            "/v1/kill-switch",
            Some(&json!({"active": active, "reason": reason})),
        )
        .await?;
    let after = written.json;
    // Rule 1 answers every key, known or not: any key proves the global switch took.
    let answer = ctx
        .api
        .post(
            "/v1/evaluate",
            &json!({"flag": "switchyard-cli-probe", "context": {}}),
        )
        .await;
    let proof = match (active, answer) {
        (true, Ok(a)) if a["reason"] == "GLOBAL_KILL_SWITCH" => {
            "verified: the server answers every flag off (GLOBAL_KILL_SWITCH)".to_owned()
        }
        (false, Err(CliError::NotFound(_))) => {
            "verified: the server no longer applies the global kill switch".to_owned()
        }
        (_, Ok(a)) => format!(
            "warning: the server answers {} — check `switchyard status`",
            a["reason"]
        ),
        (_, Err(e)) => format!("warning: could not verify ({e})"),
    };
    let shown = |k: &Value| {
        if k["active"].as_bool() == Some(true) {
            "ON"
        } else {
            "off"
        }
    };
    let fleet = verify_fleet(ctx, written.snapshot_version, wait).await;
    let why = after["reason"]
        .as_str()
        .map(|r| format!(", reason: {r}"))
        .unwrap_or_default();
    let text = format!(
        "global kill switch {} → {} (by {}{why})\n{proof}",
        shown(&before),
        shown(&after),
        after["set_by"].as_str().unwrap_or("?")
    );
    report(ctx, &after, text, fleet)
}

/// `kill`.
pub async fn kill(ctx: &Ctx, args: KillArgs) -> Result<(), CliError> {
    if args.reason.trim().is_empty() {
        return Err(CliError::Usage(
            "--reason must say why (it goes to the audit trail)".into(),
        ));
    }
    match args.flag {
        Some(flag) => flip_flag(ctx, &flag, true, Some(args.reason), &args.wait).await,
        None => {
            confirm(
                "turn every flag off for everyone (global kill switch)",
                ctx.yes,
            )?;
            flip_global(ctx, true, Some(args.reason), &args.wait).await
        }
    }
}

/// `unkill`.
pub async fn unkill(ctx: &Ctx, args: UnkillArgs) -> Result<(), CliError> {
    match args.flag {
        Some(flag) => flip_flag(ctx, &flag, false, args.reason, &args.wait).await,
        None => flip_global(ctx, false, args.reason, &args.wait).await,
    }
}
