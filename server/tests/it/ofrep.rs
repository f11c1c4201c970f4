//! OFREP: answers checked against `testdata/ofrep/openapi.yaml` (status codes, required
//! fields, reason enum), and a stock OpenFeature client evaluating through it.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK, TestApp, read, spawn_app};

fn contract() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/ofrep/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the OFREP contract lives in testdata/ at the repository root",
            path.display()
        )
    });
    serde_yaml_ng::from_str(&text).expect("the OFREP contract is YAML")
}

fn schema<'a>(contract: &'a Value, name: &str) -> &'a Value {
    &contract["components"]["schemas"][name]
}

/// Fields the schema (or its allOf parts) requires.
fn required(contract: &Value, name: &str) -> Vec<String> {
    let s = schema(contract, name);
    let mut fields: Vec<String> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for part in s["allOf"].as_array().into_iter().flatten() {
        fields.extend(
            part["required"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap().to_owned()),
        );
    }
    fields
}

fn declared_statuses(contract: &Value, path: &str) -> Vec<String> {
    contract["paths"][path]["post"]["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .cloned()
        .collect()
}

fn assert_success(contract: &Value, answer: &Value) {
    for field in required(contract, "evaluationSuccess")
        .iter()
        .chain(required(contract, "booleanFlag").iter())
    {
        assert!(
            answer.get(field).is_some(),
            "success without {field}: {answer}"
        );
    }
    assert!(answer["value"].is_boolean());
    let reasons = schema(contract, "evaluationSuccess")["allOf"][0]["properties"]["reason"]["enum"]
        .as_array()
        .unwrap();
    assert!(
        reasons.contains(&answer["reason"]),
        "reason {} not in {reasons:?}",
        answer["reason"]
    );
    for (_, v) in answer["metadata"].as_object().unwrap() {
        assert!(
            v.is_string() || v.is_number() || v.is_boolean(),
            "metadata must be scalars"
        );
    }
}

async fn ofrep(app: &TestApp, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(Method::POST, path, Some(SDK), body).await
}

#[tokio::test]
async fn single_and_bulk_answers_meet_the_contract() {
    let contract = contract();
    let single = "/ofrep/v1/evaluate/flags/{key}";
    let app = spawn_app().await;
    app.create(
        "static-on",
        json!({"enabled": true, "rollout_percentage": 100}),
    )
    .await;
    app.create(
        "split",
        json!({"enabled": true, "rollout_percentage": 50, "whitelist": ["vip"]}),
    )
    .await;
    app.create("off", json!({"enabled": false})).await;

    let cases = [
        (
            "static-on",
            json!({"targetingKey": "u1"}),
            true,
            "STATIC",
            "ROLLOUT",
        ),
        (
            "split",
            json!({"targetingKey": "vip"}),
            true,
            "TARGETING_MATCH",
            "WHITELIST",
        ),
        (
            "off",
            json!({"targetingKey": "u1"}),
            false,
            "DISABLED",
            "DISABLED",
        ),
    ];
    for (key, context, value, reason, own) in cases {
        let (status, answer) = ofrep(
            &app,
            &format!("/ofrep/v1/evaluate/flags/{key}"),
            Some(json!({"context": context})),
        )
        .await;
        assert!(declared_statuses(&contract, single).contains(&status.as_u16().to_string()));
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_success(&contract, &answer);
        assert_eq!(
            (
                answer["key"].as_str(),
                answer["value"].as_bool(),
                answer["reason"].as_str()
            ),
            (Some(key), Some(value), Some(reason))
        );
        assert_eq!(answer["variant"], if value { "on" } else { "off" });
        assert_eq!(answer["metadata"]["reason"], own);
    }
    let (_, answer) = ofrep(
        &app,
        "/ofrep/v1/evaluate/flags/split",
        Some(json!({"context": {"targetingKey": "someone"}})),
    )
    .await;
    assert_eq!(answer["reason"], "SPLIT");

    // A kill switch forces false; it never defers to a code default.
    app.call(
        Method::POST,
        "/v1/flags/static-on/kill",
        Some(ADMIN),
        Some(json!({"active": true, "reason": "r"})),
    )
    .await;
    let (_, answer) = ofrep(
        &app,
        "/ofrep/v1/evaluate/flags/static-on",
        Some(json!({"context": {"targetingKey": "u1"}})),
    )
    .await;
    assert_eq!(
        (
            answer["value"].as_bool(),
            answer["reason"].as_str(),
            answer["metadata"]["reason"].as_str()
        ),
        (Some(false), Some("DISABLED"), Some("KILL_SWITCH"))
    );

    // Errors in OFREP's shape.
    let errors = [
        (
            "/ofrep/v1/evaluate/flags/nope",
            Some(json!({"context": {}})),
            StatusCode::NOT_FOUND,
            "flagNotFound",
            "FLAG_NOT_FOUND",
        ),
        (
            "/ofrep/v1/evaluate/flags/off",
            Some(json!({"context": {"targetingKey": 5}})),
            StatusCode::BAD_REQUEST,
            "evaluationFailure",
            "INVALID_CONTEXT",
        ),
    ];
    for (path, body, status, name, code) in errors {
        let (got, answer) = ofrep(&app, path, body).await;
        assert_eq!(got, status, "{answer}");
        for field in required(&contract, name) {
            assert!(
                answer.get(&field).is_some(),
                "{name} without {field}: {answer}"
            );
        }
        assert_eq!(answer["errorCode"], code);
    }
    let res = app
        .client
        .post(format!("{}/ofrep/v1/evaluate/flags/off", app.base))
        .bearer_auth(SDK)
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (status, answer) = read(res).await;
    assert_eq!(
        (status, answer["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("PARSE_ERROR"))
    );
    // Not UTF-8, so not JSON.
    let res = app
        .client
        .post(format!("{}/ofrep/v1/evaluate/flags/off", app.base))
        .bearer_auth(SDK)
        .body(b"{\"context\":{\"targetingKey\":\"Jos\xe9\"}}".to_vec())
        .send()
        .await
        .unwrap();
    let (status, answer) = read(res).await;
    assert_eq!(
        (status, answer["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("PARSE_ERROR"))
    );

    // Bulk: every flag, an ETag that depends on the context, 304 on a match.
    let bulk = "/ofrep/v1/evaluate/flags";
    let body = json!({"context": {"targetingKey": "vip"}});
    let res = app
        .send(Method::POST, bulk, Some(SDK), Some(body.clone()))
        .await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let (status, answer) = read(res).await;
    assert!(declared_statuses(&contract, bulk).contains(&status.as_u16().to_string()));
    for field in required(&contract, "bulkEvaluationSuccess") {
        assert!(answer.get(&field).is_some());
    }
    let flags = answer["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 3);
    flags.iter().for_each(|f| assert_success(&contract, f));
    let again = app
        .client
        .post(format!("{}{bulk}", app.base))
        .bearer_auth(SDK)
        .header("If-None-Match", &etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let other = app
        .client
        .post(format!("{}{bulk}", app.base))
        .bearer_auth(SDK)
        .header("If-None-Match", &etag)
        .json(&json!({"context": {"targetingKey": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    let res = app.send(Method::POST, bulk, None, Some(body)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_stock_openfeature_client_evaluates_through_ofrep() {
    use open_feature::{EvaluationContext, OpenFeature};
    use open_feature_ofrep::{OfrepOptions, OfrepProvider};

    let app = spawn_app().await;
    app.create(
        "new-onboarding",
        json!({"enabled": true, "rollout_percentage": 0, "whitelist": ["internal-user-1"]}),
    )
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {SDK}").parse().unwrap());
    let provider = OfrepProvider::new(OfrepOptions {
        base_url: app.base.clone(),
        headers,
        ..Default::default()
    })
    .await
    .expect("provider");
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(provider).await;
    let client = api.create_client();
    drop(api);
    let insider = EvaluationContext::default().with_targeting_key("internal-user-1");
    let outsider = EvaluationContext::default().with_targeting_key("someone-else");
    assert!(
        client
            .get_bool_value("new-onboarding", Some(&insider), None)
            .await
            .unwrap()
    );
    assert!(
        !client
            .get_bool_value("new-onboarding", Some(&outsider), None)
            .await
            .unwrap()
    );
    app.call(
        Method::POST,
        "/v1/flags/new-onboarding/kill",
        Some(ADMIN),
        Some(json!({"active": true, "reason": "r"})),
    )
    .await;
    assert!(
        !client
            .get_bool_value("new-onboarding", Some(&insider), None)
            .await
            .unwrap()
    );
    let missing = client
        .get_bool_details("missing", Some(&insider), None)
        .await;
    assert!(
        missing.is_err(),
        "an unknown flag is an error the client reports: {missing:?}"
    );
}
