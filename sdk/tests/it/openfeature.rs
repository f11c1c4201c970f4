//! The OpenFeature provider: a stock `open-feature` client evaluating through the SDK.

use open_feature::{EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature};
use serde_json::json;
use switchyard_sdk::openfeature::SwitchyardProvider;

use crate::helpers::{Server, ready_client};

#[tokio::test]
async fn an_openfeature_client_evaluates_through_the_sdk() {
    let server = Server::start().await;
    server
        .create(
            "checkout",
            json!({"enabled": true, "rollout_percentage": 100, "markets": ["FR"]}),
        )
        .await;
    let typed = |values: [serde_json::Value; 2], off| {
        json!({"enabled": true, "rollout_percentage": 100,
               "variants": [{"name": "first", "value": values[0], "weight": 1000},
                            {"name": "second", "value": values[1], "weight": 0}],
               "off_value": off,
               "rules": [{"name": "beta", "constraints": [{"attribute": "plan", "operator": "IN", "values": ["beta"]}],
                          "variant": "second"}]})
    };
    server
        .create("label", typed([json!("a"), json!("b")], json!("")))
        .await;
    server
        .create("limit", typed([json!(10), json!(2.5)], json!(0)))
        .await;
    server
        .create(
            "layout",
            typed([json!({"cols": 2}), json!({"cols": 3})], json!({})),
        )
        .await;
    let client = ready_client(&server.base).await;
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(SwitchyardProvider::new(client.clone()))
        .await;
    let of = api.create_client();
    drop(api);

    let in_fr = EvaluationContext::default()
        .with_targeting_key("u")
        .with_custom_field("market", "FR");
    let in_de = EvaluationContext::default()
        .with_targeting_key("u")
        .with_custom_field("market", "DE");
    let details = of
        .get_bool_details("checkout", Some(&in_fr), None)
        .await
        .unwrap();
    assert!(details.value);
    assert_eq!(details.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(details.variant.as_deref(), Some("on"));
    assert!(
        !of.get_bool_value("checkout", Some(&in_de), None)
            .await
            .unwrap()
    );
    let missing = of
        .get_bool_details("missing", Some(&in_fr), None)
        .await
        .unwrap_err();
    assert_eq!(missing.code, EvaluationErrorCode::FlagNotFound);
    let wrong_type = of
        .get_string_value("checkout", Some(&in_fr), None)
        .await
        .unwrap_err();
    assert_eq!(wrong_type.code, EvaluationErrorCode::TypeMismatch);

    // Every type, with the variant and the reason; a rule on any custom field.
    let beta = EvaluationContext::default()
        .with_targeting_key("u")
        .with_custom_field("plan", "beta");
    let label = of
        .get_string_details("label", Some(&in_fr), None)
        .await
        .unwrap();
    assert_eq!(
        (label.value.as_str(), label.variant.as_deref()),
        ("a", Some("first"))
    );
    assert_eq!(label.reason, Some(EvaluationReason::Static));
    let label = of
        .get_string_details("label", Some(&beta), None)
        .await
        .unwrap();
    assert_eq!(
        (label.value.as_str(), label.variant.as_deref()),
        ("b", Some("second"))
    );
    assert_eq!(label.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(
        of.get_int_value("limit", Some(&in_fr), None).await.unwrap(),
        10
    );
    assert_eq!(
        of.get_float_value("limit", Some(&beta), None)
            .await
            .unwrap(),
        2.5
    );
    let layout = of
        .get_struct_details::<open_feature::StructValue>("layout", Some(&beta), None)
        .await
        .unwrap();
    assert_eq!(
        layout.value.fields.get("cols"),
        Some(&open_feature::Value::Int(3))
    );
    for code in [
        of.get_bool_value("label", Some(&in_fr), None)
            .await
            .unwrap_err()
            .code,
        of.get_int_value("label", Some(&in_fr), None)
            .await
            .unwrap_err()
            .code,
        of.get_string_value("layout", Some(&in_fr), None)
            .await
            .unwrap_err()
            .code,
        of.get_struct_value::<open_feature::StructValue>("limit", Some(&in_fr), None)
            .await
            .unwrap_err()
            .code,
    ] {
        assert_eq!(code, EvaluationErrorCode::TypeMismatch);
    }
    client.shutdown().await;
}
