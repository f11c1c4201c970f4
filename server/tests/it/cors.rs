//! CORS as a browser meets it (docs/flags.md#limits-and-safety-rules): real preflights and requests from an allowed origin
//! on the SDK routes; nothing on admin routes, nor for other origins, nor when unconfigured.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, TestApp, spawn_app, spawn_with};

const ORIGIN: &str = "https://app.example";

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, format!("{}{path}", app.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

fn allow_origin(res: &reqwest::Response) -> Option<&str> {
    res.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_sdk_routes_answer_browsers_from_allowed_origins() {
    let app = spawn_with(|s| s.server.cors_origins = vec![ORIGIN.into()]).await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    for path in [
        "/ofrep/v1/evaluate/flags/f",
        "/ofrep/v1/evaluate/flags",
        "/v1/evaluate",
        "/v1/evaluate/bulk",
        "/v1/snapshot",
        "/v1/stream",
    ] {
        let res = preflight(&app, path, ORIGIN).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(allow_origin(&res), Some(ORIGIN), "{path}");
        let allowed = res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        for header in ["authorization", "content-type", "if-none-match"] {
            assert!(allowed.contains(header), "{path}: {allowed}");
        }
    }
    // The request itself: the origin allowed and the ETag readable by the page.
    let res = app
        .client
        .post(format!("{}/ofrep/v1/evaluate/flags", app.base))
        .header("Origin", ORIGIN)
        .bearer_auth(SDK)
        .json(&json!({"context": {"targetingKey": "u"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(allow_origin(&res), Some(ORIGIN));
    assert_eq!(res.headers()["access-control-expose-headers"], "ETag");
    assert!(res.headers().contains_key("etag"));

    // Another origin, and the admin routes, get no CORS at all.
    let res = preflight(&app, "/ofrep/v1/evaluate/flags/f", "https://evil.example").await;
    assert_ne!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(allow_origin(&res), None);
    for path in ["/v1/flags", "/v1/kill-switch", "/v1/tokens"] {
        let res = preflight(&app, path, ORIGIN).await;
        assert_ne!(res.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(allow_origin(&res), None, "{path}");
        let res = app
            .client
            .get(format!("{}{path}", app.base))
            .header("Origin", ORIGIN)
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(allow_origin(&res), None, "{path}");
    }
}

#[tokio::test]
async fn no_cors_unless_configured() {
    let app = spawn_app().await;
    let res = preflight(&app, "/ofrep/v1/evaluate/flags/f", ORIGIN).await;
    assert_eq!(allow_origin(&res), None);
    assert_ne!(res.status(), StatusCode::NO_CONTENT);
}
