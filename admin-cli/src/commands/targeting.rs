//! Edits of what a flag serves beyond on/off and whom its rules include: `variants set|clear`,
//! `rules add|remove|move|list`, `requires`. Each is a read-modify-write through the same
//! versioned edit as `rollout` (a concurrent change is retried on the new version, never
//! forced); the server validates the result whole.

use clap::{Args, Subcommand};
use serde_json::Value;
use switchyard_core::constraint::{Constraint, ConstraintSpec};
use switchyard_core::{FlagPatch, FlagVariant, Requirement, Rule};

use super::edit::{edit, report};
use super::flag_path;
use crate::Ctx;
use crate::error::CliError;
use crate::output::table;

/// `variants set|clear`.
#[derive(Debug, Subcommand)]
pub enum VariantsCommand {
    /// Serve values: each variant as NAME=JSON:WEIGHT (weights sum to 1000), e.g.
    /// `blue='"#0055ff"':500 green='"#00aa55"':500 --off '"#888888"'`.
    Set {
        /// The flag's key.
        flag: String,
        /// The variants, NAME=JSON:WEIGHT.
        #[arg(required = true)]
        variants: Vec<String>,
        /// The value served when off (JSON, the variants' type).
        #[arg(long = "off", value_name = "JSON")]
        off_value: String,
    },
    /// Serve on/off again: no variants, no off value (rules must pin none).
    Clear {
        /// The flag's key.
        flag: String,
    },
}

/// `rules add|remove|move|list`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Add a rule (last, or at --at): on for contexts matching every --when and --segment,
    /// within --rollout.
    Add(RuleArgs),
    /// Remove the rule NAME.
    Remove {
        /// The flag's key.
        flag: String,
        /// The rule's name.
        name: String,
    },
    /// Move the rule NAME to position TO (1 is first: rules are tried in order).
    Move {
        /// The flag's key.
        flag: String,
        /// The rule's name.
        name: String,
        /// Its new position, from 1.
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        to: u32,
    },
    /// The flag's rules, in order, as a table.
    List {
        /// The flag's key.
        flag: String,
    },
}

/// `rules add FLAG NAME [--when 'ATTR OP VALUE[,VALUE]']… [--segment KEY]… [--rollout N]
/// [--variant NAME] [--at POS]`.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The flag's key.
    pub flag: String,
    /// The rule's name (unique within the flag).
    pub name: String,
    /// A constraint: `ATTRIBUTE OPERATOR VALUES`, e.g. `plan IN pro,team` or
    /// `app_version SEMVER_GT 2.2.9`; prefix the operator with `!` to invert it.
    #[arg(long = "when", value_name = "CONSTRAINT")]
    pub constraints: Vec<String>,
    /// A segment the context must be in.
    #[arg(long = "segment", value_name = "KEY")]
    pub segments: Vec<String>,
    /// The share of matching contexts included, 0–100 [default: 100].
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub rollout: Option<u32>,
    /// The flag variant the rule serves (a pin).
    #[arg(long)]
    pub variant: Option<String>,
    /// Where to put it, from 1 [default: last].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub at: Option<u32>,
}

/// `requires FLAG [PARENT[=off][:VARIANT,VARIANT]]…` (none: clear).
#[derive(Debug, Args)]
pub struct RequiresArgs {
    /// The flag's key.
    pub flag: String,
    /// The flags it requires: `PARENT` (on), `PARENT=off`, `PARENT:v1,v2` (on, serving v1 or
    /// v2). None clears the list.
    pub requires: Vec<String>,
}

/// `NAME=JSON:WEIGHT` as a variant.
fn variant(text: &str) -> Result<FlagVariant, CliError> {
    let usage = || CliError::Usage(format!("{text:?}: give a variant as NAME=JSON:WEIGHT"));
    let (name, rest) = text.split_once('=').ok_or_else(usage)?;
    let (json, weight) = rest.rsplit_once(':').ok_or_else(usage)?;
    let value = serde_json::from_str(json).map_err(|e| {
        CliError::Usage(format!(
            "{name}: {json:?} is not JSON ({e}); quote a string, e.g. '\"blue\"'"
        ))
    })?;
    let weight = weight
        .parse()
        .map_err(|_| CliError::Usage(format!("{name}: weight {weight:?} is not 0–1000")))?;
    Ok(FlagVariant {
        name: name.to_owned(),
        value,
        weight,
    })
}

/// `ATTRIBUTE OPERATOR VALUES` (`!OPERATOR` inverted) as a constraint, checked as the server
/// checks it.
pub(super) fn constraint(text: &str) -> Result<Constraint, CliError> {
    let mut parts = text
        .splitn(3, char::is_whitespace)
        .filter(|p| !p.is_empty());
    let (Some(attribute), Some(operator), Some(values)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(CliError::Usage(format!(
            "{text:?}: give a constraint as 'ATTRIBUTE OPERATOR VALUES', e.g. 'plan IN pro,team'"
        )));
    };
    let (inverted, operator) = match operator.strip_prefix('!') {
        Some(op) => (true, op),
        None => (false, operator),
    };
    let operator = operator.to_ascii_uppercase();
    let list = matches!(
        operator.as_str(),
        "IN" | "NOT_IN" | "STR_CONTAINS" | "STR_STARTS_WITH" | "STR_ENDS_WITH"
    );
    let values = values.trim();
    let spec = ConstraintSpec {
        attribute: attribute.to_owned(),
        operator,
        values: if list {
            values.split(',').map(|v| v.trim().to_owned()).collect()
        } else {
            Vec::new()
        },
        value: (!list).then(|| values.to_owned()),
        case_insensitive: false,
        inverted,
    };
    Constraint::new(spec).map_err(|e| CliError::Usage(format!("{text:?}: {e}")))
}

/// `PARENT`, `PARENT=off`, `PARENT:v1,v2` as a requirement.
fn requirement(text: &str) -> Requirement {
    let (head, variants) = match text.split_once(':') {
        Some((head, list)) => (head, list.split(',').map(str::to_owned).collect()),
        None => (text, Vec::new()),
    };
    let (flag, enabled) = match head.split_once('=') {
        Some((flag, state)) => (flag, !matches!(state, "off" | "false")),
        None => (head, true),
    };
    Requirement {
        variants,
        enabled,
        ..Requirement::on(flag)
    }
}

/// A rule's (or a segment's) constraints as one readable cell.
pub(super) fn constraints_cell(rule: &Value) -> String {
    let shown: Vec<String> = rule["constraints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let values = match c["value"].as_str() {
                Some(v) => v.to_owned(),
                None => {
                    let all = c["values"].as_array().cloned().unwrap_or_default();
                    let mut shown: Vec<String> = all
                        .iter()
                        .take(3)
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                    if all.len() > 3 {
                        shown.push(format!("… ({} values)", all.len()));
                    }
                    shown.join(",")
                }
            };
            let not = if c["inverted"] == true { "!" } else { "" };
            format!(
                "{} {not}{} {values}",
                c["attribute"].as_str().unwrap_or("?"),
                c["operator"].as_str().unwrap_or("?")
            )
        })
        .collect();
    if shown.is_empty() {
        "everyone".into()
    } else {
        shown.join(" and ")
    }
}

/// The rules of `flag` (as the server sent it) as a table.
pub fn rules_table(flag: &Value) -> String {
    let rows: Vec<Vec<String>> = flag["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, rule)| {
            let segments = rule["segments"].as_array().map_or("-".to_owned(), |s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let serves = match (&rule["variant"], rule["variants"].as_array()) {
                (Value::String(v), _) => v.clone(),
                (_, Some(own)) => format!("own split of {}", own.len()),
                _ => "flag's split".into(),
            };
            vec![
                (i + 1).to_string(),
                rule["name"].as_str().unwrap_or("?").to_owned(),
                constraints_cell(rule),
                segments,
                format!("{}%", rule["rollout_percentage"]),
                serves,
            ]
        })
        .collect();
    if rows.is_empty() {
        return format!(
            "{} has no rules (the base rollout is {}%)",
            flag["key"].as_str().unwrap_or("?"),
            flag["rollout_percentage"]
        );
    }
    table(
        &["#", "RULE", "WHEN", "SEGMENTS", "ROLLOUT", "SERVES"],
        &rows,
    )
}

/// `variants set|clear`.
pub async fn variants(ctx: &Ctx, cmd: VariantsCommand) -> Result<(), CliError> {
    let (key, wanted, off_value) = match cmd {
        VariantsCommand::Set {
            flag,
            variants,
            off_value,
        } => {
            let wanted = variants
                .iter()
                .map(|v| variant(v))
                .collect::<Result<Vec<_>, _>>()?;
            let off: Value = serde_json::from_str(&off_value)
                .map_err(|e| CliError::Usage(format!("--off {off_value:?} is not JSON ({e})")))?;
            (flag, wanted, Some(off))
        }
        VariantsCommand::Clear { flag } => (flag, Vec::new(), None),
    };
    let (before, after, _) = edit(ctx, &key, |f| {
        (f.variants != wanted || f.off_value != off_value).then(|| FlagPatch {
            variants: Some(wanted.clone()),
            off_value: Some(off_value.clone()),
            ..FlagPatch::default()
        })
    })
    .await?;
    let shown = |f: &Value| match f["variants"].as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|v| {
                format!(
                    "{}={}:{}",
                    v["name"].as_str().unwrap_or("?"),
                    v["value"],
                    v["weight"]
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => "on/off".into(),
    };
    report(ctx, &key, "variants", shown, &before, &after);
    Ok(())
}

/// What a `rules` command does to a flag's rules (an error: why it cannot).
type RulesChange = Box<dyn Fn(&[Rule]) -> Result<Vec<Rule>, String>>;

/// `rules add|remove|move|list`.
pub async fn rules(ctx: &Ctx, cmd: RulesCommand) -> Result<(), CliError> {
    let (key, change): (String, RulesChange) = match cmd {
        RulesCommand::List { flag } => {
            let found = ctx.api.get(&flag_path(&flag)?).await?;
            ctx.out.print(&found["rules"], || rules_table(&found));
            return Ok(());
        }
        RulesCommand::Add(args) => {
            let mut rule = Rule::new(args.name.clone());
            rule.constraints = args
                .constraints
                .iter()
                .map(|c| constraint(c))
                .collect::<Result<_, _>>()?;
            rule.segments = args.segments.clone();
            rule.rollout_percentage = args.rollout.unwrap_or(100);
            rule.variant = args.variant.clone();
            let at = args.at;
            (
                args.flag,
                Box::new(move |rules: &[Rule]| {
                    if rules.iter().any(|r| r.name == rule.name) {
                        return Err(format!("a rule is already named {:?}", rule.name));
                    }
                    let mut rules = rules.to_vec();
                    let at = at.map_or(rules.len(), |p| (p as usize - 1).min(rules.len()));
                    rules.insert(at, rule.clone());
                    Ok(rules)
                }),
            )
        }
        RulesCommand::Remove { flag, name } => (
            flag,
            Box::new(move |rules: &[Rule]| {
                let kept: Vec<Rule> = rules.iter().filter(|r| r.name != name).cloned().collect();
                if kept.len() == rules.len() {
                    return Err(format!("no rule is named {name:?}"));
                }
                Ok(kept)
            }),
        ),
        RulesCommand::Move { flag, name, to } => (
            flag,
            Box::new(move |rules: &[Rule]| {
                let from = rules
                    .iter()
                    .position(|r| r.name == name)
                    .ok_or_else(|| format!("no rule is named {name:?}"))?;
                let mut rules = rules.to_vec();
                let rule = rules.remove(from);
                let to = (to as usize - 1).min(rules.len());
                rules.insert(to, rule);
                Ok(rules)
            }),
        ),
    };
    // The change is worked out on each version read; a refusal stops the edit.
    let refused = std::sync::Mutex::new(None);
    let (before, after, _) = edit(ctx, &key, |f| match change(&f.rules) {
        Ok(rules) => (rules != f.rules).then(|| FlagPatch {
            rules: Some(rules),
            ..FlagPatch::default()
        }),
        Err(why) => {
            *refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
            None
        }
    })
    .await?;
    if let Some(why) = refused.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(CliError::Usage(format!("{key}: {why}")));
    }
    let names = |f: &Value| {
        let names: Vec<&str> = f["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    report(ctx, &key, "rules", names, &before, &after);
    if !ctx.out.json {
        println!("{}", rules_table(&after));
    }
    Ok(())
}

/// `requires FLAG [PARENT…]`.
pub async fn requires(ctx: &Ctx, args: RequiresArgs) -> Result<(), CliError> {
    let wanted: Vec<Requirement> = args.requires.iter().map(|r| requirement(r)).collect();
    let (before, after, _) = edit(ctx, &args.flag, |f| {
        (f.requires != wanted).then(|| FlagPatch {
            requires: Some(wanted.clone()),
            ..FlagPatch::default()
        })
    })
    .await?;
    let shown = |f: &Value| {
        let list: Vec<String> = f["requires"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let off = if r["enabled"] == false { "=off" } else { "" };
                let variants = r["variants"].as_array().map_or(String::new(), |v| {
                    let names: Vec<&str> = v.iter().filter_map(Value::as_str).collect();
                    format!(":{}", names.join(","))
                });
                format!("{}{off}{variants}", r["flag"].as_str().unwrap_or("?"))
            })
            .collect();
        if list.is_empty() {
            "nothing".to_owned()
        } else {
            list.join(" ")
        }
    };
    report(ctx, &args.flag, "requires", shown, &before, &after);
    Ok(())
}
