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
    client.shutdown().await;
}
