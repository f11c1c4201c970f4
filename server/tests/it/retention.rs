//! Retention (docs/flags.md#limits-and-safety-rules, issue 12): history keeps the newest versions, the audit trail its last
//! days, audit entries cost what changed rather than what the flag weighs, and so the
//! embedded store's file stops growing under a steady stream of writes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, TestApp, spawn_with};

fn store_bytes(data: &std::path::Path) -> u64 {
    std::fs::metadata(data.join("switchyard.redb"))
        .unwrap()
        .len()
}

async fn patch(app: &TestApp, i: usize) {
    let body = json!({"description": format!("write {i}")});
    let (status, answer) = app
        .call(Method::PATCH, "/v1/flags/big", Some(ADMIN), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn the_store_file_stops_growing_under_writes_to_a_full_flag() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_owned();
    let app = crate::helpers::spawn_in(data, |s| s.retention.history_versions = 5).await;
    // A full whitelist: 10,000 users of 256 bytes, 2.5 MB in every copy of the flag.
    let users: Vec<String> = (0..10_000).map(|i| format!("{i:0>256}")).collect();
    app.create("big", json!({"enabled": true, "whitelist": users}))
        .await;
    for i in 0..10 {
        patch(&app, i).await;
    }
    let settled = store_bytes(&path);
    for i in 10..40 {
        patch(&app, i).await;
    }
    let later = store_bytes(&path);
    eprintln!("store file: {settled} bytes after 10 writes, {later} after 40");
    // Before retention, compact audit entries and shared whitelists in history, each of these
    // writes added ~12.6 MB.
    assert!(
        later <= settled + settled / 5,
        "the store grew from {settled} to {later} bytes over 30 one-field writes"
    );
    let (_, history) = app
        .call(Method::GET, "/v1/flags/big/history", Some(ADMIN), None)
        .await;
    let versions: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions.len(), 5, "{versions:?}");
    assert_eq!(versions.iter().max(), Some(&41));
    // The audit entry of a one-field change holds that field, not the whitelist.
    let (_, audit) = app
        .call(Method::GET, "/v1/audit?flag=big&limit=1", Some(ADMIN), None)
        .await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["after"]["description"], "write 39", "{entry}");
    assert!(entry.to_string().len() < 1000, "{entry}");
}

#[tokio::test]
async fn a_whitelist_change_is_audited_as_the_users_added_and_removed() {
    let app = spawn_with(|_| {}).await;
    app.create("f", json!({"whitelist": ["a", "b"]})).await;
    let body = json!({"whitelist_add": ["c"], "whitelist_remove": ["a"]});
    let (status, _) = app
        .call(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, audit) = app
        .call(Method::GET, "/v1/audit?flag=f&limit=1", Some(ADMIN), None)
        .await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["after"]["whitelist_added"], json!(["c"]), "{entry}");
    assert_eq!(entry["after"]["whitelist_removed"], json!(["a"]), "{entry}");
    assert_eq!(entry["before"]["whitelist_size"], 2);
    assert_eq!(entry["after"]["whitelist_size"], 2);
    assert_eq!(
        (
            entry["before"]["version"].as_u64(),
            entry["after"]["version"].as_u64()
        ),
        (Some(1), Some(2))
    );
}
