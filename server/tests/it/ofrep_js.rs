//! A stock OpenFeature JavaScript client (`@openfeature/server-sdk` with
//! `@openfeature/ofrep-provider`, pinned in `server/tests/ofrep-js/`) reads a string, a number,
//! an object and a boolean flag from a running server, with no adapter; asking a number of a
//! string flag is its `TYPE_MISMATCH`, an unknown flag its `FLAG_NOT_FOUND`.
//! `scripts/test` installs the packages (`npm ci`); without them the test fails saying so.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK, spawn_app};

fn variants(values: [Value; 2], off: Value) -> Value {
    json!({"enabled": true, "rollout_percentage": 100,
           "variants": [{"name": "first", "value": values[0], "weight": 1000},
                        {"name": "second", "value": values[1], "weight": 0}],
           "off_value": off,
           "rules": [{"name": "beta", "constraints": [{"attribute": "plan", "operator": "IN", "values": ["beta"]}],
                      "variant": "second"}]})
}

#[tokio::test]
async fn the_javascript_ofrep_provider_reads_typed_values() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ofrep-js");
    assert!(
        dir.join("node_modules/@openfeature/ofrep-provider")
            .is_dir(),
        "the JavaScript OpenFeature packages are missing: run `npm ci --prefix {}` (scripts/test does)",
        dir.display()
    );
    let app = spawn_app().await;
    app.create("label", variants([json!("a"), json!("b")], json!("")))
        .await;
    app.create("limit", variants([json!(10), json!(2.5)], json!(0)))
        .await;
    app.create(
        "layout",
        variants(
            [json!({"cols": 2}), json!({"cols": 3, "dense": true})],
            json!({}),
        ),
    )
    .await;
    app.create(
        "dark-mode",
        json!({"enabled": true, "rollout_percentage": 100}),
    )
    .await;
    let (status, _) = app
        .call(Method::GET, "/v1/flags/label", Some(ADMIN), None)
        .await;
    assert!(status.is_success());
    let read = |context: Value| {
        let dir = dir.clone();
        let base = app.base.clone();
        async move {
            let out = tokio::process::Command::new("node")
                .current_dir(&dir)
                .arg("read.mjs")
                .arg(&base)
                .arg(SDK)
                .arg(context.to_string())
                .output()
                .await
                .expect("node runs (apt-get install -y nodejs npm)");
            assert!(
                out.status.success(),
                "node read.mjs failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout).expect("read.mjs prints JSON")
        }
    };
    let plain = read(json!({"targetingKey": "u1"})).await;
    assert_eq!(
        plain["string"],
        json!({"value": "a", "variant": "first", "reason": "STATIC", "errorCode": null})
    );
    assert_eq!(
        (&plain["number"]["value"], &plain["number"]["variant"]),
        (&json!(10), &json!("first"))
    );
    assert_eq!(plain["object"]["value"], json!({"cols": 2}));
    assert_eq!(
        (&plain["boolean"]["value"], &plain["boolean"]["variant"]),
        (&json!(true), &json!("on"))
    );
    assert_eq!(
        (&plain["mismatch"]["value"], &plain["mismatch"]["errorCode"]),
        (&json!(-1), &json!("TYPE_MISMATCH"))
    );
    assert_eq!(
        (&plain["missing"]["value"], &plain["missing"]["errorCode"]),
        (&json!("fallback"), &json!("FLAG_NOT_FOUND"))
    );
    // A rule on a custom attribute: the other variant, as TARGETING_MATCH.
    let beta = read(json!({"targetingKey": "u1", "plan": "beta"})).await;
    assert_eq!(
        beta["string"],
        json!({"value": "b", "variant": "second", "reason": "TARGETING_MATCH", "errorCode": null})
    );
    assert_eq!(beta["number"]["value"], json!(2.5));
    assert_eq!(beta["object"]["value"], json!({"cols": 3, "dense": true}));
}
