//! Typed getters against a real server: values, variants and rules evaluated locally, the
//! same as the server decides, and a rule changed on the server followed as it happens.

use serde_json::json;
use switchyard_sdk::{Context, Reason};

use crate::helpers::{Server, eventually, ready_client};

#[tokio::test]
async fn typed_getters_serve_values_and_follow_rule_changes() {
    let server = Server::start().await;
    server
        .create(
            "new-checkout",
            json!({"enabled": true, "rollout_percentage": 100}),
        )
        .await;
    server
        .create(
            "checkout",
            json!({"enabled": true, "rollout_percentage": 100,
                   "variants": [{"name": "blue", "value": "#0055ff", "weight": 1000},
                                {"name": "green", "value": "#00aa55", "weight": 0}],
                   "off_value": "#888888",
                   "rules": [{"name": "beta", "constraints": [
                       {"attribute": "app_version", "operator": "SEMVER_GT", "value": "2.2.9"}],
                       "variant": "green"}],
                   "requires": [{"flag": "new-checkout"}]}),
        )
        .await;
    server
        .create(
            "ratio",
            json!({"enabled": true, "rollout_percentage": 100,
            "variants": [{"name": "v", "value": 0.25, "weight": 1000}], "off_value": 0}),
        )
        .await;
    let client = ready_client(&server.base).await;
    let app = Context::new().user("u1").with("app_version", "2.4.0");
    let old_app = Context::new().user("u1").with("app_version", "2.0.0");
    assert_eq!(client.string_value("checkout", &app, "x"), "#00aa55");
    assert_eq!(client.variant("checkout", &app).as_deref(), Some("green"));
    assert_eq!(client.string_value("checkout", &old_app, "x"), "#0055ff");
    let resolved = client.resolve("checkout", &app).unwrap();
    assert_eq!(resolved.rule.as_deref(), Some("beta"));
    assert_eq!(resolved.decision.reason, Reason::RuleMatch);
    // A type the flag does not serve, or an unknown flag: the default.
    assert_eq!(client.number_value("checkout", &app, 7.0), 7.0);
    assert!(client.bool_value("checkout", &app, true));
    assert_eq!(client.number_value("ratio", &app, 7.0), 0.25);
    assert_eq!(client.json_value("ratio", &app, json!(null)), json!(0.25));
    assert_eq!(client.string_value("nope", &app, "dflt"), "dflt");
    assert_eq!(client.variant("nope", &app), None);
    assert!(client.bool_value("new-checkout", &app, false));
    assert_eq!(
        client.resolve("nope", &app).unwrap_err(),
        Reason::FlagNotFound
    );

    // The prerequisite turned off on the server: the SDK serves off_value.
    server
        .patch("new-checkout", json!({"enabled": false}))
        .await;
    eventually("the prerequisite followed", || {
        client.string_value("checkout", &app, "x") == "#888888"
    })
    .await;
    // A rule rewritten on the server: followed, as it happens.
    server.patch("new-checkout", json!({"enabled": true})).await;
    server
        .patch(
            "checkout",
            json!({"rules": [{"name": "old apps", "constraints": [
                {"attribute": "app_version", "operator": "SEMVER_LT", "value": "2.1.0"}],
                "variant": "green"}]}),
        )
        .await;
    eventually("the new rule followed", || {
        client.string_value("checkout", &old_app, "x") == "#00aa55"
            && client.string_value("checkout", &app, "x") == "#0055ff"
    })
    .await;

    // A segment edited on the server: a rule naming it follows, in the SDK too.
    server
        .admin(
            reqwest::Method::PUT,
            "/v1/segments/staff",
            json!({"constraints": [{"attribute": "team", "operator": "IN", "values": ["ops"]}]}),
        )
        .await;
    server
        .patch(
            "checkout",
            json!({"rules": [{"name": "staff", "segments": ["staff"], "variant": "green"}]}),
        )
        .await;
    let dev = Context::new().user("u1").with("team", "dev");
    eventually("the segment's rule followed", || {
        client.string_value(
            "checkout",
            &Context::new().user("u1").with("team", "ops"),
            "x",
        ) == "#00aa55"
    })
    .await;
    assert_eq!(client.string_value("checkout", &dev, "x"), "#0055ff");
    server
        .admin(
            reqwest::Method::PUT,
            "/v1/segments/staff",
            json!({"expected_version": 1, "constraints": [
                {"attribute": "team", "operator": "IN", "values": ["ops", "dev"]}]}),
        )
        .await;
    eventually("the segment's edit followed", || {
        client.string_value("checkout", &dev, "x") == "#00aa55"
    })
    .await;
    client.shutdown().await;
}
