//! `switchyard plan`: release plans (docs/api.md#release-plans) from the terminal. `start` builds the plan from
//! `--stages 5:24h,25:48h,50:7d,100`, `--guard 'NAME:QUERY>THRESHOLD for 10m'` and
//! `--on-trip`, or from `--template standard` (whose parts the other options override), and
//! asks for confirmation (the plan will take the flag to its last stage unattended).
//! `status` prints one progress line per plan; `pause`, `resume`, `advance` and `abort` act
//! on one.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use switchyard_core::plan::Span;

use super::flag_path;
use crate::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;

/// `plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Start a release plan on a flag.
    Start(StartArgs),
    /// Every plan's progress (or one flag's): stage, time left, each guard's reading.
    Status {
        /// Only this flag's plan.
        flag: Option<String>,
    },
    /// Stop a running plan where it is; `resume` goes on with the hold that was left.
    Pause(ActArgs),
    /// Go on with a paused (or tripped) plan.
    Resume(ActArgs),
    /// Move to the next stage now, if every guard reads ok.
    Advance(ActArgs),
    /// Stop the plan for good; the percentage stays where it is.
    Abort(ActArgs),
}

/// `plan start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The flag.
    pub flag: String,
    /// Start from a template (`standard`: 0 % 24h, 5 % 48h, 25 % 72h, 50 % 7d, 100 %, with
    /// the server's 5xx and p95 guards, kill on trip).
    #[arg(long)]
    pub template: Option<String>,
    /// Stages as PERCENT:HOLD, comma-separated; the last needs no hold (e.g. 5:24h,25:48h,100).
    #[arg(long)]
    pub stages: Option<String>,
    /// A guard, 'NAME:QUERY>THRESHOLD [for DURATION]' (repeatable; replaces the template's).
    #[arg(long = "guard")]
    pub guards: Vec<String>,
    /// What a guard's trip does: pause, rollback or kill.
    #[arg(long, value_parser = ["pause", "rollback", "kill"])]
    pub on_trip: Option<String>,
    /// Walk this rule's percentage instead of the flag's base rollout.
    #[arg(long)]
    pub rule: Option<String>,
    /// Why, for the audit trail.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `plan pause|resume|advance|abort FLAG`.
#[derive(Debug, Args)]
pub struct ActArgs {
    /// The flag.
    pub flag: String,
    /// Why, for the audit trail.
    #[arg(long)]
    pub reason: Option<String>,
}

fn span(text: &str, what: &str) -> Result<String, CliError> {
    let span: Span = text
        .parse()
        .map_err(|e| CliError::Usage(format!("{what}: {e}")))?;
    Ok(span.to_string())
}

/// `5:24h,25:48h,100` as the API's stages.
fn parse_stages(text: &str) -> Result<Value, CliError> {
    let stages = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|stage| {
            let (percent, hold) = match stage.split_once(':') {
                Some((p, h)) => (p, Some(h)),
                None => (stage, None),
            };
            let percent: u32 = percent
                .trim()
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--stages: {stage:?} must be PERCENT (0-100) or PERCENT:HOLD, e.g. 5:24h"
                    ))
                })?;
            let mut stage = json!({"rollout_percentage": percent});
            if let Some(hold) = hold {
                stage["hold"] = json!(span(hold, &format!("--stages {percent}"))?);
            }
            Ok(stage)
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    if stages.is_empty() {
        return Err(CliError::Usage("--stages lists no stage".into()));
    }
    Ok(Value::Array(stages))
}

/// `5xx:QUERY>0.05 for 10m` as the API's guard.
fn parse_guard(text: &str) -> Result<Value, CliError> {
    let usage = || {
        CliError::Usage(format!(
            "--guard {text:?}: write NAME:QUERY>THRESHOLD, optionally followed by 'for 10m'"
        ))
    };
    let (name, rest) = text.split_once(':').ok_or_else(usage)?;
    let (query, tail) = rest.rsplit_once('>').ok_or_else(usage)?;
    let mut words = tail.split_whitespace();
    let threshold: f64 = words
        .next()
        .and_then(|t| t.parse().ok())
        .filter(|t: &f64| t.is_finite())
        .ok_or_else(usage)?;
    let mut guard = json!({
        "name": name.trim(),
        "prometheus": {"query": query.trim(), "above": threshold},
    });
    match (words.next(), words.next(), words.next()) {
        (None, _, _) => {}
        (Some("for"), Some(d), None) => guard["for"] = json!(span(d, &format!("--guard {name}"))?),
        _ => return Err(usage()),
    }
    Ok(guard)
}

/// `1d 3h`, `12m 5s`, `3s`: a duration as people read one.
fn left(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// One plan as one line: flag, state, stage, time left, guards.
pub fn progress(plan: &Value) -> String {
    let stages = plan["stages"].as_array().map_or(0, Vec::len);
    let stage = plan["stage"].as_u64().unwrap_or(0);
    let state = plan["state"].as_str().unwrap_or("?");
    let mut line = format!(
        "{}  {}  stage {}/{stages} at {} %",
        plan["flag"].as_str().unwrap_or("?"),
        if state == "tripped" { "TRIPPED" } else { state },
        stage + 1,
        plan["rollout_percentage"]
    );
    match (state, plan["hold_left_ms"].as_u64()) {
        ("running", Some(0)) => line.push_str(", hold passed (waiting on the guards)"),
        ("running", Some(ms)) => line.push_str(&format!(", next stage in {}", left(ms))),
        ("paused", Some(ms)) => line.push_str(&format!(", {} of hold left", left(ms))),
        _ => {}
    }
    if let Some(trip) = plan["tripped_by"].as_object() {
        line.push_str(&format!(
            ", by guard {}: {} above {} (on trip: {})",
            trip["guard"].as_str().unwrap_or("?"),
            trip["value"],
            trip["threshold"],
            plan["on_trip"].as_str().unwrap_or("?")
        ));
    }
    if let Some(note) = plan["note"].as_str() {
        line.push_str(&format!(" ({note})"));
    }
    let guards: Vec<String> = plan["guards"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let value = match g["value"].as_f64() {
                Some(v) => format!(" {v}"),
                None => String::new(),
            };
            // An impact guard: its rate ratio, p-value, and whether it has enough exposures.
            let test = match g["impact"].as_object() {
                Some(i) if i["enough"] == true => format!(", p={}", i["p_value"]),
                Some(i) => format!(
                    ", collecting: fewer than {} exposures in a cohort",
                    i["min_exposures"]
                ),
                None => String::new(),
            };
            format!(
                "{} {}{value} (trips above {}{test})",
                g["name"].as_str().unwrap_or("?"),
                g["status"].as_str().unwrap_or("?"),
                g["above"]
            )
        })
        .collect();
    if !guards.is_empty() {
        line.push_str(&format!("; guards: {}", guards.join(", ")));
    }
    line
}

/// Runs `plan …`.
pub async fn run(ctx: &Ctx, command: PlanCommand) -> Result<(), CliError> {
    match command {
        PlanCommand::Start(args) => start(ctx, args).await,
        PlanCommand::Status { flag } => {
            let plans = match &flag {
                Some(flag) => {
                    let one = ctx.api.get(&format!("{}/plan", flag_path(flag)?)).await?;
                    json!({"plans": [one]})
                }
                None => ctx.api.get("/v1/plans").await?,
            };
            ctx.out.print(&plans, || {
                let lines: Vec<String> = plans["plans"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(progress)
                    .collect();
                if lines.is_empty() {
                    "no release plans".to_owned()
                } else {
                    lines.join("\n")
                }
            });
            Ok(())
        }
        PlanCommand::Pause(args) => act(ctx, "pause", args).await,
        PlanCommand::Resume(args) => act(ctx, "resume", args).await,
        PlanCommand::Advance(args) => act(ctx, "advance", args).await,
        PlanCommand::Abort(args) => act(ctx, "abort", args).await,
    }
}

async fn start(ctx: &Ctx, args: StartArgs) -> Result<(), CliError> {
    let path = format!("{}/plan", flag_path(&args.flag)?);
    let mut body = json!({});
    if let Some(template) = &args.template {
        body["template"] = json!(template);
    }
    if let Some(stages) = &args.stages {
        body["stages"] = parse_stages(stages)?;
    }
    if !args.guards.is_empty() {
        let guards: Result<Vec<Value>, CliError> =
            args.guards.iter().map(|g| parse_guard(g)).collect();
        body["guards"] = Value::Array(guards?);
    }
    if let Some(on_trip) = &args.on_trip {
        body["on_trip"] = json!(on_trip);
    }
    if let Some(rule) = &args.rule {
        body["rule"] = json!(rule);
    }
    if args.template.is_none() && args.stages.is_none() {
        return Err(CliError::Usage(
            "plan start needs --stages (e.g. 5:24h,25:48h,100) or --template standard".into(),
        ));
    }
    if let Some(reason) = &args.reason {
        body["reason"] = json!(reason);
    }
    confirm(
        &format!(
            "start a release plan that takes {} through its stages by itself",
            args.flag
        ),
        ctx.yes,
    )?;
    let plan = ctx.api.call(Method::PUT, &path, Some(&body)).await?;
    ctx.out
        .print(&plan, || format!("plan started: {}", progress(&plan)));
    Ok(())
}

async fn act(ctx: &Ctx, action: &str, args: ActArgs) -> Result<(), CliError> {
    let path = format!("{}/plan/{action}", flag_path(&args.flag)?);
    let plan = ctx.api.post(&path, &json!({"reason": args.reason})).await?;
    ctx.out.print(&plan, || progress(&plan));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_guards_read_as_written() {
        assert_eq!(
            parse_stages("5:24h, 25:48h,50:7d,100").unwrap(),
            json!([
                {"rollout_percentage": 5, "hold": "24h"},
                {"rollout_percentage": 25, "hold": "48h"},
                {"rollout_percentage": 50, "hold": "7d"},
                {"rollout_percentage": 100}
            ])
        );
        for bad in ["", "101", "5:1w", "x:1h"] {
            assert!(parse_stages(bad).is_err(), "{bad:?}");
        }
        let guard = parse_guard("5xx:sum(rate(a[5m])) > 0 / b>0.05 for 10m").unwrap();
        assert_eq!(
            guard,
            json!({"name": "5xx", "prometheus": {"query": "sum(rate(a[5m])) > 0 / b", "above": 0.05}, "for": "10m"})
        );
        assert_eq!(parse_guard("p95:q>1").unwrap()["prometheus"]["above"], 1.0);
        for bad in ["noquery", "a:q", "a:q>x", "a:q>1 during 5m", "a:q>1 for"] {
            assert!(parse_guard(bad).is_err(), "{bad:?}");
        }
        assert_eq!(left(90_061_000), "1d 1h");
        assert_eq!(left(725_000), "12m 5s");
    }
}
