//! A plan request made a plan: `PUT /v1/flags/{key}/plan`'s body, optionally starting from a
//! template whose parts the request overrides. The `standard` template is the rollout our
//! users plan by hand: 0 % (the whitelist only) for 24 h, 5 % for 48 h, 25 % for 72 h, 50 %
//! for 7 days, then 100 %; guarded by the 5xx ratio (above 5 % for 10 minutes) and the p95
//! latency (above 1 s for 10 minutes), both queries from the server's settings; a trip kills
//! the flag.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use switchyard_core::plan::{Guard, OnTrip, ReleasePlan, Span, Stage};
use switchyard_core::{Problem, ValidationError};

use crate::config::GuardSettings;

/// The body of `PUT /v1/flags/{key}/plan`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// A template to start from (`standard`).
    pub template: Option<String>,
    /// The stages (replace the template's).
    pub stages: Option<Vec<Stage>>,
    /// The guards (replace the template's).
    pub guards: Option<Vec<Guard>>,
    /// What a trip does (replaces the template's; `pause` without either).
    pub on_trip: Option<OnTrip>,
    /// The rule whose percentage the plan walks (the base rollout when absent).
    pub rule: Option<String>,
    /// Why, for the audit trail.
    pub reason: Option<String>,
}

/// The templates there are.
pub const TEMPLATES: [&str; 1] = ["standard"];

fn span(text: &str) -> Option<Span> {
    Some(text.parse().expect("the template's spans parse"))
}

/// The `standard` template for `flag`, with the guard queries of `settings` (`{flag}` in a
/// query is the flag's key).
pub fn standard(flag: &str, settings: &GuardSettings) -> (Vec<Stage>, Vec<Guard>, OnTrip) {
    let stage = |rollout_percentage, hold: Option<&str>| Stage {
        rollout_percentage,
        hold: hold.and_then(span),
    };
    let stages = vec![
        stage(0, Some("24h")),
        stage(5, Some("48h")),
        stage(25, Some("72h")),
        stage(50, Some("7d")),
        stage(100, None),
    ];
    let guard = |name: &str, query: &str, above| {
        Guard::on_prometheus(name, &query.replace("{flag}", flag), above, span("10m"))
    };
    let guards = vec![
        guard("5xx", &settings.error_ratio_query, 0.05),
        guard("p95", &settings.latency_p95_query, 1.0),
    ];
    (stages, guards, OnTrip::Kill)
}

/// Why a request cannot be a plan: every problem, as a validation error (400).
fn invalid(problems: Vec<Problem>) -> ValidationError {
    ValidationError { problems }
}

/// The plan `request` asks for on `flag`, starting `now`, or every problem with it.
/// Prometheus guards need a Prometheus (`prometheus_configured`).
pub fn build(
    flag: &str,
    request: PlanRequest,
    settings: &GuardSettings,
    prometheus_configured: bool,
    now: DateTime<Utc>,
) -> Result<ReleasePlan, ValidationError> {
    let (mut stages, mut guards, mut on_trip) = match request.template.as_deref() {
        None => (Vec::new(), Vec::new(), OnTrip::Pause),
        Some("standard") => standard(flag, settings),
        Some(other) => {
            return Err(invalid(vec![Problem::new(
                "template",
                format!("{other:?} is not a template: use one of {TEMPLATES:?}"),
            )]));
        }
    };
    if let Some(s) = request.stages {
        stages = s;
    }
    if let Some(g) = request.guards {
        guards = g;
    }
    if let Some(t) = request.on_trip {
        on_trip = t;
    }
    let plan = ReleasePlan {
        rule: request.rule,
        ..ReleasePlan::new(stages, guards, on_trip, now)
    };
    let mut problems = plan.problems();
    if plan.guards.iter().any(|g| g.prometheus.is_some()) && !prometheus_configured {
        problems.push(Problem::new(
            "guards",
            "Prometheus guards need SWITCHYARD_GUARDS__PROMETHEUS_URL, which this server does not have",
        ));
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_template_is_the_week_users_plan_by_hand() {
        let request = PlanRequest {
            template: Some("standard".into()),
            ..PlanRequest::default()
        };
        let plan = build(
            "checkout",
            request,
            &GuardSettings::default(),
            true,
            Utc::now(),
        )
        .unwrap();
        let stages: Vec<(u32, Option<String>)> = plan
            .stages
            .iter()
            .map(|s| (s.rollout_percentage, s.hold.map(|h| h.to_string())))
            .collect();
        let hold = |h: &str| Some(h.to_owned());
        assert_eq!(
            stages,
            [
                (0, hold("24h")),
                (5, hold("48h")),
                (25, hold("72h")),
                (50, hold("7d")),
                (100, None)
            ]
        );
        assert_eq!(plan.on_trip, OnTrip::Kill);
        let guards: Vec<(&str, f64, String)> = plan
            .guards
            .iter()
            .map(|g| {
                (
                    g.name.as_str(),
                    g.threshold().0,
                    g.for_.unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            guards,
            [("5xx", 0.05, "10m".into()), ("p95", 1.0, "10m".into())]
        );
    }

    #[test]
    fn a_request_overrides_any_part_and_every_problem_is_named() {
        let request = PlanRequest {
            template: Some("standard".into()),
            on_trip: Some(OnTrip::Rollback),
            guards: Some(Vec::new()),
            ..PlanRequest::default()
        };
        let plan = build("f", request, &GuardSettings::default(), false, Utc::now()).unwrap();
        assert_eq!(
            (plan.on_trip, plan.guards.len(), plan.stages.len()),
            (OnTrip::Rollback, 0, 5)
        );
        let unknown = PlanRequest {
            template: Some("fast".into()),
            ..PlanRequest::default()
        };
        assert!(build("f", unknown, &GuardSettings::default(), true, Utc::now()).is_err());
        let guarded = PlanRequest {
            template: Some("standard".into()),
            ..PlanRequest::default()
        };
        let err = build("f", guarded, &GuardSettings::default(), false, Utc::now()).unwrap_err();
        assert!(err.to_string().contains("PROMETHEUS_URL"), "{err}");
        let empty = build(
            "f",
            PlanRequest::default(),
            &GuardSettings::default(),
            true,
            Utc::now(),
        );
        assert!(empty.unwrap_err().to_string().contains("stages"));
    }
}
